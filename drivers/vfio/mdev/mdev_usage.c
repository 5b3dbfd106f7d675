// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mediated device core: the single usage restriction.  An instance of a
 * type whose single_usage_restriction is "Y" opens only for an application
 * that has no other such instance open, of any type and any parent.  This
 * file decides who the application is and keeps the claims.
 *
 * An application is recognised by two keys, each compared by address:
 *
 *  - the KVM instance the device is opened with (vfio_device->kvm), that
 *    is the VM: VFIO sets it when the group was added to the VM's KVM VFIO
 *    device before the open, as QEMU with KVM always does;
 *  - the address space (mm) of the process that opens the device.
 *
 * Two claims conflict when they share either key.  So a VM is one
 * application however many processes serve it (a forked helper, a second
 * process handed the KVM fd), and a process is one application however
 * many VMs it runs.  The claim is made at the device's first open and is
 * held by the open device until its last close, wherever its file
 * descriptor is passed meanwhile; a reference on each key keeps its
 * address from being reused by a later VM or process while it is held.
 *
 * A driver cannot see the VFIO container a group is attached to (VFIO
 * exports no accessor for it), so a second process that shares only a
 * container with the first, and no KVM instance, counts as another
 * application.
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

/* The open single-usage instance that shares a key with the caller, or NULL. */
static struct mdev_device *mdev_usage_holder(struct kvm *kvm,
					     struct mm_struct *mm)
{
	struct mdev_usage_claim *claim;

	lockdep_assert_held(&mdev_usage_lock);
	list_for_each_entry(claim, &mdev_usage_claims, node)
		if ((kvm && claim->kvm == kvm) || (mm && claim->mm == mm))
			return container_of(claim, struct mdev_device, usage);
	return NULL;
}

/**
 * mdev_usage_claim() - enforce the single usage restriction on an open
 * @mdev: the instance being opened
 * @vdev: its vfio_device
 *
 * Called by a vendor driver from &vfio_device_ops.open_device, that is on
 * the first open of the device, in the opener's context.  For an instance
 * whose type declares %MDEV_USAGE_SINGLE, refuses the open when the same
 * application (the same KVM instance or the same process, see the top of
 * this file) already has a single-usage instance open, and otherwise
 * records the claim until mdev_usage_release().  For other types it does
 * nothing and succeeds.  The refusal is logged with the holder's name.
 *
 * Return: 0, or -EBUSY when another single-usage instance holds the claim.
 */
int mdev_usage_claim(struct mdev_device *mdev, struct vfio_device *vdev)
{
	struct mm_struct *mm = current->mm;
	struct kvm *kvm = vdev->kvm;
	struct mdev_device *holder;

	if (mdev->type->usage_restriction != MDEV_USAGE_SINGLE)
		return 0;
	if (WARN_ON_ONCE(!list_empty(&mdev->usage.node)))
		return -EBUSY;
	/* A VM that is going away cannot use the device: no KVM key then. */
	if (kvm && !mdev_usage_get_kvm(kvm))
		kvm = NULL;

	mutex_lock(&mdev_usage_lock);
	holder = mdev_usage_holder(kvm, mm);
	if (holder) {
		dev_info(&mdev->dev,
			 "%s[%d] is refused: its %s already has single-usage instance %s open\n",
			 current->comm, task_pid_nr(current),
			 kvm && holder->usage.kvm == kvm ? "VM" : "process",
			 dev_name(&holder->dev));
		mutex_unlock(&mdev_usage_lock);
		if (kvm)
			mdev_usage_put_kvm(kvm);
		return -EBUSY;
	}
	if (mm)
		mmgrab(mm);
	mdev->usage.kvm = kvm;
	mdev->usage.mm = mm;
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
	mdev->usage.kvm = NULL;
	mdev->usage.mm = NULL;
	mutex_unlock(&mdev_usage_lock);

	/* Outside the lock: the last put of a VM destroys it. */
	if (mm)
		mmdrop(mm);
	if (kvm)
		mdev_usage_put_kvm(kvm);
}
EXPORT_SYMBOL_GPL(mdev_usage_release);
