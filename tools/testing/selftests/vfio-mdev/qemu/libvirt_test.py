#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# libvirt_test.py: libvirt managing mgpu end to end, in the test VM.
# Starts Debian's libvirtd (bookworm's 9.0) from the read-only host root,
# with the two stand-in PCI GPUs 0000:00:10.0 and 0000:00:11.0 bound to
# mgpu, and drives virsh as a management stack would: the GPUs and their
# types as node devices, the types' counts following heterogeneous
# placement, nodedev-create/destroy, nodedev-define/start/destroy/undefine
# (libvirt does these through mdevctl), bad requests, and a domain with an
# mdev hostdev display='on' whose `virsh screenshot` shows what was drawn.
#
# Needs root, mgpu loaded (run.sh loads it) and libvirt installed
# (tools/testing/install-deps); skips with the reason otherwise.

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qtestlib as ql  # noqa: E402
from qtestlib import Skip, check, check_eq  # noqa: E402

GPUS = ('0000:00:10.0', '0000:00:11.0')
NOT_GPUS = ('0000:00:12.0', '0000:00:13.0')
PCI = '/sys/bus/pci/devices'
TYPES = ('mgpu-eighth', 'mgpu-quarter', 'mgpu-half', 'mgpu-full')
FRESH = {'mgpu-eighth': 8, 'mgpu-quarter': 4, 'mgpu-half': 2, 'mgpu-full': 1}
AFTER_HALF = {'mgpu-eighth': 4, 'mgpu-quarter': 2, 'mgpu-half': 1, 'mgpu-full': 0}
URI = 'qemu:///system'
DOMAIN = 'mgpu-libvirt-test'
SLOT = 5
# Where the test maps the instance's BARs in the paused guest (the pc
# machine's PCI hole; BAR0 aligned to the largest VRAM size).
BAR0_BASE, BAR2_BASE = 0xc0000000, 0xd0000000
WIDTH, HEIGHT = 320, 200
MMIO_DISPI = 0x500
DISPI = {'xres': 1, 'yres': 2, 'bpp': 3, 'enable': 4, 'virt_width': 6,
         'virt_height': 7, 'x_offset': 8, 'y_offset': 9}
DISPI_ENABLED_LFB = 0x41


def nodedev_name(fn):
    """libvirt's name of a PCI function: pci_0000_00_10_0."""
    return 'pci_' + re.sub(r'[:.]', '_', fn)


def mdev_nodedev_name(uuid, fn):
    """libvirt 9.0's name of an mdev: mdev_<uuid>_<parent address>."""
    return 'mdev_%s_%s' % (uuid.replace('-', '_'), re.sub(r'[:.]', '_', fn))


def virsh(*args, check_rc=True):
    p = subprocess.run(['virsh', '-q', '-c', URI] + list(args), capture_output=True,
                       text=True, timeout=120)
    if check_rc and p.returncode:
        raise AssertionError('virsh %s: %s' % (' '.join(args), p.stderr.strip()))
    return p


def mdevctl_defined():
    p = subprocess.run(['mdevctl', 'list', '-d'], capture_output=True, text=True)
    return p.stdout


def sysfs_type(fn, mtype, attr):
    return ql.sysfs_read(os.path.join(PCI, fn, 'mdev_supported_types', mtype, attr)).strip()


def bind_gpus(fns):
    """Give the stand-in PCI functions @fns to mgpu through driver_override."""
    for fn in fns:
        if not os.path.isdir(os.path.join(ql.MDEV_BUS, fn)):
            ql.sysfs_write(os.path.join(PCI, fn, 'driver_override'), 'mgpu')
            ql.sysfs_write('/sys/bus/pci/drivers_probe', fn)


# --------------------------------------------------------------------------
# libvirtd inside the VM (see /work notes: the host root is read-only)


class Libvirt:
    """libvirtd and udevd on tmpfs state, undone by stop()."""

    def __init__(self):
        self.mounts = []
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix='libvirt-')

    def _mount(self, *args):
        subprocess.run(['mount'] + list(args), check=True)
        self.mounts.append(args[-1])

    def start(self):
        for d in ('/var/lib/libvirt', '/var/cache/libvirt', '/var/log', '/var/run/libvirt'):
            os.makedirs(d, exist_ok=True)
            self._mount('-t', 'tmpfs', 'tmpfs', d)
        etc = os.path.join(self.tmp, 'etc-libvirt')
        shutil.copytree('/etc/libvirt', etc, symlinks=True)
        self._mount('--bind', etc, '/etc/libvirt')
        # No default network: it needs dnsmasq and iptables, and no test needs it.
        try:
            os.unlink('/etc/libvirt/qemu/networks/autostart/default.xml')
        except FileNotFoundError:
            pass
        with open('/etc/libvirt/qemu.conf', 'a') as f:
            # root QEMU without namespaces, cgroups or a security driver: the VM
            # has neither systemd nor a writable /dev of the host's.
            f.write('user = "root"\ngroup = "root"\nnamespaces = [ ]\n'
                    'cgroup_controllers = [ ]\nsecurity_driver = "none"\n'
                    'remember_owner = 0\n'
                    # QEMU's output to a file, no virtlogd to start
                    'stdio_handler = "file"\n')
        conf = os.path.join(self.tmp, 'libvirtd.conf')
        with open(conf, 'w') as f:
            f.write('auth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    'log_outputs = "1:file:/var/log/libvirtd.log"\n')
        if not os.path.exists('/dev/fd'):
            os.symlink('/proc/self/fd', '/dev/fd')
        env = dict(os.environ, SYSTEMD_IGNORE_CHROOT='1')
        # libvirt learns of new mdevs from udev.
        quiet = {'stdout': subprocess.DEVNULL, 'stderr': subprocess.DEVNULL}
        subprocess.run(['/lib/systemd/systemd-udevd', '--daemon'], env=env, check=True,
                       **quiet)
        subprocess.run(['udevadm', 'trigger'], check=False, **quiet)
        subprocess.run(['udevadm', 'settle', '-t', '30'], check=False, **quiet)
        subprocess.run(['libvirtd', '-d', '-f', conf], env=env, check=True)
        ql.wait_until(lambda: virsh('version', check_rc=False).returncode == 0, 30,
                      what='libvirtd answering')

    def log(self, tail=15):
        try:
            with open('/var/log/libvirtd.log') as f:
                return f.read().splitlines()[-tail:]
        except OSError:
            return []

    def stop(self):
        subprocess.run(['pkill', '-x', 'libvirtd'], check=False)
        subprocess.run(['udevadm', 'control', '--exit'], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ql.wait_until(lambda: subprocess.run(['pgrep', '-x', 'libvirtd'],
                                             capture_output=True).returncode, 30,
                      what='libvirtd gone')
        for m in reversed(self.mounts):
            subprocess.run(['umount', '-l', m], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# Tests


def types_xml(fn):
    """{type id: (name, deviceAPI, availableInstances)} from nodedev-dumpxml."""
    root = ET.fromstring(virsh('nodedev-dumpxml', nodedev_name(fn)).stdout)
    caps = [c for c in root.iter('capability') if c.get('type') == 'mdev_types']
    check_eq(len(caps), 1, 'mdev_types capabilities of %s' % fn)
    out = {}
    for t in caps[0].findall('type'):
        out[t.get('id')] = (t.findtext('name'), t.findtext('deviceAPI'),
                            int(t.findtext('availableInstances')))
    return out


def expect_counts(fn, want, what):
    got = types_xml(fn)
    for mtype in TYPES:
        check_eq(got[mtype][2], want[mtype], '%s: %s availableInstances' % (what, mtype))
        check_eq(int(sysfs_type(fn, mtype, 'available_instances')), want[mtype],
                 '%s: %s sysfs available_instances' % (what, mtype))


def t_list():
    out = virsh('nodedev-list', '--cap', 'mdev_types').stdout.split()
    check_eq(sorted(out), sorted(nodedev_name(fn) for fn in GPUS),
             'nodedev-list --cap mdev_types')


def t_types():
    for fn in GPUS:
        got = types_xml(fn)
        check_eq(sorted(got), sorted(TYPES), '%s: type ids' % fn)
        for mtype in TYPES:
            name, api, avail = got[mtype]
            check_eq(name, sysfs_type(fn, mtype, 'name'), '%s %s name' % (fn, mtype))
            check_eq(api, 'vfio-pci', '%s %s deviceAPI' % (fn, mtype))
            check_eq(avail, FRESH[mtype], '%s %s availableInstances' % (fn, mtype))


def mdev_xml(path, fn, mtype, uuid):
    with open(path, 'w') as f:
        f.write("<device><parent>%s</parent><capability type='mdev'>"
                "<type id='%s'/><uuid>%s</uuid></capability></device>\n" %
                (nodedev_name(fn), mtype, uuid))
    return path


def t_create_destroy(tmp):
    fn = GPUS[0]
    uuid = str(uuidlib.uuid4())
    virsh('nodedev-create', mdev_xml(os.path.join(tmp, 'half.xml'), fn, 'mgpu-half', uuid))
    name = mdev_nodedev_name(uuid, fn)
    try:
        sysdev = '/sys/bus/mdev/devices/' + uuid
        check(os.path.isdir(sysdev), 'no %s after nodedev-create' % sysdev)
        expect_counts(fn, AFTER_HALF, 'after a half')
        expect_counts(GPUS[1], FRESH, 'the other GPU')
        root = ET.fromstring(virsh('nodedev-dumpxml', name).stdout)
        cap = [c for c in root.iter('capability') if c.get('type') == 'mdev'][0]
        check_eq(cap.find('type').get('id'), 'mgpu-half', 'mdev type id')
        group = os.path.basename(os.readlink(os.path.join(sysdev, 'iommu_group')))
        check_eq(cap.find('iommuGroup').get('number'), group, 'iommuGroup number')
        check_eq(root.findtext('parent'), nodedev_name(fn), 'mdev parent')
        # Bad requests: nothing is created, nothing changes.
        bad = str(uuidlib.uuid4())
        p = virsh('nodedev-create', mdev_xml(os.path.join(tmp, 'bad.xml'), fn,
                                             'mgpu-tenth', bad), check_rc=False)
        check(p.returncode != 0, 'nodedev-create of an unknown type succeeded')
        p = virsh('nodedev-create', mdev_xml(os.path.join(tmp, 'full.xml'), fn,
                                             'mgpu-full', bad), check_rc=False)
        check(p.returncode != 0, 'nodedev-create with 0 available succeeded')
        check(not os.path.exists('/sys/bus/mdev/devices/' + bad),
              'a refused nodedev-create left an instance')
        expect_counts(fn, AFTER_HALF, 'after the refused creates')
    finally:
        virsh('nodedev-destroy', name, check_rc=False)
    check(not os.path.exists('/sys/bus/mdev/devices/' + uuid), 'instance left after destroy')
    expect_counts(fn, FRESH, 'after nodedev-destroy')


def t_define_start(tmp):
    fn = GPUS[1]
    uuid = str(uuidlib.uuid4())
    name = mdev_nodedev_name(uuid, fn)
    virsh('nodedev-define', mdev_xml(os.path.join(tmp, 'q.xml'), fn, 'mgpu-quarter', uuid))
    try:
        check(uuid in mdevctl_defined(), 'mdevctl list -d lacks the defined %s' % uuid)
        check(not os.path.exists('/sys/bus/mdev/devices/' + uuid), 'defined is not started')
        virsh('nodedev-start', name)
        check(os.path.isdir('/sys/bus/mdev/devices/' + uuid), 'not created by nodedev-start')
        expect_counts(fn, {'mgpu-eighth': 6, 'mgpu-quarter': 3, 'mgpu-half': 1,
                           'mgpu-full': 0}, 'after a quarter')
        virsh('nodedev-destroy', name)
        check(not os.path.exists('/sys/bus/mdev/devices/' + uuid), 'left after destroy')
        check(uuid in mdevctl_defined(), 'destroy undefined it')
    finally:
        virsh('nodedev-undefine', name, check_rc=False)
    check(uuid not in mdevctl_defined(), 'still defined after nodedev-undefine')
    expect_counts(fn, FRESH, 'after undefine')


class QTestSocket(ql.QEMU):
    """qtest of a QEMU that libvirt started, over a unix socket."""

    def __init__(self, path):  # noqa: D107 - no QEMU of our own
        import socket
        import threading
        self.qtest = True
        self.cmd_timeout = 10.0
        self._lock = threading.Lock()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ql.wait_until(lambda: self.sock.connect_ex(path) == 0, 30, what='qtest socket')
        self.file = self.sock.makefile('rwb')

    def alive(self):
        return True

    def cmd(self, line, timeout=None):
        with self._lock:
            self.file.write(line.encode() + b'\n')
            self.file.flush()
            while True:
                reply = self.file.readline().decode(errors='replace').strip()
                if not reply:
                    raise ql.QTestError('qtest socket closed on %r' % line[:60])
                if not reply.startswith('IRQ'):
                    break
        words = reply.split()
        if words[0] != 'OK':
            raise ql.QTestError('qtest %r: %s' % (line[:60], reply))
        return words[1:]

    def close(self):
        self.file.close()
        self.sock.close()


def picture():
    """Bars and a frame, as XRGB8888 bytes and RGB rows."""
    rows, raw = [], bytearray()
    for y in range(HEIGHT):
        row = []
        for x in range(WIDTH):
            c = (20, 20, 90) if x < 4 or y < 4 or x >= WIDTH - 4 or y >= HEIGHT - 4 else \
                ((x * 255) // WIDTH, (y * 255) // HEIGHT, 255 - (x * 255) // WIDTH)
            row.append(c)
            raw += bytes((c[2], c[1], c[0], 0))
        rows.append(row)
    return bytes(raw), rows


def decode_image(path):
    """(width, height, RGB rows) of the PNG or PPM virsh wrote (QEMU chooses)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(b'\x89PNG'):
        return ql.decode_png(data)
    return ql.decode_ppm(data)


def domain_xml(uuid, qtest_path):
    return """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>%s</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <!-- Without <acpi/>, libvirt 9.0 passes -no-acpi, which QEMU 9.0 removed. -->
  <features><acpi/></features>
  <devices>
    <emulator>%s</emulator>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
    <video><model type='none'/></video>
    <hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on'>
      <source><address uuid='%s'/></source>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x%02x' function='0x0'/>
    </hostdev>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-qtest'/>
    <qemu:arg value='unix:%s,server=on,wait=off'/>
  </qemu:commandline>
</domain>
""" % (DOMAIN, shutil.which(ql.QEMU_BINARY), uuid, SLOT, qtest_path)


def domain_screenshot(uuid, tmp, shot):
    """Start a domain with instance @uuid display='on', draw the picture
    into it, and check that `virsh screenshot` to @shot (plus .png or
    .ppm, whichever QEMU wrote) shows it.  Returns the screenshot's path.
    """
    qpath = os.path.join(tmp, 'qtest.sock')
    path = os.path.join(tmp, 'domain.xml')
    with open(path, 'w') as f:
        f.write(domain_xml(uuid, qpath))
    virsh('define', path)
    q = None
    try:
        # Started paused, the guest CPU never runs: its firmware would
        # otherwise program config space through 0xcf8/0xcfc at the same
        # time as the test does and the two would read each other's devices.
        virsh('start', DOMAIN, '--paused')
        q = QTestSocket(qpath)
        dev = ql.PCIDev(q, SLOT)
        check_eq(dev.vendor, 0x1234, 'the guest sees the instance: vendor')
        b0, b2 = BAR0_BASE, BAR2_BASE
        ql.map_bars(dev, {0: b0, 2: b2})
        raw, want = picture()
        q.writew(b2 + MMIO_DISPI + 2 * DISPI['enable'], 0)
        for reg, val in (('bpp', 32), ('xres', WIDTH), ('yres', HEIGHT),
                         ('virt_width', WIDTH), ('virt_height', HEIGHT),
                         ('x_offset', 0), ('y_offset', 0)):
            q.writew(b2 + MMIO_DISPI + 2 * DISPI[reg], val)
        q.writew(b2 + MMIO_DISPI + 2 * DISPI['enable'], DISPI_ENABLED_LFB)
        q.write(b0, raw)
        # The display is refreshed asynchronously: retry until it shows the mode.
        deadline = time.monotonic() + 20
        while True:
            virsh('screenshot', DOMAIN, '--file', shot, '--screen', '0')
            w, h, rows = decode_image(shot)
            if (w, h) == (WIDTH, HEIGHT) and rows == want or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        check_eq((w, h), (WIDTH, HEIGHT), 'screenshot size')
        diff = [(x, y) for y in range(h) for x in range(w) if rows[y][x] != want[y][x]]
        bad = len(diff)
        if diff:
            x, y = diff[0]
            print('# first differing pixel (%d,%d): got %s, want %s' %
                  (x, y, rows[y][x], want[y][x]), flush=True)
        check_eq(bad, 0, 'screenshot pixels that differ from the picture')
        with open(shot, 'rb') as f:
            ext = '.png' if f.read(4) == b'\x89PNG' else '.ppm'
        os.replace(shot, shot + ext)
        print('# screenshot %dx%d matches the picture: %s' % (w, h, shot + ext), flush=True)
        return shot + ext
    finally:
        if q is not None:
            q.close()
        virsh('destroy', DOMAIN, check_rc=False)
        virsh('undefine', DOMAIN, check_rc=False)


def t_domain_screenshot(tmp, results):
    """A domain with the instance display='on'; virsh screenshot shows it."""
    m = ql.Mdev(GPUS[0], 'mgpu-quarter')
    m.create()
    try:
        domain_screenshot(m.uuid, tmp, os.path.join(results, 'libvirt-screenshot'))
    finally:
        m.remove(timeout=60)
    check(not m.exists(), 'instance left after the domain')


def main():
    tap = ql.TAP()
    if os.geteuid() != 0:
        tap.plan(0, 'needs root')
        return 4
    if not shutil.which('virsh') or not shutil.which('libvirtd'):
        tap.plan(0, 'libvirt is not installed (tools/testing/install-deps)')
        return 4
    if not all(os.path.exists(os.path.join(PCI, fn)) for fn in GPUS):
        tap.plan(0, 'no stand-in PCI GPUs %s (the test VM adds them)' % ', '.join(GPUS))
        return 4
    if not os.path.isdir('/sys/bus/pci/drivers/mgpu'):
        tap.plan(0, 'mgpu is not loaded')
        return 4
    bind_gpus(GPUS)
    ql.install_watchdog(600)
    tmp = tempfile.mkdtemp(prefix='libvirt-test-')
    results = os.environ.get('RESULTS') or tmp
    lv = Libvirt()
    tests = [
        ('nodedev-list --cap mdev_types lists exactly the bound GPUs', t_list),
        ('nodedev-dumpxml: each type, its name, deviceAPI and count', t_types),
        ('nodedev-create, counts, mdev XML, bad requests, nodedev-destroy',
         t_create_destroy, tmp),
        ('nodedev-define, nodedev-start, nodedev-destroy, nodedev-undefine',
         t_define_start, tmp),
        ('domain with an mdev hostdev display=on: virsh screenshot', t_domain_screenshot,
         tmp, results),
    ]
    tap.plan(len(tests))
    start = time.monotonic()
    try:
        lv.start()
        tap.diag(virsh('version').stdout.strip().replace('\n', '; '))
        for name, fn, *args in tests:
            tap.run(name, fn, *args)
    except Exception as e:  # noqa: BLE001
        tap.diag('setup failed: %s' % e)
        for line in lv.log():
            tap.diag('  ' + line)
        while tap.n < len(tests):
            tap.ok(False, tests[tap.n][0], None)
    finally:
        if tap.failed:
            for line in lv.log():
                tap.diag('libvirtd: ' + line)
        lv.stop()
        ql.cleanup_all()
        shutil.rmtree(tmp, ignore_errors=True)
    tap.diag('total time: %.1f s' % (time.monotonic() - start))
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
