// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mediated device core: the single usage restriction.  An instance of a
 * type whose single_usage_restriction is "Y" opens only for an application
 * that has no other such instance open, of any type and any parent.  This
 * file decides who the application is and keeps the claims.
 *
 * An application is recognised by three keys, each compared by address:
 *
 *  - the KVM instance the device is opened with (vfio_device->kvm), that
 *    is the VM: VFIO sets it when the group was added to the VM's KVM VFIO
 *    device before the open, as QEMU with KVM always does;
 *  - the address space (mm) of the process that opens the device;
 *  - on kernels with iommufd, the iommufd context the device is bound to
 *    (through the VFIO device cdev, or a group attached to an iommufd):
 *    the container of the iommufd world.  Vendor drivers bind through
 *    mdev_iommufd_emulated_bind() (MDEV_VFIO_EMULATED_IOMMUFD_OPS), which
 *    notes it.
 *
 * Two claims conflict when they share any key.  So a VM is one application
 * however many processes serve it (a forked helper, a second process
 * handed the KVM fd), an iommufd is one however many processes use it, and
 * a process is one however many VMs it runs.  The claim is made at the
 * device's first open and is held by the open device until its last
 * close, wherever its file descriptor is passed meanwhile; a reference on
 * each key keeps its address from being reused while it is held.
 *
 * A driver cannot see the legacy VFIO container (type1) a group is
 * attached to (VFIO exports no accessor for it), so a second process that
 * shares only such a container with the first, and no KVM instance,
 * counts as another application.
 */

#include <linux/device.h>
#include <linux/list.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/vfio.h>
#if IS_ENABLED(CONFIG_KVM)
#include <linux/kvm_host.h>
#endif
#ifdef MDEV_USAGE_IOMMUFD
#include <linux/iommufd.h>
#endif

static DEFINE_MUTEX(mdev_usage_lock);	/* protects mdev_usage_claims */
static LIST_HEAD(mdev_usage_claims);	/* of mdev_device.usage.node */

#if IS_ENABLED(CONFIG_KVM)
/*
 * kvm.ko's reference counting, looked up at run time as VFIO itself does,
 * so that loading mdev.ko does not load kvm.ko.  Whoever set
 * vfio_device->kvm has kvm.ko loaded.
 */
static bool mdev_usage_get_kvm(struct kvm *kvm)
{
	bool (*get)(struct kvm *kvm);
	bool ret;

	get = symbol_get(kvm_get_kvm_safe);
	if (!get)
		return false;
	ret = get(kvm);
	symbol_put(kvm_get_kvm_safe);
	return ret;
}

static void mdev_usage_put_kvm(struct kvm *kvm)
{
	void (*put)(struct kvm *kvm);

	put = symbol_get(kvm_put_kvm);
	/* Cannot fail: the reference held keeps kvm.ko loaded. */
	if (WARN_ON_ONCE(!put))
		return;
	put(kvm);
	symbol_put(kvm_put_kvm);
}
#else
static bool mdev_usage_get_kvm(struct kvm *kvm)
{
	return false;
}

static void mdev_usage_put_kvm(struct kvm *kvm)
{
}
#endif

#ifdef MDEV_USAGE_IOMMUFD
MODULE_IMPORT_NS(IOMMUFD);

/**
 * mdev_iommufd_emulated_bind() - bind an mdev's vfio_device to an iommufd
 * @vdev: the vfio_device of an instance (registered with the instance's
 *	device as its parent device)
 * @ictx: the iommufd context
 * @out_device_id: where the device's ID in @ictx goes
 *
 * &vfio_device_ops.bind_iommufd of an emulated-IOMMU vendor driver, as
 * MDEV_VFIO_EMULATED_IOMMUFD_OPS sets it: vfio_iommufd_emulated_bind(),
 * noting @ictx for mdev_usage_claim(), which VFIO calls next (in
 * open_device).
 *
 * Return: what vfio_iommufd_emulated_bind() returns.
 */
int mdev_iommufd_emulated_bind(struct vfio_device *vdev,
			       struct iommufd_ctx *ictx, u32 *out_device_id)
{
	int ret = vfio_iommufd_emulated_bind(vdev, ictx, out_device_id);

	if (!ret)
		to_mdev_device(vdev->dev)->usage.bound = ictx;
	return ret;
}
EXPORT_SYMBOL_GPL(mdev_iommufd_emulated_bind);

/**
 * mdev_iommufd_emulated_unbind() - undo mdev_iommufd_emulated_bind()
 * @vdev: the vfio_device of the instance
 *
 * &vfio_device_ops.unbind_iommufd, after the last close.
 */
void mdev_iommufd_emulated_unbind(struct vfio_device *vdev)
{
	to_mdev_device(vdev->dev)->usage.bound = NULL;
	vfio_iommufd_emulated_unbind(vdev);
}
EXPORT_SYMBOL_GPL(mdev_iommufd_emulated_unbind);

static struct iommufd_ctx *mdev_usage_get_ictx(struct mdev_device *mdev)
{
	if (mdev->usage.bound)
		iommufd_ctx_get(mdev->usage.bound);
	return mdev->usage.bound;
}

static void mdev_usage_put_ictx(struct iommufd_ctx *ictx)
{
	if (ictx)
		iommufd_ctx_put(ictx);
}
#else
static struct iommufd_ctx *mdev_usage_get_ictx(struct mdev_device *mdev)
{
	return NULL;
}

static void mdev_usage_put_ictx(struct iommufd_ctx *ictx)
{
}
#endif

/* The open single-usage instance that shares a key with @key, or NULL. */
static struct mdev_device *
mdev_usage_holder(const struct mdev_usage_claim *key)
{
	struct mdev_usage_claim *claim;

	lockdep_assert_held(&mdev_usage_lock);
	list_for_each_entry(claim, &mdev_usage_claims, node)
		if ((key->kvm && claim->kvm == key->kvm) ||
		    (key->mm && claim->mm == key->mm) ||
		    (key->ictx && claim->ictx == key->ictx))
			return container_of(claim, struct mdev_device, usage);
	return NULL;
}

/* Which key @holder shares with @key, for the log. */
static const char *mdev_usage_shared(const struct mdev_device *holder,
				     const struct mdev_usage_claim *key)
{
	if (key->kvm && holder->usage.kvm == key->kvm)
		return "VM";
	if (key->ictx && holder->usage.ictx == key->ictx)
		return "iommufd";
	return "process";
}

/**
 * mdev_usage_claim() - enforce the single usage restriction on an open
 * @mdev: the instance being opened
 * @vdev: its vfio_device
 *
 * Called by a vendor driver from &vfio_device_ops.open_device, that is on
 * the first open of the device, in the opener's context.  For an instance
 * whose type declares %MDEV_USAGE_SINGLE, refuses the open when the same
 * application (the same KVM instance, iommufd or process, see the top of
 * this file) already has a single-usage instance open, and otherwise
 * records the claim until mdev_usage_release().  For other types it does
 * nothing and succeeds.  The refusal is logged with the holder's name.
 *
 * Return: 0, or -EBUSY when another single-usage instance holds the claim.
 */
int mdev_usage_claim(struct mdev_device *mdev, struct vfio_device *vdev)
{
	struct mdev_usage_claim key = {
		.kvm = vdev->kvm,
		.mm = current->mm,
	};
	struct mdev_device *holder;

	if (mdev->type->usage_restriction != MDEV_USAGE_SINGLE)
		return 0;
	if (WARN_ON_ONCE(!list_empty(&mdev->usage.node)))
		return -EBUSY;
	/* A VM that is going away cannot use the device: no KVM key then. */
	if (key.kvm && !mdev_usage_get_kvm(key.kvm))
		key.kvm = NULL;
	key.ictx = mdev_usage_get_ictx(mdev);

	mutex_lock(&mdev_usage_lock);
	holder = mdev_usage_holder(&key);
	if (holder) {
		/* any user with access to two instances can repeat this */
		dev_info_ratelimited(&mdev->dev,
				     "%s[%d] is refused: its %s already has single-usage instance %s open\n",
				     current->comm, task_pid_nr(current),
				     mdev_usage_shared(holder, &key),
				     dev_name(&holder->dev));
		mutex_unlock(&mdev_usage_lock);
		mdev_usage_put_ictx(key.ictx);
		if (key.kvm)
			mdev_usage_put_kvm(key.kvm);
		return -EBUSY;
	}
	if (key.mm)
		mmgrab(key.mm);
	mdev->usage.kvm = key.kvm;
	mdev->usage.mm = key.mm;
	mdev->usage.ictx = key.ictx;
	list_add(&mdev->usage.node, &mdev_usage_claims);
	mutex_unlock(&mdev_usage_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(mdev_usage_claim);

/**
 * mdev_usage_release() - drop the claim of mdev_usage_claim()
 * @mdev: the instance being closed
 *
 * Called by the vendor driver from &vfio_device_ops.close_device (and from
 * the error path of open_device after a successful claim).  Does nothing
 * when @mdev holds no claim, so it may be called for any instance.
 */
void mdev_usage_release(struct mdev_device *mdev)
{
	struct iommufd_ctx *ictx;
	struct mm_struct *mm;
	struct kvm *kvm;

	mutex_lock(&mdev_usage_lock);
	if (list_empty(&mdev->usage.node)) {
		mutex_unlock(&mdev_usage_lock);
		return;
	}
	list_del_init(&mdev->usage.node);
	kvm = mdev->usage.kvm;
	mm = mdev->usage.mm;
	ictx = mdev->usage.ictx;
	mdev->usage.kvm = NULL;
	mdev->usage.mm = NULL;
	mdev->usage.ictx = NULL;
	mutex_unlock(&mdev_usage_lock);

	/* Outside the lock: the last put of a VM destroys it. */
	mdev_usage_put_ictx(ictx);
	if (mm)
		mmdrop(mm);
	if (kvm)
		mdev_usage_put_kvm(kvm);
}
EXPORT_SYMBOL_GPL(mdev_usage_release);
