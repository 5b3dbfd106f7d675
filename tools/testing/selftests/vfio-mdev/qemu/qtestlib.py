# SPDX-License-Identifier: GPL-2.0
"""qtestlib: drive a QEMU (7.2) through qtest and QMP from a python test.

QEMU runs with ``-qtest stdio`` (commands on its stdin, replies and async
``IRQ raise/lower N`` lines on its stdout) and QMP on a unix socket in a
private temporary directory.  Every wait has a timeout; a QEMU that stops
answering is killed.  Nothing outside the standard library is needed.

Pieces:
  QEMU        start/stop a QEMU, qtest commands (memory, ports, IRQs)
  QMP         the QMP client (commands, events)
  PCIDev      config space of one function on bus 0 through 0xcf8/0xcfc,
              BAR sizing and programming
  Mdev        create/remove mediated devices through sysfs
  decode_png / decode_ppm   screendump decoders (pure python)
  TAP         a tiny TAP 13 emitter
"""

import atexit
import base64
import json
import os
import queue
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid as uuidlib
import zlib

QEMU_BINARY = os.environ.get('QEMU', 'qemu-system-x86_64')


class QTestError(Exception):
    """A qtest command failed (FAIL reply) or QEMU died."""


class QTestTimeout(QTestError):
    """QEMU did not answer in time."""


class QMPError(Exception):
    """A QMP command returned an error."""

    def __init__(self, cmd, error):
        super().__init__('%s: %s: %s' % (cmd, error.get('class'), error.get('desc')))
        self.cmd = cmd
        self.error = error


# Everything the process started and must undo, whatever happens.
_live_qemus = set()
_live_mdevs = set()
_cleanup_lock = threading.Lock()


def cleanup_all():
    """Kill every QEMU still running, then remove every mdev still created."""
    with _cleanup_lock:
        qemus = list(_live_qemus)
        mdevs = list(_live_mdevs)
    for q in qemus:
        try:
            q.kill()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    for m in mdevs:
        try:
            m.remove(timeout=30)
        except Exception as e:  # noqa: BLE001
            print('# cleanup: removing mdev %s failed: %s' % (m.uuid, e), flush=True)


atexit.register(cleanup_all)


class Watchdog(BaseException):
    """Raised in the main thread when the whole script ran out of time."""


def install_watchdog(seconds):
    """Abort the script (through the finally clauses) after @seconds."""

    def fire(signum, frame):
        raise Watchdog('script watchdog: %d s elapsed' % seconds)

    signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)

    def term(signum, frame):
        raise Watchdog('terminated by signal %d' % signum)

    signal.signal(signal.SIGTERM, term)


# --------------------------------------------------------------------------
# QMP


class QMP:
    """A QMP client on a unix socket: one command at a time, events queued."""

    def __init__(self, path, timeout=30.0, alive=None):
        self.path = path
        self.events = []
        self._buf = b''
        self.sock = None
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if alive is not None and not alive():
                raise QTestError('QEMU exited before QMP came up')
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                self.sock = s
                break
            except OSError as e:
                s.close()
                last = e
            if time.monotonic() > deadline:
                raise QTestTimeout('QMP socket %s: %s' % (path, last))
            time.sleep(0.05)
        greeting = self._recv(deadline - time.monotonic())
        if 'QMP' not in greeting:
            raise QTestError('unexpected QMP greeting: %r' % greeting)
        self.greeting = greeting
        self.execute('qmp_capabilities', timeout=max(1.0, deadline - time.monotonic()))

    def _recv(self, timeout):
        """The next JSON object from the socket (event or reply)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while b'\n' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QTestTimeout('QMP: no message within %.1f s' % timeout)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                raise QTestError('QMP: %s' % e) from e
            if not data:
                raise QTestError('QMP: connection closed')
            self._buf += data
        line, self._buf = self._buf.split(b'\n', 1)
        line = line.strip()
        if not line:
            return self._recv(deadline - time.monotonic())
        return json.loads(line)

    def execute(self, cmd, args=None, timeout=30.0, check=True):
        """Run @cmd; return its 'return' value (raise QMPError on error)."""
        msg = {'execute': cmd}
        if args:
            msg['arguments'] = args
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        deadline = time.monotonic() + timeout
        while True:
            resp = self._recv(deadline - time.monotonic())
            if 'event' in resp:
                self.events.append(resp)
                continue
            if 'error' in resp:
                if check:
                    raise QMPError(cmd, resp['error'])
                return resp
            if 'return' in resp:
                return resp['return']

    def wait_event(self, name, timeout=10.0, match=None):
        """Return (and consume) the first event @name whose data matches @match."""

        def matches(ev):
            if ev.get('event') != name:
                return False
            data = ev.get('data', {})
            return all(data.get(k) == v for k, v in (match or {}).items())

        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if matches(ev):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise QTestTimeout('QMP event %s %s not seen within %.1f s (saw %s)' %
                                   (name, match or '', timeout,
                                    [e.get('event') for e in self.events]))
            try:
                self.events.append(self._recv(left))
            except QTestTimeout:
                pass

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


# --------------------------------------------------------------------------
# QEMU with qtest


class QEMU:
    """A QEMU under qtest control.

    qemu = QEMU(['-device', 'secondary-vga,id=gpu0'])
    qemu.start(); qemu.writel(addr, v); qemu.qmp.execute(...); qemu.shutdown()

    It is a context manager: leaving the block always stops QEMU.
    """

    def __init__(self, args=(), machine='pc', mem=128, binary=None,
                 workdir=None, name='qemu', cmd_timeout=10.0, start_timeout=60.0,
                 qtest=True, paused=True):
        self.args = list(args)
        self.qtest = qtest
        self.paused = paused
        self.machine = machine
        self.mem = mem
        self.binary = binary or QEMU_BINARY
        self.name = name
        self.cmd_timeout = cmd_timeout
        self.start_timeout = start_timeout
        self._own_tmp = workdir is None
        self.tmp = workdir or tempfile.mkdtemp(prefix='qtest-%s-' % name)
        self.qmp_path = os.path.join(self.tmp, 'qmp.sock')
        self.log_path = os.path.join(self.tmp, 'qemu.log')
        self.proc = None
        self.qmp = None
        self._replies = queue.Queue()
        self._irqs = queue.Queue()
        self._lock = threading.Lock()
        self._reader = None
        self.cmdline = None

    # -- lifecycle --
    def start(self):
        self.cmdline = [self.binary, '-machine', self.machine]
        if self.paused:
            self.cmdline += ['-S']
        if self.qtest:
            self.cmdline += ['-qtest', 'stdio', '-qtest-log', '/dev/null']
        self.cmdline += ['-nodefaults', '-display', 'none', '-m', str(self.mem),
                         '-qmp', 'unix:%s,server=on,wait=off' % self.qmp_path] + self.args
        self._log = open(self.log_path, 'wb')
        if self.qtest:
            stdin, stdout = subprocess.PIPE, subprocess.PIPE
        else:
            stdin, stdout = subprocess.DEVNULL, self._log
        self.proc = subprocess.Popen(self.cmdline, stdin=stdin, stdout=stdout,
                                     stderr=self._log, start_new_session=True)
        with _cleanup_lock:
            _live_qemus.add(self)
        if self.qtest:
            self._reader = threading.Thread(target=self._read_loop, daemon=True)
            self._reader.start()
        try:
            self.qmp = QMP(self.qmp_path, timeout=self.start_timeout, alive=self.alive)
            if self.qtest:
                # The first qtest round trip proves the qtest channel works.
                self.cmd('readb 0x0', timeout=self.start_timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.shutdown()
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _read_loop(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors='replace').rstrip('\r\n')
            if line.startswith('IRQ '):
                self._irqs.put(line)
            else:
                self._replies.put(line)
        self._replies.put(None)  # EOF

    def log(self, tail=20):
        """The last @tail lines of QEMU's stderr (also after kill())."""
        try:
            with open(self.log_path, 'rb') as f:
                lines = f.read().decode(errors='replace').splitlines()
        except OSError:
            lines = getattr(self, '_saved_log', [])
        return lines[-tail:]

    def shutdown(self, timeout=10.0):
        """QMP quit; kill if QEMU does not exit within @timeout. Returns rc."""
        if self.proc is None:
            return None
        if self.alive() and self.qmp is not None:
            try:
                self.qmp.execute('quit', timeout=timeout, check=False)
            except (QTestError, OSError):
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        return self.kill()

    def kill(self):
        """Kill QEMU (if running) and release everything. Returns rc."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                self.proc.kill()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f is not None:
                    f.close()
            except Exception:  # noqa: BLE001
                pass
        if self.qmp is not None:
            self.qmp.close()
        self._log.close()
        with _cleanup_lock:
            _live_qemus.discard(self)
        rc = self.proc.returncode
        self._saved_log = self.log(200)
        if self._own_tmp and not os.environ.get('QTEST_KEEP_TMP'):
            shutil.rmtree(self.tmp, ignore_errors=True)
        return rc

    # -- qtest protocol --
    def cmd(self, line, timeout=None):
        """Send one qtest command; return the words after OK (a list)."""
        timeout = self.cmd_timeout if timeout is None else timeout
        if not self.qtest:
            raise QTestError('this QEMU runs without qtest')
        with self._lock:
            if not self.alive():
                raise QTestError('QEMU is not running (rc %s): %s' %
                                 (self.proc.returncode if self.proc else None,
                                  ' | '.join(self.log(5))))
            try:
                self.proc.stdin.write(line.encode() + b'\n')
                self.proc.stdin.flush()
            except OSError as e:
                raise QTestError('qtest write failed: %s' % e) from e
            try:
                reply = self._replies.get(timeout=timeout)
            except queue.Empty:
                # The channel is out of sync now: nothing sensible can follow.
                self.kill()
                raise QTestTimeout('qtest: no reply to %r within %.1f s' %
                                   (line[:80], timeout)) from None
        if reply is None:
            raise QTestError('QEMU closed qtest while running %r: %s' %
                             (line[:80], ' | '.join(self.log(5))))
        words = reply.split()
        if not words or words[0] != 'OK':
            raise QTestError('qtest %r: %s' % (line[:80], reply))
        return words[1:]

    def _value(self, line, timeout=None):
        return int(self.cmd(line, timeout)[0], 0)

    # memory
    def readb(self, addr):
        return self._value('readb 0x%x' % addr)

    def readw(self, addr):
        return self._value('readw 0x%x' % addr)

    def readl(self, addr):
        return self._value('readl 0x%x' % addr)

    def readq(self, addr):
        return self._value('readq 0x%x' % addr)

    def writeb(self, addr, val):
        self.cmd('writeb 0x%x 0x%x' % (addr, val))

    def writew(self, addr, val):
        self.cmd('writew 0x%x 0x%x' % (addr, val))

    def writel(self, addr, val):
        self.cmd('writel 0x%x 0x%x' % (addr, val))

    def writeq(self, addr, val):
        self.cmd('writeq 0x%x 0x%x' % (addr, val))

    CHUNK = 64 * 1024

    def read(self, addr, size, timeout=None):
        """Read @size bytes (b64read, in chunks)."""
        out = bytearray()
        while size > 0:
            n = min(size, self.CHUNK)
            words = self.cmd('b64read 0x%x 0x%x' % (addr, n), timeout)
            data = base64.b64decode(words[0]) if words else b''
            if len(data) != n:
                raise QTestError('b64read 0x%x %d returned %d bytes' % (addr, n, len(data)))
            out += data
            addr += n
            size -= n
        return bytes(out)

    def write(self, addr, data, timeout=None):
        """Write @data (b64write, in chunks)."""
        data = bytes(data)
        off = 0
        while off < len(data):
            chunk = data[off:off + self.CHUNK]
            self.cmd('b64write 0x%x 0x%x %s' % (addr + off, len(chunk),
                                                 base64.b64encode(chunk).decode()), timeout)
            off += len(chunk)

    def memset(self, addr, size, val):
        self.cmd('memset 0x%x 0x%x 0x%x' % (addr, size, val))

    # I/O ports
    def inb(self, port):
        return self._value('inb 0x%x' % port)

    def inw(self, port):
        return self._value('inw 0x%x' % port)

    def inl(self, port):
        return self._value('inl 0x%x' % port)

    def outb(self, port, val):
        self.cmd('outb 0x%x 0x%x' % (port, val))

    def outw(self, port, val):
        self.cmd('outw 0x%x 0x%x' % (port, val))

    def outl(self, port, val):
        self.cmd('outl 0x%x 0x%x' % (port, val))

    # interrupts
    def irq_intercept_in(self, qom_path='ioapic'):
        """Report the GPIO inputs of @qom_path as 'IRQ raise/lower N' lines."""
        self.cmd('irq_intercept_in %s' % qom_path)

    def irq_events(self):
        """Drain the IRQ lines seen so far: a list of ('raise'|'lower', n)."""
        out = []
        while True:
            try:
                line = self._irqs.get_nowait()
            except queue.Empty:
                return out
            w = line.split()
            out.append((w[1], int(w[2])))

    def wait_irq(self, kind, n, timeout=5.0):
        """Wait for 'IRQ @kind @n'; return the lines seen before it."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QTestTimeout('IRQ %s %d not seen within %.1f s (saw %s)' %
                                   (kind, n, timeout, seen))
            try:
                line = self._irqs.get(timeout=left)
            except queue.Empty:
                continue
            w = line.split()
            ev = (w[1], int(w[2]))
            if ev == (kind, n):
                return seen
            seen.append(ev)

    # -- PCI --
    def pci(self, slot, fn=0, bus=0):
        return PCIDev(self, slot, fn, bus)

    # -- display --
    def screendump(self, device=None, fmt='png', head=None, timeout=30.0):
        """QMP screendump into the work dir; returns (width, height, rows of RGB tuples)."""
        path = os.path.join(self.tmp, 'screen-%d.%s' % (int(time.monotonic() * 1000), fmt))
        args = {'filename': path}
        if fmt != 'ppm':
            args['format'] = fmt
        if device is not None:
            args['device'] = device
        if head is not None:
            args['head'] = head
        try:
            self.qmp.execute('screendump', args, timeout=timeout)
        except QMPError as e:
            # QEMU before 7.1 has no 'format': it writes PPM.
            if fmt == 'ppm' or 'format' not in str(e):
                raise
            return self.screendump(device, 'ppm', head, timeout)
        with open(path, 'rb') as f:
            data = f.read()
        self.last_screendump = path
        return decode_png(data) if fmt == 'png' else decode_ppm(data)


# --------------------------------------------------------------------------
# PCI config space through the 0xcf8/0xcfc mechanism


PCI_VENDOR_ID = 0x00
PCI_COMMAND = 0x04
PCI_COMMAND_IO = 0x1
PCI_COMMAND_MEMORY = 0x2
PCI_COMMAND_MASTER = 0x4
PCI_COMMAND_INTX_DISABLE = 0x400
PCI_STATUS = 0x06
PCI_STATUS_INTERRUPT = 0x08
PCI_STATUS_CAP_LIST = 0x10
PCI_CLASS_REVISION = 0x08
PCI_HEADER_TYPE = 0x0e
PCI_BASE_ADDRESS_0 = 0x10
PCI_SUBSYSTEM_VENDOR_ID = 0x2c
PCI_SUBSYSTEM_ID = 0x2e
PCI_ROM_ADDRESS = 0x30
PCI_CAPABILITY_LIST = 0x34
PCI_INTERRUPT_LINE = 0x3c
PCI_INTERRUPT_PIN = 0x3d
PCI_CAP_ID_MSI = 0x05


class PCIDev:
    """One function on a bus, through the legacy config mechanism."""

    def __init__(self, qemu, slot, fn=0, bus=0):
        self.q = qemu
        self.slot, self.fn, self.bus = slot, fn, bus

    def _addr(self, reg):
        return 0x80000000 | (self.bus << 16) | (self.slot << 11) | (self.fn << 8) | (reg & 0xfc)

    def read32(self, reg):
        self.q.outl(0xcf8, self._addr(reg))
        return self.q.inl(0xcfc)

    def read16(self, reg):
        self.q.outl(0xcf8, self._addr(reg))
        return self.q.inw(0xcfc + (reg & 2))

    def read8(self, reg):
        self.q.outl(0xcf8, self._addr(reg))
        return self.q.inb(0xcfc + (reg & 3))

    def write32(self, reg, val):
        self.q.outl(0xcf8, self._addr(reg))
        self.q.outl(0xcfc, val & 0xffffffff)

    def write16(self, reg, val):
        self.q.outl(0xcf8, self._addr(reg))
        self.q.outw(0xcfc + (reg & 2), val & 0xffff)

    def write8(self, reg, val):
        self.q.outl(0xcf8, self._addr(reg))
        self.q.outb(0xcfc + (reg & 3), val & 0xff)

    def present(self):
        return self.read32(PCI_VENDOR_ID) not in (0xffffffff, 0)

    @property
    def vendor(self):
        return self.read16(0x00)

    @property
    def device(self):
        return self.read16(0x02)

    @property
    def class_code(self):
        return self.read32(PCI_CLASS_REVISION) >> 8

    @property
    def revision(self):
        return self.read8(PCI_CLASS_REVISION)

    def bar_info(self, i):
        """(size, flags) of BAR @i by the all-ones probe; the BAR is restored.

        flags: the low bits (bit 0 io, bits 2:1 type, bit 3 prefetch).
        """
        reg = PCI_BASE_ADDRESS_0 + 4 * i
        orig = self.read32(reg)
        self.write32(reg, 0xffffffff)
        probe = self.read32(reg)
        self.write32(reg, orig)
        if probe == 0:
            return 0, 0
        if probe & 1:
            mask = probe & 0xfffffffc
            return ((~mask) + 1) & 0xffff, probe & 0x3
        flags = probe & 0xf
        mask = probe & 0xfffffff0
        if (flags & 0x6) == 0x4:  # 64-bit
            orig_hi = self.read32(reg + 4)
            self.write32(reg + 4, 0xffffffff)
            hi = self.read32(reg + 4)
            self.write32(reg + 4, orig_hi)
            mask |= hi << 32
            return ((~mask) + 1) & 0xffffffffffffffff, flags
        return ((~mask) + 1) & 0xffffffff, flags

    def bar_size(self, i):
        return self.bar_info(i)[0]

    def set_bar(self, i, addr):
        reg = PCI_BASE_ADDRESS_0 + 4 * i
        self.write32(reg, addr & 0xffffffff)
        if (self.read32(reg) & 0x7) == 0x4:
            self.write32(reg + 4, addr >> 32)

    def bar_addr(self, i):
        return self.read32(PCI_BASE_ADDRESS_0 + 4 * i) & 0xfffffff0

    def enable(self, memory=True, io=False, master=False):
        cmd = self.read16(PCI_COMMAND)
        for bit, on in ((PCI_COMMAND_MEMORY, memory), (PCI_COMMAND_IO, io),
                        (PCI_COMMAND_MASTER, master)):
            cmd = (cmd | bit) if on else (cmd & ~bit)
        self.write16(PCI_COMMAND, cmd)
        return cmd

    def capabilities(self):
        """{cap id: offset} of the standard capability list."""
        caps = {}
        if not self.read16(PCI_STATUS) & PCI_STATUS_CAP_LIST:
            return caps
        pos = self.read8(PCI_CAPABILITY_LIST) & 0xfc
        for _ in range(48):
            if pos < 0x40:
                break
            cid = self.read8(pos)
            caps.setdefault(cid, pos)
            pos = self.read8(pos + 1) & 0xfc
        return caps


def map_bars(dev, bases):
    """Program BARs {index: address} and enable memory decoding; returns sizes."""
    sizes = {}
    for i, base in bases.items():
        size = dev.bar_size(i)
        sizes[i] = size
        if size and base % size:
            raise ValueError('BAR%d base 0x%x is not aligned to its size 0x%x' % (i, base, size))
        dev.set_bar(i, base)
    dev.enable(memory=True)
    return sizes


# --------------------------------------------------------------------------
# ACPI PCI hotplug of the pc machine (PIIX4 PM, QEMU's acpi-pcihp)

ACPI_PCIHP_UP = 0xae00
ACPI_PCIHP_DOWN = 0xae04
ACPI_PCIHP_EJECT = 0xae08
ACPI_PCIHP_SEL = 0xae10


def acpi_wait_unplug_request(qemu, slot, timeout=10.0, poll=0.05):
    """Wait until the slot's bit is pending in 0xae04; returns the bits."""
    deadline = time.monotonic() + timeout
    while True:
        bits = qemu.inl(ACPI_PCIHP_DOWN)
        if bits & (1 << slot):
            return bits
        if time.monotonic() > deadline:
            raise QTestTimeout('no ACPI unplug request for slot %d within %.1f s (0xae04=0x%x)' %
                               (slot, timeout, bits))
        time.sleep(poll)


def acpi_eject(qemu, slot):
    qemu.outl(ACPI_PCIHP_EJECT, 1 << slot)


# --------------------------------------------------------------------------
# mdev sysfs

MDEV_BUS = '/sys/class/mdev_bus'
MDEV_DEVICES = '/sys/bus/mdev/devices'


def sysfs_read(path):
    with open(path) as f:
        return f.read().strip()


def sysfs_write(path, text):
    """One write(2) of @text; raises OSError with the errno."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def mdev_parents(prefix=''):
    try:
        names = sorted(os.listdir(MDEV_BUS))
    except FileNotFoundError:
        return []
    return [n for n in names if n.startswith(prefix)]


def mdev_types(parent):
    d = os.path.join(MDEV_BUS, parent, 'mdev_supported_types')
    try:
        return sorted(os.listdir(d))
    except FileNotFoundError:
        return []


def mdev_type_path(parent, mtype, attr):
    return os.path.join(MDEV_BUS, parent, 'mdev_supported_types', mtype, attr)


def mdev_type_attr(parent, mtype, attr):
    return sysfs_read(mdev_type_path(parent, mtype, attr))


class Mdev:
    """A mediated device this process created (removed by cleanup_all at worst)."""

    def __init__(self, parent, mtype, uuid=None):
        self.parent = parent
        self.mtype = mtype
        self.uuid = uuid or str(uuidlib.uuid4())
        self.path = os.path.join(MDEV_DEVICES, self.uuid)

    def create(self):
        sysfs_write(mdev_type_path(self.parent, self.mtype, 'create'), self.uuid)
        with _cleanup_lock:
            _live_mdevs.add(self)
        return self

    def exists(self):
        return os.path.exists(self.path)

    def remove_async(self):
        """Start writing 1 to remove in a thread; returns the thread.

        thread.error is None on success, else the exception.
        """

        def run():
            t.error = None
            try:
                sysfs_write(os.path.join(self.path, 'remove'), '1')
            except BaseException as e:  # noqa: BLE001
                t.error = e
            t.done_at = time.monotonic()

        t = threading.Thread(target=run, daemon=True, name='remove-' + self.uuid)
        t.error = None
        t.done_at = None
        t.start()
        return t

    def remove(self, timeout=30.0):
        """Remove and wait; raise on error or timeout (the write may stay blocked)."""
        if not self.exists():
            with _cleanup_lock:
                _live_mdevs.discard(self)
            return
        t = self.remove_async()
        t.join(timeout)
        if t.is_alive():
            raise QTestTimeout('mdev %s: remove still blocked after %.0f s' % (self.uuid, timeout))
        if t.error is not None and self.exists():
            raise t.error
        with _cleanup_lock:
            _live_mdevs.discard(self)

    def forget(self):
        """The device is gone (removed by the test itself)."""
        with _cleanup_lock:
            _live_mdevs.discard(self)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.remove()
        return False


def wait_until(pred, timeout, poll=0.05, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise QTestTimeout('%s not reached within %.1f s' % (what, timeout))
        time.sleep(poll)


# --------------------------------------------------------------------------
# Live migration: the management check and QEMU's side


def migration_version_check(src_parent, src_type, dst_parent, dst_type):
    """The RFC's check: the source type's version written into the target type's.

    Returns None if the target accepts it, else the errno of the refusal.
    """
    v = mdev_type_attr(src_parent, src_type, 'version')
    try:
        sysfs_write(mdev_type_path(dst_parent, dst_type, 'version'), v)
    except OSError as e:
        return e.errno
    return None


def qemu_has_migration_v2():
    """QEMU 8.0 dropped VFIO migration v1 and speaks v2 (enable-migration)."""
    try:
        out = subprocess.run([QEMU_BINARY, '-device', 'vfio-pci,help'],
                             capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return 'enable-migration' in out and 'x-enable-migration' not in out


def wait_migration(q, timeout=60.0):
    """Polls query-migrate on the source until it ends; returns (status, info)."""
    deadline = time.monotonic() + timeout
    while True:
        info = q.qmp.execute('query-migrate')
        status = info.get('status')
        if status in ('completed', 'failed', 'cancelled'):
            return status, info
        if time.monotonic() > deadline:
            raise QTestTimeout('migration still %s after %.0f s' % (status, timeout))
        time.sleep(0.05)


# --------------------------------------------------------------------------
# Image decoding (screendump output)


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode_png(data):
    """Decode an 8-bit RGB/RGBA/grey PNG: (width, height, [[(r, g, b), ...] rows])."""
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('not a PNG file')
    pos = 8
    idat = []
    width = height = None
    while pos < len(data):
        length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])[0]
        if zlib.crc32(ctype + body) & 0xffffffff != crc:
            raise ValueError('PNG chunk %r: bad CRC' % ctype)
        pos += 12 + length
        if ctype == b'IHDR':
            width, height, depth, color, comp, filt, interlace = struct.unpack('>IIBBBBB', body)
            if depth != 8 or interlace != 0 or color not in (0, 2, 4, 6):
                raise ValueError('unsupported PNG: depth %d colour %d interlace %d' %
                                 (depth, color, interlace))
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif ctype == b'IDAT':
            idat.append(body)
        elif ctype == b'IEND':
            break
    if width is None:
        raise ValueError('PNG without IHDR')
    raw = zlib.decompress(b''.join(idat))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise ValueError('PNG: %d bytes of image data, expected %d' %
                         (len(raw), height * (stride + 1)))
    rows = []
    prev = bytearray(stride)
    for y in range(height):
        off = y * (stride + 1)
        ftype = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xff
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 0xff
        elif ftype != 0:
            raise ValueError('PNG: bad filter type %d' % ftype)
        prev = line
        if bpp >= 3:
            rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        else:
            rows.append([(line[i],) * 3 for i in range(0, stride, bpp)])
    return width, height, rows


def decode_ppm(data):
    """Decode a binary P6 PPM (what screendump writes by default)."""
    parts = []
    pos = 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b'#':
            pos = data.index(b'\n', pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        parts.append(data[pos:end])
        pos = end
    pos += 1
    if parts[0] != b'P6' or int(parts[3]) != 255:
        raise ValueError('not an 8-bit P6 PPM')
    width, height = int(parts[1]), int(parts[2])
    px = data[pos:pos + width * height * 3]
    rows = [[tuple(px[(y * width + x) * 3:(y * width + x) * 3 + 3]) for x in range(width)]
            for y in range(height)]
    return width, height, rows


# --------------------------------------------------------------------------
# TAP


class TAP:
    """TAP 13 output; run(name, fn) turns exceptions into 'not ok'."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.n = 0
        self.failed = 0
        self.skipped = 0
        self.passed = 0
        self.timings = []
        self.emit('TAP version 13')

    def emit(self, line):
        self.out.write(line + '\n')
        self.out.flush()

    def diag(self, msg):
        for line in str(msg).splitlines() or ['']:
            self.emit('# ' + line)

    def plan(self, n, skip_reason=None):
        self.emit('1..%d' % n + (' # SKIP %s' % skip_reason if skip_reason else ''))

    def ok(self, cond, name, directive=None):
        self.n += 1
        line = '%s %d - %s' % ('ok' if cond else 'not ok', self.n, name)
        if directive:
            line += ' # ' + directive
        self.emit(line)
        if directive and directive.upper().startswith('SKIP'):
            self.skipped += 1
        elif cond:
            self.passed += 1
        else:
            self.failed += 1

    def skip(self, name, reason):
        self.ok(True, name, 'SKIP ' + reason)

    def run(self, name, fn, *args, **kwargs):
        """Run fn(*args); it may raise Skip. Returns True if it passed."""
        start = time.monotonic()
        try:
            fn(*args, **kwargs)
        except Skip as s:
            self.diag('time: %.2f s' % (time.monotonic() - start))
            self.skip(name, str(s))
            return True
        except Watchdog:
            self.diag('time: %.2f s' % (time.monotonic() - start))
            self.ok(False, name)
            raise
        except Exception as e:  # noqa: BLE001 - report any failure as not ok
            elapsed = time.monotonic() - start
            self.diag('%s: %s' % (type(e).__name__, e))
            tb = traceback.format_exc().splitlines()
            for line in tb[-8:-1]:
                self.diag('  ' + line)
            self.diag('time: %.2f s' % elapsed)
            self.timings.append((name, elapsed))
            self.ok(False, name)
            return False
        elapsed = time.monotonic() - start
        self.timings.append((name, elapsed))
        self.diag('time: %.2f s' % elapsed)
        self.ok(True, name)
        return True

    def run_all(self, tests):
        """Plan and run (name, fn, *args) tests; returns finish()'s status.

        A watchdog timeout ends the run: the tests left are 'not ok'.
        Whatever QEMU is still running is shut down at the end.
        """
        self.plan(len(tests))
        start = time.monotonic()
        try:
            for name, fn, *args in tests:
                self.run(name, fn, *args)
        except Watchdog as e:
            self.diag('ABORT: %s' % e)
            while self.n < len(tests):
                self.ok(False, tests[self.n][0], 'watchdog')
        finally:
            cleanup_all()
        self.diag('total time: %.1f s' % (time.monotonic() - start))
        return self.finish()

    def finish(self):
        self.diag('totals: pass:%d fail:%d skip:%d' % (self.passed, self.failed, self.skipped))
        return 1 if self.failed else 0


class Skip(Exception):
    """Raise from a test to report it as skipped."""


def check(cond, msg):
    """assert that survives python -O."""
    if not cond:
        raise AssertionError(msg)


def check_eq(got, want, what):
    if got != want:
        raise AssertionError('%s: expected %s, got %s' % (what, _fmt(want), _fmt(got)))


def _fmt(v):
    return '0x%x' % v if isinstance(v, int) and not isinstance(v, bool) else repr(v)


