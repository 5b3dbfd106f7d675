// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_main.c - the mgpu module: its parameters, the virtual GPUs (class
 * "mgpu" devices), and what every GPU, virtual or PCI (mgpu_pci.c), shares:
 * its mdev parent, the partition profiles offered as mdev types, the
 * placement of instances in the GPU's VRAM slices, and the rule that says
 * which migration versions are compatible.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "mgpu.h"

/* Bounds of the module parameters. */
#define MGPU_VRAM_MB_MIN	(MGPU_VRAM_MIN >> 20)
#define MGPU_VRAM_MB_MAX	(MGPU_VRAM_MAX >> 20)
#define MGPU_VRAM_MB_DEFAULT	512
#define MGPU_STREAM_MIN		1
#define MGPU_STREAM_MAX		255

static unsigned int gpus = 2;
module_param(gpus, uint, 0444);
MODULE_PARM_DESC(gpus,
		 "number of virtual GPUs (0-8, default 2; 0: PCI GPUs only)");

static unsigned int vram_mb[MGPU_MAX_GPUS] = {
	[0 ... MGPU_MAX_GPUS - 1] = MGPU_VRAM_MB_DEFAULT
};

static unsigned int nr_vram_mb;
module_param_array(vram_mb, uint, &nr_vram_mb, 0444);
MODULE_PARM_DESC(vram_mb,
		 "VRAM of each GPU in MiB: a power of two, 64-2048 (default 512)");

static unsigned int stream_version[MGPU_MAX_GPUS] = {
	[0 ... MGPU_MAX_GPUS - 1] = MGPU_STREAM_MIN
};

static unsigned int nr_stream_version;
module_param_array(stream_version, uint, &nr_stream_version, 0444);
MODULE_PARM_DESC(stream_version,
		 "migration stream version of each GPU, 1-255 (default 1)");

/*
 * The partition profiles.  A profile of k slices takes k contiguous slices
 * aligned to k, so the profiles nest like buddy blocks and any mix of them
 * fits exactly into a GPU.
 */
const struct mgpu_profile mgpu_profiles[] = {
	{
		.sysfs_name = "eighth",
		.name = "MGPU 1/8 partition",
		.slices = 1,
		.heads = 1,
		.max_width = 1280,
		.max_height = 1024,
		.usage = MDEV_USAGE_SINGLE,
	},
	{
		.sysfs_name = "quarter",
		.name = "MGPU 1/4 partition",
		.slices = 2,
		.heads = 1,
		.max_width = 1920,
		.max_height = 1200,
		.usage = MDEV_USAGE_SINGLE,
	},
	{
		.sysfs_name = "half",
		.name = "MGPU 1/2 partition",
		.slices = 4,
		.heads = 2,
		.max_width = 2560,
		.max_height = 1600,
		.usage = MDEV_USAGE_SINGLE,
	},
	{
		.sysfs_name = "full",
		.name = "MGPU full GPU",
		.slices = 8,
		.heads = 4,
		.max_width = 3840,
		.max_height = 2160,
		.usage = MDEV_USAGE_SHARED,
	},
};

const unsigned int mgpu_nr_profiles = ARRAY_SIZE(mgpu_profiles);
static_assert(ARRAY_SIZE(mgpu_profiles) == MGPU_NR_PROFILES);

static struct class mgpu_class = {
	.name = MGPU_NAME,
};

/**
 * struct mgpu_virtual_gpu - a GPU emulated with system RAM as its VRAM
 * @dev: its class "mgpu" device mgpu<N>, the mdev parent; its release frees
 *	the whole structure
 * @gpu: the GPU
 */
struct mgpu_virtual_gpu {
	struct device dev;
	struct mgpu_gpu gpu;
};

static struct mgpu_virtual_gpu *mgpu_virtual_gpus[MGPU_MAX_GPUS];

/* ---- Placement -------------------------------------------------------- */

/*
 * Counts the free blocks of @slices slices that start at a multiple of
 * @slices, and stores the lowest one's first slice in @first (MGPU_SLICES
 * when there is none).  Counting only aligned blocks is what makes the
 * answers of all profiles consistent: a block of any size is either wholly
 * free or unusable, so no profile is offered room that another one's
 * placement has already fragmented.
 */
static unsigned int mgpu_scan_blocks(struct mgpu_gpu *gpu,
				     unsigned int slices, unsigned int *first)
{
	unsigned int start, nr_free = 0;

	lockdep_assert_held(&gpu->lock);
	*first = MGPU_SLICES;
	for (start = 0; start < MGPU_SLICES; start += slices) {
		unsigned long end = start + slices;

		if (find_next_bit(&gpu->slices_used, end, start) < end)
			continue;
		if (!nr_free++)
			*first = start;
	}
	return nr_free;
}

/**
 * mgpu_free_places() - how many more instances of a profile fit on a GPU
 * @gpu: the GPU
 * @profile: the profile
 *
 * Context: takes @gpu->lock.
 * Return: the number of free, aligned blocks of @profile's size.
 */
unsigned int mgpu_free_places(struct mgpu_gpu *gpu,
			      const struct mgpu_profile *profile)
{
	unsigned int first, nr_free;

	mutex_lock(&gpu->lock);
	nr_free = mgpu_scan_blocks(gpu, profile->slices, &first);
	mutex_unlock(&gpu->lock);
	return nr_free;
}

/**
 * mgpu_place() - take VRAM slices for an instance
 * @gpu: the GPU
 * @profile: the instance's profile
 * @first_slice: where the first slice taken is stored
 *
 * Takes the lowest free block of @profile->slices slices aligned to its
 * size.
 *
 * Context: takes @gpu->lock.
 * Return: 0, or -ENOSPC when no such block is free.
 */
int mgpu_place(struct mgpu_gpu *gpu, const struct mgpu_profile *profile,
	       unsigned int *first_slice)
{
	unsigned int first;
	int ret = 0;

	mutex_lock(&gpu->lock);
	if (mgpu_scan_blocks(gpu, profile->slices, &first)) {
		bitmap_set(&gpu->slices_used, first, profile->slices);
		*first_slice = first;
	} else {
		ret = -ENOSPC;
	}
	mutex_unlock(&gpu->lock);
	return ret;
}

/**
 * mgpu_unplace() - give back the VRAM slices of an instance
 * @gpu: the GPU
 * @profile: the instance's profile
 * @first_slice: the first slice that mgpu_place() gave it
 *
 * Context: takes @gpu->lock.
 */
void mgpu_unplace(struct mgpu_gpu *gpu, const struct mgpu_profile *profile,
		  unsigned int first_slice)
{
	mutex_lock(&gpu->lock);
	bitmap_clear(&gpu->slices_used, first_slice, profile->slices);
	mutex_unlock(&gpu->lock);
}

/* ---- mdev type callbacks ---------------------------------------------- */

/**
 * mgpu_get_available() - &mdev_driver.get_available: free places of a type
 * @mtype: the type
 *
 * Return: the number of instances of @mtype that fit on its GPU now.
 */
unsigned int mgpu_get_available(struct mdev_type *mtype)
{
	return mgpu_free_places(mdev_type_to_gpu(mtype),
				mdev_type_to_profile(mtype));
}

/* The VRAM of an instance of @mtype (its BAR0 size), in MiB. */
static unsigned int mgpu_type_vram_mb(struct mdev_type *mtype)
{
	return (mdev_type_to_gpu(mtype)->vram_size >> 20) / MGPU_SLICES *
	       mdev_type_to_profile(mtype)->slices;
}

/**
 * mgpu_show_description() - &mdev_driver.show_description
 * @mtype: the type
 * @buf: the sysfs page
 *
 * Return: the length of "vram=<MiB>M heads=<n> max_resolution=<w>x<h>
 * gpu_share=<slices>/8" and a newline.
 */
ssize_t mgpu_show_description(struct mdev_type *mtype, char *buf)
{
	const struct mgpu_profile *profile = mdev_type_to_profile(mtype);

	return sysfs_emit(buf,
			  "vram=%uM heads=%u max_resolution=%ux%u gpu_share=%u/%u\n",
			  mgpu_type_vram_mb(mtype), profile->heads,
			  profile->max_width, profile->max_height,
			  profile->slices, MGPU_SLICES);
}

/*
 * The migration version rule (the ABI that migration relies on).
 *
 * A type's version string is "<common>-mgpu-<profile>-<vram>M-s<stream>":
 * the core puts the vfio-pci flag and MGPU_PCI_VENDOR in <common>; <profile>
 * is the type's sysfs_name ("eighth", "quarter", "half", "full"); <vram> is
 * the VRAM of an instance of the type (its BAR0 size) in MiB, 8-2048;
 * <stream> is the migration stream version (1-255) of the GPU that offers the
 * type, set by the stream_version module parameter.  Both numbers are
 * decimal with no leading zero or sign.
 *
 * An instance accepts the state of a source exactly when the source has the
 * same profile (heads and limits), the same VRAM size (BAR0 and the VRAM
 * contents fit) and speaks the same stream version (the state can be
 * parsed): exactly what the version string says, and what the header of a
 * migration stream says (mgpu_migration.c), both judged by
 * mgpu_type_accepts().  The GPU index, the GPU's total VRAM as such and the
 * instance's placement do not matter.  A vendor part that is not exactly of
 * the form mgpu_get_version() prints is incompatible.
 */
#define MGPU_VERSION_PREFIX	MGPU_NAME "-"
#define MGPU_VERSION_VRAM	"M-s"

/**
 * mgpu_get_version() - &mdev_driver.get_version: see the rule above
 * @mtype: the type
 * @version: filled with MGPU_PCI_VENDOR and "mgpu-<profile>-<vram>M-s<stream>"
 *
 * Return: 0, or -EOVERFLOW if the vendor part does not fit.
 */
int mgpu_get_version(struct mdev_type *mtype, struct mdev_version *version)
{
	const struct mgpu_profile *profile = mdev_type_to_profile(mtype);
	struct mgpu_gpu *gpu = mdev_type_to_gpu(mtype);
	int len;

	version->vendor_id = MGPU_PCI_VENDOR;
	len = snprintf(version->vendor, sizeof(version->vendor),
		       MGPU_VERSION_PREFIX "%s-%u" MGPU_VERSION_VRAM "%u",
		       profile->sysfs_name, mgpu_type_vram_mb(mtype),
		       gpu->stream_version);
	return len < sizeof(version->vendor) ? 0 : -EOVERFLOW;
}

/*
 * Parses a number at @s as mgpu_get_version() prints it: decimal digits, no
 * sign, no leading zero, 1 to @max.  Returns the position after it, or NULL.
 */
static const char *mgpu_parse_number(const char *s, unsigned int max,
				     unsigned int *val)
{
	unsigned int n = 0;

	if (*s < '1' || *s > '9')
		return NULL;
	for (; isdigit(*s); s++) {
		n = n * 10 + (*s - '0');
		if (n > max)
			return NULL;
	}
	*val = n;
	return s;
}

/*
 * Splits a vendor part "mgpu-<profile>-<vram>M-s<stream>" into its profile,
 * VRAM size in MiB and stream version; anything else is -EINVAL.
 */
static int mgpu_parse_version(const char *vendor,
			      const struct mgpu_profile **profile,
			      unsigned int *vram_mb, unsigned int *stream)
{
	const char *name, *p;
	size_t name_len, len;
	unsigned int i;

	len = str_has_prefix(vendor, MGPU_VERSION_PREFIX);
	if (!len)
		return -EINVAL;
	name = vendor + len;
	p = strchr(name, '-');
	if (!p)
		return -EINVAL;
	name_len = p - name;

	for (i = 0; i < mgpu_nr_profiles; i++) {
		if (strlen(mgpu_profiles[i].sysfs_name) == name_len &&
		    !strncmp(mgpu_profiles[i].sysfs_name, name, name_len))
			break;
	}
	if (i == mgpu_nr_profiles)
		return -EINVAL;
	*profile = &mgpu_profiles[i];

	p = mgpu_parse_number(p + 1, MGPU_VRAM_MB_MAX, vram_mb);
	if (!p)
		return -EINVAL;
	len = str_has_prefix(p, MGPU_VERSION_VRAM);
	if (!len)
		return -EINVAL;
	p = mgpu_parse_number(p + len, MGPU_STREAM_MAX, stream);
	if (!p || *p)
		return -EINVAL;
	return 0;
}

/**
 * mgpu_type_accepts() - the rule above, for a version or a stream header
 * @mtype: the type of the migration target
 * @src: what the source is
 *
 * The one place that decides compatibility: mgpu_version_compatible() and
 * the resuming of a migration stream both ask it.
 *
 * Return: true when @src has @mtype's profile, the VRAM size of an instance
 * of @mtype and the stream version of @mtype's GPU.
 */
bool mgpu_type_accepts(struct mdev_type *mtype, const struct mgpu_compat *src)
{
	return src->profile == mdev_type_to_profile(mtype) &&
	       src->vram_size == (u64)mgpu_type_vram_mb(mtype) << 20 &&
	       src->stream_version == mdev_type_to_gpu(mtype)->stream_version;
}

/**
 * mgpu_version_compatible() - &mdev_driver.version_compatible
 * @mtype: the type of the migration target
 * @src: the version of the source, whose common part the core has checked
 *
 * Return: whether mgpu_type_accepts() takes what @src's vendor part says;
 * false for a vendor part that is not of the form mgpu prints.
 */
bool mgpu_version_compatible(struct mdev_type *mtype,
			     const struct mdev_version *src)
{
	struct mgpu_compat compat;
	unsigned int vram_mb;

	if (mgpu_parse_version(src->vendor, &compat.profile, &vram_mb,
			       &compat.stream_version))
		return false;
	compat.vram_size = (u64)vram_mb << 20;
	return mgpu_type_accepts(mtype, &compat);
}

/* ---- GPUs ------------------------------------------------------------- */

/**
 * mgpu_gpu_init() - set up what every GPU has before it is registered
 * @gpu: the GPU, zeroed; its VRAM backend (@vram_ops and, for a BAR, its
 *	mapping) is set by the caller
 * @dev: the device that becomes the mdev parent
 * @vram_size: VRAM bytes, a power of two, MGPU_VRAM_MIN to MGPU_VRAM_MAX
 * @stream_version: the migration stream version the GPU speaks
 *
 * Return: 0, or -EINVAL for a VRAM size or stream version out of bounds.
 */
int mgpu_gpu_init(struct mgpu_gpu *gpu, struct device *dev, u64 vram_size,
		  unsigned int stream_version)
{
	unsigned int i;

	if (!is_power_of_2(vram_size) || vram_size < MGPU_VRAM_MIN ||
	    vram_size > MGPU_VRAM_MAX || stream_version < MGPU_STREAM_MIN ||
	    stream_version > MGPU_STREAM_MAX)
		return -EINVAL;

	gpu->dev = dev;
	gpu->vram_size = vram_size;
	gpu->stream_version = stream_version;
	mutex_init(&gpu->lock);
	mgpu_sched_init(&gpu->sched);
	for (i = 0; i < MGPU_NR_PROFILES; i++) {
		struct mgpu_type *type = &gpu->types[i];

		type->profile = &mgpu_profiles[i];
		type->type.sysfs_name = mgpu_profiles[i].sysfs_name;
		type->type.pretty_name = mgpu_profiles[i].name;
		type->type.usage_restriction = mgpu_profiles[i].usage;
		gpu->type_ptrs[i] = &type->type;
	}
	return 0;
}

/**
 * mgpu_gpu_fini() - undo mgpu_gpu_init()
 * @gpu: the GPU, unregistered (or never registered)
 */
void mgpu_gpu_fini(struct mgpu_gpu *gpu)
{
	mgpu_sched_fini(&gpu->sched);
	mutex_destroy(&gpu->lock);
}

/**
 * mgpu_gpu_register() - offer a GPU's types: make it an mdev parent
 * @gpu: the GPU, set up by mgpu_gpu_init()
 *
 * Return: 0 or the errno of mdev_register_parent().
 */
int mgpu_gpu_register(struct mgpu_gpu *gpu)
{
	int ret;

	ret = mdev_register_parent(&gpu->parent, gpu->dev, &mgpu_mdev_driver,
				   gpu->type_ptrs, MGPU_NR_PROFILES);
	if (ret)
		return ret;
	dev_info(gpu->dev, "%llu MiB VRAM, migration stream version %u\n",
		 gpu->vram_size >> 20, gpu->stream_version);
	return 0;
}

/**
 * mgpu_gpu_unregister() - remove every instance of a GPU and its types
 * @gpu: a registered GPU
 *
 * Waits for the users of the instances to close them: VFIO asks them to
 * through mgpu_request().  Afterwards nothing refers to @gpu any more.
 */
void mgpu_gpu_unregister(struct mgpu_gpu *gpu)
{
	mdev_unregister_parent(&gpu->parent);
}

static void mgpu_virtual_gpu_release(struct device *dev)
{
	struct mgpu_virtual_gpu *vgpu =
		container_of(dev, struct mgpu_virtual_gpu, dev);

	mgpu_gpu_fini(&vgpu->gpu);
	kfree(vgpu);
}

/* Creates virtual GPU @index: class device "mgpu<index>", an mdev parent. */
static struct mgpu_virtual_gpu *mgpu_virtual_gpu_create(unsigned int index)
{
	struct mgpu_virtual_gpu *vgpu;
	int ret;

	vgpu = kzalloc(sizeof(*vgpu), GFP_KERNEL);
	if (!vgpu)
		return ERR_PTR(-ENOMEM);

	ret = mgpu_gpu_init(&vgpu->gpu, &vgpu->dev, (u64)vram_mb[index] << 20,
			    stream_version[index]);
	if (ret) {
		kfree(vgpu);
		return ERR_PTR(ret);
	}
	vgpu->gpu.vram_ops = &mgpu_vram_ram_ops;
	device_initialize(&vgpu->dev);
	vgpu->dev.class = &mgpu_class;
	vgpu->dev.release = mgpu_virtual_gpu_release;
	/* From here on, put_device() frees everything. */

	ret = dev_set_name(&vgpu->dev, MGPU_NAME "%u", index);
	if (ret)
		goto out_put;

	ret = device_add(&vgpu->dev);
	if (ret)
		goto out_put;

	ret = mgpu_gpu_register(&vgpu->gpu);
	if (ret)
		goto out_del;
	return vgpu;

out_del:
	device_del(&vgpu->dev);
out_put:
	put_device(&vgpu->dev);
	return ERR_PTR(ret);
}

static void mgpu_virtual_gpu_destroy(struct mgpu_virtual_gpu *vgpu)
{
	mgpu_gpu_unregister(&vgpu->gpu);
	device_unregister(&vgpu->dev);
}

static void mgpu_destroy_virtual_gpus(unsigned int count)
{
	while (count--) {
		mgpu_virtual_gpu_destroy(mgpu_virtual_gpus[count]);
		mgpu_virtual_gpus[count] = NULL;
	}
}

/* ---- Module ----------------------------------------------------------- */

static int mgpu_check_array(const char *param, const unsigned int *values,
			    unsigned int nr_given, unsigned int min,
			    unsigned int max, bool pow2)
{
	unsigned int i;

	if (nr_given > gpus) {
		pr_err("%s: %u values given for %u GPUs\n", param, nr_given,
		       gpus);
		return -EINVAL;
	}
	for (i = 0; i < gpus; i++) {
		if (values[i] < min || values[i] > max ||
		    (pow2 && !is_power_of_2(values[i]))) {
			pr_err("%s: GPU %u: %u is not %s%u-%u\n", param, i,
			       values[i], pow2 ? "a power of two in " : "",
			       min, max);
			return -EINVAL;
		}
	}
	return 0;
}

static int mgpu_check_params(void)
{
	int ret;

	if (gpus > MGPU_MAX_GPUS) {
		pr_err("gpus: %u is not 0-%u\n", gpus, MGPU_MAX_GPUS);
		return -EINVAL;
	}
	ret = mgpu_check_array("vram_mb", vram_mb, nr_vram_mb,
			       MGPU_VRAM_MB_MIN, MGPU_VRAM_MB_MAX, true);
	if (ret)
		return ret;
	return mgpu_check_array("stream_version", stream_version,
				nr_stream_version, MGPU_STREAM_MIN,
				MGPU_STREAM_MAX, false);
}

static int __init mgpu_init(void)
{
	unsigned int i;
	int ret;

	ret = mgpu_check_params();
	if (ret)
		return ret;

	ret = mdev_register_driver(&mgpu_mdev_driver);
	if (ret)
		return ret;

	ret = class_register(&mgpu_class);
	if (ret)
		goto out_unregister_driver;

	for (i = 0; i < gpus; i++) {
		mgpu_virtual_gpus[i] = mgpu_virtual_gpu_create(i);
		if (IS_ERR(mgpu_virtual_gpus[i])) {
			ret = PTR_ERR(mgpu_virtual_gpus[i]);
			mgpu_virtual_gpus[i] = NULL;
			goto out_destroy_gpus;
		}
	}

	ret = mgpu_pci_register();
	if (ret)
		goto out_destroy_gpus;
	return 0;

out_destroy_gpus:
	mgpu_destroy_virtual_gpus(i);
	class_unregister(&mgpu_class);
out_unregister_driver:
	mdev_unregister_driver(&mgpu_mdev_driver);
	return ret;
}

static void __exit mgpu_exit(void)
{
	mgpu_pci_unregister();
	mgpu_destroy_virtual_gpus(gpus);
	class_unregister(&mgpu_class);
	mdev_unregister_driver(&mgpu_mdev_driver);
}

module_init(mgpu_init);
module_exit(mgpu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Mediated GPU sample: emulated GPUs partitioned into VFIO PCI display devices");
