// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_vfio.c - the glue between an mgpu instance and its users: the mdev
 * driver that turns a new instance into a VFIO device, and the
 * vfio_device_ops that serve it to user space (regions, ioctls, mmap,
 * open and close, where the core enforces the single usage restriction).
 *
 * Region accesses through read/write: an access that starts inside a region
 * and runs past its end is clipped to the end (a short read or write, as
 * vfio-pci does for BARs); one that starts at or past the end, or in a
 * region of size 0, fails with -EINVAL.  A read or write of 1, 2 or 4 bytes
 * of the register BAR is one register access, which the register file may
 * refuse; any other size is split into the widest naturally aligned
 * accesses, and stops short at the first one refused.
 */

#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "mgpu.h"

/* Config space and BAR2 are copied through the stack in chunks this big. */
#define MGPU_BOUNCE_SIZE	256

static const u32 mgpu_region_flags[VFIO_PCI_NUM_REGIONS] = {
	[VFIO_PCI_CONFIG_REGION_INDEX] = VFIO_REGION_INFO_FLAG_READ |
					 VFIO_REGION_INFO_FLAG_WRITE,
	[MGPU_VRAM_BAR] = VFIO_REGION_INFO_FLAG_READ |
			  VFIO_REGION_INFO_FLAG_WRITE |
			  VFIO_REGION_INFO_FLAG_MMAP,
	[MGPU_MMIO_BAR] = VFIO_REGION_INFO_FLAG_READ |
			  VFIO_REGION_INFO_FLAG_WRITE,
};

typedef ssize_t (*mgpu_locked_rw_fn)(struct mgpu_device *mgpu, void *buf,
				     size_t count, loff_t pos, bool write);

/* The width of the next piece of a bulk register access: 4, 2 or 1. */
static size_t mgpu_mmio_width(loff_t pos, size_t count)
{
	size_t width = 4;

	while (width > count || pos & (width - 1))
		width >>= 1;
	return width;
}

/* A register BAR access as described at the top of this file. */
static ssize_t mgpu_mmio_split_rw(struct mgpu_device *mgpu, void *buf,
				  size_t count, loff_t pos, bool write)
{
	size_t done = 0;
	ssize_t ret = 0;

	lockdep_assert_held(&mgpu->lock);
	if (count == 1 || count == 2 || count == 4)
		return mgpu_mmio_rw(mgpu, buf, count, pos, write);

	while (done < count) {
		ret = mgpu_mmio_rw(mgpu, (u8 *)buf + done,
				   mgpu_mmio_width(pos + done, count - done),
				   pos + done, write);
		if (ret <= 0)
			break;
		done += ret;
	}
	return done ? done : ret;
}

/* Regions emulated on kernel buffers under mgpu->lock; VRAM is not one. */
static const mgpu_locked_rw_fn mgpu_locked_rw[VFIO_PCI_NUM_REGIONS] = {
	[VFIO_PCI_CONFIG_REGION_INDEX] = mgpu_config_rw,
	[MGPU_MMIO_BAR] = mgpu_mmio_split_rw,
};

/**
 * mgpu_region_size() - the size of a VFIO region of an instance
 * @mgpu: the instance
 * @index: a VFIO_PCI_*_REGION_INDEX
 *
 * Return: its size in bytes; 0 for the regions mgpu does not have.
 */
u64 mgpu_region_size(const struct mgpu_device *mgpu, unsigned int index)
{
	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		return PCI_CFG_SPACE_SIZE;
	case MGPU_VRAM_BAR:
		return mgpu->vram_size;
	case MGPU_MMIO_BAR:
		return MGPU_MMIO_SIZE;
	default:
		return 0;
	}
}

/*
 * Config, regs, the engine and interrupt delivery back to power-on; VRAM is
 * kept.  The engine must be quiesced (or never started).
 */
static void mgpu_reset_locked(struct mgpu_device *mgpu)
{
	lockdep_assert_held(&mgpu->lock);
	mgpu_config_reset(mgpu);
	mgpu_regs_reset(mgpu);
	mgpu_engine_reset(mgpu);
	mgpu_irq_reset(mgpu);
}

/* ---- vfio_device_ops: life ------------------------------------------- */

static int mgpu_init_dev(struct vfio_device *vdev)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	int ret;

	mgpu->mdev = mdev;
	mgpu->gpu = mdev_type_to_gpu(mdev->type);
	mgpu->profile = mdev_type_to_profile(mdev->type);
	mgpu->vram_size = mgpu->gpu->vram_size / MGPU_SLICES *
			  mgpu->profile->slices;
	ret = mgpu_vram_init(mgpu);
	if (ret)
		return ret;
	mutex_init(&mgpu->lock);
	mgpu_engine_init(mgpu);
	mgpu_display_init(mgpu);
	mgpu_migration_init(mgpu);

	mutex_lock(&mgpu->lock);
	mgpu_reset_locked(mgpu);
	mutex_unlock(&mgpu->lock);
	return 0;
}

static void mgpu_release_dev(struct vfio_device *vdev)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);

	mgpu_migration_release(mgpu);
	mgpu_vram_free(mgpu);
	mutex_destroy(&mgpu->lock);
	mdev_vfio_free_device(vdev);
}

/* The fractional profiles are single-usage: the core enforces it. */
static int mgpu_open_device(struct vfio_device *vdev)
{
	return mdev_usage_claim(vdev_to_mgpu(vdev)->mdev, vdev);
}

/*
 * Undoes everything a user set up: display planes (dma-bufs already handed
 * out live on through their fds), migration sessions, eventfds, device
 * state, the opener, and VRAM: the next opener may be another tenant, so it
 * gets the instance scrubbed (cheaply: see mgpu_vram_scrub()).
 */
static void mgpu_close_device(struct vfio_device *vdev)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);

	/* the engine's commands reach guest RAM only while the device is open */
	mgpu_engine_quiesce(mgpu);
	mgpu_display_release(mgpu);
	mgpu_migration_reset(mgpu);

	mutex_lock(&mgpu->lock);
	mgpu_irq_disable_all(mgpu);
	mgpu_reset_locked(mgpu);
	mutex_unlock(&mgpu->lock);
	mgpu_engine_resume(mgpu);

	mgpu_vram_scrub(mgpu);
	mdev_usage_release(mgpu->mdev);
}

/* ---- vfio_device_ops: regions ----------------------------------------- */

/*
 * Copies an access to a kernel-buffer region through a bounce buffer, one
 * chunk per lock hold.  An access of up to 4 bytes is one chunk, whatever
 * its alignment, so that a register access reaches @rw whole (and an
 * unaligned one is refused there).  A bigger access is cut into chunks that
 * end on MGPU_BOUNCE_SIZE boundaries, which never cut a naturally aligned
 * piece of it.  The user copies are done without the lock: they may fault.
 */
static ssize_t mgpu_bounce_rw(struct mgpu_device *mgpu, mgpu_locked_rw_fn rw,
			      char __user *ubuf, size_t count, loff_t pos,
			      bool write)
{
	u8 bounce[MGPU_BOUNCE_SIZE];
	size_t done = 0;
	ssize_t ret = 0;

	while (done < count) {
		size_t n = count - done;

		if (count > sizeof(u32))
			n = min_t(size_t, n, MGPU_BOUNCE_SIZE -
				  (pos + done) % MGPU_BOUNCE_SIZE);

		if (write && copy_from_user(bounce, ubuf + done, n)) {
			ret = -EFAULT;
			break;
		}
		mutex_lock(&mgpu->lock);
		ret = rw(mgpu, bounce, n, pos + done, write);
		mutex_unlock(&mgpu->lock);
		if (ret <= 0)
			break;
		if (!write && copy_to_user(ubuf + done, bounce, ret)) {
			ret = -EFAULT;
			break;
		}
		done += ret;
		if (ret < n)
			break;
	}
	return done ? done : ret;
}

static ssize_t mgpu_rw(struct vfio_device *vdev, char __user *ubuf,
		       size_t count, loff_t *ppos, bool write)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);
	u64 index = (u64)*ppos >> MGPU_REGION_SHIFT;
	u64 pos = *ppos & MGPU_REGION_OFFSET_MASK;
	ssize_t ret;
	u64 size;

	if (*ppos < 0 || index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	index = array_index_nospec(index, VFIO_PCI_NUM_REGIONS);
	size = mgpu_region_size(mgpu, index);
	if (pos >= size)
		return -EINVAL;
	count = min_t(u64, count, size - pos);
	if (!count)
		return 0;

	if (index == MGPU_VRAM_BAR)
		ret = mgpu_vram_rw(mgpu, ubuf, count, pos, write);
	else if (mgpu_locked_rw[index])
		ret = mgpu_bounce_rw(mgpu, mgpu_locked_rw[index], ubuf, count,
				     pos, write);
	else
		ret = -EINVAL;

	if (ret > 0)
		*ppos += ret;
	return ret;
}

static ssize_t mgpu_read(struct vfio_device *vdev, char __user *buf,
			 size_t count, loff_t *ppos)
{
	return mgpu_rw(vdev, buf, count, ppos, false);
}

static ssize_t mgpu_write(struct vfio_device *vdev, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	/* mgpu_rw() only reads from @buf when @write is true. */
	return mgpu_rw(vdev, (char __user *)buf, count, ppos, true);
}

static int mgpu_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	u64 index = (u64)vma->vm_pgoff >> (MGPU_REGION_SHIFT - PAGE_SHIFT);

	if (index != MGPU_VRAM_BAR)
		return -EINVAL;
	/* mgpu_vram_mmap() wants the page offset in BAR0. */
	vma->vm_pgoff &= MGPU_REGION_OFFSET_MASK >> PAGE_SHIFT;
	return mgpu_vram_mmap(vdev_to_mgpu(vdev), vma);
}

/* ---- vfio_device_ops: ioctls ------------------------------------------ */

static long mgpu_ioctl_get_info(struct mgpu_device *mgpu,
				void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = VFIO_PCI_NUM_REGIONS;
	info.num_irqs = VFIO_PCI_NUM_IRQS;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/* VRAM is mmap-able as a whole: one sparse area covering the BAR. */
static int mgpu_add_sparse_mmap(struct vfio_info_cap *caps, u64 size)
{
	struct vfio_region_info_cap_sparse_mmap *sparse;
	struct vfio_info_cap_header *header;

	header = vfio_info_cap_add(caps, struct_size(sparse, areas, 1),
				   VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1);
	if (IS_ERR(header))
		return PTR_ERR(header);

	sparse = container_of(header, struct vfio_region_info_cap_sparse_mmap,
			      header);
	sparse->nr_areas = 1;
	sparse->areas[0].offset = 0;
	sparse->areas[0].size = size;
	return 0;
}

/*
 * Capabilities follow the structure when argsz leaves room for them;
 * otherwise argsz tells user space how much to ask for, as vfio-pci does.
 */
static int mgpu_copy_region_caps(struct vfio_region_info *info,
				 struct vfio_region_info __user *arg,
				 struct vfio_info_cap *caps)
{
	info->flags |= VFIO_REGION_INFO_FLAG_CAPS;
	if (info->argsz < sizeof(*info) + caps->size) {
		info->argsz = sizeof(*info) + caps->size;
		info->cap_offset = 0;
		return 0;
	}
	vfio_info_cap_shift(caps, sizeof(*info));
	if (copy_to_user(arg + 1, caps->buf, caps->size))
		return -EFAULT;
	info->cap_offset = sizeof(*info);
	return 0;
}

static long mgpu_ioctl_get_region_info(struct mgpu_device *mgpu,
				       void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_info_cap caps = { };
	struct vfio_region_info info;
	int ret = 0;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_REGIONS)
		return -EINVAL;
	info.index = array_index_nospec(info.index, VFIO_PCI_NUM_REGIONS);

	info.offset = MGPU_REGION_OFFSET(info.index);
	info.size = mgpu_region_size(mgpu, info.index);
	info.flags = info.size ? mgpu_region_flags[info.index] : 0;
	info.cap_offset = 0;

	if (info.flags & VFIO_REGION_INFO_FLAG_MMAP)
		ret = mgpu_add_sparse_mmap(&caps, info.size);
	if (!ret && caps.size)
		ret = mgpu_copy_region_caps(&info, arg, &caps);
	kfree(caps.buf);
	if (ret)
		return ret;

	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long mgpu_ioctl_get_irq_info(struct mgpu_device *mgpu,
				    void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;
	int ret;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	ret = mgpu_irq_info(mgpu, &info);
	if (ret)
		return ret;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long mgpu_ioctl_set_irqs(struct mgpu_device *mgpu, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct vfio_irq_set hdr;

	if (copy_from_user(&hdr, arg, minsz))
		return -EFAULT;
	/* vfio_set_irqs_validate_and_prepare() checks argsz and the rest. */
	return mgpu_set_irqs(mgpu, &hdr, arg + minsz);
}

/*
 * Like a PCI function reset: VRAM contents survive, as on real GPUs.  The
 * migration state goes back to RUNNING, which is how the uAPI leaves ERROR
 * and aborts a RESUMING session.
 */
static long mgpu_ioctl_reset(struct mgpu_device *mgpu, void __user *arg)
{
	/* the command in flight ends, those that wait are dropped */
	mgpu_engine_quiesce(mgpu);
	mgpu_migration_reset(mgpu);
	mutex_lock(&mgpu->lock);
	mgpu_reset_locked(mgpu);
	mutex_unlock(&mgpu->lock);
	mgpu_engine_resume(mgpu);
	return 0;
}

static long mgpu_ioctl_query_gfx_plane(struct mgpu_device *mgpu,
				       void __user *arg)
{
	return mgpu_query_gfx_plane(mgpu, (unsigned long)arg);
}

static long mgpu_ioctl_get_gfx_dmabuf(struct mgpu_device *mgpu,
				      void __user *arg)
{
	return mgpu_get_gfx_dmabuf(mgpu, (unsigned long)arg);
}

static const struct {
	unsigned int cmd;
	long (*handler)(struct mgpu_device *mgpu, void __user *arg);
} mgpu_ioctls[] = {
	{ VFIO_DEVICE_GET_INFO,		mgpu_ioctl_get_info },
	{ VFIO_DEVICE_GET_REGION_INFO,	mgpu_ioctl_get_region_info },
	{ VFIO_DEVICE_GET_IRQ_INFO,	mgpu_ioctl_get_irq_info },
	{ VFIO_DEVICE_SET_IRQS,		mgpu_ioctl_set_irqs },
	{ VFIO_DEVICE_RESET,		mgpu_ioctl_reset },
	{ VFIO_DEVICE_QUERY_GFX_PLANE,	mgpu_ioctl_query_gfx_plane },
	{ VFIO_DEVICE_GET_GFX_DMABUF,	mgpu_ioctl_get_gfx_dmabuf },
};

static long mgpu_ioctl(struct vfio_device *vdev, unsigned int cmd,
		       unsigned long arg)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mgpu_ioctls); i++)
		if (mgpu_ioctls[i].cmd == cmd)
			return mgpu_ioctls[i].handler(vdev_to_mgpu(vdev),
						      (void __user *)arg);
	return -ENOTTY;
}

static const struct vfio_device_ops mgpu_dev_ops = {
	.name = "vfio-mgpu",
	.init = mgpu_init_dev,
	.release = mgpu_release_dev,
	.open_device = mgpu_open_device,
	.close_device = mgpu_close_device,
	.read = mgpu_read,
	.write = mgpu_write,
	.ioctl = mgpu_ioctl,
	.mmap = mgpu_mmap,
	.request = mgpu_request,
	.dma_unmap = mgpu_engine_dma_unmap,
	MDEV_VFIO_EMULATED_IOMMUFD_OPS
};

/* ---- mdev driver ------------------------------------------------------ */

static int mgpu_probe(struct mdev_device *mdev)
{
	struct mgpu_device *mgpu;
	int ret;

	mgpu = vfio_alloc_device(mgpu_device, vdev, mdev_dev(mdev),
				 &mgpu_dev_ops);
	if (IS_ERR(mgpu))
		return PTR_ERR(mgpu);

	/* The core checked get_available under its lock: this cannot fail. */
	ret = mgpu_place(mgpu->gpu, mgpu->profile, &mgpu->first_slice);
	if (ret) {
		dev_err(mdev_dev(mdev), "no room on %s for a %s instance\n",
			dev_name(mgpu->gpu->dev), mgpu->profile->sysfs_name);
		goto out_put;
	}

	dev_set_drvdata(mdev_dev(mdev), mgpu);
	ret = vfio_register_emulated_iommu_dev(&mgpu->vdev);
	if (ret)
		goto out_unplace;

	dev_dbg(mdev_dev(mdev), "%s: slices %u-%u of %s\n",
		mgpu->profile->sysfs_name, mgpu->first_slice,
		mgpu->first_slice + mgpu->profile->slices - 1,
		dev_name(mgpu->gpu->dev));
	return 0;

out_unplace:
	mgpu_unplace(mgpu->gpu, mgpu->profile, mgpu->first_slice);
out_put:
	vfio_put_device(&mgpu->vdev);
	return ret;
}

/* Waits for the user to close the device (see mgpu_request()). */
static void mgpu_remove(struct mdev_device *mdev)
{
	struct mgpu_device *mgpu = dev_get_drvdata(mdev_dev(mdev));

	vfio_unregister_group_dev(&mgpu->vdev);
	mgpu_engine_fini(mgpu);
	mgpu_unplace(mgpu->gpu, mgpu->profile, mgpu->first_slice);
	vfio_put_device(&mgpu->vdev);
}

struct mdev_driver mgpu_mdev_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.probe = mgpu_probe,
	.remove = mgpu_remove,
	.get_available = mgpu_get_available,
	.show_description = mgpu_show_description,
	.get_version = mgpu_get_version,
	.version_compatible = mgpu_version_compatible,
	.driver = {
		.name = MGPU_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = mgpu_engine_groups,
	},
};
