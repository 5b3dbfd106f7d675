// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev sysfs ABI tests: the files of parents, types and instances as
 * Documentation/ABI/testing/sysfs-bus-vfio-mdev describes them (presence,
 * mode, content, links), for test_mdev's default parameters and for a table
 * of other parameter sets.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

/* Resolved path of @path, or "" when it does not resolve. */
static char *resolve(const char *path, char *buf)
{
	if (!realpath(path, buf))
		buf[0] = '\0';
	return buf;
}

FIXTURE(defaults) {
	char uuid[UUID_STR_LEN];
};

FIXTURE_SETUP(defaults)
{
	ASSERT_EQ(0, test_module_reload(""));
	uuid_gen(self->uuid);
}

FIXTURE_TEARDOWN(defaults)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

/* /sys/class/mdev_bus/<parent> links to each parent, and only while registered. */
TEST_F(defaults, parent_links)
{
	char path[PATH_MAX], real[PATH_MAX], want[PATH_MAX];
	unsigned int p;

	for (p = 0; p < 2; p++) {
		parent_path(path, p);
		EXPECT_TRUE(is_symlink(path));
		snprintf(want, sizeof(want), TEST_PARENT_DIR "/mdev_test%u", p);
		EXPECT_STREQ(want, resolve(path, real));
	}
	EXPECT_FALSE(path_exists(parent_path(path, 2)));

	ASSERT_EQ(0, test_module_unload());
	EXPECT_FALSE(path_exists(parent_path(path, 0)));
	EXPECT_FALSE(path_exists(parent_path(path, 1)));
	ASSERT_EQ(0, test_module_load(""));
	EXPECT_TRUE(is_symlink(parent_path(path, 0)));
}

/* mdev_supported_types holds exactly one directory per type. */
TEST_F(defaults, type_directories)
{
	char path[PATH_MAX];
	struct stat st;
	unsigned int p, t;

	for (p = 0; p < 2; p++) {
		EXPECT_EQ(3, dir_count(types_path(path, p)));
		for (t = 0; t < 3; t++) {
			ASSERT_EQ(0, stat(type_path(path, p, t, NULL), &st));
			EXPECT_TRUE(S_ISDIR(st.st_mode));
		}
		EXPECT_FALSE(path_exists(type_path(path, p, 3, NULL)));
	}
}

static const struct {
	const char *file;
	int mode;
} type_modes[] = {
	{ "create", 0200 },
	{ "name", 0444 },
	{ "available_instances", 0444 },
	{ "device_api", 0444 },
	{ "description", 0444 },
	{ "single_usage_restriction", 0444 },
	{ "version", 0644 },
	{ "test_capacity", 0444 },
	{ "test_requests", 0444 },
};

TEST_F(defaults, type_file_modes)
{
	char path[PATH_MAX];
	struct stat st;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(type_modes); i++) {
		int mode = file_mode(type_path(path, 0, 0, type_modes[i].file));

		EXPECT_EQ(type_modes[i].mode, mode)
			TH_LOG("%s: mode %o", type_modes[i].file, mode);
		ASSERT_EQ(0, lstat(path, &st));
		EXPECT_TRUE(S_ISREG(st.st_mode));
	}
	ASSERT_EQ(0, lstat(type_path(path, 0, 0, "devices"), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
}

static void expect_file(struct __test_metadata *_metadata, unsigned int p,
			unsigned int t, const char *file, const char *want)
{
	char buf[256];
	int ret;

	ret = type_read(p, t, file, buf, sizeof(buf));
	EXPECT_EQ((int)strlen(want), ret)
		TH_LOG("mdev_test%u/t%u/%s: %d", p, t, file, ret);
	if (ret >= 0)
		EXPECT_STREQ(want, buf);
}

/* Default parameters: capacity 4,2,1, usage "YN-", version on t0 only. */
TEST_F(defaults, type_file_contents)
{
	static const char * const usage[] = { "Y\n", "N\n" };
	static const char * const caps[] = { "4\n", "2\n", "1\n" };
	static const char * const desc[] = {
		"capacity=4 usage=Y", "capacity=2 usage=N", "capacity=1 usage=-",
	};
	char buf[256], name[32];
	unsigned int p, t;

	for (p = 0; p < 2; p++) {
		for (t = 0; t < 3; t++) {
			snprintf(name, sizeof(name), "Test type %u\n", t);
			expect_file(_metadata, p, t, "name", name);
			expect_file(_metadata, p, t, "available_instances", caps[t]);
			expect_file(_metadata, p, t, "test_capacity", caps[t]);
			expect_file(_metadata, p, t, "device_api", "vfio-pci\n");
			expect_file(_metadata, p, t, "test_requests", "0\n");
			if (t < 2)
				expect_file(_metadata, p, t,
					    "single_usage_restriction", usage[t]);
			ASSERT_LT(0, type_read(p, t, "description", buf,
					       sizeof(buf)));
			chomp(buf);
			EXPECT_STREQ(desc[t], buf);
			EXPECT_EQ(0, type_devices(p, t));
		}
		/* (0x2 << 16 | 0x1b36) - "mtest-1" */
		expect_file(_metadata, p, 0, "version", "00021b36-mtest-1\n");
	}
}

/* Optional files are absent when the driver does not declare them. */
TEST_F(defaults, undeclared_files_absent)
{
	char path[PATH_MAX];

	EXPECT_FALSE(path_exists(type_path(path, 0, 2,
					   "single_usage_restriction")));
	EXPECT_FALSE(path_exists(type_path(path, 0, 1, "version")));
	EXPECT_FALSE(path_exists(type_path(path, 0, 2, "version")));
	EXPECT_FALSE(path_exists(type_path(path, 1, 2,
					   "single_usage_restriction")));
	EXPECT_TRUE(path_exists(type_path(path, 0, 0, "version")));
}

/* Read-only files refuse writes with an errno and keep their content. */
TEST_F(defaults, read_only_files_refuse_writes)
{
	static const char * const files[] = {
		"name", "available_instances", "device_api", "description",
		"single_usage_restriction", "test_capacity", "test_requests",
	};
	char path[PATH_MAX], before[256], after[256];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		type_path(path, 0, 0, files[i]);
		ASSERT_LT(0, sysfs_read(path, before, sizeof(before)));
		EXPECT_GT(0, sysfs_write(path, "1\n", 2))
			TH_LOG("write to %s succeeded", files[i]);
		EXPECT_GT(0, sysfs_write(path, "0", 1));
		ASSERT_LT(0, sysfs_read(path, after, sizeof(after)));
		EXPECT_STREQ(before, after);
	}
	EXPECT_EQ(0, mdev_count());
}

/* Write-only files cannot be read. */
TEST_F(defaults, write_only_files_refuse_reads)
{
	char path[PATH_MAX], buf[64];

	EXPECT_GT(0, sysfs_read(type_path(path, 0, 0, "create"), buf,
				sizeof(buf)));
	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	EXPECT_GT(0, sysfs_read(mdev_path(path, self->uuid, "remove"), buf,
				sizeof(buf)));
	EXPECT_TRUE(mdev_exists(self->uuid));
	EXPECT_EQ(0, mdev_remove(self->uuid));
}

/* An instance's directory, links and files. */
TEST_F(defaults, instance_directory)
{
	char path[PATH_MAX], real[PATH_MAX], want[PATH_MAX];
	char group[PATH_MAX];
	int num;

	ASSERT_EQ(0, mdev_create(0, 1, self->uuid));

	/* A link into the parent's directory, named by the UUID. */
	mdev_path(path, self->uuid, NULL);
	EXPECT_TRUE(is_symlink(path));
	snprintf(want, sizeof(want), TEST_PARENT_DIR "/mdev_test0/%s",
		 self->uuid);
	EXPECT_STREQ(want, resolve(path, real));

	/* mdev_type points to the type it was created from. */
	EXPECT_TRUE(is_symlink(mdev_path(path, self->uuid, "mdev_type")));
	resolve(type_path(want, 0, 1, NULL), group);
	EXPECT_STREQ(group, resolve(path, real));
	EXPECT_STRNE("", real);

	/* Bound to the vendor driver. */
	EXPECT_TRUE(is_symlink(mdev_path(path, self->uuid, "driver")));
	EXPECT_STREQ(MDEV_BUS_DRIVERS "/" TEST_DRIVER_NAME, resolve(path, real));

	/* A VFIO group with its character device. */
	EXPECT_TRUE(is_symlink(mdev_path(path, self->uuid, "iommu_group")));
	num = mdev_iommu_group(self->uuid);
	ASSERT_LE(0, num);
	snprintf(want, sizeof(want), "/sys/kernel/iommu_groups/%d", num);
	EXPECT_STREQ(want, resolve(path, real));
	snprintf(path, sizeof(path), "/dev/vfio/%d", num);
	EXPECT_TRUE(path_exists(path));

	/* The core's remove file and the vendor's dev_groups files. */
	EXPECT_EQ(0200, file_mode(mdev_path(path, self->uuid, "remove")));
	EXPECT_EQ(0, mdev_read_long(self->uuid, "test_open_count"));
	EXPECT_EQ(0, type_requests(0, 1));

	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_FALSE(mdev_exists(self->uuid));
	snprintf(path, sizeof(path), TEST_PARENT_DIR "/mdev_test0/%s",
		 self->uuid);
	EXPECT_FALSE(path_exists(path));
}

/* The type's devices/ directory holds one link per live instance. */
TEST_F(defaults, type_devices_links)
{
	char path[PATH_MAX], real[PATH_MAX], want[PATH_MAX];
	char uuid2[UUID_STR_LEN];

	uuid_gen(uuid2);
	ASSERT_EQ(0, mdev_create(1, 0, self->uuid));
	ASSERT_EQ(0, mdev_create(1, 0, uuid2));

	EXPECT_EQ(2, type_devices(1, 0));
	EXPECT_EQ(0, type_devices(1, 1));
	EXPECT_EQ(0, type_devices(0, 0));

	EXPECT_TRUE(is_symlink(type_link_path(path, 1, 0, self->uuid)));
	resolve(mdev_path(want, self->uuid, NULL), real);
	EXPECT_STRNE("", real);
	resolve(path, want);
	EXPECT_STREQ(real, want);

	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_FALSE(path_exists(path));
	EXPECT_EQ(1, type_devices(1, 0));
	EXPECT_EQ(0, mdev_remove(uuid2));
	EXPECT_EQ(0, type_devices(1, 0));
}

/* The instance shows up in the parent's directory and on the bus. */
TEST_F(defaults, instance_on_bus_and_parent)
{
	char path[PATH_MAX];

	EXPECT_EQ(0, mdev_count());
	ASSERT_EQ(0, mdev_create(1, 2, self->uuid));
	EXPECT_EQ(1, mdev_count());
	snprintf(path, sizeof(path), TEST_PARENT_DIR "/mdev_test1/%s",
		 self->uuid);
	EXPECT_TRUE(path_exists(path));
	snprintf(path, sizeof(path), TEST_PARENT_DIR "/mdev_test0/%s",
		 self->uuid);
	EXPECT_FALSE(path_exists(path));
	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_EQ(0, mdev_count());
}

/*
 * Other parameter sets: number of parents and types, optional files and the
 * common part of the version string for each device API.
 */
FIXTURE(params) {
};

FIXTURE_VARIANT(params) {
	const char *params;
	unsigned int parents;
	unsigned int types;
	unsigned int capacity[8];
	const char *usage;
	unsigned int version_mask;
	const char *device_api;
	const char *version;
	bool describe;
	bool shared;
};

FIXTURE_VARIANT_ADD(params, one_parent_one_type) {
	.params = "parents=1 capacity=3",
	.parents = 1,
	.types = 1,
	.capacity = { 3 },
	.usage = "Y",
	.version_mask = 0x1,
	.device_api = "vfio-pci",
	.version = "00021b36-mtest-1",
	.describe = true,
};

FIXTURE_VARIANT_ADD(params, eight_types) {
	.params = "parents=3 capacity=1,2,3,4,5,6,7,8 usage=YN-YN-YN version_mask=0xaa describe=N",
	.parents = 3,
	.types = 8,
	.capacity = { 1, 2, 3, 4, 5, 6, 7, 8 },
	.usage = "YN-YN-YN",
	.version_mask = 0xaa,
	.device_api = "vfio-pci",
	.version = "00021b36-mtest-1",
	.describe = false,
};

FIXTURE_VARIANT_ADD(params, eight_parents) {
	.params = "parents=8 capacity=2,1 usage=NY version_mask=0x2",
	.parents = 8,
	.types = 2,
	.capacity = { 2, 1 },
	.usage = "NY",
	.version_mask = 0x2,
	.device_api = "vfio-pci",
	.version = "00021b36-mtest-1",
	.describe = true,
};

FIXTURE_VARIANT_ADD(params, no_optional_files) {
	.params = "capacity=2,2 usage=-- version_mask=0 describe=N",
	.parents = 2,
	.types = 2,
	.capacity = { 2, 2 },
	.usage = "--",
	.version_mask = 0,
	.device_api = "vfio-pci",
	.describe = false,
};

FIXTURE_VARIANT_ADD(params, pci_other_vendor) {
	.params = "vendor_id=0x8086 version=gpu-9.1 version_mask=0x3 capacity=1,1 usage=NY",
	.parents = 2,
	.types = 2,
	.capacity = { 1, 1 },
	.usage = "NY",
	.version_mask = 0x3,
	.device_api = "vfio-pci",
	.version = "00028086-gpu-9.1",
	.describe = true,
};

FIXTURE_VARIANT_ADD(params, platform) {
	.params = "device_api=vfio-platform vendor_id=0 version=plat.v2 capacity=2",
	.parents = 2,
	.types = 1,
	.capacity = { 2 },
	.usage = "Y",
	.version_mask = 0x1,
	.device_api = "vfio-platform",
	.version = "00040000-plat.v2",
	.describe = true,
};

FIXTURE_VARIANT_ADD(params, amba) {
	.params = "device_api=vfio-amba vendor_id=0 version=a capacity=1 usage=N",
	.parents = 2,
	.types = 1,
	.capacity = { 1 },
	.usage = "N",
	.version_mask = 0x1,
	.device_api = "vfio-amba",
	.version = "00080000-a",
	.describe = true,
};

FIXTURE_VARIANT_ADD(params, ccw) {
	.params = "device_api=vfio-ccw vendor_id=0 version=ccw_1 capacity=5,6 version_mask=0x2",
	.parents = 2,
	.types = 2,
	.capacity = { 5, 6 },
	.usage = "YN",
	.version_mask = 0x2,
	.device_api = "vfio-ccw",
	.version = "00100000-ccw_1",
	.describe = true,
};

FIXTURE_VARIANT_ADD(params, ap) {
	.params = "device_api=vfio-ap vendor_id=0 version=~ap!{}~ capacity=3",
	.parents = 2,
	.types = 1,
	.capacity = { 3 },
	.usage = "Y",
	.version_mask = 0x1,
	.device_api = "vfio-ap",
	.version = "00200000-~ap!{}~",
	.describe = true,
};

FIXTURE_VARIANT_ADD(params, shared_max) {
	.params = "shared_max=6 capacity=1,1,1 parents=1",
	.parents = 1,
	.types = 3,
	.capacity = { 6, 6, 6 },
	.usage = "YN-",
	.version_mask = 0x1,
	.device_api = "vfio-pci",
	.version = "00021b36-mtest-1",
	.describe = true,
	.shared = true,
};

FIXTURE_SETUP(params)
{
	ASSERT_EQ(0, test_module_reload(variant->params));
}

FIXTURE_TEARDOWN(params)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(params, layout)
{
	char path[PATH_MAX], parent[PATH_MAX];
	unsigned int p, t;

	for (p = 0; p < variant->parents; p++) {
		EXPECT_TRUE(is_symlink(parent_path(parent, p)));
		EXPECT_EQ((int)variant->types, dir_count(types_path(path, p)));
		for (t = 0; t < variant->types; t++)
			EXPECT_TRUE(path_exists(type_path(path, p, t, "create")));
	}
	EXPECT_FALSE(path_exists(parent_path(path, variant->parents)));
}

TEST_F(params, contents)
{
	char path[PATH_MAX], buf[256], want[256];
	unsigned int p, t;

	for (p = 0; p < variant->parents; p++) {
		for (t = 0; t < variant->types; t++) {
			char usage = t < strlen(variant->usage) ?
				     variant->usage[t] : '-';

			snprintf(want, sizeof(want), "Test type %u\n", t);
			expect_file(_metadata, p, t, "name", want);
			snprintf(want, sizeof(want), "%u\n",
				 variant->capacity[t]);
			expect_file(_metadata, p, t, "available_instances", want);
			expect_file(_metadata, p, t, "test_capacity", want);
			snprintf(want, sizeof(want), "%s\n",
				 variant->device_api);
			expect_file(_metadata, p, t, "device_api", want);

			type_path(path, p, t, "single_usage_restriction");
			if (usage == '-') {
				EXPECT_FALSE(path_exists(path));
			} else {
				snprintf(want, sizeof(want), "%c\n", usage);
				expect_file(_metadata, p, t,
					    "single_usage_restriction", want);
				EXPECT_EQ(0444, file_mode(path));
			}

			type_path(path, p, t, "version");
			if (variant->version_mask & (1u << t)) {
				snprintf(want, sizeof(want), "%s\n",
					 variant->version);
				expect_file(_metadata, p, t, "version", want);
				EXPECT_EQ(0644, file_mode(path));
			} else {
				EXPECT_FALSE(path_exists(path));
			}

			/* In shared_max mode "capacity=" is the driver's choice. */
			type_path(path, p, t, "description");
			EXPECT_EQ(variant->describe, path_exists(path));
			if (variant->describe && !variant->shared) {
				ASSERT_LT(0, sysfs_read(path, buf, sizeof(buf)));
				chomp(buf);
				snprintf(want, sizeof(want),
					 "capacity=%u usage=%c",
					 variant->capacity[t], usage);
				EXPECT_STREQ(want, buf);
			}
		}
	}
}

/* An instance of the last type works like any other. */
TEST_F(params, instance_of_last_type)
{
	unsigned int t = variant->types - 1;
	char uuid[UUID_STR_LEN], path[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	unsigned int p = variant->parents - 1;

	uuid_gen(uuid);
	ASSERT_EQ(0, mdev_create(p, t, uuid));
	EXPECT_EQ(variant->capacity[t] - 1, type_available(p, t));
	if (variant->shared && t > 0)
		EXPECT_EQ(variant->capacity[0] - 1, type_available(p, 0));
	ASSERT_NE(NULL, realpath(mdev_path(path, uuid, "mdev_type"), a));
	ASSERT_NE(NULL, realpath(type_path(path, p, t, NULL), b));
	EXPECT_STREQ(b, a);
	EXPECT_EQ(0, mdev_remove(uuid));
	EXPECT_EQ(variant->capacity[t], type_available(p, t));
}

/* vfio=N: a driver whose probe registers no vfio_device. */
FIXTURE(novfio) {
	char uuid[UUID_STR_LEN];
};

FIXTURE_SETUP(novfio)
{
	ASSERT_EQ(0, test_module_reload("vfio=N"));
	uuid_gen(self->uuid);
}

FIXTURE_TEARDOWN(novfio)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(novfio, instance_without_group)
{
	char path[PATH_MAX], real[PATH_MAX];

	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	EXPECT_TRUE(is_symlink(mdev_path(path, self->uuid, "mdev_type")));
	EXPECT_TRUE(is_symlink(mdev_path(path, self->uuid, "driver")));
	EXPECT_STREQ(MDEV_BUS_DRIVERS "/" TEST_DRIVER_NAME, resolve(path, real));
	EXPECT_FALSE(path_exists(mdev_path(path, self->uuid, "iommu_group")));
	EXPECT_FALSE(path_exists(mdev_path(path, self->uuid, "test_open_count")));
	EXPECT_EQ(3, type_available(0, 0));
	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_EQ(4, type_available(0, 0));
}

TEST_F(novfio, unload_with_instances)
{
	char uuid2[UUID_STR_LEN];

	uuid_gen(uuid2);
	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	ASSERT_EQ(0, mdev_create(1, 1, uuid2));
	ASSERT_EQ(0, test_module_unload());
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_FALSE(mdev_exists(uuid2));
	EXPECT_EQ(0, mdev_count());
	ASSERT_EQ(0, test_module_load("vfio=N"));
}

TEST_HARNESS_MAIN
