// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mediated device core: the sysfs interface.  Type directories under
 * <parent>/mdev_supported_types, their files (create, name,
 * available_instances, device_api, description, single_usage_restriction,
 * version, devices/), and the files of each instance (mdev_type, remove).
 * Documentation/ABI/testing/sysfs-bus-vfio-mdev is the contract.
 */

#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/mdev.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "mdev_private.h"

/* Length of the common part of a version string: 8 hex digits. */
#define MDEV_VERSION_COMMON_LEN	8

static ssize_t mdev_type_attr_show(struct kobject *kobj,
				   struct attribute *attr, char *buf)
{
	struct mdev_type_attribute *type_attr = to_mdev_type_attr(attr);

	if (!type_attr->show)
		return -EIO;
	return type_attr->show(to_mdev_type(kobj), type_attr, buf);
}

static ssize_t mdev_type_attr_store(struct kobject *kobj,
				    struct attribute *attr, const char *buf,
				    size_t count)
{
	struct mdev_type_attribute *type_attr = to_mdev_type_attr(attr);

	if (!type_attr->store)
		return -EIO;
	return type_attr->store(to_mdev_type(kobj), type_attr, buf, count);
}

static const struct sysfs_ops mdev_type_sysfs_ops = {
	.show	= mdev_type_attr_show,
	.store	= mdev_type_attr_store,
};

/*
 * A canonical UUID is exactly UUID_STRING_LEN characters, optionally
 * followed by the newline that echo adds.  guid_parse() checks the digits
 * and dashes; it needs a terminated string, which sysfs does not promise
 * for a buffer that holds an embedded NUL.
 */
static int mdev_parse_uuid(const char *buf, size_t count, guid_t *uuid)
{
	char str[UUID_STRING_LEN + 1];

	if (count == UUID_STRING_LEN + 1 && buf[UUID_STRING_LEN] == '\n')
		count--;
	if (count != UUID_STRING_LEN)
		return -EINVAL;

	memcpy(str, buf, UUID_STRING_LEN);
	str[UUID_STRING_LEN] = '\0';
	return guid_parse(str, uuid);
}

static ssize_t create_store(struct mdev_type *mtype,
			    struct mdev_type_attribute *attr, const char *buf,
			    size_t count)
{
	guid_t uuid;
	int ret;

	ret = mdev_parse_uuid(buf, count, &uuid);
	if (ret)
		return ret;

	ret = mdev_device_create(mtype, &uuid);
	return ret ? ret : count;
}
static MDEV_TYPE_ATTR_WO(create);

static ssize_t device_api_show(struct mdev_type *mtype,
			       struct mdev_type_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", mtype->parent->mdev_driver->device_api);
}
static MDEV_TYPE_ATTR_RO(device_api);

static ssize_t name_show(struct mdev_type *mtype,
			 struct mdev_type_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", mtype->pretty_name ?: mtype->sysfs_name);
}
static MDEV_TYPE_ATTR_RO(name);

/**
 * mdev_type_available() - how many more instances of a type fit
 * @type: the type
 *
 * The caller holds the parent's create_lock, which is what the vendor's
 * get_available may rely on.
 *
 * Return: the number of instances that can still be created.
 */
unsigned int mdev_type_available(struct mdev_type *type)
{
	struct mdev_parent *parent = type->parent;

	lockdep_assert_held(&parent->create_lock);
	if (parent->mdev_driver->get_available)
		return parent->mdev_driver->get_available(type);
	return atomic_read(&parent->available_instances);
}

static ssize_t available_instances_show(struct mdev_type *mtype,
					struct mdev_type_attribute *attr,
					char *buf)
{
	struct mdev_parent *parent = mtype->parent;
	unsigned int available;
	int ret;

	ret = mutex_lock_interruptible(&parent->create_lock);
	if (ret)
		return ret;
	available = mdev_type_available(mtype);
	mutex_unlock(&parent->create_lock);

	return sysfs_emit(buf, "%u\n", available);
}
static MDEV_TYPE_ATTR_RO(available_instances);

static ssize_t description_show(struct mdev_type *mtype,
				struct mdev_type_attribute *attr, char *buf)
{
	return mtype->parent->mdev_driver->show_description(mtype, buf);
}
static MDEV_TYPE_ATTR_RO(description);

static ssize_t single_usage_restriction_show(struct mdev_type *mtype,
					     struct mdev_type_attribute *attr,
					     char *buf)
{
	bool single = mtype->usage_restriction == MDEV_USAGE_SINGLE;

	return sysfs_emit(buf, "%c\n", single ? 'Y' : 'N');
}
static MDEV_TYPE_ATTR_RO(single_usage_restriction);

static bool mdev_version_char_ok(char c)
{
	return c >= 0x21 && c <= 0x7e;
}

static bool mdev_version_vendor_ok(const char *vendor, size_t len)
{
	size_t i;

	if (!len || len > MDEV_VERSION_VENDOR_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!mdev_version_char_ok(vendor[i]))
			return false;
	return true;
}

static u32 mdev_version_common(struct mdev_type *mtype,
			       const struct mdev_version *version)
{
	const char *api = mtype->parent->mdev_driver->device_api;

	return mdev_device_api_flag(api) << 16 | version->vendor_id;
}

/* The type's own version, checked so that a driver bug cannot break the ABI */
static int mdev_type_version(struct mdev_type *mtype,
			     struct mdev_version *version)
{
	int ret;

	memset(version, 0, sizeof(*version));
	ret = mtype->parent->mdev_driver->get_version(mtype, version);
	if (ret)
		return ret;

	version->vendor[MDEV_VERSION_VENDOR_MAX] = '\0';
	if (!mdev_version_vendor_ok(version->vendor, strlen(version->vendor))) {
		dev_warn_once(mtype->parent->dev,
			      "%s: malformed version from the driver\n",
			      kobject_name(&mtype->kobj));
		return -EIO;
	}
	return 0;
}

/*
 * Splits "<8 hex digits>-<vendor part>" (one trailing newline allowed) into
 * its common part and a struct mdev_version.  Any deviation is -EINVAL.
 */
static int mdev_parse_version(const char *buf, size_t count, u32 *common,
			      struct mdev_version *version)
{
	char digits[MDEV_VERSION_COMMON_LEN + 1];
	size_t vendor_len;
	unsigned int i;

	if (count && buf[count - 1] == '\n')
		count--;
	if (count <= MDEV_VERSION_COMMON_LEN + 1 || count > MDEV_VERSION_MAX)
		return -EINVAL;
	if (buf[MDEV_VERSION_COMMON_LEN] != '-')
		return -EINVAL;
	for (i = 0; i < MDEV_VERSION_COMMON_LEN; i++)
		if (!isxdigit(buf[i]))
			return -EINVAL;

	vendor_len = count - MDEV_VERSION_COMMON_LEN - 1;
	if (!mdev_version_vendor_ok(buf + MDEV_VERSION_COMMON_LEN + 1,
				    vendor_len))
		return -EINVAL;

	memcpy(digits, buf, MDEV_VERSION_COMMON_LEN);
	digits[MDEV_VERSION_COMMON_LEN] = '\0';
	if (kstrtou32(digits, 16, common))
		return -EINVAL;

	memset(version, 0, sizeof(*version));
	version->vendor_id = *common & 0xffff;
	memcpy(version->vendor, buf + MDEV_VERSION_COMMON_LEN + 1, vendor_len);
	return 0;
}

/* A type has a version file when its driver can tell the type's version. */
static bool mdev_type_has_version(struct mdev_type *mtype)
{
	struct mdev_version version;

	if (!mtype->parent->mdev_driver->get_version)
		return false;
	return mdev_type_version(mtype, &version) != -EOPNOTSUPP;
}

static ssize_t version_show(struct mdev_type *mtype,
			    struct mdev_type_attribute *attr, char *buf)
{
	struct mdev_version version;
	int ret;

	ret = mdev_type_version(mtype, &version);
	if (ret)
		return ret;
	return sysfs_emit(buf, "%08x-%s\n", mdev_version_common(mtype, &version),
			  version.vendor);
}

/*
 * Answers "can an instance of this type accept migration from a device of
 * this version?" with the write's return value: the count for yes, -EPROTO
 * for a well-formed no, -EINVAL for a malformed question.
 */
static ssize_t version_store(struct mdev_type *mtype,
			     struct mdev_type_attribute *attr, const char *buf,
			     size_t count)
{
	struct mdev_driver *drv = mtype->parent->mdev_driver;
	struct mdev_version own, src;
	u32 src_common;
	bool compatible;
	int ret;

	ret = mdev_parse_version(buf, count, &src_common, &src);
	if (ret)
		return ret;

	ret = mdev_type_version(mtype, &own);
	if (ret)
		return ret;

	if (src_common != mdev_version_common(mtype, &own))
		return -EPROTO;

	if (drv->version_compatible)
		compatible = drv->version_compatible(mtype, &src);
	else
		compatible = !strcmp(own.vendor, src.vendor);
	return compatible ? count : -EPROTO;
}
static MDEV_TYPE_ATTR_RW(version);

static struct attribute *mdev_type_core_attrs[] = {
	&mdev_type_attr_create.attr,
	&mdev_type_attr_device_api.attr,
	&mdev_type_attr_name.attr,
	&mdev_type_attr_available_instances.attr,
	&mdev_type_attr_description.attr,
	&mdev_type_attr_single_usage_restriction.attr,
	&mdev_type_attr_version.attr,
	NULL,
};

/* The optional files exist only when the vendor driver says something. */
static umode_t mdev_type_core_is_visible(struct kobject *kobj,
					 struct attribute *attr, int n)
{
	struct mdev_type *mtype = to_mdev_type(kobj);
	struct mdev_driver *drv = mtype->parent->mdev_driver;

	if (attr == &mdev_type_attr_description.attr)
		return drv->show_description ? attr->mode : 0;
	if (attr == &mdev_type_attr_single_usage_restriction.attr)
		return mtype->usage_restriction ? attr->mode : 0;
	if (attr == &mdev_type_attr_version.attr)
		return mdev_type_has_version(mtype) ? attr->mode : 0;
	return attr->mode;
}

static const struct attribute_group mdev_type_core_group = {
	.attrs		= mdev_type_core_attrs,
	.is_visible	= mdev_type_core_is_visible,
};

static const struct attribute_group *mdev_type_groups[] = {
	&mdev_type_core_group,
	NULL,
};

static void mdev_type_release(struct kobject *kobj)
{
	struct mdev_type *type = to_mdev_type(kobj);

	/* Pairs with the get in mdev_type_add() */
	put_device(type->parent->dev);
}

static const struct kobj_type mdev_type_ktype = {
	.sysfs_ops	= &mdev_type_sysfs_ops,
	.release	= mdev_type_release,
	.default_groups	= mdev_type_groups,
};

static int mdev_type_add(struct mdev_parent *parent, struct mdev_type *type)
{
	const struct attribute_group **vendor_groups =
		parent->mdev_driver->type_groups;
	int ret;

	type->kobj.kset = parent->mdev_types_kset;
	type->parent = parent;
	/* Pairs with the put in mdev_type_release() */
	get_device(parent->dev);

	ret = kobject_init_and_add(&type->kobj, &mdev_type_ktype, NULL,
				   "%s-%s", dev_driver_string(parent->dev),
				   type->sysfs_name);
	if (ret)
		goto out_put;

	ret = sysfs_create_groups(&type->kobj, vendor_groups);
	if (ret)
		goto out_del;

	type->devices_kobj = kobject_create_and_add("devices", &type->kobj);
	if (!type->devices_kobj) {
		ret = -ENOMEM;
		goto out_remove_groups;
	}
	return 0;

out_remove_groups:
	sysfs_remove_groups(&type->kobj, vendor_groups);
out_del:
	kobject_del(&type->kobj);
out_put:
	kobject_put(&type->kobj);
	return ret;
}

static void mdev_type_remove(struct mdev_type *type)
{
	kobject_put(type->devices_kobj);
	sysfs_remove_groups(&type->kobj, type->parent->mdev_driver->type_groups);
	kobject_del(&type->kobj);
	kobject_put(&type->kobj);
}

/**
 * mdev_types_add() - create a parent's mdev_supported_types directory
 * @parent: the parent being registered
 *
 * Return: 0, or a negative errno with nothing created.
 */
int mdev_types_add(struct mdev_parent *parent)
{
	unsigned int i;
	int ret;

	parent->mdev_types_kset = kset_create_and_add("mdev_supported_types",
						      NULL, &parent->dev->kobj);
	if (!parent->mdev_types_kset)
		return -ENOMEM;

	for (i = 0; i < parent->nr_types; i++) {
		ret = mdev_type_add(parent, parent->types[i]);
		if (ret)
			goto out_remove;
	}
	return 0;

out_remove:
	while (i--)
		mdev_type_remove(parent->types[i]);
	kset_unregister(parent->mdev_types_kset);
	return ret;
}

/**
 * mdev_types_remove() - remove a parent's mdev_supported_types directory
 * @parent: the parent being unregistered, with no instances left
 */
void mdev_types_remove(struct mdev_parent *parent)
{
	unsigned int i;

	for (i = 0; i < parent->nr_types; i++)
		mdev_type_remove(parent->types[i]);
	kset_unregister(parent->mdev_types_kset);
}

/**
 * mdev_create_type_links() - link an instance and its type both ways
 * @mdev: the instance, already added
 *
 * Return: 0 or a negative errno with no link left.
 */
int mdev_create_type_links(struct mdev_device *mdev)
{
	struct kobject *kobj = &mdev->dev.kobj;
	int ret;

	ret = sysfs_create_link(mdev->type->devices_kobj, kobj,
				dev_name(&mdev->dev));
	if (ret)
		return ret;

	ret = sysfs_create_link(kobj, &mdev->type->kobj, "mdev_type");
	if (ret)
		sysfs_remove_link(mdev->type->devices_kobj,
				  dev_name(&mdev->dev));
	return ret;
}

/**
 * mdev_remove_type_links() - undo mdev_create_type_links()
 * @mdev: the instance
 */
void mdev_remove_type_links(struct mdev_device *mdev)
{
	sysfs_remove_link(&mdev->dev.kobj, "mdev_type");
	sysfs_remove_link(mdev->type->devices_kobj, dev_name(&mdev->dev));
}

/*
 * Exactly one writer wins the ACTIVE -> REMOVING transition; later writers
 * and writers racing with creation get an errno instead of a second removal.
 */
static ssize_t remove_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t count)
{
	struct mdev_device *mdev = to_mdev_device(dev);
	struct mdev_parent *parent;
	unsigned long val;
	int state;

	/* kstrtoul() would stop at an embedded NUL and accept "1\0junk". */
	if (strnlen(buf, count) != count || kstrtoul(buf, 0, &val))
		return -EINVAL;
	if (!val)
		return count;

	state = cmpxchg(&mdev->state, MDEV_STATE_ACTIVE, MDEV_STATE_REMOVING);
	if (state == MDEV_STATE_CREATING)
		return -EBUSY;
	if (state == MDEV_STATE_REMOVING)
		return -ENODEV;

	/*
	 * Until device_remove_file_self(), this write keeps the instance and
	 * its parent alive: an unregistration deletes the instance, which
	 * waits for the write to return.  After it nothing does, so the
	 * parent is pinned first: mdev_unregister_parent() cannot start, let
	 * alone free the instance and the parent, until mdev_device_remove()
	 * drops unreg_sem.  A failed trylock means it has started and removes
	 * the instance itself.
	 */
	parent = mdev->type->parent;
	if (!down_read_trylock(&parent->unreg_sem))
		return -ENODEV;

	/*
	 * Our own file goes with the device: leave kernfs before we wait.
	 * Both failures here mean that an unregistration is removing the
	 * instance, so REMOVING stays true and is not rolled back.
	 */
	if (!device_remove_file_self(dev, attr)) {
		up_read(&parent->unreg_sem);
		return -ENODEV;
	}

	mdev_device_remove(mdev);
	return count;
}
static DEVICE_ATTR_WO(remove);

static struct attribute *mdev_device_attrs[] = {
	&dev_attr_remove.attr,
	NULL,
};

static const struct attribute_group mdev_device_group = {
	.attrs = mdev_device_attrs,
};

const struct attribute_group *mdev_device_groups[] = {
	&mdev_device_group,
	NULL,
};
