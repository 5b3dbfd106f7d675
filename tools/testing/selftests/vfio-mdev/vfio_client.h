/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small user-space VFIO client for the vfio-mdev selftests: opens an mdev
 * instance the way QEMU does (a type1v2 container, the instance's group, a
 * device fd by UUID), reads region and interrupt information (walking the
 * capability chain), accesses regions with pread/pwrite at the vfio-pci
 * offsets (index << 40), maps them, and sets up eventfd triggers, masks and
 * unmasks with VFIO_DEVICE_SET_IRQS.
 *
 * No harness code: every helper returns 0 (or a count) on success and a
 * negative errno on failure, so the tests can check the exact errno.
 */

#ifndef VFIO_MDEV_SELFTEST_VFIO_CLIENT_H
#define VFIO_MDEV_SELFTEST_VFIO_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <sys/types.h>
#include <linux/vfio.h>

/* vfio-pci's layout: region n starts at n << 40 of the device fd. */
#define VFIO_CLIENT_REGION_SHIFT	40
#define VFIO_CLIENT_REGION(index)	((__u64)(index) << VFIO_CLIENT_REGION_SHIFT)

/* An opened instance: all three fds, -1 when closed. */
struct vfio_client {
	int container;
	int group;
	int device;
	int group_id;
	/* The step vfio_client_open() failed at, or NULL. */
	const char *failed_at;
};

/* Marks all fds closed, so that vfio_client_close() is always safe. */
void vfio_client_init(struct vfio_client *c);
int vfio_client_open(struct vfio_client *c, const char *uuid);
/*
 * vfio_client_open() after the lookup of the instance's IOMMU group: for a
 * caller that found @group_id beforehand (the lookup reads sysfs).
 */
int vfio_client_open_group(struct vfio_client *c, int group_id,
			   const char *uuid);
/*
 * vfio_client_open_group() in two steps, for a caller that does something in
 * between (such as adding the group to a KVM VM): first the group attached
 * to a container, a new one when @container is -1, else (a dup of) that
 * container, whose IOMMU is already set; then the device fd.  Each closes
 * everything of @c when it fails and leaves c->failed_at set.
 */
int vfio_client_attach(struct vfio_client *c, int group_id, int container);
int vfio_client_get_device(struct vfio_client *c, const char *uuid);
/* Closes the device fd only (that is what ends the open device). */
void vfio_client_close_device(struct vfio_client *c);
void vfio_client_close(struct vfio_client *c);

/* Ioctls with a -errno result. */
int vfio_ioctl(int fd, unsigned long request, void *arg);
int vfio_device_info(int device, struct vfio_device_info *info);
int vfio_irq_info(int device, unsigned int index, struct vfio_irq_info *info);
int vfio_device_reset(int device);

/*
 * The region info of @index with its capabilities: *@info is malloc()ed,
 * big enough for the capability chain (asked for again when the first call
 * reports a bigger argsz).  The caller frees it.
 */
int vfio_region_info(int device, unsigned int index,
		     struct vfio_region_info **info);
/*
 * The capability @id of a region info, or NULL.  Checks that the chain
 * stays inside argsz and has no loop; a malformed chain gives NULL.
 */
const struct vfio_info_cap_header *
vfio_region_cap_find(const struct vfio_region_info *info, __u16 id);

/* pread/pwrite at @offset in region @index: a count or -errno. */
ssize_t vfio_region_read(int device, unsigned int index, __u64 offset,
			 void *buf, size_t len);
ssize_t vfio_region_write(int device, unsigned int index, __u64 offset,
			  const void *buf, size_t len);

/*
 * One little-endian register access of @size 1, 2 or 4 bytes: 0, -errno,
 * or -EIO for a short transfer.
 */
int vfio_reg_read(int device, unsigned int index, __u64 offset,
		  unsigned int size, __u32 *val);
int vfio_reg_write(int device, unsigned int index, __u64 offset,
		   unsigned int size, __u32 val);

/* Config space (region VFIO_PCI_CONFIG_REGION_INDEX). */
int vfio_cfg_read(int device, unsigned int offset, unsigned int size,
		  __u32 *val);
int vfio_cfg_write(int device, unsigned int offset, unsigned int size,
		   __u32 val);
/* The value, or a negative errno (for short assertions). */
long vfio_cfg_get(int device, unsigned int offset, unsigned int size);

/* mmap of @len bytes at @offset in region @index; MAP_FAILED and errno. */
void *vfio_region_mmap(int device, unsigned int index, __u64 offset,
		       size_t len, int prot, int flags);

/*
 * VFIO_DEVICE_SET_IRQS with @flags, @start, @count and @data_len bytes of
 * @data after the header; @argsz_adjust is added to the correct argsz (to
 * test short headers).
 */
int vfio_set_irqs(int device, unsigned int index, __u32 flags,
		  __u32 start, __u32 count, const void *data,
		  size_t data_len, int argsz_adjust);
/* TRIGGER with one eventfd (-1 removes the trigger). */
int vfio_irq_set_eventfd(int device, unsigned int index, int fd);
/* TRIGGER, DATA_NONE, count 0: disable the index. */
int vfio_irq_disable(int device, unsigned int index);
/* TRIGGER, DATA_NONE, count 1: signal the installed eventfd (loopback). */
int vfio_irq_trigger(int device, unsigned int index);
int vfio_irq_mask(int device, unsigned int index);
int vfio_irq_unmask(int device, unsigned int index);

/* A non-blocking, close-on-exec eventfd, or -errno. */
int vfio_eventfd(void);
/*
 * Waits up to @timeout_ms (0: just look) for @fd to be signalled and reads
 * its counter: the count read (> 0), 0 on timeout, or -errno.
 */
long long vfio_eventfd_wait(int fd, int timeout_ms);

#endif /* VFIO_MDEV_SELFTEST_VFIO_CLIENT_H */
