/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the mgpu selftests (mgpu_test, mgpu_placement_test,
 * mgpu_display_test) share: the device model of the mgpu sample as
 * Documentation/driver-api/mgpu.rst describes it (profiles, BARs, register
 * offsets), loading mgpu.ko when the runner did not, the GPUs' types in
 * sysfs, and register access through a VFIO device fd.
 *
 * The values are written down here independently of the driver's mgpu.h on
 * purpose: the tests check the driver against its documentation.  No harness
 * code here; helpers return 0 or a count, or a negative errno.
 */

#ifndef VFIO_MDEV_SELFTEST_MGPU_LIB_H
#define VFIO_MDEV_SELFTEST_MGPU_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "common.h"
#include "vfio_client.h"

#define MGPU_MODULE_NAME	"mgpu"
#define MGPU_PARAMS_DIR		"/sys/module/mgpu/parameters"
/* With the default parameters: two GPUs of 512 MiB. */
#define MGPU_DEFAULT_GPUS	2
#define MGPU_DEFAULT_VRAM_MB	512
#define MGPU_SLICES		8

/* ---- PCI identity and config space -------------------------------------- */
#define MGPU_VENDOR		0x1234
#define MGPU_DEVICE		0x1111
#define MGPU_SUBVENDOR		0x1b36
#define MGPU_CLASS_REV		0x03800002	/* class 0x038000, revision 2 */
#define MGPU_MSI_CAP		0x50
#define MGPU_CMD_WRITABLE	0x0546
#define MGPU_BAR0_FLAGS		0x8		/* 32-bit prefetchable memory */
#define MGPU_BAR2_FLAGS		0x0		/* 32-bit memory */
#define MGPU_CFG_SIZE		256

/* ---- regions -------------------------------------------------------------- */
#define MGPU_CFG		VFIO_PCI_CONFIG_REGION_INDEX
#define MGPU_VRAM		VFIO_PCI_BAR0_REGION_INDEX
#define MGPU_MMIO		VFIO_PCI_BAR2_REGION_INDEX
#define MGPU_MMIO_SIZE		0x1000

/* ---- BAR2 ----------------------------------------------------------------- */
#define MGPU_MMIO_EDID		0x000
#define MGPU_MMIO_VGA		0x400
#define MGPU_MMIO_DISPI		0x500
#define MGPU_MMIO_QEXT		0x600
#define MGPU_MMIO_CTRL		0x800

#define MGPU_DISPI(index)	(MGPU_MMIO_DISPI + 2 * (index))
enum mgpu_dispi {
	DISPI_ID = 0x0,
	DISPI_XRES = 0x1,
	DISPI_YRES = 0x2,
	DISPI_BPP = 0x3,
	DISPI_ENABLE = 0x4,
	DISPI_BANK = 0x5,
	DISPI_VIRT_WIDTH = 0x6,
	DISPI_VIRT_HEIGHT = 0x7,
	DISPI_X_OFFSET = 0x8,
	DISPI_Y_OFFSET = 0x9,
	DISPI_VIDEO_MEMORY_64K = 0xa,
	DISPI_REGS
};

#define MGPU_DISPI_ID5		0xb0c5
#define MGPU_QEXT_SIZE		(MGPU_MMIO_QEXT + 0x0)
#define MGPU_QEXT_ENDIAN	(MGPU_MMIO_QEXT + 0x4)
#define MGPU_ENDIAN_LITTLE	0x1e1e1e1e
#define MGPU_ENDIAN_BIG		0xbebebebe

#define MGPU_CTRL_ID		(MGPU_MMIO_CTRL + 0x00)
#define MGPU_CTRL_SLICES	(MGPU_MMIO_CTRL + 0x04)
#define MGPU_CTRL_IRQ_STATUS	(MGPU_MMIO_CTRL + 0x08)
#define MGPU_CTRL_IRQ_ENABLE	(MGPU_MMIO_CTRL + 0x0c)
#define MGPU_CTRL_IRQ_RAISE	(MGPU_MMIO_CTRL + 0x10)
#define MGPU_CTRL_SCRATCH	(MGPU_MMIO_CTRL + 0x14)
#define MGPU_CTRL_ID_VALUE	0x5550474d	/* "MGPU" */

/* ---- profiles (types) ------------------------------------------------------ */
enum mgpu_type_index {
	MGPU_EIGHTH,
	MGPU_QUARTER,
	MGPU_HALF,
	MGPU_FULL,
	MGPU_NR_TYPES
};

struct mgpu_profile {
	const char *name;		/* the type id is "mgpu-<name>" */
	const char *pretty_name;	/* the type's name file */
	unsigned int slices;
	unsigned int heads;
	unsigned int max_width;
	unsigned int max_height;
	bool single;			/* single_usage_restriction Y */
};

extern const struct mgpu_profile mgpu_profiles[MGPU_NR_TYPES];

/* The profile name of @type, "?" out of range (for messages). */
const char *mgpu_type_name(unsigned int type);

/* BAR0 size of an instance of @type on a GPU of @gpu_vram_mb MiB. */
static inline __u64 mgpu_vram_size(unsigned int gpu_vram_mb, unsigned int type)
{
	return ((__u64)gpu_vram_mb << 20) / MGPU_SLICES *
	       mgpu_profiles[type].slices;
}

/* ---- which GPUs ------------------------------------------------------------ */
/*
 * The mgpu tests run against virtual GPUs (mgpu0, mgpu1: "gpus=2") or, with
 * MGPU_PARENTS=pci in the environment, against PCI GPUs: GPU n is the n-th
 * function of $MGPU_PCI_GPUS (default MGPU_PCI_DEFAULT, the test VM's two
 * 512 MiB ivshmem functions), given to mgpu through driver_override and
 * mgpu loaded with "gpus=0".  Either way there are two 512 MiB GPUs.
 */
#define MGPU_PCI_DEFAULT	"0000:00:10.0 0000:00:11.0"
#define MGPU_MAX_PCI_GPUS	8
#define PCI_DEVICES		"/sys/bus/pci/devices"
#define MGPU_PCI_DRIVER		"/sys/bus/pci/drivers/mgpu"

bool mgpu_pci_mode(void);
/* The PCI function of GPU @gpu in PCI mode ("0000:00:10.0"), else NULL. */
const char *mgpu_pci_function(unsigned int gpu);
/* The mdev parent's name of GPU @gpu: "mgpu<gpu>" or its PCI function. */
const char *mgpu_parent_name(unsigned int gpu, char *buf, size_t len);
/* Writes @driver ("" to clear) to @function's driver_override: 0, -errno. */
int mgpu_pci_override(const char *function, const char *driver);

/* ---- the module ------------------------------------------------------------ */
const char *mgpu_module_path(void);
/*
 * For main(), before the harness runs: makes sure our mdev core and mgpu
 * (with default parameters, and in PCI mode its functions bound) are
 * loaded, loading them if needed and unloading mgpu again at exit if this
 * program loaded it.  0 or -errno, with the reason in @why.
 */
int mgpu_env_init(char *why, size_t len);
/*
 * Unload mgpu (waiting for users to go) and load it with @params; "" means
 * the defaults of the mode: "gpus=2", or "gpus=0" with the PCI GPUs bound.
 */
int mgpu_reload(const char *params);
int mgpu_param_write(const char *param, const char *value);
int mgpu_param_read(const char *param, char *buf, size_t len);

/* ---- sysfs ----------------------------------------------------------------- */
char *mgpu_type_path(char *buf, unsigned int gpu, unsigned int type,
		     const char *file);
int mgpu_type_read(unsigned int gpu, unsigned int type, const char *file,
		   char *buf, size_t len);
/* A write of exactly @len bytes to a type file: 0 if all taken, -errno. */
int mgpu_type_write(unsigned int gpu, unsigned int type, const char *file,
		    const char *data, size_t len);
long mgpu_available(unsigned int gpu, unsigned int type);
int mgpu_type_devices(unsigned int gpu, unsigned int type);
int mgpu_create(unsigned int gpu, unsigned int type, const char *uuid);
/*
 * Removes @uuid and waits up to @timeout_ms for it: 0, -errno, or
 * -ETIMEDOUT while the removal waits for a user (the child is left behind).
 */
int mgpu_remove(const char *uuid, int timeout_ms);
bool mgpu_gpu_exists(unsigned int gpu);

/* ---- BAR2 through a device fd ---------------------------------------------- */
int mgpu_mmio_read(int device, __u32 offset, unsigned int size,
		   __u32 *val);
int mgpu_mmio_write(int device, __u32 offset, unsigned int size,
		    __u32 val);
/* The value, or a negative errno if the read fails. */
long mgpu_mmio_get(int device, __u32 offset, unsigned int size);
long mgpu_dispi_get(int device, unsigned int index);
int mgpu_dispi_set(int device, unsigned int index, __u16 val);
long mgpu_ctrl_get(int device, __u32 offset);
int mgpu_ctrl_set(int device, __u32 offset, __u32 val);

/*
 * Programs a display mode the way bochs-drm does: display off, BPP, XRES,
 * YRES, VIRT_WIDTH (0 keeps "same as XRES"), offsets, then ENABLE.
 */
struct mgpu_mode {
	__u16 xres;
	__u16 yres;
	__u16 bpp;
	__u16 virt_width;
	__u16 x_offset;
	__u16 y_offset;
	__u16 enable;
};

int mgpu_set_mode(int device, const struct mgpu_mode *mode);

/*
 * Writes @len bytes (a multiple of 4) at @off in VRAM through pwrite: a
 * pattern of @seed and the offset in which no 32-bit word is zero, so that
 * every page written is one a sparse migration stream must carry.  0,
 * -errno, or -EIO for a short write.
 */
int mgpu_vram_fill(int device, __u64 off, size_t len, __u32 seed);

#endif /* VFIO_MDEV_SELFTEST_MGPU_LIB_H */
