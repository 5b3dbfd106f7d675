// SPDX-License-Identifier: GPL-2.0-only
/*
 * Mediated device core: the mdev bus and vendor-driver registration.
 */

#include <linux/device.h>
#include <linux/mdev.h>
#include <linux/vfio.h>

#include "mdev_private.h"

#define to_mdev_driver(_drv) container_of(_drv, struct mdev_driver, driver)

static int mdev_bus_probe(struct device *dev)
{
	struct mdev_driver *drv = to_mdev_driver(dev->driver);

	return drv->probe ? drv->probe(to_mdev_device(dev)) : 0;
}

static void mdev_bus_remove(struct device *dev)
{
	struct mdev_driver *drv = to_mdev_driver(dev->driver);

	if (drv->remove)
		drv->remove(to_mdev_device(dev));
}

/*
 * Nothing binds by matching: the core attaches the parent's driver itself
 * when an instance is created, so a driver registered later never grabs
 * another vendor's instances.
 */
static int mdev_bus_match(struct device *dev, mdev_match_driver_t *drv)
{
	return 0;
}

MDEV_BUS_TYPE mdev_bus_type = {
	.name	= "mdev",
	.probe	= mdev_bus_probe,
	.remove	= mdev_bus_remove,
	.match	= mdev_bus_match,
};

/* The VFIO_DEVICE_FLAGS_* bit of each device API, for the version string. */
static const struct {
	const char *name;
	u32 flag;
} mdev_device_apis[] = {
	{ VFIO_DEVICE_API_PCI_STRING,		VFIO_DEVICE_FLAGS_PCI },
	{ VFIO_DEVICE_API_PLATFORM_STRING,	VFIO_DEVICE_FLAGS_PLATFORM },
	{ VFIO_DEVICE_API_AMBA_STRING,		VFIO_DEVICE_FLAGS_AMBA },
	{ VFIO_DEVICE_API_CCW_STRING,		VFIO_DEVICE_FLAGS_CCW },
	{ VFIO_DEVICE_API_AP_STRING,		VFIO_DEVICE_FLAGS_AP },
};

/**
 * mdev_device_api_flag() - the VFIO device flag of a device API string
 * @device_api: a string such as "vfio-pci"
 *
 * Return: the VFIO_DEVICE_FLAGS_* bit, or 0 for an unknown API.
 */
u32 mdev_device_api_flag(const char *device_api)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mdev_device_apis); i++)
		if (!strcmp(device_api, mdev_device_apis[i].name))
			return mdev_device_apis[i].flag;
	return 0;
}

/**
 * mdev_register_driver() - register a vendor driver for mediated devices
 * @drv: the driver; @drv->device_api and @drv->driver.name must be set
 *
 * The driver is bound to each instance created on a parent registered with
 * it; it is never matched against other devices.  @drv->device_api must be
 * one of the VFIO device APIs, whose flag also forms the common part of the
 * migration version.
 *
 * Return: 0 or a negative errno (-EINVAL for a malformed @drv).
 */
int mdev_register_driver(struct mdev_driver *drv)
{
	if (!drv->device_api || !mdev_device_api_flag(drv->device_api))
		return -EINVAL;

	drv->driver.bus = &mdev_bus_type;
	return driver_register(&drv->driver);
}
EXPORT_SYMBOL_GPL(mdev_register_driver);

/**
 * mdev_unregister_driver() - unregister a vendor driver
 * @drv: a driver registered with mdev_register_driver()
 *
 * Every parent using @drv must have been unregistered first.
 */
void mdev_unregister_driver(struct mdev_driver *drv)
{
	driver_unregister(&drv->driver);
}
EXPORT_SYMBOL_GPL(mdev_unregister_driver);
