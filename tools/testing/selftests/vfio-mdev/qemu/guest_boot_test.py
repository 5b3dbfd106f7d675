#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Slow smoke test: a nested guest drives an mgpu instance with bochs-drm (TAP 13).

Boots the Debian kernel (/boot/vmlinuz-<ver>) under TCG in a nested QEMU with
'-device vfio-pci,sysfsdev=<mdev>,display=on' and a tiny busybox initramfs
(built here, in a temporary directory) that loads the guest's bochs DRM driver
and its dependencies (from modules.dep), unbinds fbcon and writes four
coloured bands into /dev/fb0.  QMP screendump of the mediated display must
show the bands.  The guest then goes on: every 2 s it prints a tick, and
every 4 s it draws the bands in the other order.

With a QEMU that speaks VFIO migration v2, the running guest is then live
migrated to a destination QEMU holding an instance of the same type on the
second mgpu GPU (after the version check): on the destination its ticks go
on, and the next picture it draws shows on the destination's display.

Only runs with MDEV_SLOW_TESTS=1 (a nested boot takes minutes); otherwise
prints '1..0 # SKIP'.  --emulated uses QEMU's secondary-vga instead of an mdev.

  tools/testing/vm/run --timeout 1200 --env MDEV_SLOW_TESTS=1 \\
      --load samples/vfio-mdev/mgpu/mgpu.ko -- \\
      python3 tools/testing/selftests/vfio-mdev/qemu/guest_boot_test.py
"""

import argparse
import glob
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qtestlib as ql  # noqa: E402
from qtestlib import check, check_eq  # noqa: E402

GUEST_MODULES = ['bochs']
# The mode asked of bochs-drm on the kernel command line; the initramfs carries
# the picture for it, so the slow nested guest need not compute one.
GUEST_MODE = (800, 600)
BANDS = [('red', (255, 0, 0)), ('green', (0, 255, 0)), ('blue', (0, 0, 255)),
         ('white', (255, 255, 255))]

GUEST_INIT = r'''#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "GUEST: $*"; }
die() { say "FAIL $*"; dmesg | grep -iE 'bochs|drm|fb|pci 0000:00:05' | tail -40; poweroff -f; }
say "init up after $(cut -d' ' -f1 /proc/uptime) s"
for m in $(cat /etc/modules.list); do
	insmod "/lib/modules/$m.ko" || die "insmod $m"
done
i=0
while [ ! -e /dev/fb0 ] && [ $i -lt 600 ]; do usleep 100000; i=$((i+1)); done
[ -e /dev/fb0 ] || die "no /dev/fb0"
say "fb: $(cat /proc/fb)"
# fbcon must not draw over the picture.
for v in /sys/class/vtconsole/vtcon*; do
	grep -q "frame buffer" "$v/name" && echo 0 >"$v/bind"
done
echo 0 >/sys/class/graphics/fbcon/cursor_blink 2>/dev/null
g=/sys/class/graphics/fb0
W=$(cut -d, -f1 $g/virtual_size)
H=$(cut -d, -f2 $g/virtual_size)
BPP=$(cat $g/bits_per_pixel)
S=$(cat $g/stride)
say "FB $W $H $BPP $S"
[ "$BPP" = 32 ] || die "bpp $BPP, want 32"
band=$((H / 4))
frame=/frame-${W}x${H}-$S
if [ -e $frame ]; then
	say "using the prebuilt $frame"
else
	# Slow under nested TCG (a minute): only when the mode is not the one asked for.
	say "no prebuilt $frame: building the frame here"
	frame=/tmp/frame
	: >$frame
	for px in '\000\000\377\000' '\000\377\000\000' '\377\000\000\000' \
		'\377\377\377\000'; do
		printf "$px" >/tmp/p
		while [ $(stat -c %s /tmp/p) -lt "$S" ]; do
			cat /tmp/p /tmp/p >/tmp/q
			mv /tmp/q /tmp/p
		done
		head -c "$S" /tmp/p >/tmp/rows
		while [ $(stat -c %s /tmp/rows) -lt $((S * band)) ]; do
			cat /tmp/rows /tmp/rows >/tmp/q
			mv /tmp/q /tmp/rows
		done
		head -c $((S * band)) /tmp/rows >>$frame
	done
fi
# Whole bands per write(): 6.1's fbdev damage clipping drops a write of
# exactly one scanline (x2 = 0), so bs=<stride> would never reach the screen.
dd if=$frame of=/dev/fb0 bs=$((S * band)) 2>/dev/null || die "writing /dev/fb0"
say "readback: $(dd if=/dev/fb0 bs=16 count=1 2>/dev/null | od -An -tx1)"
say "DRAWN after $(cut -d' ' -f1 /proc/uptime) s"
dmesg | grep -iE 'bochs|drm|fb0|console' | tail -10
# Alive: a tick every 2 s, and every other tick the other picture (A the
# bands in order, B reversed), if it was prebuilt.
n=0
pic=A
while :; do
	sleep 2
	n=$((n + 1))
	if [ $((n % 2)) = 0 ] && [ -e $frame.rev ]; then
		if [ $pic = A ]; then pic=B; f=$frame.rev; else pic=A; f=$frame; fi
		dd if=$f of=/dev/fb0 bs=$((S * band)) 2>/dev/null || die "redraw"
	fi
	say "TICK $n $pic"
done
'''


def find_kernel(opt):
    if opt:
        ver = re.sub(r'^.*vmlinuz-', '', opt)
        return opt, ver
    best = None
    for img in glob.glob('/boot/vmlinuz-*'):
        ver = img[len('/boot/vmlinuz-'):]
        if os.path.isdir('/lib/modules/%s/kernel' % ver):
            if best is None or _vkey(ver) > _vkey(best[1]):
                best = (img, ver)
    if best is None:
        raise ql.Skip('no /boot/vmlinuz-<ver> with /lib/modules/<ver>')
    return best


def _vkey(v):
    return [int(x) if x.isdigit() else x for x in re.split(r'[.-]', v)]


def module_order(moddir, names):
    """Module files (relative to @moddir) of @names and their deps, deps first."""
    deps = {}
    with open(os.path.join(moddir, 'modules.dep')) as f:
        for line in f:
            mod, _, rest = line.partition(':')
            deps[mod] = rest.split()
    byname = {}
    for mod in deps:
        base = os.path.basename(mod)
        byname[re.sub(r'\.ko(\.(xz|gz|zst))?$', '', base).replace('-', '_')] = mod
    order = []

    def visit(mod, stack=()):
        if mod in order:
            return
        if mod in stack:
            raise RuntimeError('module dependency loop at %s' % mod)
        for d in deps.get(mod, []):
            visit(d, stack + (mod,))
        order.append(mod)

    for n in names:
        mod = byname.get(n.replace('-', '_'))
        if mod is None:
            raise ql.Skip('module %s is not in %s/modules.dep' % (n, moddir))
        visit(mod)
    return order


def read_module(path):
    if path.endswith('.xz'):
        with lzma.open(path) as f:
            return f.read()
    if path.endswith('.gz'):
        import gzip
        with gzip.open(path) as f:
            return f.read()
    if path.endswith('.zst'):
        return subprocess.run(['zstd', '-qdc', path], check=True, stdout=subprocess.PIPE).stdout
    with open(path, 'rb') as f:
        return f.read()


def cpio_newc(entries):
    """An uncompressed newc archive of [(name, mode, data or None for dirs)]."""
    out = bytearray()
    ino = 1
    for name, mode, data in entries + [('TRAILER!!!', 0, b'')]:
        data = data or b''
        nb = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08x' % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out += hdr.encode() + nb
        out += b'\0' * (-len(out) % 4)
        out += data
        out += b'\0' * (-len(out) % 4)
        ino += 1
    return bytes(out)


def frame_bytes(w, h, stride, bands=BANDS):
    """The picture the guest writes: four horizontal bands, H/4 lines each, XRGB8888."""
    band = h // 4
    out = bytearray()
    for _, (r, g, b) in bands:
        line = bytes((b, g, r, 0)) * w + bytes(stride - 4 * w)
        out += line * band
    return bytes(out)


def build_initramfs(workdir, kver, busybox='/bin/busybox'):
    moddir = '/lib/modules/%s' % kver
    mods = module_order(moddir, GUEST_MODULES)
    entries = [(d, stat.S_IFDIR | 0o755, None)
               for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'lib', 'lib/modules')]
    with open(busybox, 'rb') as f:
        entries.append(('bin/busybox', stat.S_IFREG | 0o755, f.read()))
    entries.append(('init', stat.S_IFREG | 0o755, GUEST_INIT.encode()))
    names = []
    for rel in mods:
        name = re.sub(r'\.ko(\.(xz|gz|zst))?$', '', os.path.basename(rel))
        names.append(name)
        entries.append(('lib/modules/%s.ko' % name, stat.S_IFREG | 0o644,
                        read_module(os.path.join(moddir, rel))))
    w, h = GUEST_MODE
    frame = 'frame-%dx%d-%d' % (w, h, w * 4)
    entries.append((frame, stat.S_IFREG | 0o644, frame_bytes(w, h, w * 4)))
    entries.append((frame + '.rev', stat.S_IFREG | 0o644,
                    frame_bytes(w, h, w * 4, BANDS[::-1])))
    entries.append(('etc/modules.list', stat.S_IFREG | 0o644, ('\n'.join(names) + '\n').encode()))
    path = os.path.join(workdir, 'initramfs.cpio')
    with open(path, 'wb') as f:
        f.write(cpio_newc(entries))
    return path, names


def wait_serial(path, pattern, timeout, q):
    """Wait until the serial log matches @pattern; return the match."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, 'rb') as f:
                text = f.read().decode(errors='replace')
        except FileNotFoundError:
            text = ''
        m = rx.search(text)
        if m:
            return m, text
        fail = re.search(r'GUEST: FAIL.*', text)
        if fail:
            raise AssertionError('guest: %s' % fail.group(0))
        if not q.alive():
            raise AssertionError('QEMU exited (rc %s) before %r' % (q.proc.returncode, pattern))
        if time.monotonic() > deadline:
            raise ql.QTestTimeout('serial: %r not seen within %d s' % (pattern, timeout))
        time.sleep(1)


# The downtime the live migration may take (see migrate()).
SWITCHOVER_MS = 60000
# The two pictures the guest alternates between.
PICTURES = {'A': BANDS, 'B': BANDS[::-1]}
TICK_RE = re.compile(r'GUEST: TICK (\d+) ([AB])')


def picture_probes(w, h, bands):
    band = h // 4
    return [(x, y, name, rgb) for i, (name, rgb) in enumerate(bands)
            for x in (0, w // 2, w - 1)
            for y in (i * band + 1, i * band + band // 2, (i + 1) * band - 2)]


def pictures_shown(q, w, h, want, timeout):
    """Screendumps until each picture in @want was shown whole; returns them.

    A picture counts when every probe pixel is its colour.  On a timeout the
    last screendump is kept in $RESULTS and the mismatches raised.
    """
    seen = set()
    deadline = time.monotonic() + timeout
    while True:
        gw, gh, rows = q.screendump(device='gpu0')
        bad = {}
        for name in want:
            probes = picture_probes(w, h, PICTURES[name])
            bad[name] = [(x, y, n, rgb, rows[y][x]) for x, y, n, rgb in probes
                         if (gw, gh) == (w, h) and rows[y][x] != rgb]
            if (gw, gh) == (w, h) and not bad[name]:
                seen.add(name)
        if seen >= set(want):
            return seen
        if time.monotonic() > deadline:
            if os.environ.get('RESULTS'):
                shutil.copy(q.last_screendump, os.path.join(os.environ['RESULTS'],
                                                            'guest-boot-screen.png'))
            check_eq((gw, gh), (w, h), 'screendump size vs the guest fb')
            missing = sorted(set(want) - seen)
            raise AssertionError('picture %s never shown; last: %s' % (
                missing[0], '; '.join('(%d,%d) %s: expected %s got %s' % m
                                      for m in bad[missing[0]][:6])))
        time.sleep(1)


def serial_text(path):
    try:
        with open(path, 'rb') as f:
            return f.read().decode(errors='replace')
    except FileNotFoundError:
        return ''


def last_tick(path):
    ticks = TICK_RE.findall(serial_text(path))
    return (int(ticks[-1][0]), ticks[-1][1]) if ticks else (0, None)


class Guest:
    """The nested guest: its mdev, QEMU, work directory and serial log."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix='guest-boot-')
        self.serial = os.path.join(self.work, 'serial.log')
        self.mdev = self.q = None
        self.parents = []
        self.mtype = None
        self.mode = None
        self.migration = False
        self.extra = []         # the destination's QEMU and mdev, to clean up

    def qemu(self, mdev, serial, workdir, name, extra=()):
        if self.args.emulated:
            dev = 'secondary-vga,id=gpu0,addr=5.0'
        else:
            dev = 'vfio-pci,id=gpu0,sysfsdev=%s,display=on,addr=5.0' % mdev.path
            if self.migration:
                dev += ',enable-migration=on'
        return ql.QEMU(['-accel', 'tcg', '-no-reboot', '-kernel', self.kernel,
                        '-initrd', self.initrd, '-append',
                        'console=ttyS0 fbcon=map:0 video=Virtual-1:%dx%d panic=-1 '
                        'oops=panic loglevel=4' % GUEST_MODE,
                        '-serial', 'file:%s' % serial, '-device', dev] + list(extra),
                       name=name, mem=self.args.mem, qtest=False, paused=False,
                       workdir=workdir)

    def dump(self, tap):
        for line in serial_text(self.serial).splitlines()[-40:]:
            tap.diag('serial: ' + line)
        if self.q is not None:
            for line in self.q.log():
                tap.diag('qemu: ' + line)

    def cleanup(self):
        for obj in [self.q] + self.extra:
            if isinstance(obj, ql.QEMU):
                obj.kill()
        for obj in [self.mdev] + self.extra:
            if isinstance(obj, ql.Mdev) and obj.exists():
                obj.remove(timeout=60)
        if not os.environ.get('QTEST_KEEP_TMP'):
            for d in [self.work] + [x for x in self.extra if isinstance(x, str)]:
                shutil.rmtree(d, ignore_errors=True)


def boot(g, tap):
    args = g.args
    g.kernel, kver = find_kernel(args.kernel)
    t = time.monotonic()
    g.initrd, names = build_initramfs(g.work, kver)
    tap.diag('initramfs %s: %d KiB, modules %s (%.1f s)' %
             (g.initrd, os.path.getsize(g.initrd) // 1024, ' '.join(names),
              time.monotonic() - t))
    if not args.emulated:
        g.parents = ql.mdev_parents('mgpu')
        if not g.parents:
            raise ql.Skip('no mgpu parent (is mgpu.ko loaded?)')
        types = ql.mdev_types(g.parents[0])
        g.mtype = args.type or (types[0] if types else None)
        if g.mtype is None:
            raise ql.Skip('%s has no types' % g.parents[0])
        g.migration = ql.qemu_has_migration_v2()
        g.mdev = ql.Mdev(g.parents[0], g.mtype).create()
        tap.diag('mdev %s of %s/%s' % (g.mdev.uuid, g.parents[0], g.mtype))
    g.q = g.qemu(g.mdev, g.serial, g.work, 'guest-boot')
    t0 = time.monotonic()
    g.q.start()
    wait_serial(g.serial, r'GUEST: init up', args.boot_timeout, g.q)
    tap.diag('guest init after %.1f s' % (time.monotonic() - t0))
    m, text = wait_serial(g.serial, r'GUEST: FB (\d+) (\d+) (\d+) (\d+)', 300, g.q)
    w, h, bpp, stride = (int(x) for x in m.groups())
    g.mode = (w, h)
    tap.diag('guest fb0: %dx%d, %d bpp, stride %d (%.1f s)' %
             (w, h, bpp, stride, time.monotonic() - t0))
    _, text = wait_serial(g.serial, r'GUEST: DRAWN', 300, g.q)
    m = re.search(r'GUEST: (using the prebuilt \S+|no prebuilt .*)', text)
    if m:
        tap.diag('guest: ' + m.group(1))
    tap.diag('guest drew after %.1f s' % (time.monotonic() - t0))
    # The damage worker copies the shadow fb to VRAM shortly after the write;
    # the guest alternates A and B from then on.
    shown = pictures_shown(g.q, w, h, ['A'], 60)
    tap.diag('screendump %dx%d shows the four bands (%s)' % (w, h, ''.join(sorted(shown))))
    for line in serial_text(g.serial).splitlines():
        if 'bochs' in line or '[drm]' in line:
            tap.diag('guest: ' + line.strip())
    check(g.q.alive(), 'QEMU died')


def migration_progress(info):
    ram = info.get('ram', {})
    return 'status %s, %.0f s: ram %d MiB sent, %d MiB left, %d syncs, %.0f Mbit/s' % (
        info.get('status'), info.get('total-time', 0) / 1000.0,
        ram.get('transferred', 0) >> 20, ram.get('remaining', 0) >> 20,
        ram.get('dirty-sync-count', 0), ram.get('mbps', 0))


def migrate(g, tap):
    if g.q is None or not g.q.alive():
        raise AssertionError('no running guest to migrate (the boot failed)')
    if g.args.emulated:
        raise ql.Skip('--emulated: no mdev to migrate')
    if not g.migration:
        raise ql.Skip('QEMU without VFIO migration v2 (QEMU 8.0 or later)')
    if len(g.parents) < 2:
        raise ql.Skip('one mgpu GPU: no second one to migrate to')
    check_eq(ql.migration_version_check(g.parents[0], g.mtype, g.parents[1], g.mtype),
             None, 'version check, %s on %s' % (g.mtype, g.parents[1]))
    dst_mdev = ql.Mdev(g.parents[1], g.mtype).create()
    g.extra.append(dst_mdev)
    work = tempfile.mkdtemp(prefix='guest-boot-dst-')
    g.extra.append(work)
    serial = os.path.join(work, 'serial.log')
    sock = os.path.join(work, 'migrate.sock')
    dst = g.qemu(dst_mdev, serial, work, 'guest-boot-dst', ['-incoming', 'unix:' + sock])
    g.extra.append(dst)
    dst.start()
    # Migrate a guest that is known to be running: one tick first.
    wait_serial(g.serial, TICK_RE.pattern, 120, g.q)
    tick0, pic0 = last_tick(g.serial)
    tap.diag('source guest at tick %d (%s): migrating to %s' % (tick0, pic0, dst_mdev.uuid))
    # QEMU switches over once what is left fits in downtime-limit at the
    # bandwidth it measured (a few MB/s under nested TCG).  On a kernel
    # without VFIO_DEVICE_FEATURE_MIG_DATA_SIZE (6.1) it takes the device's
    # data for 100 GiB (VFIO_MIG_STOP_COPY_SIZE), so it would never switch
    # over: a minute at an assumed 4 GiB/s covers that (240 GiB).
    g.q.qmp.execute('migrate-set-parameters', {'downtime-limit': SWITCHOVER_MS,
                                               'avail-switchover-bandwidth': 4 << 30})
    g.q.qmp.execute('migrate', {'uri': 'unix:' + sock})
    t0 = time.monotonic()
    report = t0
    while True:
        info = g.q.qmp.execute('query-migrate')
        if info.get('status') in ('completed', 'failed', 'cancelled'):
            break
        if time.monotonic() - report >= 15:
            tap.diag(migration_progress(info))
            report = time.monotonic()
        if time.monotonic() - t0 > g.args.migrate_timeout:
            tap.diag(migration_progress(info))
            raise ql.QTestTimeout('migration not done after %d s' % g.args.migrate_timeout)
        time.sleep(1)
    tap.diag(migration_progress(info))
    check_eq(info.get('status'), 'completed',
             'migration status (%s)' % info.get('error-desc', ''))
    tap.diag('downtime %s ms' % info.get('downtime'))
    # The guest goes on on the destination: new ticks, and both pictures.
    deadline = time.monotonic() + 120
    while last_tick(serial)[0] <= tick0:
        check(dst.alive(), 'destination QEMU died')
        if time.monotonic() > deadline:
            raise AssertionError('no tick after %d on the destination: %r' % (
                tick0, serial_text(serial)[-300:]))
        time.sleep(1)
    tap.diag('destination guest ticks on: %d (%s)' % last_tick(serial))
    w, h = g.mode
    shown = pictures_shown(dst, w, h, ['A', 'B'], 120)
    tap.diag('destination display showed pictures %s' % ''.join(sorted(shown)))
    # The source instance is free again once its QEMU is gone.
    g.q.kill()
    g.mdev.remove(timeout=60)
    check(not g.mdev.exists(), 'source instance removed')


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--emulated', action='store_true', help="QEMU's secondary-vga, no mdev")
    ap.add_argument('--kernel', help='guest kernel (default: newest /boot/vmlinuz-*)')
    ap.add_argument('--type', help='mdev type of the first mgpu parent (default: first)')
    ap.add_argument('--mem', type=int, default=512, help='guest memory, MiB')
    ap.add_argument('--boot-timeout', type=int, default=600, help='seconds to the guest init')
    ap.add_argument('--migrate-timeout', type=int, default=300,
                    help='seconds for the live migration')
    ap.add_argument('--timeout', type=int, default=1200, help='whole-script watchdog, s')
    args = ap.parse_args()

    tap = ql.TAP()
    if os.environ.get('MDEV_SLOW_TESTS') != '1':
        tap.plan(0, 'slow test: set MDEV_SLOW_TESTS=1')
        return 0
    if shutil.which(ql.QEMU_BINARY) is None:
        tap.plan(0, '%s not found' % ql.QEMU_BINARY)
        return 4
    if not args.emulated and os.geteuid() != 0:
        tap.plan(0, 'needs root')
        return 4
    ql.install_watchdog(args.timeout)
    tap.plan(2)
    what = 'secondary-vga' if args.emulated else 'mgpu'
    g = Guest(args)
    try:
        for name, fn in (
                ('%s: nested guest bochs-drm output on the mediated display' % what, boot),
                ('%s: the running guest live-migrated to the second GPU goes on drawing'
                 % what, migrate)):
            if not tap.run(name, fn, g, tap):
                g.dump(tap)
    except ql.Watchdog as e:
        tap.diag('ABORT: %s' % e)
        g.dump(tap)
    finally:
        g.cleanup()
        ql.cleanup_all()
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
