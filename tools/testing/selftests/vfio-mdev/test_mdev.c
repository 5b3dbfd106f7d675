// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_mdev: a vendor driver for the kselftests of the mdev core.
 *
 * Every behaviour the mdev core depends on (number of parents and types,
 * capacities, shared or per-type accounting, single_usage_restriction,
 * migration versions, probe failures, a VFIO device or none) is chosen by a
 * module parameter, so that the tests reach every path of the core without
 * hardware.  The interface is specified in TEST_MODULE.md next to this file.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/device.h>
#include <linux/err.h>
#include <linux/delay.h>
#include <linux/kernel.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#define TEST_MAX_PARENTS	8
#define TEST_MAX_TYPES		8

static unsigned int nr_parents = 2;
module_param_named(parents, nr_parents, uint, 0444);
MODULE_PARM_DESC(parents, "Number of parent devices (1-8, default 2)");

static unsigned int capacity[TEST_MAX_TYPES] = { 4, 2, 1 };
static unsigned int nr_types = 3;
module_param_array(capacity, uint, &nr_types, 0444);
MODULE_PARM_DESC(capacity,
		 "Instances per parent of each type; one entry per type (1-8 types, default 4,2,1)");

static unsigned int shared_max;
module_param(shared_max, uint, 0444);
MODULE_PARM_DESC(shared_max,
		 "If non-zero, instances per parent shared by all types, counted by the core (default 0)");

static char *usage = "YN-";
module_param(usage, charp, 0444);
MODULE_PARM_DESC(usage,
		 "single_usage_restriction per type: Y, N or - (no file); missing means - (default YN-)");

static unsigned int version_mask = 0x1;
module_param(version_mask, uint, 0444);
MODULE_PARM_DESC(version_mask, "Bit i set: type i has a version file (default 0x1)");

static ushort vendor_id = 0x1b36;
module_param(vendor_id, ushort, 0444);
MODULE_PARM_DESC(vendor_id, "Vendor ID in the version's common part (default 0x1b36)");

static char *vendor_version = "mtest-1";
module_param_named(version, vendor_version, charp, 0444);
MODULE_PARM_DESC(version, "Vendor part of the version string (default mtest-1)");

static char *accepted_versions = "mtest-0";
module_param_named(accept, accepted_versions, charp, 0444);
MODULE_PARM_DESC(accept,
		 "Comma-separated further vendor parts a version write accepts (default mtest-0)");

static char *device_api = VFIO_DEVICE_API_PCI_STRING;
module_param(device_api, charp, 0444);
MODULE_PARM_DESC(device_api, "Device API of the driver (default vfio-pci)");

static bool describe_types = true;
module_param_named(describe, describe_types, bool, 0444);
MODULE_PARM_DESC(describe, "Whether types have a description file (default Y)");

static bool use_vfio = true;
module_param_named(vfio, use_vfio, bool, 0444);
MODULE_PARM_DESC(vfio, "Register a VFIO device per instance; N: empty probe (default Y)");

/* Read locklessly by every probe, so that a test can flip it at any time. */
static int fail_probe;

static int fail_probe_set(const char *val, const struct kernel_param *kp)
{
	int err, value;

	err = kstrtoint(val, 0, &value);
	if (err)
		return err;
	/* A probe must return 0 or a negative errno, nothing else. */
	if (value < 0 || value > MAX_ERRNO)
		return -EINVAL;
	WRITE_ONCE(*(int *)kp->arg, value);
	return 0;
}

static const struct kernel_param_ops fail_probe_ops = {
	.set = fail_probe_set,
	.get = param_get_int,
};

module_param_cb(fail_probe, &fail_probe_ops, &fail_probe, 0644);
MODULE_PARM_DESC(fail_probe,
		 "If non-zero, every probe fails with -fail_probe (0-4095, runtime writable, default 0)");

/*
 * How long every probe sleeps before it does anything, so that a test can
 * act on an instance that is certainly still being created.  Capped: a
 * creation must never look hung.
 */
#define TEST_PROBE_DELAY_MAX_MS	10000

static unsigned int probe_delay_ms;

static int probe_delay_set(const char *val, const struct kernel_param *kp)
{
	unsigned int value;
	int err;

	err = kstrtouint(val, 0, &value);
	if (err)
		return err;
	if (value > TEST_PROBE_DELAY_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, value);
	return 0;
}

static const struct kernel_param_ops probe_delay_ops = {
	.set = probe_delay_set,
	.get = param_get_uint,
};

module_param_cb(probe_delay_ms, &probe_delay_ops, &probe_delay_ms, 0644);
MODULE_PARM_DESC(probe_delay_ms,
		 "Every probe first sleeps this long (0-10000 ms, runtime writable, default 0)");

/**
 * struct test_type - one type of one parent
 * @mtype: what the core sees; its parent points into the &struct test_parent
 * @index: position in the parent's type array, which selects the parameters
 * @live: instances of this type that exist now; protected by the parent's
 *	&test_parent.live_lock
 * @requests: how many times VFIO asked for an instance of this type back
 *
 * @requests is counted per type, not per instance: VFIO only asks while the
 * instance is being removed, when the driver core has already removed the
 * instance's dev_groups files.
 */
struct test_type {
	struct mdev_type mtype;
	unsigned int index;
	unsigned int live;
	atomic_t requests;
};

/**
 * struct test_parent - one parent device and its types
 * @dev: the class device mdev_testK
 * @mdev_parent: registration with the core
 * @registered: 1 while @mdev_parent is registered; the test_unregister file
 *	and the module's exit both unregister it, and only the first may
 * @live_lock: protects &test_type.live of every type in @types: the core
 *	serializes get_available and probe, but remove runs at any time
 * @types: this parent's types; only the first nr_types are used
 * @type_ptrs: the array handed to mdev_register_parent()
 */
struct test_parent {
	struct device dev;
	struct mdev_parent mdev_parent;
	atomic_t registered;
	struct mutex live_lock;	/* protects types[].live */
	struct test_type types[TEST_MAX_TYPES];
	struct mdev_type *type_ptrs[TEST_MAX_TYPES];
};

/**
 * struct test_instance - the VFIO side of one instance (only with vfio=Y)
 * @vdev: the VFIO device; first, as vfio_alloc_device() requires
 * @open_count: 1 while user space has the device open, else 0
 */
struct test_instance {
	struct vfio_device vdev;
	atomic_t open_count;
};

static struct class test_class = {
	.name = "mdev_test",
};

static struct test_parent *test_parents[TEST_MAX_PARENTS];

static struct test_type *to_test_type(struct mdev_type *mtype)
{
	return container_of(mtype, struct test_type, mtype);
}

static struct test_parent *parent_of(struct test_type *type)
{
	return container_of(type->mtype.parent, struct test_parent, mdev_parent);
}

static struct test_instance *to_test_instance(struct vfio_device *vdev)
{
	return container_of(vdev, struct test_instance, vdev);
}

/*
 * The usage parameter's character for each restriction, which is also what
 * the description shows.  NUL-terminated for strchr() and strspn().
 */
static const char usage_chars[] = {
	[MDEV_USAGE_UNDECLARED] = '-',
	[MDEV_USAGE_SHARED] = 'N',
	[MDEV_USAGE_SINGLE] = 'Y',
	'\0',
};

static enum mdev_usage_restriction usage_of(unsigned int index)
{
	if (index >= strlen(usage))
		return MDEV_USAGE_UNDECLARED;
	/* usage_valid() has refused characters not in the table. */
	return strchr(usage_chars, usage[index]) - usage_chars;
}

/* What test_capacity and the description show for a type. */
static unsigned int configured_capacity(struct test_type *type)
{
	return shared_max ? shared_max : capacity[type->index];
}

static bool type_has_version(struct test_type *type)
{
	return version_mask & BIT(type->index);
}

/**
 * is_vendor_part() - whether a string may be the vendor part of a version
 * @s: the string; need not be NUL-terminated
 * @len: its length
 *
 * Return: true for 1 to %MDEV_VERSION_VENDOR_MAX characters of 0x21 to 0x7e.
 */
static bool __init is_vendor_part(const char *s, size_t len)
{
	size_t i;

	if (len < 1 || len > MDEV_VERSION_VENDOR_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

/**
 * accept_list_has() - whether a vendor part is in the accept parameter
 * @vendor: the NUL-terminated vendor part to look for
 *
 * The list is split on every call rather than once at load time: it is short
 * and only version writes, never a hot path, read it.
 *
 * Return: true if @vendor equals one of the comma-separated entries.
 */
static bool accept_list_has(const char *vendor)
{
	size_t vendor_len = strlen(vendor);
	const char *entry = accepted_versions;

	while (*entry) {
		size_t len = strcspn(entry, ",");

		if (len == vendor_len && !strncmp(entry, vendor, len))
			return true;
		entry += len;
		if (*entry == ',')
			entry++;
	}
	return false;
}

static unsigned int test_get_available(struct mdev_type *mtype)
{
	struct test_type *type = to_test_type(mtype);
	struct test_parent *parent = parent_of(type);
	unsigned int avail;

	mutex_lock(&parent->live_lock);
	avail = capacity[type->index] > type->live ?
		capacity[type->index] - type->live : 0;
	mutex_unlock(&parent->live_lock);
	return avail;
}

static ssize_t test_show_description(struct mdev_type *mtype, char *buf)
{
	struct test_type *type = to_test_type(mtype);

	return sysfs_emit(buf, "capacity=%u usage=%c\n",
			  configured_capacity(type),
			  usage_chars[type->mtype.usage_restriction]);
}

/**
 * test_get_version() - the migration version of a type
 * @mtype: the type
 * @version: filled with the vendor_id and version parameters
 *
 * The core creates the version file when get_version is set at all; types
 * whose bit in version_mask is clear answer -EOPNOTSUPP so that the core
 * leaves the file out for them.
 *
 * Return: 0, or -EOPNOTSUPP for a type without a version.
 */
static int test_get_version(struct mdev_type *mtype,
			    struct mdev_version *version)
{
	if (!type_has_version(to_test_type(mtype)))
		return -EOPNOTSUPP;
	version->vendor_id = vendor_id;
	strscpy(version->vendor, vendor_version, sizeof(version->vendor));
	return 0;
}

static bool test_version_compatible(struct mdev_type *mtype,
				    const struct mdev_version *src)
{
	return !strcmp(src->vendor, vendor_version) ||
	       accept_list_has(src->vendor);
}

static void account_instance(struct test_type *type, int delta)
{
	struct test_parent *parent = parent_of(type);

	mutex_lock(&parent->live_lock);
	type->live += delta;
	/* With get_available the core must never go past the capacity. */
	if (!shared_max && type->live > capacity[type->index])
		dev_warn(&parent->dev, "type %s: %u instances, capacity %u\n",
			 type->mtype.sysfs_name, type->live,
			 capacity[type->index]);
	mutex_unlock(&parent->live_lock);
}

/* Honours what the usage parameter made the type declare. */
static int test_vfio_open_device(struct vfio_device *vdev)
{
	int ret = mdev_usage_claim(to_mdev_device(vdev->dev), vdev);

	if (!ret)
		atomic_inc(&to_test_instance(vdev)->open_count);
	return ret;
}

static void test_vfio_close_device(struct vfio_device *vdev)
{
	atomic_dec(&to_test_instance(vdev)->open_count);
	mdev_usage_release(to_mdev_device(vdev->dev));
}

/**
 * test_vfio_get_info() - answer VFIO_DEVICE_GET_INFO
 * @arg: the user's struct vfio_device_info
 *
 * Return: 0, -EFAULT for a bad pointer, -EINVAL when argsz is too small.
 */
static long test_vfio_get_info(void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;
	info.flags = VFIO_DEVICE_FLAGS_PCI;
	info.num_regions = 0;
	info.num_irqs = 0;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static long test_vfio_ioctl(struct vfio_device *vdev, unsigned int cmd,
			    unsigned long arg)
{
	if (cmd == VFIO_DEVICE_GET_INFO)
		return test_vfio_get_info((void __user *)arg);
	return -ENOTTY;
}

/*
 * Called by vfio_unregister_group_dev() while the device is open: at once,
 * then every 10 s.  A real driver would ask user space to let go; the tests
 * only watch the count.
 */
static void test_vfio_request(struct vfio_device *vdev, unsigned int count)
{
	struct mdev_device *mdev = to_mdev_device(vdev->dev);

	atomic_inc(&to_test_type(mdev->type)->requests);
}

static void test_vfio_release(struct vfio_device *vdev)
{
	mdev_vfio_free_device(vdev);
}

/*
 * No read, write or mmap: for a device without them the VFIO core answers
 * -EINVAL, which is what the tests expect.
 */
static const struct vfio_device_ops test_vfio_ops = {
	.name = "vfio-test-mdev",
	.release = test_vfio_release,
	.open_device = test_vfio_open_device,
	.close_device = test_vfio_close_device,
	.ioctl = test_vfio_ioctl,
	.request = test_vfio_request,
	MDEV_VFIO_EMULATED_IOMMUFD_OPS
};

/**
 * test_vfio_add() - give an instance its VFIO device
 * @mdev: the instance being probed
 *
 * Return: 0 with the device registered and in @mdev's drvdata, or a
 * negative errno with nothing left behind.
 */
static int test_vfio_add(struct mdev_device *mdev)
{
	struct test_instance *inst;
	int ret;

	inst = vfio_alloc_device(test_instance, vdev, mdev_dev(mdev),
				 &test_vfio_ops);
	if (IS_ERR(inst))
		return PTR_ERR(inst);
	atomic_set(&inst->open_count, 0);

	ret = vfio_register_emulated_iommu_dev(&inst->vdev);
	if (ret) {
		vfio_put_device(&inst->vdev);
		return ret;
	}
	/* In 6.1 the mdev device's drvdata is the only way back to vdev. */
	dev_set_drvdata(mdev_dev(mdev), inst);
	return 0;
}

/* Blocks, calling test_vfio_request(), while user space has it open. */
static void test_vfio_del(struct mdev_device *mdev)
{
	struct test_instance *inst = dev_get_drvdata(mdev_dev(mdev));

	vfio_unregister_group_dev(&inst->vdev);
	vfio_put_device(&inst->vdev);
}

static int test_probe(struct mdev_device *mdev)
{
	unsigned int delay = READ_ONCE(probe_delay_ms);
	int fail = READ_ONCE(fail_probe);
	int ret;

	if (delay)
		msleep(delay);
	if (fail)
		return -fail;
	if (use_vfio) {
		ret = test_vfio_add(mdev);
		if (ret)
			return ret;
	}
	account_instance(to_test_type(mdev->type), 1);
	return 0;
}

static void test_remove(struct mdev_device *mdev)
{
	if (use_vfio)
		test_vfio_del(mdev);
	/* Only now is the slot free: the VFIO device may have held it. */
	account_instance(to_test_type(mdev->type), -1);
}

static ssize_t test_capacity_show(struct mdev_type *mtype,
				  struct mdev_type_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", configured_capacity(to_test_type(mtype)));
}

static MDEV_TYPE_ATTR_RO(test_capacity);

static ssize_t test_requests_show(struct mdev_type *mtype,
				  struct mdev_type_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n",
			  atomic_read(&to_test_type(mtype)->requests));
}

static MDEV_TYPE_ATTR_RO(test_requests);

static struct attribute *test_type_attrs[] = {
	&mdev_type_attr_test_capacity.attr,
	&mdev_type_attr_test_requests.attr,
	NULL,
};

static const struct attribute_group test_type_group = {
	.attrs = test_type_attrs,
};

static const struct attribute_group *test_type_groups[] = {
	&test_type_group,
	NULL,
};

static ssize_t test_open_count_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	struct test_instance *inst = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%d\n", atomic_read(&inst->open_count));
}

static DEVICE_ATTR_RO(test_open_count);

static struct attribute *test_instance_attrs[] = {
	&dev_attr_test_open_count.attr,
	NULL,
};

/* The file describes the VFIO device, which vfio=N instances do not have. */
static umode_t test_instance_attr_visible(struct kobject *kobj,
					  struct attribute *attr, int n)
{
	return use_vfio ? attr->mode : 0;
}

static const struct attribute_group test_instance_group = {
	.attrs = test_instance_attrs,
	.is_visible = test_instance_attr_visible,
};

static const struct attribute_group *test_instance_groups[] = {
	&test_instance_group,
	NULL,
};

/* The optional callbacks and the capacity mode are set by test_init(). */
static struct mdev_driver test_mdev_driver = {
	.probe = test_probe,
	.remove = test_remove,
	.version_compatible = test_version_compatible,
	.type_groups = test_type_groups,
	.driver = {
		.name = "test_mdev",
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = test_instance_groups,
	},
};

/*
 * Unregisters the parent from the core while its device stays, as a
 * hot-unplug would, so that a test can start an unregistration while it
 * holds an instance open (which pins the module, so unloading cannot).
 */
static ssize_t test_unregister_store(struct device *dev,
				     struct device_attribute *attr,
				     const char *buf, size_t count)
{
	struct test_parent *parent = container_of(dev, struct test_parent, dev);
	bool val;

	if (kstrtobool(buf, &val))
		return -EINVAL;
	if (!val)
		return count;
	if (!atomic_xchg(&parent->registered, 0))
		return -ENODEV;
	mdev_unregister_parent(&parent->mdev_parent);
	return count;
}

static DEVICE_ATTR_WO(test_unregister);

static struct attribute *test_parent_attrs[] = {
	&dev_attr_test_unregister.attr,
	NULL,
};

ATTRIBUTE_GROUPS(test_parent);

/* The type names and the parent itself go with the last reference. */
static void test_parent_release(struct device *dev)
{
	struct test_parent *parent = container_of(dev, struct test_parent, dev);
	unsigned int i;

	for (i = 0; i < TEST_MAX_TYPES; i++) {
		kfree(parent->types[i].mtype.sysfs_name);
		kfree(parent->types[i].mtype.pretty_name);
	}
	mutex_destroy(&parent->live_lock);
	kfree(parent);
}

static int test_types_init(struct test_parent *parent)
{
	unsigned int i;

	for (i = 0; i < nr_types; i++) {
		struct test_type *type = &parent->types[i];

		type->index = i;
		atomic_set(&type->requests, 0);
		type->mtype.usage_restriction = usage_of(i);
		type->mtype.sysfs_name = kasprintf(GFP_KERNEL, "t%u", i);
		type->mtype.pretty_name = kasprintf(GFP_KERNEL, "Test type %u",
						    i);
		if (!type->mtype.sysfs_name || !type->mtype.pretty_name)
			return -ENOMEM;
		parent->type_ptrs[i] = &type->mtype;
	}
	return 0;
}

/**
 * test_parent_create() - add parent device mdev_test<@index> and its types
 * @index: the parent's number
 *
 * Return: the registered parent, or an ERR_PTR() with nothing left behind.
 */
static struct test_parent *test_parent_create(unsigned int index)
{
	struct test_parent *parent;
	int ret;

	parent = kzalloc(sizeof(*parent), GFP_KERNEL);
	if (!parent)
		return ERR_PTR(-ENOMEM);
	mutex_init(&parent->live_lock);
	device_initialize(&parent->dev);
	/* From here on, put_device() frees everything. */
	parent->dev.class = &test_class;
	parent->dev.release = test_parent_release;
	parent->dev.groups = test_parent_groups;

	ret = dev_set_name(&parent->dev, "mdev_test%u", index);
	if (ret)
		goto err_put_device;
	ret = test_types_init(parent);
	if (ret)
		goto err_put_device;
	ret = device_add(&parent->dev);
	if (ret)
		goto err_put_device;
	ret = mdev_register_parent(&parent->mdev_parent, &parent->dev,
				   &test_mdev_driver, parent->type_ptrs,
				   nr_types);
	if (ret)
		goto err_del_device;
	atomic_set(&parent->registered, 1);
	return parent;

err_del_device:
	device_del(&parent->dev);
err_put_device:
	put_device(&parent->dev);
	return ERR_PTR(ret);
}

/* Removes the parent's live instances too, through the core. */
static void test_parent_destroy(struct test_parent *parent)
{
	if (atomic_xchg(&parent->registered, 0))
		mdev_unregister_parent(&parent->mdev_parent);
	device_unregister(&parent->dev);
}

static void test_parents_destroy(unsigned int count)
{
	while (count--) {
		test_parent_destroy(test_parents[count]);
		test_parents[count] = NULL;
	}
}

static bool __init parents_valid(void)
{
	return nr_parents >= 1 && nr_parents <= TEST_MAX_PARENTS;
}

static bool __init capacity_valid(void)
{
	return nr_types >= 1 && nr_types <= TEST_MAX_TYPES;
}

static bool __init usage_valid(void)
{
	return strspn(usage, usage_chars) == strlen(usage);
}

static bool __init version_valid(void)
{
	return is_vendor_part(vendor_version, strlen(vendor_version));
}

static bool __init accept_valid(void)
{
	const char *entry = accepted_versions;

	if (!*entry)
		return true;
	for (;;) {
		size_t len = strcspn(entry, ",");

		if (!is_vendor_part(entry, len))
			return false;
		entry += len;
		if (!*entry)
			return true;
		entry++;	/* past the comma; an entry must follow */
	}
}

/* A load-time parameter, the test of its value and, for the log, the rule. */
struct param_check {
	const char *param;
	bool (*valid)(void);
	const char *rule;
};

static const struct param_check param_checks[] __initconst = {
	{ "parents", parents_valid, "1 to 8" },
	{ "capacity", capacity_valid, "1 to 8 entries" },
	{ "usage", usage_valid, "characters Y, N and - only" },
	{ "version", version_valid, "1 to 119 characters from 0x21 to 0x7e" },
	{ "accept", accept_valid,
	  "empty or a comma-separated list of valid versions" },
};

/**
 * params_valid() - check the load-time parameters
 *
 * Characters of usage and bits of version_mask beyond the last type are
 * ignored, so that capacity alone can change the number of types.
 *
 * Return: true if all are usable; otherwise logs which one is not.
 */
static bool __init params_valid(void)
{
	bool ok = true;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(param_checks); i++) {
		if (!param_checks[i].valid()) {
			pr_err("invalid parameter %s: must be %s\n",
			       param_checks[i].param, param_checks[i].rule);
			ok = false;
		}
	}
	return ok;
}

/* Sets the parts of the driver that depend on the parameters. */
static void __init test_driver_configure(void)
{
	unsigned int all_types = BIT(nr_types) - 1;

	test_mdev_driver.device_api = device_api;
	test_mdev_driver.max_instances = shared_max;
	test_mdev_driver.get_available = shared_max ? NULL : test_get_available;
	test_mdev_driver.show_description =
		describe_types ? test_show_description : NULL;
	test_mdev_driver.get_version =
		(version_mask & all_types) ? test_get_version : NULL;
}

static int __init test_init(void)
{
	unsigned int i;
	int ret;

	if (!params_valid())
		return -EINVAL;
	test_driver_configure();

	ret = class_register(&test_class);
	if (ret)
		return ret;
	ret = mdev_register_driver(&test_mdev_driver);
	if (ret) {
		pr_err("cannot register the mdev driver: %d\n", ret);
		goto err_unregister_class;
	}
	for (i = 0; i < nr_parents; i++) {
		test_parents[i] = test_parent_create(i);
		if (IS_ERR(test_parents[i])) {
			ret = PTR_ERR(test_parents[i]);
			test_parents[i] = NULL;
			pr_err("cannot create parent %u: %d\n", i, ret);
			goto err_destroy_parents;
		}
	}
	return 0;

err_destroy_parents:
	test_parents_destroy(i);
	mdev_unregister_driver(&test_mdev_driver);
err_unregister_class:
	class_unregister(&test_class);
	return ret;
}

static void __exit test_exit(void)
{
	test_parents_destroy(nr_parents);
	mdev_unregister_driver(&test_mdev_driver);
	class_unregister(&test_class);
}

module_init(test_init);
module_exit(test_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test vendor driver for the mdev core's kselftests");
