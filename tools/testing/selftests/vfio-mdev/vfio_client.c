// SPDX-License-Identifier: GPL-2.0
/*
 * The small VFIO client of the vfio-mdev selftests (see vfio_client.h):
 * container, group and device fds, region and interrupt information, region
 * access and mmap, SET_IRQS and eventfds.  No harness code here.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "common.h"
#include "vfio_client.h"

void vfio_client_init(struct vfio_client *c)
{
	c->container = -1;
	c->group = -1;
	c->device = -1;
	c->group_id = -1;
	c->failed_at = NULL;
}

/*
 * Opens an instance the way QEMU does: a container, the instance's group
 * (from its iommu_group link) attached to it, the type1v2 IOMMU, then a
 * device fd by the instance's name.
 */
int vfio_client_open(struct vfio_client *c, const char *uuid)
{
	int group_id = mdev_iommu_group(uuid);

	if (group_id < 0) {
		vfio_client_init(c);
		c->failed_at = "iommu_group";
		return group_id;
	}
	return vfio_client_open_group(c, group_id, uuid);
}

/* No allocation in user space: fail_nth_test arms fault injection around it. */
int vfio_client_open_group(struct vfio_client *c, int group_id,
			   const char *uuid)
{
	int ret = vfio_client_attach(c, group_id, -1);

	return ret ? ret : vfio_client_get_device(c, uuid);
}

int vfio_client_attach(struct vfio_client *c, int group_id, int container)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX];
	int ret;

	vfio_client_init(c);
	c->group_id = group_id;
	c->failed_at = "container";
	if (container >= 0)
		c->container = fcntl(container, F_DUPFD_CLOEXEC, 0);
	else
		c->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c->container < 0)
		goto err;
	if (ioctl(c->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		errno = EPROTO;
		goto err;
	}
	c->failed_at = "group";
	snprintf(path, sizeof(path), "/dev/vfio/%d", c->group_id);
	c->group = open(path, O_RDWR | O_CLOEXEC);
	if (c->group < 0)
		goto err;
	if (ioctl(c->group, VFIO_GROUP_GET_STATUS, &status))
		goto err;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EPERM;
		goto err;
	}
	c->failed_at = "VFIO_GROUP_SET_CONTAINER";
	if (ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container))
		goto err;
	/* A shared container has its IOMMU from its first group. */
	c->failed_at = "VFIO_SET_IOMMU";
	if (container < 0 &&
	    ioctl(c->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	c->failed_at = NULL;
	return 0;
err:
	ret = -errno;
	vfio_client_close(c);
	return ret;
}

int vfio_client_get_device(struct vfio_client *c, const char *uuid)
{
	int ret;

	c->failed_at = "VFIO_GROUP_GET_DEVICE_FD";
	c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (c->device < 0) {
		ret = -errno;
		vfio_client_close(c);
		return ret;
	}
	c->failed_at = NULL;
	return 0;
}

void vfio_client_close_device(struct vfio_client *c)
{
	if (c->device >= 0)
		close(c->device);
	c->device = -1;
}

void vfio_client_close(struct vfio_client *c)
{
	vfio_client_close_device(c);
	if (c->group >= 0)
		close(c->group);
	if (c->container >= 0)
		close(c->container);
	c->group = -1;
	c->container = -1;
}

int vfio_ioctl(int fd, unsigned long request, void *arg)
{
	int ret = ioctl(fd, request, arg);

	return ret < 0 ? -errno : ret;
}

int vfio_device_info(int device, struct vfio_device_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	return vfio_ioctl(device, VFIO_DEVICE_GET_INFO, info);
}

int vfio_irq_info(int device, unsigned int index, struct vfio_irq_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return vfio_ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, info);
}

int vfio_device_reset(int device)
{
	return vfio_ioctl(device, VFIO_DEVICE_RESET, NULL);
}

static int region_info_once(int device, unsigned int index, size_t argsz,
			    struct vfio_region_info **info)
{
	struct vfio_region_info *buf = calloc(1, argsz);
	int ret;

	if (!buf)
		return -ENOMEM;
	buf->argsz = argsz;
	buf->index = index;
	ret = vfio_ioctl(device, VFIO_DEVICE_GET_REGION_INFO, buf);
	if (ret) {
		free(buf);
		return ret;
	}
	*info = buf;
	return 0;
}

int vfio_region_info(int device, unsigned int index,
		     struct vfio_region_info **info)
{
	struct vfio_region_info *first;
	size_t argsz;
	int ret;

	*info = NULL;
	ret = region_info_once(device, index, sizeof(*first), &first);
	if (ret)
		return ret;
	if (first->argsz <= sizeof(*first)) {
		*info = first;
		return 0;
	}
	/* Capabilities follow: ask again with the size it reported. */
	argsz = first->argsz;
	free(first);
	ret = region_info_once(device, index, argsz, info);
	if (ret)
		return ret;
	if ((*info)->argsz > argsz) {
		free(*info);
		*info = NULL;
		return -EMSGSIZE;
	}
	return 0;
}

const struct vfio_info_cap_header *
vfio_region_cap_find(const struct vfio_region_info *info, __u16 id)
{
	const struct vfio_info_cap_header *hdr;
	__u32 off;
	unsigned int hops;

	if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS))
		return NULL;
	off = info->cap_offset;
	/* Every header takes 8 bytes at least, so argsz / 8 bounds the hops. */
	for (hops = 0; off && hops <= info->argsz / sizeof(*hdr); hops++) {
		if (off < sizeof(*info) || off % 4 ||
		    (size_t)off + sizeof(*hdr) > info->argsz)
			return NULL;
		hdr = (const void *)((const char *)info + off);
		if (hdr->id == id)
			return hdr;
		off = hdr->next;
	}
	return NULL;
}

ssize_t vfio_region_read(int device, unsigned int index, __u64 offset,
			 void *buf, size_t len)
{
	ssize_t ret = pread(device, buf, len, VFIO_CLIENT_REGION(index) + offset);

	return ret < 0 ? -errno : ret;
}

ssize_t vfio_region_write(int device, unsigned int index, __u64 offset,
			  const void *buf, size_t len)
{
	ssize_t ret = pwrite(device, buf, len,
			     VFIO_CLIENT_REGION(index) + offset);

	return ret < 0 ? -errno : ret;
}

int vfio_reg_read(int device, unsigned int index, __u64 offset,
		  unsigned int size, __u32 *val)
{
	__u8 b[4] = { 0 };
	unsigned int i;
	ssize_t ret;

	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	ret = vfio_region_read(device, index, offset, b, size);
	if (ret < 0)
		return ret;
	if ((size_t)ret != size)
		return -EIO;
	*val = 0;
	for (i = 0; i < size; i++)
		*val |= (__u32)b[i] << (8 * i);
	return 0;
}

int vfio_reg_write(int device, unsigned int index, __u64 offset,
		   unsigned int size, __u32 val)
{
	__u8 b[4];
	unsigned int i;
	ssize_t ret;

	if (size != 1 && size != 2 && size != 4)
		return -EINVAL;
	for (i = 0; i < size; i++)
		b[i] = val >> (8 * i);
	ret = vfio_region_write(device, index, offset, b, size);
	if (ret < 0)
		return ret;
	return (size_t)ret == size ? 0 : -EIO;
}

int vfio_cfg_read(int device, unsigned int offset, unsigned int size,
		  __u32 *val)
{
	return vfio_reg_read(device, VFIO_PCI_CONFIG_REGION_INDEX, offset, size,
			     val);
}

int vfio_cfg_write(int device, unsigned int offset, unsigned int size,
		   __u32 val)
{
	return vfio_reg_write(device, VFIO_PCI_CONFIG_REGION_INDEX, offset,
			      size, val);
}

long vfio_cfg_get(int device, unsigned int offset, unsigned int size)
{
	__u32 val;
	int ret;

	ret = vfio_cfg_read(device, offset, size, &val);
	return ret ? ret : (long)val;
}

void *vfio_region_mmap(int device, unsigned int index, __u64 offset,
		       size_t len, int prot, int flags)
{
	return mmap(NULL, len, prot, flags, device,
		    VFIO_CLIENT_REGION(index) + offset);
}

int vfio_set_irqs(int device, unsigned int index, __u32 flags,
		  __u32 start, __u32 count, const void *data,
		  size_t data_len, int argsz_adjust)
{
	size_t size = sizeof(struct vfio_irq_set) + data_len;
	struct vfio_irq_set *set;
	int ret;

	/* Room for the header even when argsz says less. */
	set = calloc(1, size + sizeof(*set));
	if (!set)
		return -ENOMEM;
	set->argsz = size + argsz_adjust;
	set->flags = flags;
	set->index = index;
	set->start = start;
	set->count = count;
	if (data_len)
		memcpy(set->data, data, data_len);
	ret = vfio_ioctl(device, VFIO_DEVICE_SET_IRQS, set);
	free(set);
	return ret;
}

int vfio_irq_set_eventfd(int device, unsigned int index, int fd)
{
	__s32 data = fd;

	return vfio_set_irqs(device, index,
			     VFIO_IRQ_SET_DATA_EVENTFD |
			     VFIO_IRQ_SET_ACTION_TRIGGER,
			     0, 1, &data, sizeof(data), 0);
}

int vfio_irq_disable(int device, unsigned int index)
{
	return vfio_set_irqs(device, index,
			     VFIO_IRQ_SET_DATA_NONE |
			     VFIO_IRQ_SET_ACTION_TRIGGER,
			     0, 0, NULL, 0, 0);
}

int vfio_irq_trigger(int device, unsigned int index)
{
	return vfio_set_irqs(device, index,
			     VFIO_IRQ_SET_DATA_NONE |
			     VFIO_IRQ_SET_ACTION_TRIGGER,
			     0, 1, NULL, 0, 0);
}

int vfio_irq_mask(int device, unsigned int index)
{
	return vfio_set_irqs(device, index,
			     VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
			     0, 1, NULL, 0, 0);
}

int vfio_irq_unmask(int device, unsigned int index)
{
	return vfio_set_irqs(device, index,
			     VFIO_IRQ_SET_DATA_NONE |
			     VFIO_IRQ_SET_ACTION_UNMASK,
			     0, 1, NULL, 0, 0);
}

int vfio_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

long long vfio_eventfd_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	__u64 count;
	ssize_t len;
	int ret;

	do {
		ret = poll(&pfd, 1, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return 0;
	len = read(fd, &count, sizeof(count));
	if (len < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (len != sizeof(count))
		return -EIO;
	return (long long)count;
}
