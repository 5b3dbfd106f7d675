/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mediated device core: declarations shared by the core's files
 * (mdev_core.c: lifecycle, mdev_sysfs.c: sysfs, mdev_driver.c: bus,
 * mdev_usage.c: the single usage restriction).
 */

#ifndef MDEV_PRIVATE_H
#define MDEV_PRIVATE_H

#include <linux/mdev.h>

/* Life of an mdev_device, in mdev_device.state. */
enum mdev_state {
	MDEV_STATE_CREATING,
	MDEV_STATE_ACTIVE,
	MDEV_STATE_REMOVING,
};

extern MDEV_BUS_TYPE mdev_bus_type;
extern const struct attribute_group *mdev_device_groups[];

#define to_mdev_type_attr(_attr) \
	container_of(_attr, struct mdev_type_attribute, attr)
#define to_mdev_type(_kobj) container_of(_kobj, struct mdev_type, kobj)

u32 mdev_device_api_flag(const char *device_api);

int mdev_types_add(struct mdev_parent *parent);
void mdev_types_remove(struct mdev_parent *parent);
unsigned int mdev_type_available(struct mdev_type *type);

int mdev_create_type_links(struct mdev_device *mdev);
void mdev_remove_type_links(struct mdev_device *mdev);

int mdev_device_create(struct mdev_type *type, const guid_t *uuid);
void mdev_device_remove(struct mdev_device *mdev);

#endif /* MDEV_PRIVATE_H */
