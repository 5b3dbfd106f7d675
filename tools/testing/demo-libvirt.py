#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# demo-libvirt.py: the libvirt part of "make demo", run inside the test VM.
# Gives the stand-in PCI GPU 0000:00:10.0 to mgpu, starts Debian's libvirtd
# the way the libvirt selftest does, and shows what a management stack
# sees: the GPUs with mdev types, one GPU's types as libvirt reports them,
# an instance created with `virsh nodedev-create` and its XML, and a domain
# using that instance with display='on' whose `virsh screenshot` is saved
# as a PNG.  Everything it creates it removes again.
#
# Usage: demo-libvirt.py OUTPUT.png

import os
import re
import shutil
import struct
import sys
import tempfile
import uuid as uuidlib
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                'selftests', 'vfio-mdev', 'qemu'))
import libvirt_test as lt  # noqa: E402
import qtestlib as ql  # noqa: E402

GPU = lt.GPUS[0]


def show_virsh(*args):
    """Run virsh as the demo's other steps run commands: echoed first."""
    print('$ virsh ' + ' '.join(args), flush=True)
    out = lt.virsh(*args).stdout
    if out.strip():
        print(out.rstrip(), flush=True)
    return out


def mdev_types_excerpt(xml):
    """The <capability type='mdev_types'> element of a nodedev's XML."""
    m = re.search(r"^( *<capability type='mdev_types'>.*?</capability>)$", xml,
                  re.MULTILINE | re.DOTALL)
    return m.group(1) if m else xml


def write_png(path, width, height, rows):
    """An RGB PNG of @rows: virsh may hand back a PPM, the demo shows PNGs."""
    raw = b''.join(b'\0' + bytes(c for px in row for c in px) for row in rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack('>I', len(data)) + body + \
            struct.pack('>I', zlib.crc32(body) & 0xffffffff)

    with open(path, 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' +
                chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)) +
                chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))


def give_gpu():
    print('\n== libvirt: %s given to mgpu, libvirtd started' % GPU, flush=True)
    print('$ echo mgpu > /sys/bus/pci/devices/%s/driver_override' % GPU, flush=True)
    print('$ echo %s > /sys/bus/pci/drivers_probe' % GPU, flush=True)
    lt.bind_gpus([GPU])


def demo(tmp, output):
    show_virsh('version')

    print('\n== libvirt: the GPUs with mdev types, and the types of one', flush=True)
    show_virsh('nodedev-list', '--cap', 'mdev_types')
    print('$ virsh nodedev-dumpxml %s   (its mdev_types capability)' %
          lt.nodedev_name(GPU), flush=True)
    print(mdev_types_excerpt(lt.virsh('nodedev-dumpxml', lt.nodedev_name(GPU)).stdout),
          flush=True)

    print('\n== libvirt: an instance from an mdev XML, and the XML libvirt shows', flush=True)
    uuid = str(uuidlib.uuid4())
    xml = lt.mdev_xml(os.path.join(tmp, 'quarter.xml'), GPU, 'mgpu-quarter', uuid)
    print('$ cat quarter.xml', flush=True)
    with open(xml) as f:
        print(f.read().rstrip(), flush=True)
    show_virsh('nodedev-create', xml)
    name = lt.mdev_nodedev_name(uuid, GPU)
    try:
        show_virsh('nodedev-dumpxml', name)

        print('\n== libvirt: a domain with the instance as <hostdev type=mdev '
              "display='on'>, and virsh screenshot", flush=True)
        shot = lt.domain_screenshot(uuid, tmp, os.path.join(tmp, 'screenshot'))
        w, h, rows = lt.decode_image(shot)
        write_png(output, w, h, rows)
        print('# saved as %s' % output, flush=True)
    finally:
        show_virsh('nodedev-destroy', name)


def main():
    if len(sys.argv) != 2:
        print('usage: demo-libvirt.py OUTPUT.png', file=sys.stderr)
        return 2
    for need in ('virsh', 'libvirtd'):
        if not shutil.which(need):
            print('demo-libvirt: %s is not installed (tools/testing/install-deps)' % need,
                  file=sys.stderr)
            return 1
    if not os.path.exists(os.path.join(lt.PCI, GPU)):
        print('demo-libvirt: no stand-in PCI GPU %s in this VM' % GPU, file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix='demo-libvirt-')
    lv = lt.Libvirt()
    try:
        # Bound before libvirtd starts, so that its first scan sees the GPU.
        give_gpu()
        lv.start()
        demo(tmp, sys.argv[1])
    except Exception:
        for line in lv.log():
            print('libvirtd: ' + line, file=sys.stderr)
        raise
    finally:
        lv.stop()
        ql.cleanup_all()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
