// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev UUID tests: an instance's name is the lowercase form of the UUID
 * written to "create", a UUID names at most one instance across every type
 * and parent (EEXIST), and it can be used again once its instance is gone.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

FIXTURE(uuid) {
	char uuid[UUID_STR_LEN];
	char upper[UUID_STR_LEN];
};

FIXTURE_SETUP(uuid)
{
	ASSERT_EQ(0, test_module_reload("parents=3"));
	uuid_gen(self->uuid);
	memcpy(self->upper, self->uuid, sizeof(self->upper));
	str_upper(self->upper);
}

FIXTURE_TEARDOWN(uuid)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(uuid, lowercase_accepted)
{
	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	EXPECT_TRUE(mdev_exists(self->uuid));
	EXPECT_FALSE(mdev_exists(self->upper));
}

TEST_F(uuid, uppercase_accepted_named_lowercase)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t len;

	ASSERT_EQ(0, mdev_create(0, 0, self->upper));
	EXPECT_TRUE(mdev_exists(self->uuid));
	EXPECT_FALSE(mdev_exists(self->upper));
	EXPECT_EQ(1, mdev_count());

	/* The devices/ link and the device's own name are lowercase too. */
	EXPECT_TRUE(is_symlink(type_link_path(path, 0, 0, self->uuid)));
	len = readlink(mdev_path(path, self->uuid, NULL), target,
		       sizeof(target) - 1);
	ASSERT_LT(0, len);
	target[len] = '\0';
	EXPECT_EQ(NULL, strstr(target, self->upper));
	EXPECT_NE(NULL, strstr(target, self->uuid));
}

TEST_F(uuid, duplicate_same_type)
{
	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	EXPECT_EQ(-EEXIST, mdev_create(0, 0, self->uuid));
	EXPECT_EQ(1, mdev_count());
	EXPECT_EQ(1, type_devices(0, 0));
	EXPECT_EQ(3, type_available(0, 0));
}

TEST_F(uuid, duplicate_other_case)
{
	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	EXPECT_EQ(-EEXIST, mdev_create(0, 0, self->upper));
	EXPECT_EQ(-EEXIST, mdev_create(0, 1, self->upper));
	EXPECT_EQ(1, mdev_count());
	EXPECT_EQ(3, type_available(0, 0));
	EXPECT_EQ(2, type_available(0, 1));
}

TEST_F(uuid, duplicate_with_newline)
{
	char line[UUID_STR_LEN + 1], path[PATH_MAX];

	snprintf(line, sizeof(line), "%s\n", self->uuid);
	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	EXPECT_EQ(-EEXIST, sysfs_write(type_path(path, 0, 0, "create"),
				       line, strlen(line)));
	EXPECT_EQ(1, mdev_count());
}

/* Every other type of the parent refuses it, and keeps all its slots. */
TEST_F(uuid, duplicate_other_type)
{
	static const long capacity[] = { 4, 2, 1 };
	unsigned int t;

	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	for (t = 1; t < ARRAY_SIZE(capacity); t++) {
		EXPECT_EQ(-EEXIST, mdev_create(0, t, self->uuid));
		EXPECT_EQ(0, type_devices(0, t));
		EXPECT_EQ(capacity[t], type_available(0, t));
	}
	EXPECT_EQ(1, mdev_count());
}

TEST_F(uuid, duplicate_other_parent)
{
	char path[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	unsigned int p, t;

	ASSERT_EQ(0, mdev_create(1, 1, self->uuid));
	for (p = 0; p < 3; p++) {
		for (t = 0; t < 3; t++)
			EXPECT_EQ(-EEXIST, mdev_create(p, t, self->uuid));
	}
	EXPECT_EQ(1, mdev_count());
	EXPECT_EQ(1, type_available(1, 1));
	EXPECT_EQ(2, type_available(2, 1));
	EXPECT_EQ(0, type_devices(2, 1));

	/* The instance is still the first one, of its first type. */
	ASSERT_NE(NULL, realpath(mdev_path(path, self->uuid, "mdev_type"), a));
	ASSERT_NE(NULL, realpath(type_path(path, 1, 1, NULL), b));
	EXPECT_STREQ(b, a);
}

TEST_F(uuid, reusable_after_remove)
{
	unsigned int p, t, i = 0;

	for (p = 0; p < 3; p++) {
		for (t = 0; t < 3; t++) {
			ASSERT_EQ(0, mdev_create(p, t, i % 2 ? self->upper :
						 self->uuid));
			EXPECT_TRUE(mdev_exists(self->uuid));
			EXPECT_EQ(1, type_devices(p, t));
			ASSERT_EQ(0, mdev_remove(self->uuid));
			EXPECT_FALSE(mdev_exists(self->uuid));
			EXPECT_EQ(0, type_devices(p, t));
			i++;
		}
	}
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(4, type_available(2, 0));
}

/* Distinct UUIDs give distinct instances; removing one keeps the others. */
TEST_F(uuid, distinct_instances)
{
	char uuids[4][UUID_STR_LEN];
	unsigned int i;

	for (i = 0; i < 4; i++) {
		uuid_gen(uuids[i]);
		ASSERT_EQ(0, mdev_create(2, 0, uuids[i]));
	}
	EXPECT_EQ(4, mdev_count());
	EXPECT_EQ(4, type_devices(2, 0));
	ASSERT_EQ(0, mdev_remove(uuids[1]));
	EXPECT_FALSE(mdev_exists(uuids[1]));
	EXPECT_TRUE(mdev_exists(uuids[0]));
	EXPECT_TRUE(mdev_exists(uuids[2]));
	EXPECT_TRUE(mdev_exists(uuids[3]));
	EXPECT_EQ(3, type_devices(2, 0));
	EXPECT_EQ(1, type_available(2, 0));
}

/* Once removed, the remove file is gone with its instance. */
TEST_F(uuid, remove_twice)
{
	char path[PATH_MAX];

	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	mdev_path(path, self->uuid, "remove");
	ASSERT_EQ(1, sysfs_write(path, "1", 1));
	EXPECT_EQ(-ENOENT, sysfs_write(path, "1", 1));
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(4, type_available(0, 0));
}

/* An instance stays when its UUID is written to another type's create. */
TEST_F(uuid, failed_duplicate_keeps_instance)
{
	ASSERT_EQ(0, mdev_create(0, 2, self->uuid));
	EXPECT_EQ(0, type_available(0, 2));
	EXPECT_EQ(-EEXIST, mdev_create(1, 2, self->uuid));
	EXPECT_EQ(1, type_available(1, 2));
	EXPECT_TRUE(mdev_exists(self->uuid));
	EXPECT_EQ(0, mdev_read_long(self->uuid, "test_open_count"));
	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_EQ(1, type_available(0, 2));
}

TEST_HARNESS_MAIN
