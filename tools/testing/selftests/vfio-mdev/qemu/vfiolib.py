# SPDX-License-Identifier: GPL-2.0
"""vfiolib: just enough of the VFIO uAPI (type1 container, group, device fd,
region access, gfx plane queries) to look at what QEMU 7.2 cannot show.

  with VfioDevice('/sys/bus/mdev/devices/<uuid>') as d:
      d.region_write(2, 0x500 + 2 * 1, struct.pack('<H', 640))
      plane = d.query_gfx_plane(VFIO_GFX_PLANE_TYPE_REGION)
"""

import ctypes
import fcntl
import os
import struct

VFIO_TYPE = ord(';')
VFIO_BASE = 100


def _io(nr):
    return (VFIO_TYPE << 8) | (VFIO_BASE + nr)


VFIO_GET_API_VERSION = _io(0)
VFIO_CHECK_EXTENSION = _io(1)
VFIO_SET_IOMMU = _io(2)
VFIO_GROUP_GET_STATUS = _io(3)
VFIO_GROUP_SET_CONTAINER = _io(4)
VFIO_GROUP_GET_DEVICE_FD = _io(6)
VFIO_DEVICE_GET_INFO = _io(7)
VFIO_DEVICE_GET_REGION_INFO = _io(8)
VFIO_DEVICE_RESET = _io(11)
VFIO_DEVICE_QUERY_GFX_PLANE = _io(14)

VFIO_TYPE1_IOMMU = 1
VFIO_TYPE1v2_IOMMU = 3
VFIO_GFX_PLANE_TYPE_PROBE = 1 << 0
VFIO_GFX_PLANE_TYPE_DMABUF = 1 << 1
VFIO_GFX_PLANE_TYPE_REGION = 1 << 2

VFIO_PCI_BAR0_REGION_INDEX = 0
VFIO_PCI_BAR2_REGION_INDEX = 2
VFIO_PCI_CONFIG_REGION_INDEX = 7


def fourcc(code):
    return struct.unpack('<I', code.encode())[0]


DRM_FORMAT_XRGB8888 = fourcc('XR24')
DRM_FORMAT_BGRX8888 = fourcc('BX24')
DRM_FORMAT_RGB565 = fourcc('RG16')

_REGION_INFO = struct.Struct('<IIIIQQ')             # argsz flags index cap_offset size offset
_PLANE_INFO = struct.Struct('<IIIIQIIIIIIIIII')     # ... union, tail padding to 64

_libc = ctypes.CDLL(None, use_errno=True)


class VfioDevice:
    """An mdev opened through its IOMMU group in a private type1 container."""

    def __init__(self, sysfs_path):
        self.path = os.path.realpath(sysfs_path)
        self.name = os.path.basename(self.path)
        group = os.path.basename(os.readlink(os.path.join(self.path, 'iommu_group')))
        self.container = self.group = self.fd = -1
        try:
            self.container = os.open('/dev/vfio/vfio', os.O_RDWR)
            self.group = os.open('/dev/vfio/%s' % group, os.O_RDWR)
            fcntl.ioctl(self.group, VFIO_GROUP_SET_CONTAINER, struct.pack('i', self.container))
            iommu = VFIO_TYPE1v2_IOMMU
            if not fcntl.ioctl(self.container, VFIO_CHECK_EXTENSION, iommu):
                iommu = VFIO_TYPE1_IOMMU
            fcntl.ioctl(self.container, VFIO_SET_IOMMU, iommu)
            fd = _libc.ioctl(self.group, VFIO_GROUP_GET_DEVICE_FD,
                             ctypes.c_char_p(self.name.encode()))
            if fd < 0:
                err = ctypes.get_errno()
                raise OSError(err, 'VFIO_GROUP_GET_DEVICE_FD %s: %s' %
                              (self.name, os.strerror(err)))
            self.fd = fd
        except BaseException:
            self.close()
            raise
        self._regions = {}

    def close(self):
        for attr in ('fd', 'group', 'container'):
            fd = getattr(self, attr)
            if fd >= 0:
                os.close(fd)
                setattr(self, attr, -1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def region_info(self, index):
        """(size, offset, flags) of region @index."""
        if index not in self._regions:
            buf = bytearray(_REGION_INFO.pack(_REGION_INFO.size, 0, index, 0, 0, 0))
            fcntl.ioctl(self.fd, VFIO_DEVICE_GET_REGION_INFO, buf, True)
            _, flags, _, _, size, offset = _REGION_INFO.unpack(buf)
            self._regions[index] = (size, offset, flags)
        return self._regions[index]

    def region_read(self, index, off, n):
        size, base, _ = self.region_info(index)
        return os.pread(self.fd, n, base + off)

    def region_write(self, index, off, data):
        size, base, _ = self.region_info(index)
        n = os.pwrite(self.fd, data, base + off)
        if n != len(data):
            raise OSError('short write to region %d at 0x%x: %d of %d' %
                          (index, off, n, len(data)))

    def read16(self, index, off):
        return struct.unpack('<H', self.region_read(index, off, 2))[0]

    def write16(self, index, off, val):
        self.region_write(index, off, struct.pack('<H', val))

    def read32(self, index, off):
        return struct.unpack('<I', self.region_read(index, off, 4))[0]

    def write32(self, index, off, val):
        self.region_write(index, off, struct.pack('<I', val))

    def query_gfx_plane(self, flags, drm_plane_type=0):
        """VFIO_DEVICE_QUERY_GFX_PLANE: a dict of the reply fields."""
        buf = bytearray(_PLANE_INFO.pack(_PLANE_INFO.size, flags, drm_plane_type,
                                         *([0] * 12)))
        fcntl.ioctl(self.fd, VFIO_DEVICE_QUERY_GFX_PLANE, buf, True)
        v = _PLANE_INFO.unpack(buf)
        keys = ('argsz', 'flags', 'drm_plane_type', 'drm_format', 'drm_format_mod', 'width',
                'height', 'stride', 'size', 'x_pos', 'y_pos', 'x_hot', 'y_hot', 'index')
        return dict(zip(keys, v))
