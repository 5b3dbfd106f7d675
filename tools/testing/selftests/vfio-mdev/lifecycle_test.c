// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev lifecycle tests: unregistering a parent with live instances,
 * repeated load/unload of the vendor module and of the mdev core itself, the
 * core refusing to go while a vendor driver uses it, and the rule that only
 * one mdev core (ours or the distribution's) can be loaded at a time.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

#define CYCLES	20

FIXTURE(lifecycle) {
	char uuids[8][UUID_STR_LEN];
	bool other_loaded;
};

FIXTURE_SETUP(lifecycle)
{
	unsigned int i;

	ASSERT_EQ(0, test_env_reset());
	for (i = 0; i < ARRAY_SIZE(self->uuids); i++)
		uuid_gen(self->uuids[i]);
}

/* Whatever happened, leave test_mdev unloaded and our core loaded. */
FIXTURE_TEARDOWN(lifecycle)
{
	if (self->other_loaded) {
		if (module_loaded(TEST_MODULE_NAME))
			EXPECT_EQ(0, test_module_unload());
		EXPECT_EQ(0, module_unload(CORE_MODULE_NAME));
	}
	EXPECT_EQ(0, test_env_reset());
}

/* test_mdev loads, an instance works, and it can be removed again. */
static void check_usable(struct __test_metadata *_metadata, const char *uuid)
{
	ASSERT_EQ(0, test_module_load(""));
	ASSERT_EQ(0, mdev_create(0, 0, uuid));
	EXPECT_TRUE(mdev_exists(uuid));
	EXPECT_EQ(3, type_available(0, 0));
	ASSERT_EQ(0, mdev_remove(uuid));
	ASSERT_EQ(0, test_module_unload());
}

TEST_F(lifecycle, unregister_with_live_instances)
{
	static const unsigned int where[6][2] = {
		{ 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 2 },
	};
	char path[PATH_MAX];
	unsigned int i;

	ASSERT_EQ(0, test_module_load(""));
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, mdev_create(where[i][0], where[i][1],
					 self->uuids[i]));
	ASSERT_EQ(6, mdev_count());

	ASSERT_EQ(0, test_module_unload());
	EXPECT_FALSE(module_loaded(TEST_MODULE_NAME));
	for (i = 0; i < 6; i++)
		EXPECT_FALSE(mdev_exists(self->uuids[i]));
	EXPECT_EQ(0, mdev_count());
	EXPECT_FALSE(path_exists(parent_path(path, 0)));
	EXPECT_FALSE(path_exists(parent_path(path, 1)));
	EXPECT_FALSE(path_exists(TEST_PARENT_DIR));

	/* Nothing of them is left in the core: the UUIDs are free again. */
	ASSERT_EQ(0, test_module_load(""));
	EXPECT_EQ(4, type_available(0, 0));
	for (i = 0; i < 6; i++)
		EXPECT_EQ(0, mdev_create(where[i][0], where[i][1],
					 self->uuids[i]));
	EXPECT_EQ(6, mdev_count());
	EXPECT_EQ(1, type_available(0, 0));
}

/* The vendor driver cannot go while it has a device open through VFIO. */
TEST_F(lifecycle, unload_refused_while_open)
{
	struct vfio_mdev v;

	ASSERT_EQ(0, test_module_load(""));
	ASSERT_EQ(0, mdev_create(0, 1, self->uuids[0]));
	ASSERT_EQ(0, vfio_mdev_open(self->uuids[0], &v));
	EXPECT_NE(0, test_module_unload());
	EXPECT_TRUE(mdev_exists(self->uuids[0]));
	EXPECT_EQ(1, mdev_read_long(self->uuids[0], "test_open_count"));
	vfio_mdev_close(&v);
	EXPECT_EQ(0, test_module_unload());
	EXPECT_FALSE(mdev_exists(self->uuids[0]));
}

#define CHURNERS	4

struct churner {
	unsigned int id;
	int stop;
	unsigned int created;
	unsigned int bad;
	int last_bad;
};

/* What creating or removing may answer while the parent goes away. */
static bool churn_ok(int ret)
{
	return !ret || ret == -ENODEV || ret == -ENOENT || ret == -EUSERS;
}

/* Create and remove instances until told to stop. */
static void *churn(void *arg)
{
	struct churner *c = arg;
	char uuid[UUID_STR_LEN];
	unsigned int n = 0;
	int ret;

	while (!__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST)) {
		uuid_gen(uuid);
		ret = mdev_create(c->id % 2, n++ % 3, uuid);
		if (!ret) {
			__atomic_add_fetch(&c->created, 1, __ATOMIC_SEQ_CST);
			if (n % 2)
				ret = mdev_remove(uuid);
		}
		if (!churn_ok(ret)) {
			c->bad++;
			c->last_bad = ret;
		}
	}
	return NULL;
}

/*
 * Unregistering parents while other threads create and remove instances on
 * them: the unload works, every write gets success or ENODEV/ENOENT (or
 * EUSERS), and no instance survives its parent.
 */
TEST_F_TIMEOUT(lifecycle, unregister_while_busy, 120)
{
	struct churner c[CHURNERS];
	pthread_t threads[CHURNERS];
	unsigned int i, round, created;
	long long end;

	for (round = 0; round < 5; round++) {
		ASSERT_EQ(0, test_module_load("capacity=8,8,8"));
		memset(c, 0, sizeof(c));
		for (i = 0; i < CHURNERS; i++) {
			c[i].id = i;
			ASSERT_EQ(0, pthread_create(&threads[i], NULL, churn,
						    &c[i]));
		}
		/* Let them get going, then pull the parents away. */
		end = now_ms() + 10000;
		do {
			created = 0;
			for (i = 0; i < CHURNERS; i++)
				created += __atomic_load_n(&c[i].created,
							   __ATOMIC_SEQ_CST);
		} while (created < 10 * (round + 1) && now_ms() < end);
		EXPECT_EQ(0, test_module_unload());
		for (i = 0; i < CHURNERS; i++)
			__atomic_store_n(&c[i].stop, 1, __ATOMIC_SEQ_CST);
		for (i = 0; i < CHURNERS; i++) {
			pthread_join(threads[i], NULL);
			EXPECT_EQ(0U, c[i].bad)
				TH_LOG("round %u: got %d", round, c[i].last_bad);
		}
		EXPECT_EQ(0, mdev_count());
		ASSERT_TRUE(_metadata->passed);
	}
}

TEST_F_TIMEOUT(lifecycle, vendor_module_cycles, 600)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < CYCLES; i++) {
		ASSERT_EQ(0, test_module_load(i % 2 ? "shared_max=3" : ""));
		ASSERT_TRUE(is_symlink(parent_path(path, 0)));
		uuid_gen(self->uuids[0]);
		ASSERT_EQ(0, mdev_create(i % 2, i % 3, self->uuids[0]))
			TH_LOG("cycle %u", i);
		EXPECT_TRUE(mdev_exists(self->uuids[0]));
		ASSERT_EQ(0, test_module_unload())
			TH_LOG("cycle %u", i);
		EXPECT_FALSE(mdev_exists(self->uuids[0]));
		EXPECT_FALSE(path_exists(parent_path(path, 0)));
	}
}

TEST_F(lifecycle, core_busy_while_vendor_loaded)
{
	ASSERT_EQ(0, test_module_load(""));
	ASSERT_EQ(0, mdev_create(0, 0, self->uuids[0]));
	EXPECT_NE(0, module_unload(CORE_MODULE_NAME));
	EXPECT_TRUE(module_loaded(CORE_MODULE_NAME));
	EXPECT_TRUE(mdev_exists(self->uuids[0]));
	EXPECT_EQ(0, mdev_remove(self->uuids[0]));
	EXPECT_EQ(0, mdev_create(0, 0, self->uuids[1]));
}

TEST_F(lifecycle, core_unload_cleans_up)
{
	ASSERT_EQ(0, module_unload(CORE_MODULE_NAME));
	EXPECT_FALSE(module_loaded(CORE_MODULE_NAME));
	EXPECT_FALSE(path_exists("/sys/bus/mdev"));
	EXPECT_FALSE(path_exists(MDEV_CLASS));
	/* A vendor driver cannot load without the core. */
	EXPECT_NE(0, test_module_load(""));
	EXPECT_FALSE(module_loaded(TEST_MODULE_NAME));
	ASSERT_EQ(0, core_module_load());
	EXPECT_TRUE(path_exists(MDEV_BUS_DEVICES));
	EXPECT_EQ(0, mdev_count());
	check_usable(_metadata, self->uuids[0]);
}

TEST_F_TIMEOUT(lifecycle, core_module_cycles, 600)
{
	unsigned int i;

	for (i = 0; i < CYCLES; i++) {
		ASSERT_EQ(0, test_module_load(""));
		uuid_gen(self->uuids[0]);
		ASSERT_EQ(0, mdev_create(1, 1, self->uuids[0]))
			TH_LOG("cycle %u", i);
		/* Instances go with their parent, then the core can go. */
		ASSERT_EQ(0, test_module_unload());
		ASSERT_EQ(0, module_unload(CORE_MODULE_NAME))
			TH_LOG("cycle %u", i);
		EXPECT_FALSE(path_exists(MDEV_BUS_DEVICES));
		ASSERT_EQ(0, core_module_load())
			TH_LOG("cycle %u", i);
		EXPECT_EQ(0, mdev_count());
	}
	check_usable(_metadata, self->uuids[1]);
}

/* The distribution's mdev.ko, or NULL with the test skipped if there is none. */
static const char *other_core(struct __test_metadata *_metadata)
{
	const char *other = other_core_module_path();

	if (!path_exists(other))
		SKIP(return NULL, "no other mdev core at %s", other);
	return other;
}

/* With our core loaded, the distribution's mdev.ko must not load. */
TEST_F(lifecycle, other_core_refused)
{
	const char *other = other_core(_metadata);
	int ret;

	if (!other)
		return;
	ASSERT_TRUE(module_loaded(CORE_MODULE_NAME));
	ret = module_load(other, "");
	EXPECT_NE(0, ret);
	/* Ours is untouched and still works. */
	EXPECT_TRUE(path_exists(MDEV_BUS_DEVICES));
	check_usable(_metadata, self->uuids[0]);
}

/* With the distribution's mdev.ko loaded, ours must not load. */
TEST_F(lifecycle, core_refused_next_to_other)
{
	const char *other = other_core(_metadata);
	int ret;

	if (!other)
		return;
	ASSERT_EQ(0, module_unload(CORE_MODULE_NAME));
	ret = module_load(other, "");
	if (ret) {
		ASSERT_EQ(0, core_module_load());
		SKIP(return, "%s does not load on this kernel: %s", other,
		     strerror(-ret));
	}
	self->other_loaded = true;
	EXPECT_NE(0, core_module_load());
	/* Our vendor module needs our core: it must not bind to the other. */
	EXPECT_NE(0, test_module_load(""));
	EXPECT_FALSE(module_loaded(TEST_MODULE_NAME));

	/* Back to ours. */
	ASSERT_EQ(0, module_unload(CORE_MODULE_NAME));
	self->other_loaded = false;
	ASSERT_EQ(0, core_module_load());
	check_usable(_metadata, self->uuids[0]);
}

TEST_HARNESS_MAIN
