#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""End-to-end tests of mgpu instances as QEMU vfio-pci devices (TAP 13).

A nested QEMU (pc machine, -S, qtest on stdio, QMP on a socket) realizes each
mgpu mdev type as '-device vfio-pci,sysfsdev=...' and checks, without a guest:
config space and BAR sizes, VRAM through BAR0 (mmap and x-no-mmap), the
display (dispi registers in BAR2, QMP screendump), isolation of two instances,
hot plug and unplug, removal of an mdev in use (REQ -> ACPI unplug),
INTx/MSI interrupts from the control block, and the compute engine copying
guest RAM, through the VFIO container and, where the kernel has iommufd and
the VFIO device cdev, with '-object iommufd' ('iommufd=' on the device).

  --emulated    run the same tests against QEMU's own secondary-vga (same IDs
                and BAR layout; edu for the interrupt tests): validates the
                tests themselves without any mdev driver.

Run inside the test VM, as root, with mgpu.ko loaded:
  tools/testing/vm/run --load samples/vfio-mdev/mgpu/mgpu.ko -- \
      python3 tools/testing/selftests/vfio-mdev/qemu/qemu_e2e_test.py
"""

import argparse
import contextlib
import errno
import os
import random
import re
import shutil
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qtestlib as ql  # noqa: E402
from qtestlib import Skip, check, check_eq  # noqa: E402

MiB = 1 << 20

# Contract of samples/vfio-mdev/mgpu/mgpu.h
PCI_VENDOR = 0x1234
PCI_DEVICE = 0x1111
PCI_CLASS = 0x038000
PCI_SUBVENDOR = 0x1b36
MMIO_SIZE = 0x1000
MMIO_VGA = 0x400
MMIO_DISPI = 0x500
MMIO_QEXT = 0x600
MMIO_CTRL = 0x800
DISPI_ID, DISPI_XRES, DISPI_YRES, DISPI_BPP, DISPI_ENABLE, DISPI_BANK = range(6)
DISPI_VIRT_WIDTH, DISPI_VIRT_HEIGHT, DISPI_X_OFFSET, DISPI_Y_OFFSET = range(6, 10)
DISPI_VIDEO_MEMORY_64K = 0xa
DISPI_ID5 = 0xb0c5
DISPI_ENABLED = 0x01
DISPI_LFB_ENABLED = 0x40
QEXT_SIZE, QEXT_ENDIAN = 0x0, 0x4
QEXT_LITTLE = 0x1e1e1e1e
CTRL_ID, CTRL_SLICES, CTRL_IRQ_STATUS, CTRL_IRQ_ENABLE = 0x00, 0x04, 0x08, 0x0c
CTRL_IRQ_RAISE, CTRL_SCRATCH = 0x10, 0x14
CTRL_ID_VALUE = 0x5550474d
CFG_MSI_CAP = 0x50

# Guest-physical layout used by every test (pc machine, 128 MiB of RAM).
SLOT = 5            # cold-plugged device
SLOT2 = 7           # second cold-plugged device (isolation test)
HP_SLOT = 6         # hot-plugged device
BAR2_BASE = 0x40000000
BAR2_BASE2 = 0x40001000
MSI_ADDR = 0x00100000   # guest RAM: an MSI to here is a plain memory write
PIIX3_SLOT = 1
PIRQ_IRQ = 10       # every PIIX3 PIRQ line is routed to this ISA IRQ/GSI


def bar0_base(size, index=0):
    """A BAR0 address aligned to @size, above 2 GiB; @index picks another one."""
    align = max(size, 256 * MiB)
    base = 0x80000000 + index * align
    return (base + align - 1) // align * align


# --------------------------------------------------------------------------
# What is tested: QEMU's secondary-vga, or an mgpu mdev type


class EmulatedTarget:
    """QEMU's own secondary-vga: the reference the mgpu contract copies."""

    is_mdev = False

    def __init__(self, vram_mib=16):
        self.vram = vram_mib * MiB
        self.label = 'secondary-vga'
        self.slices = None

    @contextlib.contextmanager
    def instance(self):
        yield EmulatedInstance(self)


class EmulatedInstance:
    def __init__(self, target):
        self.target = target
        self.mdev = None

    def device(self, dev_id, slot=None, nommap=False, display=False):
        s = 'secondary-vga,id=%s,vgamem_mb=%d' % (dev_id, self.target.vram // MiB)
        if slot is not None:
            s += ',addr=%d.0' % slot
        return s

    def hotplug_args(self, dev_id):
        return {'driver': 'secondary-vga', 'id': dev_id,
                'vgamem_mb': self.target.vram // MiB}


class MdevTarget:
    """One mdev type of one parent; every instance() is a fresh mdev."""

    is_mdev = True

    def __init__(self, parent, mtype):
        self.parent = parent
        self.mtype = mtype
        self.label = '%s/%s' % (parent, mtype)
        desc = ql.mdev_type_attr(parent, mtype, 'description')
        m = re.search(r'\bvram=(\d+)M\b', desc)
        self.vram = int(m.group(1)) * MiB if m else None
        self.description = desc
        # Slices (of MGPU_SLICES = 8): "gpu_share=<n>/<d>" or "slices=<n>".
        m = re.search(r'\bgpu_share=(\d+)/(\d+)\b', desc)
        if m:
            self.slices = int(m.group(1)) * 8 // int(m.group(2))
        else:
            m = re.search(r'\bslices=(\d+)\b', desc)
            self.slices = int(m.group(1)) if m else None

    @contextlib.contextmanager
    def instance(self):
        m = ql.Mdev(self.parent, self.mtype)
        try:
            m.create()
        except OSError as e:
            raise AssertionError('create %s in %s: %s' % (m.uuid, self.label, e)) from e
        try:
            yield MdevInstance(m)
        finally:
            m.remove(timeout=60)


class MdevInstance:
    def __init__(self, mdev):
        self.mdev = mdev

    def device(self, dev_id, slot=None, nommap=False, display=False, iommufd=None):
        s = 'vfio-pci,id=%s,sysfsdev=%s' % (dev_id, self.mdev.path)
        if slot is not None:
            s += ',addr=%d.0' % slot
        if nommap:
            s += ',x-no-mmap=on'
        if display:
            s += ',display=on'
        if iommufd:
            s += ',iommufd=%s' % iommufd
        return s

    def hotplug_args(self, dev_id):
        return {'driver': 'vfio-pci', 'id': dev_id, 'sysfsdev': self.mdev.path}


@contextlib.contextmanager
def qemu(*devices, name='e2e', extra=(), **kw):
    """A started QEMU with @extra arguments and '-device' @devices; on failure its log goes to TAP."""
    args = list(extra)
    for d in devices:
        args += ['-device', d]
    q = ql.QEMU(args, name=name, **kw)
    try:
        q.start()
    except BaseException:
        for line in q.log():
            print('# qemu: ' + line, flush=True)
        raise
    try:
        yield q
    except BaseException:
        for line in q.log():
            print('# qemu: ' + line, flush=True)
        raise
    finally:
        q.shutdown()


def map_device(q, slot, vram, bar0_index=0, bar2=BAR2_BASE):
    """Program BAR0/BAR2 of the device in @slot, enable memory; returns (dev, bar0, bar2)."""
    dev = q.pci(slot)
    b0 = bar0_base(vram, bar0_index)
    ql.map_bars(dev, {0: b0, 2: bar2})
    check_eq(dev.bar_addr(0), b0, 'BAR0 address after programming')
    check_eq(dev.bar_addr(2), bar2, 'BAR2 address after programming')
    return dev, b0, bar2


# --------------------------------------------------------------------------
# Tests


def t_realize(target):
    with target.instance() as inst, qemu(inst.device('gpu0', SLOT)) as q:
        dev = q.pci(SLOT)
        check(dev.present(), 'no device in slot %d' % SLOT)
        check_eq(dev.vendor, PCI_VENDOR, 'vendor ID')
        check_eq(dev.device, PCI_DEVICE, 'device ID')
        check_eq(dev.class_code, PCI_CLASS, 'class code')
        size0, flags0 = dev.bar_info(0)
        size2, flags2 = dev.bar_info(2)
        check_eq(size0, target.vram, 'BAR0 size')
        check_eq(flags0, 0x8, 'BAR0 flags (32-bit prefetchable memory)')
        check_eq(size2, MMIO_SIZE, 'BAR2 size')
        check_eq(flags2 & 0x1, 0, 'BAR2 is memory')
        for i in (1, 3, 4, 5):
            check_eq(dev.bar_size(i), 0, 'BAR%d size' % i)
        if target.is_mdev:
            check(dev.revision >= 2, 'revision %d < 2' % dev.revision)
            check_eq(dev.read16(ql.PCI_SUBSYSTEM_VENDOR_ID), PCI_SUBVENDOR, 'subsystem vendor')
            if target.slices is not None:
                check_eq(dev.read16(ql.PCI_SUBSYSTEM_ID), target.slices, 'subsystem ID (slices)')
            caps = dev.capabilities()
            check_eq(caps.get(ql.PCI_CAP_ID_MSI), CFG_MSI_CAP, 'MSI capability offset')
            check(dev.read8(ql.PCI_INTERRUPT_PIN) != 0, 'interrupt pin is 0')
        _, _, b2 = map_device(q, SLOT, target.vram)
        check_eq(q.readw(b2 + MMIO_DISPI + 2 * DISPI_ID), DISPI_ID5, 'dispi ID')
        check_eq(q.readw(b2 + MMIO_DISPI + 2 * DISPI_VIDEO_MEMORY_64K), target.vram >> 16,
                 'dispi VIDEO_MEMORY_64K')
        check_eq(q.readl(b2 + MMIO_QEXT + QEXT_SIZE), 8, 'qext size register')
        check_eq(q.readl(b2 + MMIO_QEXT + QEXT_ENDIAN), QEXT_LITTLE, 'qext endianness')
        if target.is_mdev:
            check_eq(q.readl(b2 + MMIO_CTRL + CTRL_ID), CTRL_ID_VALUE, 'control block ID')
            if target.slices is not None:
                check_eq(q.readl(b2 + MMIO_CTRL + CTRL_SLICES), target.slices, 'control SLICES')
            q.writel(b2 + MMIO_CTRL + CTRL_SCRATCH, 0xa5a5f00d)
            check_eq(q.readl(b2 + MMIO_CTRL + CTRL_SCRATCH), 0xa5a5f00d, 'control SCRATCH')


def vram_pattern(seed, n):
    return random.Random(seed).randbytes(n)


def t_bar0_rw(target, nommap):
    with target.instance() as inst, \
            qemu(inst.device('gpu0', SLOT, nommap=nommap)) as q:
        size = target.vram
        _, b0, _ = map_device(q, SLOT, size)
        checks = []
        # The first bytes, byte/word/dword/qword accessors.
        head = vram_pattern(1, 256)
        q.write(b0, head)
        checks.append(('first 256 bytes', b0, head))
        q.writeb(b0 + 0x100, 0x5a)
        q.writew(b0 + 0x102, 0xbeef)
        q.writel(b0 + 0x104, 0xdeadbeef)
        q.writeq(b0 + 0x108, 0x0123456789abcdef)
        check_eq(q.readb(b0 + 0x100), 0x5a, 'readb')
        check_eq(q.readw(b0 + 0x102), 0xbeef, 'readw')
        check_eq(q.readl(b0 + 0x104), 0xdeadbeef, 'readl')
        check_eq(q.readq(b0 + 0x108), 0x0123456789abcdef, 'readq')
        check_eq(q.readl(b0 + 0x100), 0xbeef005a, 'little-endian layout')
        # Across the first page boundary, unaligned.
        cross = vram_pattern(2, 64)
        q.write(b0 + 0x1000 - 29, cross)
        checks.append(('across the first page boundary', b0 + 0x1000 - 29, cross))
        q.writel(b0 + 0x1ffe, 0x11223344)   # unaligned dword across a page
        check_eq(q.readl(b0 + 0x1ffe), 0x11223344, 'unaligned dword across a page')
        # A bulk block over several pages in the middle.
        mid = size // 2 - 3 * 4096 - 7
        bulk = vram_pattern(3, 5 * 4096 + 13)
        q.write(b0 + mid, bulk)
        checks.append(('bulk 20 KiB in the middle', b0 + mid, bulk))
        # The end of the BAR: the last page, the last dword, the last byte.
        tail = vram_pattern(4, 4096 - 8)
        q.write(b0 + size - 4096, tail)
        checks.append(('last page but 8 bytes', b0 + size - 4096, tail))
        q.writel(b0 + size - 8, 0x44332211)
        q.writel(b0 + size - 4, 0xcafef00d)
        check_eq(q.readl(b0 + size - 4), 0xcafef00d, 'last dword')
        q.writeb(b0 + size - 1, 0x99)
        check_eq(q.readb(b0 + size - 1), 0x99, 'last byte')
        check_eq(q.read(b0 + size - 8, 8), bytes.fromhex('112233440df0fe99'),
                 'last 8 bytes (bulk read)')
        for what, addr, data in checks:
            got = q.read(addr, len(data))
            if got != data:
                bad = next(i for i in range(len(data)) if got[i] != data[i])
                raise AssertionError('%s: first mismatch at +0x%x: wrote 0x%02x, read 0x%02x' %
                                     (what, bad, data[bad], got[bad]))
        # A page nobody wrote reads as zeros (no stale data from someone else).
        untouched = b0 + size // 4 + 4096
        check_eq(q.read(untouched, 4096), bytes(4096), 'untouched page contents')
        # Beyond the BAR nothing answers: unassigned memory reads as all-ones or zero.
        if size < 1 << 30:
            v = q.readl(b0 + size)
            check(v in (0, 0xffffffff), 'beyond BAR0 reads 0x%x' % v)


def t_isolation(target):
    """Two instances in two QEMUs at once: their VRAM and registers are separate."""
    with target.instance() as a, target.instance() as b, \
            qemu(a.device('gpu0', SLOT), name='iso-a') as qa, \
            qemu(b.device('gpu0', SLOT), name='iso-b') as qb:
        size = target.vram
        _, a0, a2 = map_device(qa, SLOT, size)
        _, b0, b2 = map_device(qb, SLOT, size)
        pa = vram_pattern(10, 8192)
        pb = vram_pattern(11, 8192)
        qa.write(a0, pa)
        qb.write(b0, pb)
        qa.writel(a0 + size - 4, 0xaaaaaaaa)
        qb.writel(b0 + size - 4, 0xbbbbbbbb)
        check_eq(qa.read(a0, 8192), pa, 'instance A VRAM')
        check_eq(qb.read(b0, 8192), pb, 'instance B VRAM')
        check_eq(qa.readl(a0 + size - 4), 0xaaaaaaaa, 'A last dword')
        check_eq(qb.readl(b0 + size - 4), 0xbbbbbbbb, 'B last dword')
        qa.writew(a2 + MMIO_DISPI + 2 * DISPI_XRES, 640)
        qb.writew(b2 + MMIO_DISPI + 2 * DISPI_XRES, 800)
        check_eq(qa.readw(a2 + MMIO_DISPI + 2 * DISPI_XRES), 640, 'A XRES')
        check_eq(qb.readw(b2 + MMIO_DISPI + 2 * DISPI_XRES), 800, 'B XRES')


def t_single_usage(target):
    """A single-usage type: one QEMU cannot open two instances; two QEMUs can."""
    if not target.is_mdev:
        raise Skip('needs an mdev')
    try:
        single = ql.mdev_type_attr(target.parent, target.mtype, 'single_usage_restriction')
    except OSError:
        single = None
    if single != 'Y':
        raise Skip('%s: single_usage_restriction is %s' % (target.label, single))
    with target.instance() as a, target.instance() as b:
        q = ql.QEMU(['-device', a.device('gpu0', SLOT), '-device', b.device('gpu1', SLOT2)],
                    name='single')
        try:
            q.start()
        except ql.QTestError:
            err = [l for l in q.log() if 'error' in l.lower() or 'vfio' in l]
            print('# refused as expected: %s' % (err[-1] if err else q.log(1)), flush=True)
        else:
            q.shutdown()
            raise AssertionError('QEMU opened two instances of single-usage %s' % target.label)


def t_scrub(target):
    """VRAM written by one instance is not visible to the next one of the type."""
    size = target.vram
    offsets = [0, 4096, size // 2, size - 4096]
    for round_ in (0, 1):
        with target.instance() as inst, qemu(inst.device('gpu0', SLOT)) as q:
            _, b0, _ = map_device(q, SLOT, size)
            for off in offsets:
                got = q.read(b0 + off, 4096)
                if got != bytes(4096):
                    raise AssertionError('round %d: page at +0x%x holds data (%s...)' %
                                         (round_, off, got[:16].hex()))
                q.write(b0 + off, b'\xa5' * 4096)


def dispi_set(q, b2, **regs):
    idx = {'xres': DISPI_XRES, 'yres': DISPI_YRES, 'bpp': DISPI_BPP, 'enable': DISPI_ENABLE,
           'bank': DISPI_BANK, 'virt_width': DISPI_VIRT_WIDTH, 'virt_height': DISPI_VIRT_HEIGHT,
           'x_offset': DISPI_X_OFFSET, 'y_offset': DISPI_Y_OFFSET}
    for name, val in regs.items():
        q.writew(b2 + MMIO_DISPI + 2 * idx[name], val)


def set_mode(q, b2, xres, yres, bpp, virt_width=None, x_offset=0, y_offset=0):
    """The bochs-drm sequence: disable, geometry, enable with LFB, set the base, unblank.

    QEMU's VBE resets VIRT_WIDTH and the offsets (and clears the screen) when the
    display gets enabled, so stride and offsets are written again afterwards, as
    bochs-drm's set_base does.  Write the pixels after this.
    """
    vw = virt_width or xres
    geometry = dict(virt_width=vw, virt_height=yres + y_offset, x_offset=x_offset,
                    y_offset=y_offset)
    dispi_set(q, b2, enable=0)
    dispi_set(q, b2, bpp=bpp, xres=xres, yres=yres, bank=0, **geometry)
    dispi_set(q, b2, enable=DISPI_ENABLED | DISPI_LFB_ENABLED)
    dispi_set(q, b2, **geometry)
    # Unblank as bochs-drm does: reset the attribute flip-flop, set PAS.
    q.readb(b2 + MMIO_VGA + 0x1a)       # 0x3da
    q.writeb(b2 + MMIO_VGA + 0x00, 0x20)  # 0x3c0
    for name, i, want in (('XRES', DISPI_XRES, xres), ('YRES', DISPI_YRES, yres),
                          ('BPP', DISPI_BPP, bpp), ('VIRT_WIDTH', DISPI_VIRT_WIDTH, vw),
                          ('X_OFFSET', DISPI_X_OFFSET, x_offset),
                          ('Y_OFFSET', DISPI_Y_OFFSET, y_offset),
                          ('ENABLE', DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB_ENABLED)):
        check_eq(q.readw(b2 + MMIO_DISPI + 2 * i), want, 'dispi %s read back' % name)


def test_image(w, h):
    """A picture with four coloured quadrants, a gradient band and a marker."""
    img = []
    for y in range(h):
        row = []
        for x in range(w):
            if y < 8:
                c = ((x * 255) // (w - 1), 0x80, 255 - (x * 255) // (w - 1))
            elif x < w // 2 and y < h // 2:
                c = (255, 0, 0)
            elif y < h // 2:
                c = (0, 255, 0)
            elif x < w // 2:
                c = (0, 0, 255)
            else:
                c = (255, 255, 255)
            if x == y:
                c = (0x12, 0x34, 0x56)
            row.append(c)
        img.append(row)
    return img


def pack_rows(img, bpp, stride_px):
    out = bytearray()
    for row in img:
        line = bytearray()
        for r, g, b in row:
            if bpp == 32:
                line += bytes((b, g, r, 0))
            else:
                v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
                line += v.to_bytes(2, 'little')
        line += bytes((stride_px - len(row)) * bpp // 8)
        out += line
    return bytes(out)


def rgb565_expand(c):
    r, g, b = c
    r5, g6, b5 = r >> 3, g >> 2, b >> 3
    return ((r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2))


def compare_image(got, want_img, what, results_name=None, q=None):
    w, h, rows = got
    check_eq((w, h), (len(want_img[0]), len(want_img)), '%s: screendump size' % what)
    bad = []
    for y in range(h):
        if rows[y] != want_img[y]:
            for x in range(w):
                if rows[y][x] != want_img[y][x]:
                    bad.append((x, y))
                    if len(bad) >= 5:
                        break
        if len(bad) >= 5:
            break
    if bad:
        if q is not None and os.environ.get('RESULTS') and results_name:
            try:
                shutil.copy(q.last_screendump, os.path.join(os.environ['RESULTS'], results_name))
                print('# saved the screendump as $RESULTS/%s' % results_name, flush=True)
            except OSError:
                pass
        raise AssertionError('%s: pixels differ, e.g. %s' % (what, ', '.join(
            '(%d,%d) expected %s got %s' % (x, y, want_img[y][x], rows[y][x]) for x, y in bad)))
    # Spot checks named in the report.
    for (x, y) in ((0, 8), (w - 1, 8), (0, h - 1), (w - 1, h - 1), (7, 7), (w // 2, h // 2)):
        check_eq(rows[y][x], want_img[y][x], '%s: pixel (%d,%d)' % (what, x, y))


def t_display(target, fmt='png'):
    with target.instance() as inst, qemu(inst.device('gpu0', SLOT, display=True)) as q:
        _, b0, b2 = map_device(q, SLOT, target.vram)
        # 320x200, 32 bpp, packed.
        w, h = 320, 200
        img = test_image(w, h)
        set_mode(q, b2, w, h, 32)
        q.write(b0, pack_rows(img, 32, w))
        t = time.monotonic()
        got = q.screendump(device='gpu0', fmt=fmt)
        print('# screendump 320x200x32: %.2f s' % (time.monotonic() - t), flush=True)
        compare_image(got, img, '320x200x32', 'display-32.' + fmt, q)
        # Change a few pixels: the next screendump shows the new VRAM contents.
        img[100][10] = (1, 2, 3)
        q.writel(b0 + (100 * w + 10) * 4, 0x00010203)
        got = q.screendump(device='gpu0', fmt=fmt)
        compare_image(got, img, '320x200x32 after a pixel write', 'display-32b.' + fmt, q)


def t_display_stride(target, fmt='png'):
    """32 bpp with VIRT_WIDTH > XRES: the plane's stride."""
    with target.instance() as inst, qemu(inst.device('gpu0', SLOT, display=True)) as q:
        _, b0, b2 = map_device(q, SLOT, target.vram)
        w, h, vw = 200, 120, 256
        img = test_image(w, h)
        set_mode(q, b2, w, h, 32, virt_width=vw)
        q.write(b0, pack_rows(img, 32, vw))
        got = q.screendump(device='gpu0', fmt=fmt)
        compare_image(got, img, '200x120x32 stride 1024', 'display-stride.' + fmt, q)


def t_display_16bpp(target, fmt='png'):
    """16 bpp (RGB565).

    QEMU 7.2's vfio display only converts RGB888/ARGB8888/XRGB8888
    (qemu_drm_format_to_pixman), so for an mdev the plane is checked through
    VFIO_DEVICE_QUERY_GFX_PLANE directly, without QEMU.
    """
    w, h, vw = 160, 100, 192
    img = test_image(w, h)
    if not target.is_mdev:
        with target.instance() as inst, qemu(inst.device('gpu0', SLOT)) as q:
            _, b0, b2 = map_device(q, SLOT, target.vram)
            set_mode(q, b2, w, h, 16, virt_width=vw)
            q.write(b0, pack_rows(img, 16, vw))
            want = [[rgb565_expand(c) for c in row] for row in img]
            got = q.screendump(device='gpu0', fmt=fmt)
            compare_image(got, want, '160x100x16 stride 384', 'display-16.' + fmt, q)
        return
    import vfiolib as vl
    with target.instance() as inst, vl.VfioDevice(inst.mdev.path) as d:
        bar2 = vl.VFIO_PCI_BAR2_REGION_INDEX

        def dispi(i, v):
            d.write16(bar2, MMIO_DISPI + 2 * i, v)

        def plane():
            return d.query_gfx_plane(vl.VFIO_GFX_PLANE_TYPE_REGION)

        probe = d.query_gfx_plane(vl.VFIO_GFX_PLANE_TYPE_PROBE | vl.VFIO_GFX_PLANE_TYPE_REGION)
        print('# REGION plane probe: ok (flags 0x%x)' % probe['flags'], flush=True)
        check_eq(plane()['drm_format'], 0, 'plane format with the display off')
        dispi(DISPI_ENABLE, 0)
        for i, v in ((DISPI_BPP, 16), (DISPI_XRES, w), (DISPI_YRES, h),
                     (DISPI_VIRT_WIDTH, vw), (DISPI_X_OFFSET, 0), (DISPI_Y_OFFSET, 0)):
            dispi(i, v)
        dispi(DISPI_ENABLE, DISPI_ENABLED | DISPI_LFB_ENABLED)
        p = plane()
        got = {k: p[k] for k in ('drm_format', 'width', 'height', 'stride', 'size', 'index')}
        want = {'drm_format': vl.DRM_FORMAT_RGB565, 'width': w, 'height': h,
                'stride': vw * 2, 'size': (vw * 2 * h + 4095) // 4096 * 4096,
                'index': vl.VFIO_PCI_BAR0_REGION_INDEX}
        check_eq(got, want, 'RGB565 REGION plane')
        dispi(DISPI_BPP, 32)
        dispi(DISPI_VIRT_WIDTH, vw)
        p = plane()
        check_eq((p['drm_format'], p['stride']), (vl.DRM_FORMAT_XRGB8888, vw * 4),
                 'plane after BPP=32')
        # Panned (Y_OFFSET != 0): a REGION plane is BAR0 from offset 0, so there
        # is nothing REGION can describe.
        dispi(DISPI_Y_OFFSET, 16)
        check_eq(plane()['drm_format'], 0, 'REGION plane with Y_OFFSET 16')
        dispi(DISPI_Y_OFFSET, 0)
        check_eq(plane()['drm_format'], vl.DRM_FORMAT_XRGB8888, 'plane back at Y_OFFSET 0')


def t_hotplug(target):
    with target.instance() as inst, qemu() as q:
        dev = q.pci(HP_SLOT)
        check(not dev.present(), 'slot %d is occupied before device_add' % HP_SLOT)
        for round_ in (1, 2):
            t = time.monotonic()
            args = dict(inst.hotplug_args('hp0'), bus='pci.0', addr='%d.0' % HP_SLOT)
            q.qmp.execute('device_add', args, timeout=60)
            print('# round %d: device_add took %.3f s' % (round_, time.monotonic() - t), flush=True)
            check(dev.present(), 'round %d: no device in slot %d after device_add' %
                  (round_, HP_SLOT))
            check_eq(dev.vendor, PCI_VENDOR, 'hot-plugged vendor ID')
            check_eq(dev.device, PCI_DEVICE, 'hot-plugged device ID')
            check_eq(dev.bar_size(0), target.vram, 'hot-plugged BAR0 size')
            _, b0, _ = map_device(q, HP_SLOT, target.vram)
            q.writel(b0 + 0x40, 0x600d0000 + round_)
            check_eq(q.readl(b0 + 0x40), 0x600d0000 + round_, 'hot-plugged BAR0 dword')
            t = time.monotonic()
            q.qmp.execute('device_del', {'id': 'hp0'})
            bits = ql.acpi_wait_unplug_request(q, HP_SLOT, timeout=10)
            check_eq(bits, 1 << HP_SLOT, 'pending ACPI unplug bits')
            ql.acpi_eject(q, HP_SLOT)
            q.qmp.wait_event('DEVICE_DELETED', timeout=30, match={'device': 'hp0'})
            print('# round %d: device_del to DEVICE_DELETED %.3f s' %
                  (round_, time.monotonic() - t), flush=True)
            check(not dev.present(), 'round %d: slot %d still answers after the eject' %
                  (round_, HP_SLOT))
            check_eq(q.inl(ql.ACPI_PCIHP_DOWN) & (1 << HP_SLOT), 0, 'pending bit after eject')


def t_remove_in_use(target):
    if not target.is_mdev:
        raise Skip('needs an mdev')
    with target.instance() as inst, qemu(inst.device('gpu0', SLOT)) as q:
        m = inst.mdev
        _, b0, _ = map_device(q, SLOT, target.vram)
        q.writel(b0, 0x12345678)
        t0 = time.monotonic()
        th = m.remove_async()
        try:
            bits = ql.acpi_wait_unplug_request(q, SLOT, timeout=25)
            t_req = time.monotonic() - t0
            print('# REQ -> ACPI unplug request after %.3f s (0xae04=0x%x)' % (t_req, bits),
                  flush=True)
            check(th.is_alive(), 'remove returned before QEMU released the device')
            check(m.exists(), 'mdev gone before QEMU released it')
            ql.acpi_eject(q, SLOT)
            q.qmp.wait_event('DEVICE_DELETED', timeout=30, match={'device': 'gpu0'})
            th.join(30)
            check(not th.is_alive(), 'remove still blocked 30 s after the eject')
            print('# remove completed %.3f s after the write' % (th.done_at - t0), flush=True)
            if th.error is not None:
                raise AssertionError('remove failed: %s' % th.error)
            ql.wait_until(lambda: not m.exists(), 10, what='mdev directory gone')
            m.forget()
            check(not q.pci(SLOT).present(), 'slot still answers after the eject')
            check(q.alive(), 'QEMU died')
        finally:
            if th.is_alive():
                q.kill()        # releases the device: the write can complete
                th.join(30)


MGPU_PCI_DRIVER = '/sys/bus/pci/drivers/mgpu'


def write_async(path, value):
    """Write @value to @path in a thread (the write may block); returns it."""

    def run():
        try:
            ql.sysfs_write(path, value)
        except BaseException as e:  # noqa: BLE001
            t.error = e
        t.done_at = time.monotonic()

    t = threading.Thread(target=run, daemon=True, name='write-' + path)
    t.error = None
    t.done_at = None
    t.start()
    return t


def t_unbind_in_use(target):
    """Unbinding a PCI GPU while QEMU holds an instance: REQ -> unplug -> done."""
    fn = target.parent
    with target.instance() as inst, qemu(inst.device('gpu0', SLOT)) as q:
        m = inst.mdev
        _, b0, _ = map_device(q, SLOT, target.vram)
        q.writel(b0 + 4096, 0x12345678)
        check_eq(q.readl(b0 + 4096), 0x12345678, 'VRAM in the BAR')
        t0 = time.monotonic()
        th = write_async(os.path.join(MGPU_PCI_DRIVER, 'unbind'), fn)
        try:
            ql.acpi_wait_unplug_request(q, SLOT, timeout=25)
            print('# REQ -> ACPI unplug request after %.3f s' % (time.monotonic() - t0),
                  flush=True)
            check(th.is_alive(), 'unbind returned before QEMU released the device')
            check(m.exists(), 'mdev gone before QEMU released it')
            ql.acpi_eject(q, SLOT)
            q.qmp.wait_event('DEVICE_DELETED', timeout=30, match={'device': 'gpu0'})
            th.join(30)
            check(not th.is_alive(), 'unbind still blocked 30 s after the eject')
            if th.error is not None:
                raise AssertionError('unbind failed: %s' % th.error)
            print('# unbind completed %.3f s after the write' % (th.done_at - t0), flush=True)
            ql.wait_until(lambda: not m.exists(), 10, what='mdev directory gone')
            m.forget()
            check(not os.path.exists(os.path.join(ql.MDEV_BUS, fn)),
                  '%s still an mdev parent after unbind' % fn)
            check(q.alive(), 'QEMU died')
        finally:
            if th.is_alive():
                q.kill()        # releases the device: the write can complete
                th.join(30)
            if not os.path.exists(os.path.join(MGPU_PCI_DRIVER, fn)):
                ql.sysfs_write(os.path.join(MGPU_PCI_DRIVER, 'bind'), fn)
    check(os.path.exists(os.path.join(ql.MDEV_BUS, fn, 'mdev_supported_types')),
          '%s is no parent again after bind' % fn)


class IrqSource:
    """How to raise/clear the device's interrupt, and where."""

    def __init__(self, target):
        self.target = target

    def device(self, inst, dev_id, slot):
        if self.target.is_mdev:
            return inst.device(dev_id, slot)
        return 'edu,id=%s,addr=%d.0' % (dev_id, slot)

    def setup(self, q, slot):
        if self.target.is_mdev:
            _, _, b2 = map_device(q, slot, self.target.vram)
            self.ctrl = b2 + MMIO_CTRL
            q.writel(self.ctrl + CTRL_IRQ_STATUS, 0xffffffff)
            q.writel(self.ctrl + CTRL_IRQ_ENABLE, 1)
            check_eq(q.readl(self.ctrl + CTRL_IRQ_ENABLE), 1, 'IRQ_ENABLE read back')
        else:
            dev = q.pci(slot)
            ql.map_bars(dev, {0: 0xc0000000})
            self.ctrl = 0xc0000000

    def raise_(self, q):
        if self.target.is_mdev:
            q.writel(self.ctrl + CTRL_IRQ_RAISE, 1)
            check_eq(q.readl(self.ctrl + CTRL_IRQ_STATUS) & 1, 1, 'IRQ_STATUS after RAISE')
        else:
            q.writel(self.ctrl + 0x60, 1)

    def clear(self, q):
        if self.target.is_mdev:
            q.writel(self.ctrl + CTRL_IRQ_STATUS, 1)
            check_eq(q.readl(self.ctrl + CTRL_IRQ_STATUS) & 1, 0, 'IRQ_STATUS after clear')
        else:
            q.writel(self.ctrl + 0x64, 1)


def t_intx(target):
    src = IrqSource(target)
    with target.instance() as inst, qemu(src.device(inst, 'gpu0', SLOT)) as q:
        dev = q.pci(SLOT)
        pin = dev.read8(ql.PCI_INTERRUPT_PIN)
        check(pin != 0, 'interrupt pin is 0')
        isa = q.pci(PIIX3_SLOT)
        for i in range(4):          # PIIX3 PIRQA-D -> one ISA IRQ
            isa.write8(0x60 + i, PIRQ_IRQ)
        q.irq_intercept_in('ioapic')
        src.setup(q, SLOT)
        cmd = dev.read16(ql.PCI_COMMAND)
        check_eq(cmd & ql.PCI_COMMAND_INTX_DISABLE, 0, 'INTx disabled in the command register')
        q.irq_events()
        for round_ in (1, 2):
            src.raise_(q)
            q.wait_irq('raise', PIRQ_IRQ, timeout=10)
            status = dev.read16(ql.PCI_STATUS)
            check(status & ql.PCI_STATUS_INTERRUPT,
                  'round %d: PCI_STATUS.INTERRUPT clear while asserted (0x%x)' % (round_, status))
            src.clear(q)
            q.wait_irq('lower', PIRQ_IRQ, timeout=10)
            # Nothing asserts it again once the cause is gone.
            time.sleep(0.3)
            q.readl(src.ctrl)       # any BAR access is QEMU's INTx EOI
            time.sleep(0.3)
            ev = q.irq_events()
            check(('raise', PIRQ_IRQ) not in ev or ev[-1] == ('lower', PIRQ_IRQ),
                  'round %d: INTx asserted again after the clear: %s' % (round_, ev))
        # Masked by the command register: no interrupt.
        dev.write16(ql.PCI_COMMAND, cmd | ql.PCI_COMMAND_INTX_DISABLE)
        src.raise_(q)
        time.sleep(0.5)
        ev = q.irq_events()
        check(('raise', PIRQ_IRQ) not in ev, 'INTx with INTX_DISABLE set: %s' % ev)
        src.clear(q)


def t_msi(target):
    src = IrqSource(target)
    with target.instance() as inst, qemu(src.device(inst, 'gpu0', SLOT)) as q:
        dev = q.pci(SLOT)
        msi = dev.capabilities().get(ql.PCI_CAP_ID_MSI)
        check(msi is not None, 'no MSI capability')
        ctrl = dev.read16(msi + 2)
        is64 = bool(ctrl & 0x80)
        q.irq_intercept_in('ioapic')
        src.setup(q, SLOT)
        q.writel(MSI_ADDR, 0)
        dev.write32(msi + 4, MSI_ADDR)
        if is64:
            dev.write32(msi + 8, 0)
            dev.write16(msi + 12, 0x4321)
        else:
            dev.write16(msi + 8, 0x4321)
        dev.enable(memory=True, master=True)
        dev.write16(msi + 2, ctrl | 1)
        check(dev.read16(msi + 2) & 1, 'MSI enable bit does not stick')
        q.irq_events()
        for round_ in (1, 2):
            q.writel(MSI_ADDR, 0)
            src.raise_(q)
            ql.wait_until(lambda: q.readl(MSI_ADDR) == 0x4321, 10, poll=0.02,
                          what='round %d: MSI message written to 0x%x' % (round_, MSI_ADDR))
            src.clear(q)
        ev = q.irq_events()
        check(('raise', PIRQ_IRQ) not in ev, 'INTx raised while MSI is enabled: %s' % ev)


# The compute engine (samples/vfio-mdev/mgpu/mgpu_engine_abi.h): registers in BAR2,
# a ring of 64-byte commands in VRAM, copies between VRAM and guest RAM by IOVA, which
# is the guest-physical address for QEMU (it maps all guest RAM into the container or
# the IOAS).
MMIO_ENGINE = 0x900
ENG_RING_BASE, ENG_RING_SIZE, ENG_RING_HEAD, ENG_RING_TAIL = 0x00, 0x04, 0x08, 0x0c
ENG_DOORBELL, ENG_STATUS, ENG_ERROR_CMD = 0x10, 0x14, 0x18
ENG_STATUS_BUSY = 0x80000000
CMD_COPY_FROM_RAM, CMD_COPY_TO_RAM = 5, 6
# Nothing is mapped there: above the pc machine's 128 MiB of RAM, below the BARs.
UNMAPPED_IOVA = 0x20000000
RAM_SRC = 0x00200000
RAM_DST = 0x00300000


def eng_cmd(opcode, dst, src, size):
    return struct.pack('<IIQQQIIIII12x', opcode, 0, dst, src, size, 0, 0, 0, 0, 0)


def eng_run(q, b0, b2, cmds, ring=0):
    """Runs @cmds from a ring at VRAM @ring: returns (STATUS, HEAD)."""
    eng = b2 + MMIO_ENGINE
    q.writel(eng + ENG_RING_BASE, ring)
    q.writel(eng + ENG_RING_SIZE, 64 * 16)
    tail = q.readl(eng + ENG_RING_TAIL)
    for i, c in enumerate(cmds):
        q.write(b0 + ring + ((tail + i) % 16) * 64, c)
    q.writel(eng + ENG_RING_TAIL, tail + len(cmds))
    q.writel(eng + ENG_DOORBELL, 1)
    end = time.monotonic() + 30
    while True:
        status = q.readl(eng + ENG_STATUS)
        if not status & ENG_STATUS_BUSY:
            return status, q.readl(eng + ENG_RING_HEAD)
        if time.monotonic() > end:
            raise AssertionError('engine still busy after 30 s (STATUS 0x%x)' % status)
        time.sleep(0.01)


def group_busy(inst):
    """Whether the instance's VFIO group refuses to open (EBUSY): its cdev is in use."""
    group = os.path.basename(os.readlink(os.path.join(inst.mdev.path, 'iommu_group')))
    try:
        fd = os.open('/dev/vfio/%s' % group, os.O_RDWR)
    except OSError as e:
        if e.errno == errno.EBUSY:
            return True
        raise
    os.close(fd)
    return False


def t_engine_dma(target, iommufd):
    """The engine copies guest RAM to VRAM and back: vfio_dma_rw() through the
    container, or with iommufd=on through the IOAS QEMU maps guest RAM into."""
    if not target.is_mdev:
        raise Skip('needs an mdev')
    extra = []
    if iommufd:
        if not os.path.exists('/dev/iommu'):
            raise Skip('no /dev/iommu: the kernel has no CONFIG_IOMMUFD')
    with target.instance() as inst:
        if iommufd:
            if not os.path.isdir(os.path.join(inst.mdev.path, 'vfio-dev')):
                raise Skip('no vfio-dev/ under the instance: no CONFIG_VFIO_DEVICE_CDEV')
            extra = ['-object', 'iommufd,id=iommufd0']
        dev_arg = inst.device('gpu0', SLOT, iommufd='iommufd0' if iommufd else None)
        with qemu(dev_arg, name='engine', extra=extra) as q:
            # QEMU took the device through its cdev: the group path is blocked.
            if iommufd:
                check(group_busy(inst), 'the group opens while QEMU holds the cdev')
            _, b0, b2 = map_device(q, SLOT, target.vram)
            q.pci(SLOT).enable(memory=True, master=True)
            data = vram_pattern(20, 3 * 4096 + 5)
            q.write(RAM_SRC, data)
            q.write(RAM_DST, bytes(len(data)))
            status, head = eng_run(q, b0, b2, [
                eng_cmd(CMD_COPY_FROM_RAM, 0x10000, RAM_SRC, len(data)),
                eng_cmd(CMD_COPY_TO_RAM, RAM_DST, 0x10000, len(data)),
            ])
            check_eq(status, 0, 'engine STATUS after the copies')
            check_eq(head, 2, 'engine HEAD after the copies')
            check_eq(q.read(b0 + 0x10000, len(data)), data, 'guest RAM copied into VRAM')
            check_eq(q.read(RAM_DST, len(data)), data, 'VRAM copied back into guest RAM')
            # An IOVA outside guest RAM is not mapped: the engine stops with an error.
            status, head = eng_run(q, b0, b2, [
                eng_cmd(CMD_COPY_FROM_RAM, 0x20000, UNMAPPED_IOVA, 64),
            ])
            check((status & 0xff) != 0, 'a copy from an unmapped IOVA succeeded')
            check_eq(q.readl(b2 + MMIO_ENGINE + ENG_ERROR_CMD), 2, 'ERROR_CMD')

# --------------------------------------------------------------------------


def pci_gpus():
    """The PCI functions bound to mgpu that are mdev parents (PCI GPUs)."""
    try:
        fns = sorted(n for n in os.listdir(MGPU_PCI_DRIVER) if n.count(':') == 2)
    except FileNotFoundError:
        return []
    return [f for f in fns if os.path.isdir(os.path.join(ql.MDEV_BUS, f))]


def discover(args):
    parents = args.parents.split(',') if args.parents else ql.mdev_parents('mgpu')
    targets = []
    for p in parents:
        types = ql.mdev_types(p)
        if args.types:
            types = [t for t in types if t in args.types.split(',')]
        for t in types:
            targets.append(MdevTarget(p, t))
    return parents, targets


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--emulated', action='store_true',
                    help='test QEMU secondary-vga/edu instead of mgpu mdevs')
    ap.add_argument('--parents', help='comma-separated parents (default: all mgpu*)')
    ap.add_argument('--types', default=os.environ.get('MDEV_E2E_TYPES') or None,
                    help='comma-separated type names (default: $MDEV_E2E_TYPES, else all)')
    ap.add_argument('--timeout', type=int, default=1500, help='whole-script watchdog, s')
    ap.add_argument('--only', help='regexp: run only tests whose name matches')
    args = ap.parse_args()

    tap = ql.TAP()
    if shutil.which(ql.QEMU_BINARY) is None:
        tap.plan(0, '%s not found' % ql.QEMU_BINARY)
        return 4
    ql.install_watchdog(args.timeout)

    tests = []
    if args.emulated:
        tgt = EmulatedTarget()
        first = tgt
        per_type = [tgt]
    else:
        if os.geteuid() != 0:
            tap.plan(0, 'needs root')
            return 4
        parents, per_type = discover(args)
        if not per_type:
            tap.plan(0, 'no mgpu parents with types under %s (is mgpu.ko loaded?)' % ql.MDEV_BUS)
            return 4
        for t in per_type:
            tap.diag('%s: vram %s, slices %s, description %r' %
                     (t.label, t.vram and '%d MiB' % (t.vram // MiB), t.slices, t.description))
        # The smallest type of the first parent for the single-instance tests.
        first = min((t for t in per_type if t.parent == per_type[0].parent and t.vram),
                    key=lambda t: t.vram, default=per_type[0])

    for t in per_type:
        tests.append(('%s: realize, IDs, BAR sizes' % t.label, t_realize, t))
        tests.append(('%s: BAR0 read/write (mmap)' % t.label, t_bar0_rw, t, False))
        if t.is_mdev:
            tests.append(('%s: BAR0 read/write (x-no-mmap=on)' % t.label, t_bar0_rw, t, True))
    tests.append(('%s: two instances in two QEMUs are isolated' % first.label,
                  t_isolation, first))
    if first.is_mdev:
        tests.append(('%s: single usage: one QEMU cannot open two' % first.label,
                      t_single_usage, first))
        tests.append(('%s: VRAM is clean for the next instance' % first.label, t_scrub, first))
    tests.append(('%s: display 320x200x32 screendump' % first.label, t_display, first))
    tests.append(('%s: display 200x120x32 with VIRT_WIDTH 256' % first.label,
                  t_display_stride, first))
    tests.append(('%s: display 16 bpp (%s)' % (
        first.label, 'VFIO plane query' if first.is_mdev else 'screendump'),
        t_display_16bpp, first))
    tests.append(('%s: hot plug, unplug with ACPI eject, replug' % first.label, t_hotplug, first))
    tests.append(('%s: remove while QEMU holds it (REQ -> unplug)' % first.label,
                  t_remove_in_use, first))
    # A PCI GPU (run.sh gives one to mgpu when the VM has it): VRAM in its BAR.
    for fn in ([] if args.emulated or args.parents else pci_gpus()[:1]):
        t = MdevTarget(fn, 'mgpu-quarter')
        tests.append(('%s: realize, IDs, BAR sizes' % t.label, t_realize, t))
        tests.append(('%s: BAR0 read/write (mmap)' % t.label, t_bar0_rw, t, False))
        tests.append(('%s: BAR0 read/write (x-no-mmap=on)' % t.label, t_bar0_rw, t, True))
        tests.append(('%s: VRAM is clean for the next instance' % t.label, t_scrub, t))
        tests.append(('%s: display 320x200x32 screendump' % t.label, t_display, t))
        tests.append(('%s: unbind while QEMU holds it (REQ -> unplug)' % t.label,
                      t_unbind_in_use, t))
    irq_label = first.label if first.is_mdev else 'edu'
    tests.append(('%s: INTx through PIIX3 to the IOAPIC' % irq_label, t_intx, first))
    tests.append(('%s: MSI' % irq_label, t_msi, first))
    if first.is_mdev:
        tests.append(('%s: engine copies guest RAM (container)' % first.label,
                      t_engine_dma, first, False))
        tests.append(('%s: engine copies guest RAM (-object iommufd)' % first.label,
                      t_engine_dma, first, True))

    if args.only:
        tests = [t for t in tests if re.search(args.only, t[0])]
    return tap.run_all(tests)


if __name__ == '__main__':
    sys.exit(main())
