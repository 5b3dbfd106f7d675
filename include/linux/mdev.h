/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mediated device core: the interface between the mdev core and vendor
 * drivers.
 *
 * A vendor driver registers a parent device with mdev_register_parent(),
 * listing the types of mediated devices it can create.  User space creates an
 * instance by writing a UUID to a type's "create" file; the core then adds an
 * mdev_device on the mdev bus and binds the vendor's mdev_driver to it.  See
 * Documentation/driver-api/vfio-mediated-device.rst.
 */

#ifndef MDEV_H
#define MDEV_H

#include <linux/device.h>
#include <linux/mdev_compat.h>
#include <linux/mutex.h>
#include <linux/rhashtable-types.h>
#include <linux/rwsem.h>
#include <linux/uuid.h>

struct iommufd_ctx;
struct kvm;
struct mdev_type;
struct mm_struct;
struct vfio_device;

/**
 * struct mdev_usage_claim - who holds an open single-usage instance
 * @node: entry in the core's list of claims; empty while there is none
 * @kvm: the KVM instance the device was opened with (a reference is held),
 *	or NULL
 * @mm: the address space of the process that opened it (mmgrab()ed, so
 *	that no later process can have the same one), or NULL
 * @ictx: the iommufd context it was opened through (a reference is held),
 *	or NULL
 * @bound: the iommufd context the device is bound to, from its
 *	bind_iommufd to its unbind_iommufd (the device file holds a
 *	reference meanwhile), or NULL
 *
 * Core internal, see mdev_usage_claim().
 */
struct mdev_usage_claim {
	struct list_head node;
	struct kvm *kvm;
	struct mm_struct *mm;
	struct iommufd_ctx *ictx;
	struct iommufd_ctx *bound;
};

/**
 * struct mdev_device - one mediated device instance
 * @dev: the device on the mdev bus; its parent is the parent device
 * @uuid: the instance's UUID, which is also its device name
 * @type: the type the instance was created from
 * @uuid_node: core internal: entry in the core's UUID index
 * @state: core internal: creating, active or being removed; changes only
 *	with cmpxchg() so that exactly one remover wins
 * @rcu: core internal: defers the free past lockless readers of the UUID
 *	index, which may still compare @uuid after the instance left it
 * @usage: core internal: the single-usage claim while the device is open
 *
 * Vendor drivers get one in their &mdev_driver.probe and may use @dev and
 * @type; everything else belongs to the core.
 */
struct mdev_device {
	struct device dev;
	guid_t uuid;
	struct mdev_type *type;
	struct rhash_head uuid_node;
	int state;
	struct rcu_head rcu;
	struct mdev_usage_claim usage;
};

/**
 * enum mdev_usage_restriction - what single_usage_restriction reports
 * @MDEV_USAGE_UNDECLARED: the driver says nothing; the file is absent
 * @MDEV_USAGE_SHARED: "N": one user-space application (VM) may be assigned
 *	several instances of this type
 * @MDEV_USAGE_SINGLE: "Y": an application (a VM) may have only one
 *	instance open at a time among all "Y" types, of any parent; the
 *	vendor driver enforces it with mdev_usage_claim() when the device is
 *	opened
 */
enum mdev_usage_restriction {
	MDEV_USAGE_UNDECLARED = 0,
	MDEV_USAGE_SHARED,
	MDEV_USAGE_SINGLE,
};

/**
 * struct mdev_type - a kind of mediated device that a parent can create
 * @sysfs_name: set by the driver: the type's directory is named
 *	"<driver name>-<sysfs_name>"
 * @pretty_name: set by the driver (optional): shown by the "name" file;
 *	@sysfs_name when NULL
 * @usage_restriction: set by the driver: what single_usage_restriction says
 * @parent: set by the core: the parent this type belongs to
 * @kobj: core internal: the type's sysfs directory
 * @devices_kobj: core internal: the "devices" directory under @kobj
 *
 * A driver embeds one per type and per parent in its own structures and
 * passes an array of pointers to them to mdev_register_parent().  The memory
 * must stay valid until mdev_unregister_parent() returns.
 */
struct mdev_type {
	const char *sysfs_name;
	const char *pretty_name;
	enum mdev_usage_restriction usage_restriction;
	struct mdev_parent *parent;
	struct kobject kobj;
	struct kobject *devices_kobj;
};

/**
 * struct mdev_parent - a device that mediated devices hang off
 * @dev: the parent device
 * @mdev_driver: the driver bound to every instance created on @dev
 * @mdev_types_kset: core internal: the mdev_supported_types directory
 * @unreg_sem: core internal: taken for write by mdev_unregister_parent(), for
 *	read while an instance is being created or removed, so that neither runs
 *	once unregistration has started
 * @create_lock: core internal: serializes instance creation on this parent so
 *	that the availability check and the driver's probe are one step, which
 *	keeps the accounting exact when creators race for the last slots
 * @types: the array of types passed to mdev_register_parent()
 * @nr_types: number of entries in @types
 * @available_instances: core internal: free slots when the driver uses
 *	&mdev_driver.max_instances instead of &mdev_driver.get_available
 *
 * Embedded by the vendor driver in its per-parent structure; filled in by
 * mdev_register_parent().
 */
struct mdev_parent {
	struct device *dev;
	struct mdev_driver *mdev_driver;
	struct kset *mdev_types_kset;
	struct rw_semaphore unreg_sem;	/* see @unreg_sem above */
	struct mutex create_lock;	/* see @create_lock above */
	struct mdev_type **types;
	unsigned int nr_types;
	atomic_t available_instances;
};

/* Longest vendor part of a version string, without the terminating NUL. */
#define MDEV_VERSION_VENDOR_MAX	119
/* Longest version string: 8 hex digits, '-', the vendor part. */
#define MDEV_VERSION_MAX	(8 + 1 + MDEV_VERSION_VENDOR_MAX)

/**
 * struct mdev_version - a type's live-migration compatibility version
 * @vendor_id: the PCI vendor ID (0 for non-PCI device APIs); the core puts it
 *	in the low 16 bits of the common part, under the VFIO device-API flag
 * @vendor: the vendor part: 1 to %MDEV_VERSION_VENDOR_MAX printable ASCII
 *	characters (0x21 to 0x7e), NUL-terminated; its meaning is the vendor
 *	driver's
 *
 * The sysfs "version" file shows "%08x-%s": (device-API flag << 16 |
 * @vendor_id), then @vendor.
 */
struct mdev_version {
	u16 vendor_id;
	char vendor[MDEV_VERSION_VENDOR_MAX + 1];
};

/**
 * struct mdev_type_attribute - a vendor-defined file in a type directory
 * @attr: the sysfs attribute
 * @show: reads the file; may be NULL for write-only files
 * @store: writes the file; may be NULL for read-only files
 */
struct mdev_type_attribute {
	struct attribute attr;
	ssize_t (*show)(struct mdev_type *mtype,
			struct mdev_type_attribute *attr, char *buf);
	ssize_t (*store)(struct mdev_type *mtype,
			 struct mdev_type_attribute *attr, const char *buf,
			 size_t count);
};

#define MDEV_TYPE_ATTR_RO(_name) \
	struct mdev_type_attribute mdev_type_attr_##_name = __ATTR_RO(_name)
#define MDEV_TYPE_ATTR_WO(_name) \
	struct mdev_type_attribute mdev_type_attr_##_name = __ATTR_WO(_name)
#define MDEV_TYPE_ATTR_RW(_name) \
	struct mdev_type_attribute mdev_type_attr_##_name = __ATTR_RW(_name)

/**
 * struct mdev_driver - a vendor driver for mediated devices
 * @device_api: string shown by each type's "device_api" file: one of
 *	"vfio-pci", "vfio-platform", "vfio-amba", "vfio-ccw", "vfio-ap"
 *	(the VFIO_DEVICE_API_*_STRING values); required
 * @max_instances: when @get_available is NULL: how many instances the parent
 *	holds in total, over all its types
 * @probe: called when an instance is created; sets the instance up (usually
 *	registering a vfio_device).  A non-zero return fails the creation.
 * @remove: called when an instance is removed; undoes @probe.  Unregistering
 *	a vfio_device here waits for user space to close it.
 * @get_available: (optional) how many more instances of @mtype can be
 *	created now.  Called under the parent's creation lock, so a value it
 *	returns stays true until the next @probe on that parent.
 * @show_description: (optional) fills the "description" file of @mtype
 * @get_version: (optional) gives @mtype's migration version.  Returns 0, or
 *	-EOPNOTSUPP for a type that cannot migrate, or another negative errno.
 *	A type has a "version" file when this is set and does not return
 *	-EOPNOTSUPP for it at registration.
 * @version_compatible: (optional) whether an instance of @mtype can accept
 *	migration from a device whose version is @src.  The core calls it only
 *	with a well-formed @src whose common part matches @mtype's.  When NULL,
 *	the vendor parts must be equal.
 * @type_groups: (optional) extra attribute groups of &struct
 *	mdev_type_attribute added to every type directory
 * @driver: the device driver; its dev_groups become files in each instance's
 *	directory
 */
struct mdev_driver {
	const char *device_api;
	unsigned int max_instances;
	int (*probe)(struct mdev_device *mdev);
	void (*remove)(struct mdev_device *mdev);
	unsigned int (*get_available)(struct mdev_type *mtype);
	ssize_t (*show_description)(struct mdev_type *mtype, char *buf);
	int (*get_version)(struct mdev_type *mtype,
			   struct mdev_version *version);
	bool (*version_compatible)(struct mdev_type *mtype,
				   const struct mdev_version *src);
	const struct attribute_group **type_groups;
	struct device_driver driver;
};

/**
 * to_mdev_device() - the mdev_device that embeds a struct device
 * @dev: a device on the mdev bus
 *
 * Return: the containing &struct mdev_device.
 */
static inline struct mdev_device *to_mdev_device(struct device *dev)
{
	return container_of(dev, struct mdev_device, dev);
}

/**
 * mdev_dev() - the struct device of a mediated device
 * @mdev: the mediated device
 *
 * Return: &mdev->dev, for dev_*() logging and for vfio_alloc_device().
 */
static inline struct device *mdev_dev(struct mdev_device *mdev)
{
	return &mdev->dev;
}

int mdev_register_parent(struct mdev_parent *parent, struct device *dev,
			 struct mdev_driver *mdev_driver,
			 struct mdev_type **types, unsigned int nr_types);
void mdev_unregister_parent(struct mdev_parent *parent);

int mdev_register_driver(struct mdev_driver *drv);
void mdev_unregister_driver(struct mdev_driver *drv);

int mdev_usage_claim(struct mdev_device *mdev, struct vfio_device *vdev);
void mdev_usage_release(struct mdev_device *mdev);
#ifdef MDEV_USAGE_IOMMUFD
int mdev_iommufd_emulated_bind(struct vfio_device *vdev,
			       struct iommufd_ctx *ictx, u32 *out_device_id);
void mdev_iommufd_emulated_unbind(struct vfio_device *vdev);
#endif

#endif /* MDEV_H */
