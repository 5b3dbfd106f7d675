/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The differences between the kernels this project builds against (Linux 6.1
 * and 6.12 LTS), in one place.  Every module gets it through <linux/mdev.h>;
 * nothing else in the tree tests LINUX_VERSION_CODE.
 */

#ifndef MDEV_COMPAT_H
#define MDEV_COMPAT_H

#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/version.h>
#include <linux/vfio.h>

/* 6.12 moved the unaligned accessors out of asm/. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* 6.4 made the driver core take const bus types; checkpatch wants them. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define MDEV_BUS_TYPE const struct bus_type
#else
#define MDEV_BUS_TYPE struct bus_type	/* not const before 6.4 */
#endif

/* 6.11: bus_type.match() gets a const driver. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define mdev_match_driver_t const struct device_driver
#else
#define mdev_match_driver_t struct device_driver
#endif

/* 6.8 dropped eventfd_signal()'s count (it was always 1 here). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define mdev_eventfd_signal(ctx) eventfd_signal(ctx)
#else
#define mdev_eventfd_signal(ctx) eventfd_signal(ctx, 1)
#endif

/*
 * 6.12 removed no_llseek: a file without .llseek is not seekable (lseek()
 * fails with -ESPIPE, as no_llseek made it).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define no_llseek NULL
#endif

/*
 * 6.2: the VFIO core frees a device itself after its .release; before, the
 * .release callback had to end with vfio_free_device().
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
static inline void mdev_vfio_free_device(struct vfio_device *vdev)
{
}
#else
#define mdev_vfio_free_device(vdev) vfio_free_device(vdev)
#endif

/*
 * 6.3: VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, which the core answers by calling
 * &vfio_migration_ops.migration_get_data_size without checking it: a
 * migratable driver must provide it (QEMU 10 asks before every migration).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define MDEV_MIG_HAS_DATA_SIZE 1
#endif

/*
 * 6.2: PRE_COPY (VFIO_MIGRATION_PRE_COPY, VFIO_MIG_GET_PRECOPY_INFO).
 * MDEV_MIG_PRE_COPY is the flag a driver offers: 0 where the kernel has no
 * PRE_COPY.  On such a kernel the two states and the ioctl's argument get
 * their uAPI numbers and layout, so that a driver's state table and ioctl
 * handler are the same on every kernel; the VFIO core never asks a driver
 * for a state it did not offer.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define MDEV_MIG_PRE_COPY	VFIO_MIGRATION_PRE_COPY
#else
#define MDEV_MIG_PRE_COPY	0
#define VFIO_DEVICE_STATE_PRE_COPY	6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P	7
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};

#define VFIO_MIG_GET_PRECOPY_INFO	_IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

/* 6.3 made vma->vm_flags read-only: vm_flags_set() changes it. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags |= flags;
}
#endif

/*
 * iommufd (6.2; .detach_ioas from 6.6): an emulated-IOMMU VFIO device
 * must name the emulated bind/attach helpers, or vfio refuses to register it
 * on a kernel with CONFIG_IOMMUFD.  The helpers are NULL without it.  Use as
 * the last member of a struct vfio_device_ops initializer.
 *
 * With CONFIG_IOMMUFD the bind goes through the core
 * (mdev_iommufd_emulated_bind()), which notes the iommufd context: the
 * single usage restriction counts it as a key (MDEV_USAGE_IOMMUFD).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0) && IS_ENABLED(CONFIG_IOMMUFD)
#define MDEV_USAGE_IOMMUFD
#define MDEV_IOMMUFD_BIND_OPS					\
	.bind_iommufd	= mdev_iommufd_emulated_bind,		\
	.unbind_iommufd	= mdev_iommufd_emulated_unbind,
#else
#define MDEV_IOMMUFD_BIND_OPS					\
	.bind_iommufd	= vfio_iommufd_emulated_bind,		\
	.unbind_iommufd	= vfio_iommufd_emulated_unbind,
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define MDEV_VFIO_EMULATED_IOMMUFD_OPS				\
	MDEV_IOMMUFD_BIND_OPS					\
	.attach_ioas	= vfio_iommufd_emulated_attach_ioas,	\
	.detach_ioas	= vfio_iommufd_emulated_detach_ioas,
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define MDEV_VFIO_EMULATED_IOMMUFD_OPS				\
	MDEV_IOMMUFD_BIND_OPS					\
	.attach_ioas	= vfio_iommufd_emulated_attach_ioas,
#else
#define MDEV_VFIO_EMULATED_IOMMUFD_OPS
#endif

#endif /* MDEV_COMPAT_H */
