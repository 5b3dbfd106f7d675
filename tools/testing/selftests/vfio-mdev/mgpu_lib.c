// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the mgpu selftests (see mgpu_lib.h): the profile table from the
 * documentation, loading mgpu.ko, the types' sysfs files and BAR2 register
 * access.  No harness code here.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mgpu_lib.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The table of "The four profiles" in Documentation/driver-api/mgpu.rst. */
const struct mgpu_profile mgpu_profiles[MGPU_NR_TYPES] = {
	[MGPU_EIGHTH] = { "eighth", "MGPU 1/8 partition", 1, 1, 1280, 1024, true },
	[MGPU_QUARTER] = { "quarter", "MGPU 1/4 partition", 2, 1, 1920, 1200, true },
	[MGPU_HALF] = { "half", "MGPU 1/2 partition", 4, 2, 2560, 1600, true },
	[MGPU_FULL] = { "full", "MGPU full GPU", 8, 4, 3840, 2160, false },
};

const char *mgpu_type_name(unsigned int type)
{
	return type < MGPU_NR_TYPES ? mgpu_profiles[type].name : "?";
}

/* $MGPU_MODULE, else the module in the tree the test binary is part of. */
const char *mgpu_module_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("MGPU_MODULE");
	char exe[PATH_MAX];
	ssize_t len;

	if (env && *env)
		return env;
	if (path[0])
		return path;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		return "samples/vfio-mdev/mgpu/mgpu.ko";
	exe[len] = '\0';
	snprintf(path, sizeof(path),
		 "%s/../../../../samples/vfio-mdev/mgpu/mgpu.ko", dirname(exe));
	return path;
}

bool mgpu_pci_mode(void)
{
	const char *mode = getenv("MGPU_PARENTS");

	return mode && !strcmp(mode, "pci");
}

const char *mgpu_pci_function(unsigned int gpu)
{
	static char functions[MGPU_MAX_PCI_GPUS][16];
	static bool parsed;

	if (!mgpu_pci_mode())
		return NULL;
	if (!parsed) {
		const char *env = getenv("MGPU_PCI_GPUS");
		char list[256], *rest = list, *tok;
		unsigned int n = 0;

		snprintf(list, sizeof(list), "%s",
			 env && *env ? env : MGPU_PCI_DEFAULT);
		while (n < MGPU_MAX_PCI_GPUS && (tok = strsep(&rest, " ,")))
			if (*tok)
				snprintf(functions[n++], sizeof(functions[0]),
					 "%s", tok);
		parsed = true;
	}
	return gpu < MGPU_MAX_PCI_GPUS && functions[gpu][0] ?
	       functions[gpu] : NULL;
}

const char *mgpu_parent_name(unsigned int gpu, char *buf, size_t len)
{
	const char *function = mgpu_pci_function(gpu);

	if (function)
		snprintf(buf, len, "%s", function);
	else if (mgpu_pci_mode())
		snprintf(buf, len, "no-pci-gpu%u", gpu);
	else
		snprintf(buf, len, "mgpu%u", gpu);
	return buf;
}

int mgpu_pci_override(const char *function, const char *driver)
{
	char path[PATH_MAX];
	/* sysfs takes "\n" as clearing the override */
	const char *value = *driver ? driver : "\n";
	int ret;

	snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver_override",
		 function);
	ret = sysfs_write(path, value, strlen(value));
	return ret < 0 ? ret : 0;
}

/* In PCI mode, every function of $MGPU_PCI_GPUS is for mgpu. */
static int mgpu_pci_claim_all(void)
{
	const char *function;
	unsigned int gpu;
	int ret;

	for (gpu = 0; (function = mgpu_pci_function(gpu)); gpu++) {
		ret = mgpu_pci_override(function, MGPU_MODULE_NAME);
		if (ret)
			return ret;
	}
	return 0;
}

/* The parameters of a default load in the current mode. */
static int mgpu_load_default(void)
{
	int ret;

	if (!mgpu_pci_mode())
		return module_load(mgpu_module_path(), "");
	ret = mgpu_pci_claim_all();
	if (ret)
		return ret;
	/* binding happens at registration: the overrides match */
	return module_load(mgpu_module_path(), "gpus=0");
}

static bool mgpu_loaded_here;

static void mgpu_env_exit(void)
{
	if (mgpu_loaded_here && module_loaded(MGPU_MODULE_NAME))
		module_unload_wait(MGPU_MODULE_NAME, 10000);
}

int mgpu_env_init(char *why, size_t len)
{
	char gpus[16];
	int ret;

	why[0] = '\0';
	if (module_loaded(MGPU_MODULE_NAME)) {
		/* Left with other parameters by an interrupted run? */
		ret = mgpu_param_read("gpus", gpus, sizeof(gpus));
		if (ret >= 0 && strcmp(gpus, mgpu_pci_mode() ? "0\n" : "2\n")) {
			ret = mgpu_reload("");
			if (ret) {
				snprintf(why, len, "reloading mgpu: %s",
					 strerror(-ret));
				return ret;
			}
		}
		return 0;
	}
	if (!module_loaded(CORE_MODULE_NAME)) {
		ret = core_module_load();
		if (ret) {
			snprintf(why, len, "loading %s: %s", core_module_path(),
				 strerror(-ret));
			return ret;
		}
	}
	ret = mgpu_load_default();
	if (ret) {
		snprintf(why, len, "loading %s%s: %s", mgpu_module_path(),
			 mgpu_pci_mode() ? " for PCI GPUs" : "",
			 strerror(-ret));
		return ret;
	}
	mgpu_loaded_here = true;
	atexit(mgpu_env_exit);
	if (!mgpu_gpu_exists(0) || !mgpu_gpu_exists(1)) {
		snprintf(why, len, "GPUs 0 and 1 (%s) are not there",
			 mgpu_pci_mode() ? "PCI" : "virtual");
		return -ENODEV;
	}
	return 0;
}

int mgpu_reload(const char *params)
{
	int ret;

	if (module_loaded(MGPU_MODULE_NAME)) {
		ret = module_unload_wait(MGPU_MODULE_NAME, 10000);
		if (ret)
			return ret;
	}
	if (!*params)
		return mgpu_load_default();
	return module_load(mgpu_module_path(), params);
}

int mgpu_param_write(const char *param, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	int ret;

	snprintf(path, sizeof(path), MGPU_PARAMS_DIR "/%s", param);
	ret = sysfs_write(path, value, len);
	if (ret < 0)
		return ret;
	return (size_t)ret == len ? 0 : -EMSGSIZE;
}

int mgpu_param_read(const char *param, char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), MGPU_PARAMS_DIR "/%s", param);
	return sysfs_read(path, buf, len);
}

char *mgpu_type_path(char *buf, unsigned int gpu, unsigned int type,
		     const char *file)
{
	char parent[64];

	snprintf(buf, PATH_MAX, MDEV_CLASS "/%s/mdev_supported_types/mgpu-%s%s%s",
		 mgpu_parent_name(gpu, parent, sizeof(parent)),
		 mgpu_profiles[type].name, file ? "/" : "",
		 file ? file : "");
	return buf;
}

int mgpu_type_read(unsigned int gpu, unsigned int type, const char *file,
		   char *buf, size_t len)
{
	char path[PATH_MAX];

	return sysfs_read(mgpu_type_path(path, gpu, type, file), buf, len);
}

int mgpu_type_write(unsigned int gpu, unsigned int type, const char *file,
		    const char *data, size_t len)
{
	char path[PATH_MAX];
	int ret;

	ret = sysfs_write(mgpu_type_path(path, gpu, type, file), data, len);
	if (ret < 0)
		return ret;
	return (size_t)ret == len ? 0 : -EMSGSIZE;
}

long mgpu_available(unsigned int gpu, unsigned int type)
{
	char path[PATH_MAX];

	return sysfs_read_long(mgpu_type_path(path, gpu, type,
					      "available_instances"));
}

int mgpu_type_devices(unsigned int gpu, unsigned int type)
{
	char path[PATH_MAX];

	return dir_count(mgpu_type_path(path, gpu, type, "devices"));
}

int mgpu_create(unsigned int gpu, unsigned int type, const char *uuid)
{
	return mgpu_type_write(gpu, type, "create", uuid, strlen(uuid));
}

int mgpu_remove(const char *uuid, int timeout_ms)
{
	struct bg_write b;
	int ret;

	ret = bg_remove_start(&b, uuid);
	if (ret)
		return ret;
	if (!bg_write_wait(&b, timeout_ms, &ret)) {
		/* Left behind: it finishes when the device is closed. */
		close(b.fd);
		return -ETIMEDOUT;
	}
	return ret;
}

bool mgpu_gpu_exists(unsigned int gpu)
{
	char path[PATH_MAX];

	char parent[64];

	snprintf(path, sizeof(path), MDEV_CLASS "/%s",
		 mgpu_parent_name(gpu, parent, sizeof(parent)));
	return path_exists(path);
}

int mgpu_mmio_read(int device, __u32 offset, unsigned int size,
		   __u32 *val)
{
	return vfio_reg_read(device, MGPU_MMIO, offset, size, val);
}

int mgpu_mmio_write(int device, __u32 offset, unsigned int size,
		    __u32 val)
{
	return vfio_reg_write(device, MGPU_MMIO, offset, size, val);
}

long mgpu_mmio_get(int device, __u32 offset, unsigned int size)
{
	__u32 val;
	int ret;

	ret = mgpu_mmio_read(device, offset, size, &val);
	return ret ? ret : (long)val;
}

long mgpu_dispi_get(int device, unsigned int index)
{
	return mgpu_mmio_get(device, MGPU_DISPI(index), 2);
}

int mgpu_dispi_set(int device, unsigned int index, __u16 val)
{
	return mgpu_mmio_write(device, MGPU_DISPI(index), 2, val);
}

long mgpu_ctrl_get(int device, __u32 offset)
{
	return mgpu_mmio_get(device, offset, 4);
}

int mgpu_ctrl_set(int device, __u32 offset, __u32 val)
{
	return mgpu_mmio_write(device, offset, 4, val);
}

int mgpu_set_mode(int device, const struct mgpu_mode *mode)
{
	const struct {
		unsigned int index;
		__u16 val;
	} seq[] = {
		{ DISPI_ENABLE, 0 },
		{ DISPI_BPP, mode->bpp },
		{ DISPI_XRES, mode->xres },
		{ DISPI_YRES, mode->yres },
		{ DISPI_VIRT_WIDTH, mode->virt_width },
		{ DISPI_X_OFFSET, mode->x_offset },
		{ DISPI_Y_OFFSET, mode->y_offset },
		{ DISPI_ENABLE, mode->enable },
	};
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(seq); i++) {
		ret = mgpu_dispi_set(device, seq[i].index, seq[i].val);
		if (ret)
			return ret;
	}
	return 0;
}

int mgpu_vram_fill(int device, __u64 off, size_t len, __u32 seed)
{
	__u32 *buf = malloc(len);
	ssize_t n;
	size_t i;

	if (!buf)
		return -ENOMEM;
	/* Knuth's multiplicative hash; "| 1" keeps every word non-zero. */
	for (i = 0; i < len / 4; i++)
		buf[i] = (seed + (__u32)(off / 4 + i)) * 2654435761U | 1;
	n = vfio_region_write(device, MGPU_VRAM, off, buf, len);
	free(buf);
	return n == (ssize_t)len ? 0 : n < 0 ? n : -EIO;
}
