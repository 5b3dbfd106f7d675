#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Live migration of an mgpu instance between two real QEMUs (TAP 13).

A source QEMU holds an mgpu eighth of mgpu0 as vfio-pci; a destination QEMU
started with -incoming holds an instance of a type on mgpu1.  Neither runs
guest code (-accel qtest): the test plays the guest through qtest (BARs,
config space, registers, VRAM) and the management layer through sysfs and
QMP.  Cases:

  - the version check of the RFC (the source type's 'version' written into
    the target type's 'version') passes for the same type, then QMP
    'migrate' completes; the destination's screendump equals the source's,
    registers, config space and the MSI set-up survive and an MSI is
    delivered on the destination; the source instance is free again once
    its QEMU quits;
  - a type with another VRAM size is refused by the version check, before
    any QEMU starts; forced anyway, QEMU's migration fails, the source
    keeps running and the destination instance is usable afterwards;
  - a migration cut short (migrate_cancel, or the source killed) leaves the
    source running (cancel) and the destination instance usable.

QEMU 10 speaks VFIO migration v2; an older QEMU (7.2 only knows the v1
protocol, which Linux 6.1 no longer has) makes the whole test skip.

Run inside the test VM, as root, with mgpu.ko loaded (run.sh does both):
  tools/testing/vm/run --load samples/vfio-mdev/mgpu/mgpu.ko -- \\
      python3 tools/testing/selftests/vfio-mdev/qemu/migration_test.py
"""

import argparse
import errno
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qtestlib as ql  # noqa: E402
import qemu_e2e_test as e2e  # noqa: E402
from qtestlib import check, check_eq  # noqa: E402

SRC_GPU = 'mgpu0'
DST_GPU = 'mgpu1'
TYPE = 'mgpu-eighth'
OTHER_TYPE = 'mgpu-quarter'     # another profile and twice the VRAM
SLOT = e2e.SLOT
MSI_ADDR = e2e.MSI_ADDR
MSI_DATA = 0x4321
SCRATCH = 0x5ca1ab1e
W, H = 320, 200
MEM_MB = 32                     # guest RAM: small, so that RAM moves fast
RAM_FILL = 0x200000             # where cut_short() writes guest RAM

# QEMU 10 realizes a vfio-pci device that offers migration but neither
# device dirty tracking (VFIO_DEVICE_FEATURE_DMA_LOGGING) nor IOMMU dirty
# tracking (iommufd) with a migration blocker when enable-migration is left
# at 'auto' (hw/vfio/migration.c, vfio_migration_realize()).  mgpu offers no
# DMA logging (its only DMA is the MSI write), so the test asks for
# migration explicitly; QEMU then warns and treats all guest RAM as dirty.
# The firmware is 64 KiB of HLT (Debian's QEMU has no '-accel qtest'): after
# 'cont' the CPU halts at the reset vector with interrupts off, so no guest
# code touches the BARs the test programs, and 'cont' only sets the devices
# running (QEMU moves a vfio device to RUNNING when the VM starts).
QEMU_ARGS = []


def make_firmware(tmp):
    path = os.path.join(tmp, 'hlt.bin')
    with open(path, 'wb') as f:
        f.write(b'\xf4' * 65536)
    QEMU_ARGS[:] = ['-bios', path]


def device(mdev, dev_id='gpu0'):
    return ('vfio-pci,id=%s,sysfsdev=%s,addr=%d.0,display=on,enable-migration=on'
            % (dev_id, mdev.path, SLOT))


def start_qemu(mdev, name, incoming=None):
    args = QEMU_ARGS + ['-device', device(mdev)]
    if incoming:
        args += ['-incoming', incoming]
    q = ql.QEMU(args, name=name, mem=MEM_MB)
    try:
        q.start()
    except BaseException:
        for line in q.log():
            print('# %s: %s' % (name, line), flush=True)
        raise
    return q


def dump_log(q, name):
    for line in q.log(15):
        print('# %s: %s' % (name, line), flush=True)


class Guest:
    """What the test, as the guest, puts into the source device."""

    def __init__(self, q, vram):
        self.q = q
        self.dev, self.b0, self.b2 = e2e.map_device(q, SLOT, vram)
        self.ctrl = self.b2 + e2e.MMIO_CTRL
        self.msi = self.dev.capabilities().get(ql.PCI_CAP_ID_MSI)
        check(self.msi is not None, 'no MSI capability')

    def setup(self):
        q = self.q
        self.img = e2e.test_image(W, H)
        e2e.set_mode(q, self.b2, W, H, 32)
        q.write(self.b0, e2e.pack_rows(self.img, 32, W))
        q.writel(self.ctrl + e2e.CTRL_SCRATCH, SCRATCH)
        # MSI armed: address, data, enable; the cause enabled, not raised.
        ctrl = self.dev.read16(self.msi + 2)
        self.dev.write32(self.msi + 4, MSI_ADDR)
        if ctrl & 0x80:
            self.dev.write32(self.msi + 8, 0)
            self.dev.write16(self.msi + 12, MSI_DATA)
        else:
            self.dev.write16(self.msi + 8, MSI_DATA)
        self.dev.enable(memory=True, master=True)
        self.dev.write16(self.msi + 2, ctrl | 1)
        q.writel(self.ctrl + e2e.CTRL_IRQ_STATUS, 0xffffffff)
        q.writel(self.ctrl + e2e.CTRL_IRQ_ENABLE, 1)

    def state(self, q=None):
        """Registers and config space as a guest sees them, by name."""
        q = q or self.q
        dev = q.pci(SLOT)
        s = {'dispi[%d]' % i: q.readw(self.b2 + e2e.MMIO_DISPI + 2 * i) for i in range(10)}
        for name, off in (('SCRATCH', e2e.CTRL_SCRATCH), ('IRQ_ENABLE', e2e.CTRL_IRQ_ENABLE),
                          ('IRQ_STATUS', e2e.CTRL_IRQ_STATUS)):
            s[name] = q.readl(self.ctrl + off)
        s['COMMAND'] = dev.read16(ql.PCI_COMMAND)
        s['BAR0'] = dev.read32(0x10)
        s['BAR2'] = dev.read32(0x18)
        for off in range(0, 16, 4):
            s['MSI+%d' % off] = dev.read32(self.msi + off)
        return s


def usable(mdev, vram):
    """The instance opens in a fresh QEMU and its VRAM and registers work."""
    q = start_qemu(mdev, 'check')
    try:
        _, b0, b2 = e2e.map_device(q, SLOT, vram)
        check_eq(q.readl(b2 + e2e.MMIO_CTRL + e2e.CTRL_ID), e2e.CTRL_ID_VALUE,
                 'control block ID of the reopened instance')
        q.writel(b0 + 0x1000, 0xc0ffee)
        check_eq(q.readl(b0 + 0x1000), 0xc0ffee, 'VRAM write/read of the reopened instance')
    finally:
        q.shutdown()


class Pair:
    """A source and a target mdev; removed at the end."""

    def __init__(self, dst_type=TYPE):
        self.src = ql.Mdev(SRC_GPU, TYPE).create()
        self.dst = ql.Mdev(DST_GPU, dst_type).create()
        self.vram = e2e.MdevTarget(SRC_GPU, TYPE).vram
        self.dst_vram = e2e.MdevTarget(DST_GPU, dst_type).vram

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        ql.cleanup_all()        # QEMUs left over first, then:
        for m in (self.src, self.dst):
            if m.exists():
                m.remove(timeout=60)
        return False


def t_migrate():
    with Pair() as p:
        check_eq(ql.migration_version_check(SRC_GPU, TYPE, DST_GPU, TYPE), None,
                 'version check, same type on another GPU')
        src = start_qemu(p.src, 'src')
        g = Guest(src, p.vram)
        g.setup()
        before = src.screendump(device='gpu0')
        e2e.compare_image(before, g.img, 'source before migration', 'mig-src.png', src)
        state = g.state()
        sock = os.path.join(src.tmp, 'migrate.sock')
        dst = start_qemu(p.dst, 'dst', incoming='unix:' + sock)
        t = time.monotonic()
        src.qmp.execute('migrate', {'uri': 'unix:' + sock})
        status, info = ql.wait_migration(src)
        if status != 'completed':
            dump_log(src, 'src')
            dump_log(dst, 'dst')
        check_eq(status, 'completed', 'migration status (%s)' % info.get('error-desc', ''))
        ql.wait_until(lambda: dst.qmp.execute('query-status')['status'] != 'inmigrate',
                      30, what='destination leaves inmigrate')
        print('# migrated in %.2f s: %s' % (time.monotonic() - t, info.get('ram', {})),
              flush=True)

        # QEMU leaves the device in RESUMING while the destination is paused
        # (-S); the stream's state applies when the VM starts.
        dst.qmp.execute('cont')
        got = g.state(dst)
        for k in state:
            check_eq(got[k], state[k], 'destination %s' % k)
        check(got['MSI+0'] & (1 << 16), 'MSI enable bit lost')
        # VRAM itself, a few places through the BAR
        for off in (0, W * 4 * 100 + 40, W * H * 4 - 4):
            check_eq(dst.readl(g.b0 + off), src.readl(g.b0 + off), 'VRAM at 0x%x' % off)
        after = dst.screendump(device='gpu0')
        check(after == before, 'destination screendump differs from the source one')
        e2e.compare_image(after, g.img, 'destination after migration', 'mig-dst.png', dst)

        # The destination runs: an MSI raised there arrives at its address.
        dst.writel(MSI_ADDR, 0)
        dst.writel(g.ctrl + e2e.CTRL_IRQ_RAISE, 1)
        ql.wait_until(lambda: dst.readl(MSI_ADDR) == MSI_DATA, 10, poll=0.02,
                      what='MSI from the migrated device written to 0x%x' % MSI_ADDR)

        # The source instance is free again once its QEMU is gone.
        src.shutdown()
        usable(p.src, p.vram)
        dst.shutdown()
        p.src.remove(timeout=30)
        check(not p.src.exists(), 'source instance removed')


def t_incompatible():
    with Pair(OTHER_TYPE) as p:
        # The check refuses before anything starts.
        check_eq(ql.migration_version_check(SRC_GPU, TYPE, DST_GPU, OTHER_TYPE), errno.EPROTO,
                 'version check, %s into %s' % (TYPE, OTHER_TYPE))
        check_eq(ql.migration_version_check(DST_GPU, OTHER_TYPE, SRC_GPU, TYPE), errno.EPROTO,
                 'version check, %s into %s' % (OTHER_TYPE, TYPE))
        # Forced anyway: QEMU's migration fails, the source runs on.
        src = start_qemu(p.src, 'src')
        g = Guest(src, p.vram)
        g.setup()
        state = g.state()
        sock = os.path.join(src.tmp, 'migrate.sock')
        dst = start_qemu(p.dst, 'dst', incoming='unix:' + sock)
        src.qmp.execute('migrate', {'uri': 'unix:' + sock})
        status, info = ql.wait_migration(src)
        check_eq(status, 'failed', 'forced migration to another VRAM size')
        print('# source: %s' % info.get('error-desc', ''), flush=True)
        ql.wait_until(lambda: not dst.alive(), 30, what='destination QEMU exits')
        errs = [line for line in dst.log(40) if 'vfio' in line.lower() or 'error' in line.lower()]
        print('# destination: %s' % ' | '.join(errs[-3:]), flush=True)
        check(src.alive(), 'source QEMU still running')
        check_eq(g.state(), state, 'source state after the failed migration')
        src.qmp.execute('cont')
        src.writel(MSI_ADDR, 0)
        src.writel(g.ctrl + e2e.CTRL_IRQ_RAISE, 1)
        ql.wait_until(lambda: src.readl(MSI_ADDR) == MSI_DATA, 10, poll=0.02,
                      what='MSI on the source after the failed migration')
        dst.kill()
        usable(p.dst, p.dst_vram)


def cut_short(how):
    with Pair() as p:
        src = start_qemu(p.src, 'src')
        g = Guest(src, p.vram)
        g.setup()
        state = g.state()
        sock = os.path.join(src.tmp, 'migrate.sock')
        dst = start_qemu(p.dst, 'dst', incoming='unix:' + sock)
        # Slow enough to be caught in the middle: 8 MiB of guest RAM that
        # is not zeros (zero pages cost almost nothing), at 2 MiB/s.
        src.memset(RAM_FILL, 8 << 20, 0x5a)
        src.qmp.execute('migrate-set-parameters', {'max-bandwidth': 2 << 20})
        src.qmp.execute('migrate', {'uri': 'unix:' + sock})
        ql.wait_until(lambda: src.qmp.execute('query-migrate').get('status') == 'active',
                      10, poll=0.01, what='migration active')
        time.sleep(0.5)
        if how == 'cancel':
            src.qmp.execute('migrate_cancel')
            status, _ = ql.wait_migration(src)
            check_eq(status, 'cancelled', 'status after migrate_cancel')
            check(src.alive(), 'source QEMU still running')
            check_eq(g.state(), state, 'source state after the cancelled migration')
            src.qmp.execute('cont')
            src.writel(MSI_ADDR, 0)
            src.writel(g.ctrl + e2e.CTRL_IRQ_RAISE, 1)
            ql.wait_until(lambda: src.readl(MSI_ADDR) == MSI_DATA, 10, poll=0.02,
                          what='MSI on the source after the cancelled migration')
        else:
            os.killpg(src.proc.pid, signal.SIGKILL)
            src.kill()
        ql.wait_until(lambda: not dst.alive(), 30, what='destination QEMU exits')
        dst.kill()
        usable(p.dst, p.vram)
        if how != 'cancel':
            usable(p.src, p.vram)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--timeout', type=int, default=300, help='whole-script watchdog, s')
    ap.add_argument('--only', help='regexp: run only tests whose name matches')
    args = ap.parse_args()

    tests = [
        ('%s %s -> %s: version check, migrate, display, registers, MSI, source freed'
         % (TYPE, SRC_GPU, DST_GPU), t_migrate),
        ('%s -> %s: refused by the version check; forced, QEMU fails, both usable'
         % (TYPE, OTHER_TYPE), t_incompatible),
        ('migrate_cancel mid-way: source runs on, destination instance usable',
         cut_short, 'cancel'),
        ('source killed mid-way: destination instance usable', cut_short, 'kill'),
    ]
    if args.only:
        tests = [t for t in tests if re.search(args.only, t[0])]

    tap = ql.TAP()
    if shutil.which(ql.QEMU_BINARY) is None:
        tap.plan(0, '%s not found' % ql.QEMU_BINARY)
        return 4
    if os.geteuid() != 0:
        tap.plan(0, 'needs root')
        return 4
    if not ql.qemu_has_migration_v2():
        tap.plan(0, '%s has no VFIO migration v2 (needs QEMU 8.0 or later)' % ql.QEMU_BINARY)
        return 4
    parents = ql.mdev_parents('mgpu')
    if SRC_GPU not in parents or DST_GPU not in parents:
        tap.plan(0, 'needs virtual GPUs %s and %s (is mgpu.ko loaded?)' % (SRC_GPU, DST_GPU))
        return 4
    ql.install_watchdog(args.timeout)
    tmp = tempfile.mkdtemp(prefix='qtest-migration-')
    make_firmware(tmp)
    try:
        return tap.run_all(tests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
