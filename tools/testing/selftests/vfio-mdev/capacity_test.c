// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev capacity tests: available_instances counts down with every
 * instance and back up with every removal, creation past the last slot fails
 * with EUSERS, per-type capacity (the driver's get_available) and per-parent
 * capacity shared by all types (max_instances), and a failing probe that
 * leaves nothing behind.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

#define MAX_INST	16

/* Per-type capacity, default parameters: 4, 2, 1 on each of two parents. */
FIXTURE(per_type) {
	char uuids[MAX_INST][UUID_STR_LEN];
};

FIXTURE_SETUP(per_type)
{
	unsigned int i;

	ASSERT_EQ(0, test_module_reload(""));
	for (i = 0; i < MAX_INST; i++)
		uuid_gen(self->uuids[i]);
}

FIXTURE_TEARDOWN(per_type)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(per_type, count_down_and_up)
{
	unsigned int i;

	ASSERT_EQ(4, type_available(0, 0));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, mdev_create(0, 0, self->uuids[i]));
		EXPECT_EQ(3 - i, type_available(0, 0));
		EXPECT_EQ((int)i + 1, type_devices(0, 0));
	}
	EXPECT_EQ(-EUSERS, mdev_create(0, 0, self->uuids[4]));
	EXPECT_FALSE(mdev_exists(self->uuids[4]));
	EXPECT_EQ(4, mdev_count());
	EXPECT_EQ(0, type_available(0, 0));
	/* Again: a failed creation must not consume anything either. */
	EXPECT_EQ(-EUSERS, mdev_create(0, 0, self->uuids[5]));
	EXPECT_EQ(0, type_available(0, 0));

	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, mdev_remove(self->uuids[i]));
		EXPECT_EQ(i + 1, type_available(0, 0));
	}
	EXPECT_EQ(0, mdev_count());
}

TEST_F(per_type, types_independent)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mdev_create(0, 0, self->uuids[i]));
	EXPECT_EQ(0, type_available(0, 0));
	EXPECT_EQ(2, type_available(0, 1));
	EXPECT_EQ(1, type_available(0, 2));

	ASSERT_EQ(0, mdev_create(0, 1, self->uuids[4]));
	ASSERT_EQ(0, mdev_create(0, 1, self->uuids[5]));
	EXPECT_EQ(-EUSERS, mdev_create(0, 1, self->uuids[6]));
	EXPECT_EQ(1, type_available(0, 2));
	ASSERT_EQ(0, mdev_create(0, 2, self->uuids[6]));
	EXPECT_EQ(-EUSERS, mdev_create(0, 2, self->uuids[7]));
	EXPECT_EQ(7, mdev_count());
}

TEST_F(per_type, parents_independent)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, mdev_create(1, 0, self->uuids[i]));
	EXPECT_EQ(-EUSERS, mdev_create(1, 0, self->uuids[4]));
	EXPECT_EQ(4, type_available(0, 0));
	ASSERT_EQ(0, mdev_create(0, 0, self->uuids[4]));
	EXPECT_EQ(3, type_available(0, 0));
	EXPECT_EQ(0, type_available(1, 0));
}

TEST_F(per_type, fill_everything)
{
	static const unsigned int caps[] = { 4, 2, 1 };
	unsigned int p, t, i, n = 0;

	for (p = 0; p < 2; p++) {
		for (t = 0; t < 3; t++) {
			for (i = 0; i < caps[t]; i++)
				ASSERT_EQ(0, mdev_create(p, t, self->uuids[n++]));
		}
	}
	ASSERT_EQ(14U, n);
	EXPECT_EQ(14, mdev_count());
	for (p = 0; p < 2; p++) {
		for (t = 0; t < 3; t++) {
			EXPECT_EQ(0, type_available(p, t));
			EXPECT_EQ(-EUSERS, mdev_create(p, t, self->uuids[14]));
		}
	}
	EXPECT_FALSE(mdev_exists(self->uuids[14]));
	for (i = 0; i < n; i++)
		ASSERT_EQ(0, mdev_remove(self->uuids[i]));
	for (p = 0; p < 2; p++) {
		for (t = 0; t < 3; t++)
			EXPECT_EQ(caps[t], type_available(p, t));
	}
}

/* A freed slot is usable again, by another UUID. */
TEST_F(per_type, freed_slot_reused)
{
	ASSERT_EQ(0, mdev_create(0, 2, self->uuids[0]));
	EXPECT_EQ(-EUSERS, mdev_create(0, 2, self->uuids[1]));
	ASSERT_EQ(0, mdev_remove(self->uuids[0]));
	EXPECT_EQ(1, type_available(0, 2));
	ASSERT_EQ(0, mdev_create(0, 2, self->uuids[1]));
	EXPECT_EQ(0, type_available(0, 2));
	EXPECT_FALSE(mdev_exists(self->uuids[0]));
}

/* Many instances at once: the UUID index grows and shrinks. */
FIXTURE(many) {
};

FIXTURE_SETUP(many)
{
	ASSERT_EQ(0, test_module_reload("parents=1 capacity=128"));
}

FIXTURE_TEARDOWN(many)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F_TIMEOUT(many, hundreds, 300)
{
	static char uuids[128][UUID_STR_LEN];
	unsigned int i, round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < 128; i++) {
			uuid_gen(uuids[i]);
			ASSERT_EQ(0, mdev_create(0, 0, uuids[i]))
				TH_LOG("round %u, instance %u", round, i);
		}
		EXPECT_EQ(0, type_available(0, 0));
		EXPECT_EQ(128, mdev_count());
		EXPECT_EQ(128, type_devices(0, 0));
		EXPECT_EQ(-EUSERS, mdev_create(0, 0, "00000000-0000-0000-0000-000000000000"));
		for (i = 0; i < 128; i++)
			EXPECT_EQ(-EEXIST, mdev_create(0, 0, uuids[i]));
		/* Every other one, then the rest, so the index shrinks in steps. */
		for (i = 0; i < 128; i += 2)
			ASSERT_EQ(0, mdev_remove(uuids[i]));
		EXPECT_EQ(64, type_available(0, 0));
		for (i = 1; i < 128; i += 2) {
			EXPECT_TRUE(mdev_exists(uuids[i]));
			ASSERT_EQ(0, mdev_remove(uuids[i]));
		}
		EXPECT_EQ(128, type_available(0, 0));
		EXPECT_EQ(0, mdev_count());
	}
}

/* shared_max: one pool per parent for all its types (max_instances). */
FIXTURE(shared) {
	char uuids[MAX_INST][UUID_STR_LEN];
};

FIXTURE_SETUP(shared)
{
	unsigned int i;

	ASSERT_EQ(0, test_module_reload("shared_max=5 capacity=1,1,1"));
	for (i = 0; i < MAX_INST; i++)
		uuid_gen(self->uuids[i]);
}

FIXTURE_TEARDOWN(shared)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

static void expect_all(struct __test_metadata *_metadata, unsigned int p,
		       long want)
{
	unsigned int t;

	for (t = 0; t < 3; t++)
		EXPECT_EQ(want, type_available(p, t))
			TH_LOG("mdev_test%u/t%u", p, t);
}

TEST_F(shared, initial)
{
	char path[PATH_MAX];
	unsigned int t;

	expect_all(_metadata, 0, 5);
	expect_all(_metadata, 1, 5);
	for (t = 0; t < 3; t++)
		EXPECT_EQ(5, sysfs_read_long(type_path(path, 0, t,
						       "test_capacity")));
}

TEST_F(shared, pool_shared_by_types)
{
	unsigned int i;

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, mdev_create(0, i % 3, self->uuids[i]));
		expect_all(_metadata, 0, 4 - i);
		expect_all(_metadata, 1, 5);
	}
	for (i = 0; i < 3; i++)
		EXPECT_EQ(-EUSERS, mdev_create(0, i, self->uuids[5]));
	EXPECT_EQ(5, mdev_count());
	EXPECT_FALSE(mdev_exists(self->uuids[5]));

	/* The other parent has its own pool. */
	ASSERT_EQ(0, mdev_create(1, 2, self->uuids[5]));
	expect_all(_metadata, 1, 4);
	expect_all(_metadata, 0, 0);

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, mdev_remove(self->uuids[i]));
		expect_all(_metadata, 0, i + 1);
	}
	ASSERT_EQ(0, mdev_remove(self->uuids[5]));
	expect_all(_metadata, 1, 5);
}

TEST_F(shared, one_type_takes_all)
{
	unsigned int i;

	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, mdev_create(1, 1, self->uuids[i]));
	EXPECT_EQ(5, type_devices(1, 1));
	EXPECT_EQ(-EUSERS, mdev_create(1, 0, self->uuids[5]));
	EXPECT_EQ(-EUSERS, mdev_create(1, 2, self->uuids[5]));
	ASSERT_EQ(0, mdev_remove(self->uuids[2]));
	expect_all(_metadata, 1, 1);
	ASSERT_EQ(0, mdev_create(1, 2, self->uuids[5]));
	expect_all(_metadata, 1, 0);
}

/* A probe that fails (fail_probe=<errno>): the errno, and no trace left. */
FIXTURE(fail_probe) {
	char uuid[UUID_STR_LEN];
};

FIXTURE_VARIANT(fail_probe) {
	int err;
	const char *params;
};

FIXTURE_VARIANT_ADD(fail_probe, enomem) {
	.err = ENOMEM,
	.params = "",
};

FIXTURE_VARIANT_ADD(fail_probe, eio) {
	.err = EIO,
	.params = "",
};

FIXTURE_VARIANT_ADD(fail_probe, enospc) {
	.err = ENOSPC,
	.params = "",
};

FIXTURE_VARIANT_ADD(fail_probe, ebusy) {
	.err = EBUSY,
	.params = "",
};

FIXTURE_VARIANT_ADD(fail_probe, enomem_shared) {
	.err = ENOMEM,
	.params = "shared_max=3",
};

FIXTURE_VARIANT_ADD(fail_probe, eio_novfio) {
	.err = EIO,
	.params = "vfio=N",
};

FIXTURE_SETUP(fail_probe)
{
	ASSERT_EQ(0, test_module_reload(variant->params));
	uuid_gen(self->uuid);
}

FIXTURE_TEARDOWN(fail_probe)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(fail_probe, nothing_created)
{
	char path[PATH_MAX], err[16];
	long before[3];
	unsigned int t;

	for (t = 0; t < 3; t++)
		before[t] = type_available(0, t);
	snprintf(err, sizeof(err), "%d", variant->err);
	ASSERT_EQ(0, test_param_write("fail_probe", err));

	for (t = 0; t < 3; t++) {
		EXPECT_EQ(-variant->err, mdev_create(0, t, self->uuid));
		EXPECT_FALSE(mdev_exists(self->uuid));
		EXPECT_EQ(0, type_devices(0, t));
	}
	/* The UUID was not left reserved: the same error, not EEXIST. */
	EXPECT_EQ(-variant->err, mdev_create(1, 0, self->uuid));
	EXPECT_EQ(0, mdev_count());
	snprintf(path, sizeof(path), TEST_PARENT_DIR "/mdev_test0/%s",
		 self->uuid);
	EXPECT_FALSE(path_exists(path));
	for (t = 0; t < 3; t++)
		EXPECT_EQ(before[t], type_available(0, t));

	ASSERT_EQ(0, test_param_write("fail_probe", "0"));
	ASSERT_EQ(0, mdev_create(0, 2, self->uuid));
	EXPECT_TRUE(mdev_exists(self->uuid));
	EXPECT_EQ(before[2] - 1, type_available(0, 2));
	EXPECT_EQ(0, mdev_remove(self->uuid));
	for (t = 0; t < 3; t++)
		EXPECT_EQ(before[t], type_available(0, t));
}

/* A failed probe on the last slot keeps the slot. */
TEST_F(fail_probe, last_slot_kept)
{
	char err[16], other[UUID_STR_LEN];
	unsigned int i;
	long n;

	n = type_available(0, 2);
	ASSERT_LT(0, n);
	ASSERT_GE(MAX_INST, n);
	for (i = 0; i + 1 < n; i++) {
		uuid_gen(other);
		ASSERT_EQ(0, mdev_create(0, 2, other));
	}
	ASSERT_EQ(1, type_available(0, 2));
	snprintf(err, sizeof(err), "%d", variant->err);
	ASSERT_EQ(0, test_param_write("fail_probe", err));
	EXPECT_EQ(-variant->err, mdev_create(0, 2, self->uuid));
	EXPECT_EQ(1, type_available(0, 2));
	ASSERT_EQ(0, test_param_write("fail_probe", "0"));
	EXPECT_EQ(0, mdev_create(0, 2, self->uuid));
	EXPECT_EQ(0, type_available(0, 2));
	EXPECT_EQ((int)n, mdev_count());
}

TEST_HARNESS_MAIN
