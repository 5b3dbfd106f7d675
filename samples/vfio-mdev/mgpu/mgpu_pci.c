// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_pci.c - mgpu as a PCI vendor driver: each PCI function bound to the
 * "mgpu" pci_driver becomes a GPU, an mdev parent with the same types,
 * accounting and version rule as a virtual GPU, whose VRAM is carved out of
 * the function's largest prefetchable memory BAR, the way a vGPU's
 * framebuffer is carved out of the physical GPU's VRAM aperture.
 *
 * The driver owns no device IDs (its ID table is empty), so it never takes
 * a device by surprise.  A function is given to it explicitly: through
 * driver_override and drivers_probe, through the "ids" module parameter or
 * through the driver's new_id file, like vfio-pci.  The test VM's stand-in
 * for a physical GPU is QEMU's ivshmem-plain with a RAM backend (1af4:1110,
 * BAR2 the RAM, 64-bit prefetchable); see Documentation/driver-api/mgpu.rst.
 *
 * Unbinding a function (unbind, driver_override change, module unload,
 * hot unplug) removes its instances first, each waiting for its user to
 * close it, as the mdev core does for any parent.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "mgpu.h"

static char ids[256];
module_param_string(ids, ids, sizeof(ids), 0444);
MODULE_PARM_DESC(ids,
		 "PCI functions to drive as GPUs, \"vendor:device[:subvendor[:subdevice]]\" in hex, comma-separated (default: none; driver_override works too)");

static unsigned int pci_stream_version = 1;
module_param(pci_stream_version, uint, 0444);
MODULE_PARM_DESC(pci_stream_version,
		 "migration stream version of every PCI GPU, 1-255 (default 1)");

/**
 * struct mgpu_pci_gpu - a GPU that is a PCI function
 * @gpu: the GPU; its parent device is the function's
 * @bar: the BAR its VRAM is carved out of
 */
struct mgpu_pci_gpu {
	struct mgpu_gpu gpu;
	int bar;
};

/* The largest assigned prefetchable memory BAR, or -ENODEV. */
static int mgpu_pci_vram_bar(struct pci_dev *pdev)
{
	resource_size_t best_len = 0;
	int bar, best = -ENODEV;

	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		unsigned long flags = pci_resource_flags(pdev, bar);

		if (!(flags & IORESOURCE_MEM) || !(flags & IORESOURCE_PREFETCH) ||
		    (flags & IORESOURCE_UNSET) || !pci_resource_start(pdev, bar))
			continue;
		if (pci_resource_len(pdev, bar) > best_len) {
			best_len = pci_resource_len(pdev, bar);
			best = bar;
		}
	}
	return best;
}

/*
 * The VRAM a BAR of @len bytes gives: the largest power of two that fits,
 * so that slices and instance BARs are powers of two too, at most
 * MGPU_VRAM_MAX; 0 if that is less than MGPU_VRAM_MIN.
 */
static u64 mgpu_pci_vram_size(resource_size_t len)
{
	u64 size;

	if (len < MGPU_VRAM_MIN)
		return 0;
	size = rounddown_pow_of_two(len);
	return min_t(u64, size, MGPU_VRAM_MAX);
}

/* Reserves and maps the VRAM part of @bar; devres undoes both on unbind. */
static void *mgpu_pci_map_vram(struct pci_dev *pdev, int bar, u64 size)
{
	resource_size_t start = pci_resource_start(pdev, bar);

	if (!devm_request_mem_region(&pdev->dev, start, size, MGPU_NAME))
		return ERR_PTR(-EBUSY);
	return devm_memremap(&pdev->dev, start, size, MEMREMAP_WC);
}

static int mgpu_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct mgpu_pci_gpu *pgpu;
	void *base;
	int bar, ret;
	u64 size;

	bar = mgpu_pci_vram_bar(pdev);
	if (bar < 0) {
		dev_err(&pdev->dev,
			"no prefetchable memory BAR to carve VRAM from: not a GPU for mgpu\n");
		return -ENODEV;
	}
	size = mgpu_pci_vram_size(pci_resource_len(pdev, bar));
	if (!size) {
		dev_err(&pdev->dev,
			"BAR%d has %llu KiB: too small for any type, a GPU needs %u MiB\n",
			bar, (u64)pci_resource_len(pdev, bar) >> 10,
			MGPU_VRAM_MIN >> 20);
		return -ENOSPC;
	}

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;

	base = mgpu_pci_map_vram(pdev, bar, size);
	if (IS_ERR(base)) {
		dev_err(&pdev->dev, "cannot map BAR%d: %pe\n", bar, base);
		return PTR_ERR(base);
	}

	pgpu = devm_kzalloc(&pdev->dev, sizeof(*pgpu), GFP_KERNEL);
	if (!pgpu)
		return -ENOMEM;
	pgpu->bar = bar;

	ret = mgpu_gpu_init(&pgpu->gpu, &pdev->dev, size, pci_stream_version);
	if (ret)
		return ret;
	pgpu->gpu.vram_ops = &mgpu_vram_bar_ops;
	pgpu->gpu.vram_base = base;
	pgpu->gpu.vram_phys = pci_resource_start(pdev, bar);

	pci_set_drvdata(pdev, pgpu);
	ret = mgpu_gpu_register(&pgpu->gpu);
	if (ret) {
		mgpu_gpu_fini(&pgpu->gpu);
		return ret;
	}
	dev_info(&pdev->dev, "VRAM: %llu MiB of BAR%d\n", size >> 20, bar);
	return 0;
}

/* Instances first (they use the BAR), then devres unmaps and frees. */
static void mgpu_pci_remove(struct pci_dev *pdev)
{
	struct mgpu_pci_gpu *pgpu = pci_get_drvdata(pdev);

	mgpu_gpu_unregister(&pgpu->gpu);
	mgpu_gpu_fini(&pgpu->gpu);
}

/* No IDs of its own: see the top of this file. */
static const struct pci_device_id mgpu_pci_ids[] = {
	{ }
};
MODULE_DEVICE_TABLE(pci, mgpu_pci_ids);

static struct pci_driver mgpu_pci_driver = {
	.name = MGPU_NAME,
	.id_table = mgpu_pci_ids,
	.probe = mgpu_pci_probe,
	.remove = mgpu_pci_remove,
};

/*
 * Parses one "vendor:device[:subvendor[:subdevice]]" of the ids parameter,
 * and adds it to the driver when @add is set.
 */
static int mgpu_pci_add_id(const char *id, bool add)
{
	unsigned int vendor, device, subvendor = PCI_ANY_ID,
		     subdevice = PCI_ANY_ID;
	int fields, ret;

	fields = sscanf(id, "%x:%x:%x:%x", &vendor, &device, &subvendor,
			&subdevice);
	if (fields < 2 || vendor > U16_MAX || device > U16_MAX) {
		pr_err("ids: \"%s\" is not vendor:device[:subvendor[:subdevice]]\n",
		       id);
		return -EINVAL;
	}
	if (!add)
		return 0;
	ret = pci_add_dynid(&mgpu_pci_driver, vendor, device, subvendor,
			    subdevice, 0, 0, 0);
	if (ret)
		pr_err("ids: cannot add %s: %d\n", id, ret);
	return ret;
}

/* Checks the whole list before the first ID is added (@add false). */
static int mgpu_pci_add_ids(bool add)
{
	char *list = kstrdup(ids, GFP_KERNEL), *rest, *id;
	int ret = 0;

	if (!list)
		return -ENOMEM;
	rest = list;
	while (!ret && (id = strsep(&rest, ",")))
		if (*id)
			ret = mgpu_pci_add_id(id, add);
	kfree(list);
	return ret;
}

/**
 * mgpu_pci_register() - register the PCI driver, with the ids parameter's IDs
 *
 * Return: 0, or a negative errno with nothing registered (a malformed ids
 * parameter is -EINVAL).
 */
int mgpu_pci_register(void)
{
	int ret;

	if (pci_stream_version < 1 || pci_stream_version > 255) {
		pr_err("pci_stream_version: %u is not 1-255\n",
		       pci_stream_version);
		return -EINVAL;
	}
	ret = mgpu_pci_add_ids(false);
	if (ret)
		return ret;
	ret = pci_register_driver(&mgpu_pci_driver);
	if (ret)
		return ret;
	ret = mgpu_pci_add_ids(true);
	if (ret)
		pci_unregister_driver(&mgpu_pci_driver);
	return ret;
}

/**
 * mgpu_pci_unregister() - unbind every PCI GPU, then unregister the driver
 */
void mgpu_pci_unregister(void)
{
	pci_unregister_driver(&mgpu_pci_driver);
}
