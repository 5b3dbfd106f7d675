// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mediated device core: parent registration and the life of an instance,
 * from create to remove, with the UUID index that keeps UUIDs unique.
 */

#include <linux/module.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>
#include <linux/mdev.h>

#include "mdev_private.h"

static struct class_compat *mdev_bus_compat_class;

/*
 * Every instance on every parent, keyed by UUID, from the start of its
 * creation until its device is deleted: lookups are O(1) however many
 * instances exist, and an insert that finds the key fails with -EEXIST, which
 * makes UUIDs unique across parents without a global lock.
 */
static struct rhashtable mdev_uuid_index;

static const struct rhashtable_params mdev_uuid_params = {
	.key_len		= sizeof(guid_t),
	.key_offset		= offsetof(struct mdev_device, uuid),
	.head_offset		= offsetof(struct mdev_device, uuid_node),
	.automatic_shrinking	= true,
};

static bool mdev_uuid_in_use(const guid_t *uuid)
{
	return rhashtable_lookup_fast(&mdev_uuid_index, uuid,
				      mdev_uuid_params);
}

/*
 * Slots are the core's business only for drivers that give a fixed
 * max_instances; drivers with get_available count their own resources.
 * Called under the parent's create_lock, so check and take are one step.
 */
static int mdev_take_slot(struct mdev_type *type)
{
	struct mdev_parent *parent = type->parent;

	lockdep_assert_held(&parent->create_lock);
	if (!mdev_type_available(type))
		return -EUSERS;
	if (!parent->mdev_driver->get_available)
		atomic_dec(&parent->available_instances);
	return 0;
}

static void mdev_give_slot(struct mdev_type *type)
{
	struct mdev_parent *parent = type->parent;

	if (!parent->mdev_driver->get_available)
		atomic_inc(&parent->available_instances);
}

static void mdev_device_release(struct device *dev)
{
	struct mdev_device *mdev = to_mdev_device(dev);

	/* A driver that forgot mdev_usage_release() leaves no dangling claim */
	if (WARN_ON_ONCE(!list_empty(&mdev->usage.node)))
		mdev_usage_release(mdev);
	/* Pairs with the get in mdev_device_alloc() */
	kobject_put(&mdev->type->kobj);
	/*
	 * rhashtable lookups walk the index under RCU alone, so a concurrent
	 * create on another parent may still be reading this entry's key.
	 */
	kfree_rcu(mdev, rcu);
}

static struct mdev_device *mdev_device_alloc(struct mdev_type *type,
					     const guid_t *uuid)
{
	struct mdev_device *mdev;

	mdev = kzalloc(sizeof(*mdev), GFP_KERNEL);
	if (!mdev)
		return NULL;

	device_initialize(&mdev->dev);
	mdev->dev.parent = type->parent->dev;
	mdev->dev.bus = &mdev_bus_type;
	mdev->dev.release = mdev_device_release;
	mdev->dev.groups = mdev_device_groups;
	mdev->type = type;
	mdev->state = MDEV_STATE_CREATING;
	INIT_LIST_HEAD(&mdev->usage.node);
	guid_copy(&mdev->uuid, uuid);
	/* The type outlives its instances; pairs with mdev_device_release() */
	kobject_get(&type->kobj);

	if (dev_set_name(&mdev->dev, "%pUl", uuid)) {
		put_device(&mdev->dev);
		return NULL;
	}
	return mdev;
}

/*
 * Adds the device, links it to its type and binds the vendor driver, with
 * its uevents held back: mdev_device_announce() sends them once the
 * instance is usable.
 */
static int mdev_device_publish(struct mdev_device *mdev)
{
	struct mdev_driver *drv = mdev->type->parent->mdev_driver;
	struct device *dev = &mdev->dev;
	int ret;

	dev_set_uevent_suppress(dev, true);
	ret = device_add(dev);
	if (ret)
		return ret;

	ret = mdev_create_type_links(mdev);
	if (ret)
		goto out_del;

	ret = device_driver_attach(&drv->driver, dev);
	if (ret)
		goto out_unlink;

	return 0;

out_unlink:
	mdev_remove_type_links(mdev);
out_del:
	device_del(dev);
	return ret;
}

/*
 * Makes a published instance ACTIVE and only then sends its ADD and BIND
 * uevents: the ABI says ADD means usable, so a udev rule (or libvirt)
 * reacting to it finds mdev_type, iommu_group and the driver's files, and
 * may remove the instance at once.  A removal claims the instance by its
 * state and then unbinds the driver, which takes the device lock: holding
 * it here keeps that removal's UNBIND and REMOVE after this ADD and BIND,
 * and the instance alive until they are sent.
 */
static void mdev_device_announce(struct mdev_device *mdev)
{
	struct device *dev = &mdev->dev;

	device_lock(dev);
	WRITE_ONCE(mdev->state, MDEV_STATE_ACTIVE);
	dev_set_uevent_suppress(dev, false);
	kobject_uevent(&dev->kobj, KOBJ_ADD);
	kobject_uevent(&dev->kobj, KOBJ_BIND);
	device_unlock(dev);
}

/**
 * mdev_device_create() - create an instance of a type
 * @type: the type, on a registered parent
 * @uuid: the new instance's UUID
 *
 * Return: 0, or -ENODEV when the parent is going away, -EEXIST when @uuid is
 * in use on any parent, -EUSERS when @type has no room left, or the error of
 * the vendor driver's probe.  On error nothing is left behind.
 */
int mdev_device_create(struct mdev_type *type, const guid_t *uuid)
{
	struct mdev_parent *parent = type->parent;
	struct mdev_device *mdev;
	int ret;

	/* A failed trylock means mdev_unregister_parent() has started. */
	if (!down_read_trylock(&parent->unreg_sem))
		return -ENODEV;

	ret = mutex_lock_killable(&parent->create_lock);
	if (ret)
		goto out_unreg;

	/* Report a taken UUID before a full type: it is the caller's bug. */
	if (mdev_uuid_in_use(uuid)) {
		ret = -EEXIST;
		goto out_unlock;
	}

	ret = mdev_take_slot(type);
	if (ret)
		goto out_unlock;

	mdev = mdev_device_alloc(type, uuid);
	if (!mdev) {
		ret = -ENOMEM;
		goto out_give_slot;
	}

	/* Catches a creation of the same UUID on another parent meanwhile. */
	ret = rhashtable_lookup_insert_fast(&mdev_uuid_index, &mdev->uuid_node,
					    mdev_uuid_params);
	if (ret)
		goto out_put;

	ret = mdev_device_publish(mdev);
	if (ret)
		goto out_unindex;

	/* Once ACTIVE, a remove may free it: log while it is still ours. */
	dev_dbg(&mdev->dev, "created\n");
	mdev_device_announce(mdev);
	mutex_unlock(&parent->create_lock);
	up_read(&parent->unreg_sem);
	return 0;

out_unindex:
	rhashtable_remove_fast(&mdev_uuid_index, &mdev->uuid_node,
			       mdev_uuid_params);
out_put:
	put_device(&mdev->dev);
out_give_slot:
	mdev_give_slot(type);
out_unlock:
	mutex_unlock(&parent->create_lock);
out_unreg:
	up_read(&parent->unreg_sem);
	return ret;
}

/*
 * Tears an instance down in the reverse order of its creation.  Unbinding
 * the vendor driver first can block for a long time: VFIO waits there until
 * user space closes the device.  The UUID and the slot are given back before
 * this returns, so a remove that returned can be followed by a create of the
 * same UUID.
 */
static void mdev_device_destroy(struct mdev_device *mdev)
{
	struct mdev_type *type = mdev->type;

	lockdep_assert_held(&type->parent->unreg_sem);

	device_release_driver(&mdev->dev);
	mdev_remove_type_links(mdev);
	device_del(&mdev->dev);
	rhashtable_remove_fast(&mdev_uuid_index, &mdev->uuid_node,
			       mdev_uuid_params);
	mdev_give_slot(type);
	/* Balances device_initialize() in mdev_device_alloc() */
	put_device(&mdev->dev);
}

/**
 * mdev_device_remove() - remove an instance on behalf of user space
 * @mdev: an instance whose removal the caller has claimed by moving it from
 *	%MDEV_STATE_ACTIVE to %MDEV_STATE_REMOVING
 *
 * The caller holds its parent's unreg_sem for reading, taken while the
 * instance was still certain to exist; this function releases it once the
 * instance is gone.
 */
void mdev_device_remove(struct mdev_device *mdev)
{
	struct mdev_parent *parent = mdev->type->parent;

	mdev_device_destroy(mdev);
	up_read(&parent->unreg_sem);
}

static int mdev_destroy_child(struct device *dev, void *parent)
{
	struct mdev_device *mdev;

	if (dev->bus != &mdev_bus_type)
		return 0;

	mdev = to_mdev_device(dev);
	if (mdev->type->parent == parent) {
		WRITE_ONCE(mdev->state, MDEV_STATE_REMOVING);
		mdev_device_destroy(mdev);
	}
	return 0;
}

/* mdevctl's udev rule reacts to these CHANGE uevents on the parent. */
static void mdev_parent_uevent(struct mdev_parent *parent, bool registered)
{
	char state[32];
	char *envp[2] = { state, NULL };

	snprintf(state, sizeof(state), "MDEV_STATE=%s",
		 registered ? "registered" : "unregistered");

	kobject_uevent_env(&parent->dev->kobj, KOBJ_CHANGE, envp);
}

/**
 * mdev_register_parent() - make a device a parent of mediated devices
 * @parent: the parent structure, embedded in the caller's; this function
 *	initializes all of it
 * @dev: the parent device; the caller holds a reference on it until
 *	mdev_unregister_parent() returns
 * @mdev_driver: the driver to bind to instances, already registered with
 *	mdev_register_driver()
 * @types: the types @dev offers; each has sysfs_name set and must stay valid
 *	until mdev_unregister_parent() returns
 * @nr_types: number of entries in @types
 *
 * Creates @dev's mdev_supported_types directory with one directory per type,
 * links @dev from /sys/class/mdev_bus, and sends a CHANGE uevent with
 * MDEV_STATE=registered on @dev.
 *
 * Return: 0, or a negative errno with nothing registered.
 */
int mdev_register_parent(struct mdev_parent *parent, struct device *dev,
			 struct mdev_driver *mdev_driver,
			 struct mdev_type **types, unsigned int nr_types)
{
	int ret;

	if (!dev || !mdev_driver || !mdev_driver->driver.bus || !types ||
	    !nr_types)
		return -EINVAL;

	memset(parent, 0, sizeof(*parent));
	init_rwsem(&parent->unreg_sem);
	mutex_init(&parent->create_lock);
	parent->dev = dev;
	parent->mdev_driver = mdev_driver;
	parent->types = types;
	parent->nr_types = nr_types;
	atomic_set(&parent->available_instances, mdev_driver->max_instances);

	ret = mdev_types_add(parent);
	if (ret)
		goto out_destroy_lock;

	ret = class_compat_create_link(mdev_bus_compat_class, dev, NULL);
	if (ret)
		goto out_remove_types;

	mdev_parent_uevent(parent, true);
	dev_dbg(dev, "mdev parent registered\n");
	return 0;

out_remove_types:
	mdev_types_remove(parent);
out_destroy_lock:
	mutex_destroy(&parent->create_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(mdev_register_parent);

/**
 * mdev_unregister_parent() - remove a parent and all of its instances
 * @parent: a parent registered with mdev_register_parent()
 *
 * Creation and removal through sysfs fail with -ENODEV from the moment this
 * is called.  Every instance of the parent is removed, each blocking until
 * user space has closed it (VFIO asks it to through the driver's request
 * callback), then the type directories go and a CHANGE uevent with
 * MDEV_STATE=unregistered is sent on the parent device.
 */
void mdev_unregister_parent(struct mdev_parent *parent)
{
	down_write(&parent->unreg_sem);
	class_compat_remove_link(mdev_bus_compat_class, parent->dev, NULL);
	device_for_each_child(parent->dev, parent, mdev_destroy_child);
	mdev_types_remove(parent);
	up_write(&parent->unreg_sem);

	mutex_destroy(&parent->create_lock);
	mdev_parent_uevent(parent, false);
	dev_dbg(parent->dev, "mdev parent unregistered\n");
}
EXPORT_SYMBOL_GPL(mdev_unregister_parent);

static int __init mdev_init(void)
{
	int ret;

	ret = rhashtable_init(&mdev_uuid_index, &mdev_uuid_params);
	if (ret)
		return ret;

	ret = bus_register(&mdev_bus_type);
	if (ret)
		goto out_destroy_index;

	mdev_bus_compat_class = class_compat_register("mdev_bus");
	if (!mdev_bus_compat_class) {
		ret = -ENOMEM;
		goto out_unregister_bus;
	}
	return 0;

out_unregister_bus:
	bus_unregister(&mdev_bus_type);
out_destroy_index:
	rhashtable_destroy(&mdev_uuid_index);
	return ret;
}

static void __exit mdev_exit(void)
{
	class_compat_unregister(mdev_bus_compat_class);
	bus_unregister(&mdev_bus_type);
	rhashtable_destroy(&mdev_uuid_index);
}

module_init(mdev_init);
module_exit(mdev_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mediated device core: the mdev bus and its sysfs ABI");
