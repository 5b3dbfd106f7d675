#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Slow smoke test: a nested guest drives an mgpu instance with bochs-drm (TAP 13).

Boots the Debian kernel (/boot/vmlinuz-<ver>) under TCG in a nested QEMU with
'-device vfio-pci,sysfsdev=<mdev>,display=on' and a tiny busybox initramfs
(built here, in a temporary directory) that loads the guest's bochs DRM driver
and its dependencies (from modules.dep), unbinds fbcon and writes four
coloured bands into /dev/fb0.  QMP screendump of the mediated display must
show the bands.

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
while :; do sleep 3600; done
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


def frame_bytes(w, h, stride):
    """The picture the guest writes: four horizontal bands, H/4 lines each, XRGB8888."""
    band = h // 4
    out = bytearray()
    for _, (r, g, b) in BANDS:
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
    entries.append(('frame-%dx%d-%d' % (w, h, w * 4), stat.S_IFREG | 0o644,
                    frame_bytes(w, h, w * 4)))
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


def run(args, tap):
    kernel, kver = find_kernel(args.kernel)
    work = tempfile.mkdtemp(prefix='guest-boot-')
    mdev = None
    q = None
    try:
        t = time.monotonic()
        initrd, names = build_initramfs(work, kver)
        tap.diag('initramfs %s: %d KiB, modules %s (%.1f s)' %
                 (initrd, os.path.getsize(initrd) // 1024, ' '.join(names), time.monotonic() - t))
        if args.emulated:
            dev = 'secondary-vga,id=gpu0,addr=5.0'
        else:
            parents = ql.mdev_parents('mgpu')
            if not parents:
                raise ql.Skip('no mgpu parent (is mgpu.ko loaded?)')
            types = ql.mdev_types(parents[0])
            mtype = args.type or (types[0] if types else None)
            if mtype is None:
                raise ql.Skip('%s has no types' % parents[0])
            mdev = ql.Mdev(parents[0], mtype).create()
            tap.diag('mdev %s of %s/%s' % (mdev.uuid, parents[0], mtype))
            dev = 'vfio-pci,id=gpu0,sysfsdev=%s,display=on,addr=5.0' % mdev.path
        serial = os.path.join(work, 'serial.log')
        q = ql.QEMU(['-accel', 'tcg', '-no-reboot', '-kernel', kernel, '-initrd', initrd,
                     '-append', 'console=ttyS0 fbcon=map:0 video=Virtual-1:%dx%d panic=-1 '
                     'oops=panic loglevel=4' % GUEST_MODE,
                     '-serial', 'file:%s' % serial, '-device', dev],
                    name='guest-boot', mem=args.mem, qtest=False, paused=False,
                    workdir=work)
        t0 = time.monotonic()
        q.start()
        wait_serial(serial, r'GUEST: init up', args.boot_timeout, q)
        t_init = time.monotonic() - t0
        tap.diag('guest init after %.1f s' % t_init)
        m, text = wait_serial(serial, r'GUEST: FB (\d+) (\d+) (\d+) (\d+)', 300, q)
        w, h, bpp, stride = (int(x) for x in m.groups())
        tap.diag('guest fb0: %dx%d, %d bpp, stride %d (%.1f s)' %
                 (w, h, bpp, stride, time.monotonic() - t0))
        _, text = wait_serial(serial, r'GUEST: DRAWN', 300, q)
        m = re.search(r'GUEST: (using the prebuilt \S+|no prebuilt .*)', text)
        if m:
            tap.diag('guest: ' + m.group(1))
        tap.diag('guest drew after %.1f s' % (time.monotonic() - t0))
        band = h // 4
        probes = []
        for i, (name, rgb) in enumerate(BANDS):
            for x in (0, w // 2, w - 1):
                for y in (i * band + 1, i * band + band // 2, (i + 1) * band - 2):
                    probes.append((x, y, name, rgb))
        # The damage worker copies the shadow fb to VRAM shortly after the write.
        deadline = time.monotonic() + 60
        while True:
            got = q.screendump(device='gpu0')
            gw, gh, rows = got
            bad = [(x, y, n, rgb, rows[y][x]) for x, y, n, rgb in probes
                   if gw == w and gh == h and rows[y][x] != rgb]
            if (gw, gh) == (w, h) and not bad:
                break
            if time.monotonic() > deadline:
                if os.environ.get('RESULTS'):
                    shutil.copy(q.last_screendump, os.path.join(os.environ['RESULTS'],
                                                                'guest-boot-screen.png'))
                check_eq((gw, gh), (w, h), 'screendump size vs the guest fb')
                raise AssertionError('pixels: %s' % '; '.join(
                    '(%d,%d) %s: expected %s got %s' % b for b in bad[:6]))
            time.sleep(2)
        tap.diag('screendump %dx%d shows the four bands (%d probes)' % (gw, gh, len(probes)))
        with open(serial, 'rb') as f:
            text = f.read().decode(errors='replace')
        for line in text.splitlines():
            if 'bochs' in line or '[drm]' in line:
                tap.diag('guest: ' + line.strip())
        check(q.alive(), 'QEMU died')
    except BaseException:
        if q is not None:
            tail = ''
            try:
                with open(os.path.join(work, 'serial.log'), 'rb') as f:
                    tail = f.read().decode(errors='replace')
            except OSError:
                pass
            for line in tail.splitlines()[-40:]:
                tap.diag('serial: ' + line)
            for line in q.log():
                tap.diag('qemu: ' + line)
        raise
    finally:
        if q is not None:
            q.kill()
        if mdev is not None:
            mdev.remove(timeout=60)
        if not os.environ.get('QTEST_KEEP_TMP'):
            shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--emulated', action='store_true', help="QEMU's secondary-vga, no mdev")
    ap.add_argument('--kernel', help='guest kernel (default: newest /boot/vmlinuz-*)')
    ap.add_argument('--type', help='mdev type of the first mgpu parent (default: first)')
    ap.add_argument('--mem', type=int, default=512, help='guest memory, MiB')
    ap.add_argument('--boot-timeout', type=int, default=600, help='seconds to the guest init')
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
    tap.plan(1)
    name = '%s: nested guest bochs-drm output on the mediated display' % (
        'secondary-vga' if args.emulated else 'mgpu')
    try:
        tap.run(name, run, args, tap)
    except ql.Watchdog as e:
        tap.diag('ABORT: %s' % e)
    finally:
        ql.cleanup_all()
    return tap.finish()


if __name__ == '__main__':
    sys.exit(main())
