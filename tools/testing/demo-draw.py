#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# demo-draw.py: attach one mgpu instance to a nested QEMU as vfio-pci with
# display=on, program its display like bochs-drm would, draw a picture into
# its VRAM, and save QEMU's screendump of the mediated display as a PNG.
# The PNG is decoded again and compared with what was drawn.
#
# Usage: demo-draw.py UUID OUTPUT.png

import math
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'selftests', 'vfio-mdev', 'qemu'))
import qtestlib as ql  # noqa: E402

SLOT = 5
BAR0_BASE = 0x80000000
BAR2_BASE = 0xfe000000
MMIO_DISPI = 0x500
DISPI = {'xres': 1, 'yres': 2, 'bpp': 3, 'enable': 4, 'bank': 5,
         'virt_width': 6, 'virt_height': 7, 'x_offset': 8, 'y_offset': 9}
DISPI_ENABLED_LFB = 0x41
WIDTH, HEIGHT = 640, 480


def picture():
    """Colour bars with a white disc and a dark frame: easy to recognise."""
    bars = [(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0),
            (255, 0, 255), (255, 0, 0), (0, 0, 255), (32, 32, 32)]
    cx, cy, r = WIDTH // 2, HEIGHT // 2, HEIGHT // 4
    rows = []
    for y in range(HEIGHT):
        row = []
        for x in range(WIDTH):
            if x < 8 or y < 8 or x >= WIDTH - 8 or y >= HEIGHT - 8:
                c = (16, 16, 64)
            elif math.hypot(x - cx, y - cy) < r:
                c = (250, 250, 250) if (x + y) % 32 < 16 else (20, 120, 220)
            else:
                c = bars[x * len(bars) // WIDTH]
            row.append(c)
        rows.append(row)
    return rows


def to_xrgb8888(rows):
    out = bytearray()
    for row in rows:
        for r, g, b in row:
            out += bytes((b, g, r, 0))
    return bytes(out)


def set_mode(q):
    """The register sequence of bochs-drm's mode set, through BAR2."""
    def dispi(name, val):
        q.writew(BAR2_BASE + MMIO_DISPI + 2 * DISPI[name], val)

    dispi('enable', 0)
    for name, val in (('bpp', 32), ('xres', WIDTH), ('yres', HEIGHT),
                      ('bank', 0), ('virt_width', WIDTH),
                      ('virt_height', HEIGHT), ('x_offset', 0),
                      ('y_offset', 0)):
        dispi(name, val)
    dispi('enable', DISPI_ENABLED_LFB)


def main():
    uuid, output = sys.argv[1], sys.argv[2]
    sysfsdev = '/sys/bus/mdev/devices/' + uuid
    device = 'vfio-pci,id=gpu0,sysfsdev=%s,display=on,addr=%d.0' % (sysfsdev, SLOT)
    print('demo: qemu-system-x86_64 -device ' + device)
    want = picture()
    with ql.QEMU(['-device', device], name='demo') as q:
        dev = q.pci(SLOT)
        print('demo: guest sees %04x:%04x class %06x at slot %d' %
              (dev.vendor, dev.device, dev.class_code, SLOT))
        ql.map_bars(dev, {0: BAR0_BASE, 2: BAR2_BASE})
        set_mode(q)
        q.write(BAR0_BASE, to_xrgb8888(want))
        width, height, got = q.screendump(device='gpu0', fmt='png')
        shutil.copyfile(q.last_screendump, output)
    if (width, height) != (WIDTH, HEIGHT) or got != want:
        print('demo: the screendump differs from the picture drawn')
        return 1
    print('demo: screendump %dx%d matches the %d pixels drawn' %
          (width, height, WIDTH * HEIGHT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
