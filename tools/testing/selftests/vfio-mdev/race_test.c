// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev concurrency tests: threads released together by a barrier race
 * for the last slots of a type or a parent (exactly as many winners as free
 * slots, every loser EUSERS), for one UUID (exactly one winner, every loser
 * EEXIST) and for one instance's remove file (exactly one winner, every loser
 * ENODEV), and removals against their parents' unregistration (each
 * removal wins or gets ENODEV; in both orders made certain, an open
 * instance holding the first back); the counts are exact afterwards.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

#define RACERS		16
#define ROUNDS		5

struct racer {
	pthread_barrier_t *barrier;
	unsigned int parent;
	unsigned int type;
	char uuid[UUID_STR_LEN];
	int fd;		/* remove races: opened before the barrier */
	int ret;
	void *(*fn)(void *arg);
};

static void *create_racer(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->barrier);
	r->ret = mdev_create(r->parent, r->type, r->uuid);
	return NULL;
}

static void *remove_racer(void *arg)
{
	struct racer *r = arg;
	ssize_t ret;

	pthread_barrier_wait(r->barrier);
	ret = write(r->fd, "1", 1);
	r->ret = ret < 0 ? -errno : (int)ret;
	return NULL;
}

/*
 * Run @n racers through @fn (or each through its own ->fn when @fn is NULL),
 * released together.  0, or -errno when a thread
 * could not be started (the test then fails and its process exits with the
 * started threads still waiting at the barrier).
 */
static int race(struct racer *r, unsigned int n, void *(*fn)(void *))
{
	pthread_t threads[RACERS];
	pthread_barrier_t barrier;
	unsigned int i;

	if (n > RACERS || pthread_barrier_init(&barrier, NULL, n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		r[i].barrier = &barrier;
		if (pthread_create(&threads[i], NULL, fn ?: r[i].fn, &r[i]))
			return -EAGAIN;
	}
	for (i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);
	return 0;
}

static unsigned int count_ret(const struct racer *r, unsigned int n, int ret)
{
	unsigned int i, count = 0;

	for (i = 0; i < n; i++)
		count += r[i].ret == ret;
	return count;
}

/* Aim @r at a new instance of @parent/@type. */
static void aim_racer(struct racer *r, unsigned int parent, unsigned int type)
{
	r->parent = parent;
	r->type = type;
	uuid_gen(r->uuid);
}

/* All the racers race to create: exactly @k win, every other one EUSERS. */
static void expect_winners(struct __test_metadata *_metadata, struct racer *r,
			   unsigned int k)
{
	ASSERT_EQ(0, race(r, RACERS, create_racer));
	EXPECT_EQ(k, count_ret(r, RACERS, 0));
	EXPECT_EQ(RACERS - k, count_ret(r, RACERS, -EUSERS));
}

/* Removes the instances of the racers that created one. */
static void remove_winners(struct __test_metadata *_metadata,
			   const struct racer *r, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!r[i].ret)
			ASSERT_EQ(0, mdev_remove(r[i].uuid));
	}
}

/* Per-type capacity: t0 has 20 slots, t1 has 3, on each of two parents. */
FIXTURE(slots) {
};

FIXTURE_SETUP(slots)
{
	ASSERT_EQ(0, test_module_reload("capacity=20,3"));
}

FIXTURE_TEARDOWN(slots)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

/* Fill @p/@t up to @free free slots; the UUIDs go to @uuids. */
static int fill(unsigned int p, unsigned int t, long free,
		char (*uuids)[UUID_STR_LEN], unsigned int *n)
{
	int ret;

	*n = 0;
	while (type_available(p, t) > free) {
		uuid_gen(uuids[*n]);
		ret = mdev_create(p, t, uuids[*n]);
		if (ret)
			return ret;
		(*n)++;
	}
	return 0;
}

TEST_F(slots, last_slots_of_type)
{
	char uuids[20][UUID_STR_LEN];
	struct racer r[RACERS];
	unsigned int i, n, round;

	for (round = 0; round < ROUNDS; round++) {
		unsigned int k = 1 + round % 3;

		ASSERT_EQ(0, fill(0, 0, k, uuids, &n));
		ASSERT_EQ(20 - k, n);
		for (i = 0; i < RACERS; i++)
			aim_racer(&r[i], 0, 0);
		expect_winners(_metadata, r, k);
		EXPECT_EQ(0, type_available(0, 0));
		EXPECT_EQ(20, type_devices(0, 0));
		EXPECT_EQ(20, mdev_count());
		for (i = 0; i < RACERS; i++)
			EXPECT_EQ(!r[i].ret, mdev_exists(r[i].uuid));

		/* Remove everything: the count is back at its start. */
		remove_winners(_metadata, r, RACERS);
		for (i = 0; i < n; i++)
			ASSERT_EQ(0, mdev_remove(uuids[i]));
		EXPECT_EQ(20, type_available(0, 0));
		EXPECT_EQ(0, mdev_count());
	}
}

/* Racers on two types and two parents at once: each pool exact. */
TEST_F(slots, last_slots_mixed)
{
	char uuids[2][20][UUID_STR_LEN];
	unsigned int won[2][2] = { { 0 } };
	struct racer r[RACERS];
	unsigned int i, n[2];

	ASSERT_EQ(0, fill(0, 0, 2, uuids[0], &n[0]));
	ASSERT_EQ(0, fill(1, 1, 1, uuids[1], &n[1]));
	for (i = 0; i < RACERS; i++)
		aim_racer(&r[i], i % 2, i % 2);
	ASSERT_EQ(0, race(r, RACERS, create_racer));
	for (i = 0; i < RACERS; i++) {
		EXPECT_TRUE(r[i].ret == 0 || r[i].ret == -EUSERS)
			TH_LOG("racer %u: %d", i, r[i].ret);
		if (!r[i].ret)
			won[i % 2][i % 2]++;
	}
	EXPECT_EQ(2U, won[0][0]);
	EXPECT_EQ(1U, won[1][1]);
	EXPECT_EQ(0, type_available(0, 0));
	EXPECT_EQ(0, type_available(1, 1));
	EXPECT_EQ(3, type_available(0, 1));
	EXPECT_EQ(20, type_available(1, 0));
	EXPECT_EQ((int)(n[0] + n[1] + 3), mdev_count());
}

/* Everyone writes the same UUID, to different types and parents. */
TEST_F(slots, same_uuid)
{
	static const long caps[] = { 20, 3 };
	char uuid[UUID_STR_LEN], path[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	unsigned int i, round, winner, p, t;
	struct racer r[RACERS];

	for (round = 0; round < ROUNDS; round++) {
		uuid_gen(uuid);
		for (i = 0; i < RACERS; i++) {
			r[i].parent = i % 2;
			r[i].type = (i / 2) % 2;
			memcpy(r[i].uuid, uuid, sizeof(uuid));
			if (i % 3 == 1)
				str_upper(r[i].uuid);
		}
		ASSERT_EQ(0, race(r, RACERS, create_racer));
		EXPECT_EQ(1U, count_ret(r, RACERS, 0));
		EXPECT_EQ(RACERS - 1U, count_ret(r, RACERS, -EEXIST));
		EXPECT_EQ(1, mdev_count());
		ASSERT_TRUE(mdev_exists(uuid));

		for (winner = 0; winner < RACERS; winner++) {
			if (!r[winner].ret)
				break;
		}
		ASSERT_GT(RACERS, (int)winner);
		ASSERT_NE(NULL, realpath(mdev_path(path, uuid, "mdev_type"), a));
		ASSERT_NE(NULL, realpath(type_path(path, r[winner].parent,
						   r[winner].type, NULL),
					 b));
		EXPECT_STREQ(b, a);
		p = r[winner].parent;
		t = r[winner].type;
		EXPECT_EQ(caps[t] - 1, type_available(p, t));
		EXPECT_EQ(caps[!t], type_available(p, !t));
		EXPECT_EQ(caps[0], type_available(!p, 0));
		EXPECT_EQ(caps[1], type_available(!p, 1));
		ASSERT_EQ(0, mdev_remove(uuid));
		EXPECT_EQ(0, mdev_count());
	}
}

/* Everyone writes "1" to one instance's remove file. */
TEST_F(slots, remove_same_instance)
{
	char uuid[UUID_STR_LEN], path[PATH_MAX];
	struct racer r[RACERS];
	unsigned int i, round;

	for (round = 0; round < ROUNDS; round++) {
		uuid_gen(uuid);
		ASSERT_EQ(0, mdev_create(round % 2, 1, uuid));
		mdev_path(path, uuid, "remove");
		for (i = 0; i < RACERS; i++) {
			r[i].fd = open(path, O_WRONLY | O_CLOEXEC);
			ASSERT_LE(0, r[i].fd);
		}
		ASSERT_EQ(0, race(r, RACERS, remove_racer));
		for (i = 0; i < RACERS; i++)
			close(r[i].fd);
		EXPECT_EQ(1U, count_ret(r, RACERS, 1));
		EXPECT_EQ(RACERS - 1U, count_ret(r, RACERS, -ENODEV));
		EXPECT_FALSE(mdev_exists(uuid));
		EXPECT_EQ(0, mdev_count());
		EXPECT_EQ(3, type_available(round % 2, 1));
	}
}

static void *unload_racer(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->barrier);
	r->ret = test_module_unload();
	return NULL;
}

/*
 * Removals racing with the unregistration of their parents (test_mdev's
 * unload): each removal either removes its instance or finds the parent
 * going away (ENODEV), the unload always succeeds, and nothing is left.
 * A removal must not touch the instance or the parent once the
 * unregistration has freed them; run under KASAN by make check-debug.
 */
TEST_F(slots, remove_during_unregister)
{
	const unsigned int removers = RACERS - 1;
	struct racer r[RACERS];
	unsigned int i, round, won = 0;
	char path[PATH_MAX];

	for (round = 0; round < ROUNDS; round++) {
		for (i = 0; i < removers; i++) {
			aim_racer(&r[i], i % 2, 0);
			ASSERT_EQ(0, mdev_create(r[i].parent, 0, r[i].uuid));
			r[i].fd = open(mdev_path(path, r[i].uuid, "remove"),
				       O_WRONLY | O_CLOEXEC);
			ASSERT_LE(0, r[i].fd);
			r[i].fn = remove_racer;
		}
		r[removers].fn = unload_racer;
		ASSERT_EQ(0, race(r, RACERS, NULL));
		for (i = 0; i < removers; i++)
			close(r[i].fd);
		EXPECT_EQ(0, r[removers].ret)
			TH_LOG("round %u: unload: %s", round,
			       strerror(-r[removers].ret));
		won += count_ret(r, removers, 1);
		EXPECT_EQ(removers, count_ret(r, removers, 1) +
				    count_ret(r, removers, -ENODEV));
		EXPECT_FALSE(module_loaded(TEST_MODULE_NAME));
		EXPECT_EQ(0, mdev_count());
		ASSERT_EQ(0, test_module_reload("capacity=20,3"));
	}
	TH_LOG("%u of %u removals won against the unregistration", won,
	       ROUNDS * removers);
}

/* Bounded polling (10 s) until @b's child sleeps in the kernel uninterruptibly. */
static bool blocks_soon(struct bg_write *b)
{
	int i, ret;

	for (i = 0; i < 1000; i++) {
		if (bg_write_blocked(b))
			return true;
		if (bg_write_wait(b, 10, &ret))
			return false;
	}
	return false;
}

/*
 * The two orders of a removal and its parent's unregistration, each made
 * certain rather than left to timing: an open instance makes whichever
 * started first wait in VFIO (the type's test_requests grows) while it
 * holds the parent, and test_mdev's test_unregister file starts the other
 * (unloading cannot: the open device pins the module).
 *
 * Removal first: it is past its own remove file, so nothing of sysfs keeps
 * the instance or the parent alive; the unregistration must wait for the
 * removal to end, and both succeed once the device is closed.
 */
TEST(removal_holds_off_unregistration)
{
	struct bg_write remover, unregister;
	char uuid[UUID_STR_LEN], path[PATH_MAX], types[PATH_MAX];
	struct vfio_mdev v;
	long requests;
	int ret;

	ASSERT_EQ(0, test_module_reload(""));
	uuid_gen(uuid);
	ASSERT_EQ(0, mdev_create(0, 1, uuid));
	ASSERT_EQ(0, vfio_mdev_open(uuid, &v));
	requests = type_requests(0, 1);
	ASSERT_LE(0, requests);
	ASSERT_EQ(0, bg_remove_start(&remover, uuid));
	ASSERT_TRUE(type_requested_since(0, 1, requests, 10000));
	parent_dev_path(path, 0, "test_unregister");
	ASSERT_EQ(0, bg_write_start(&unregister, path));
	ASSERT_TRUE(blocks_soon(&unregister));
	/* Neither has got anywhere: the types are still there. */
	EXPECT_EQ(0, bg_write_wait(&remover, 0, &ret));
	parent_dev_path(types, 0, "mdev_supported_types");
	EXPECT_TRUE(path_exists(types));
	vfio_mdev_close(&v);
	ASSERT_EQ(1, bg_write_wait(&remover, 10000, &ret));
	EXPECT_EQ(0, ret);
	ASSERT_EQ(1, bg_write_wait(&unregister, 10000, &ret));
	EXPECT_EQ(0, ret);
	EXPECT_FALSE(mdev_exists(uuid));
	EXPECT_FALSE(path_exists(types));
	EXPECT_FALSE(path_exists(parent_path(types, 0)));
	EXPECT_TRUE(path_exists(types_path(types, 1)));
	EXPECT_EQ(-ENODEV, sysfs_write(path, "1", 1));
	EXPECT_EQ(0, test_module_unload_wait());
}

/*
 * Unregistration first: it waits for the first instance, which is open;
 * the removal of a second one, whose remove file is still there, gets
 * ENODEV at once and leaves the instance to the unregistration.
 */
TEST(unregistration_takes_over_removal)
{
	char held[UUID_STR_LEN], uuid[UUID_STR_LEN], path[PATH_MAX];
	struct bg_write unregister;
	struct vfio_mdev v;
	long requests;
	int ret;

	ASSERT_EQ(0, test_module_reload(""));
	/* Children are destroyed in the order they were added. */
	uuid_gen(held);
	ASSERT_EQ(0, mdev_create(0, 1, held));
	uuid_gen(uuid);
	ASSERT_EQ(0, mdev_create(0, 0, uuid));
	ASSERT_EQ(0, vfio_mdev_open(held, &v));
	requests = type_requests(0, 1);
	ASSERT_LE(0, requests);
	ASSERT_EQ(0, bg_write_start(&unregister,
				    parent_dev_path(path, 0, "test_unregister")));
	ASSERT_TRUE(type_requested_since(0, 1, requests, 10000));
	EXPECT_TRUE(mdev_exists(uuid));
	EXPECT_EQ(-ENODEV, mdev_remove(uuid));
	EXPECT_EQ(-ENODEV, mdev_remove(uuid));
	EXPECT_EQ(0, bg_write_wait(&unregister, 0, &ret));
	vfio_mdev_close(&v);
	ASSERT_EQ(1, bg_write_wait(&unregister, 10000, &ret));
	EXPECT_EQ(0, ret);
	EXPECT_FALSE(mdev_exists(held));
	EXPECT_FALSE(mdev_exists(uuid));
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(0, test_module_unload_wait());
}

/* Creations racing with removals of other instances of the same type. */
TEST_F(slots, create_while_removing)
{
	char uuids[3][UUID_STR_LEN], path[PATH_MAX];
	struct racer r[RACERS];
	unsigned int i, created;

	for (i = 0; i < 3; i++) {
		uuid_gen(uuids[i]);
		ASSERT_EQ(0, mdev_create(0, 1, uuids[i]));
	}
	/* Racers 0-2 remove the three instances, the others create. */
	for (i = 0; i < RACERS; i++) {
		aim_racer(&r[i], 0, 1);
		r[i].fd = -1;
		r[i].fn = i < 3 ? remove_racer : create_racer;
	}
	for (i = 0; i < 3; i++) {
		r[i].fd = open(mdev_path(path, uuids[i], "remove"),
			       O_WRONLY | O_CLOEXEC);
		ASSERT_LE(0, r[i].fd);
	}
	ASSERT_EQ(0, race(r, RACERS, NULL));
	for (i = 0; i < 3; i++) {
		close(r[i].fd);
		EXPECT_EQ(1, r[i].ret);
		EXPECT_FALSE(mdev_exists(uuids[i]));
	}
	/* Whatever the interleaving, the counts agree with what exists. */
	created = count_ret(r + 3, RACERS - 3, 0);
	EXPECT_EQ(RACERS - 3U,
		  created + count_ret(r + 3, RACERS - 3, -EUSERS));
	EXPECT_GE(3U, created);
	EXPECT_EQ((int)created, mdev_count());
	EXPECT_EQ(3 - created, type_available(0, 1));
	remove_winners(_metadata, r + 3, RACERS - 3);
	EXPECT_EQ(3, type_available(0, 1));
}

struct chaser {
	const char *uuid;
	int stop;
	unsigned int busy;
	unsigned int other;
	int last_other;
	int ret;
};

/*
 * Write "1" to @c->uuid's remove file until it works: -ENOENT before it
 * exists, -EBUSY while it is being created, then success.
 */
static void *remove_chaser(void *arg)
{
	struct chaser *c = arg;
	int ret;

	while (!__atomic_load_n(&c->stop, __ATOMIC_SEQ_CST)) {
		ret = mdev_remove(c->uuid);
		if (!ret) {
			c->ret = 0;
			return NULL;
		}
		if (ret == -EBUSY) {
			c->busy++;
		} else if (ret != -ENOENT) {
			c->other++;
			c->last_other = ret;
		}
	}
	c->ret = -ETIMEDOUT;
	return NULL;
}

/*
 * A removal that starts while the instance is still being created: EBUSY
 * until creation is over, and the instance is removed after all.  Every
 * probe sleeps PROBE_DELAY_MS (test_mdev's probe_delay_ms), so the chaser
 * certainly writes while the instance is visible but not yet usable: it
 * must get EBUSY then, in every round, never any other error, and its
 * removal must succeed once the creation did.  With the core's dynamic
 * debug on, the creation logs "created" through the instance's device
 * meanwhile: before it is usable, so the chaser cannot have freed it.
 */
#define PROBE_DELAY_MS	100

TEST_F(slots, remove_during_create)
{
	char uuid[UUID_STR_LEN], params[64], line[UUID_STR_LEN + 16];
	struct chaser c;
	pthread_t thread;
	unsigned int round, busy = 0;
	long long end;
	int kmsg;
	bool logs;

	snprintf(params, sizeof(params), "capacity=20,3 probe_delay_ms=%d",
		 PROBE_DELAY_MS);
	ASSERT_EQ(0, test_module_reload(params));
	/* The core's "created" line, logged while the chaser is at it. */
	kmsg = kmsg_open_tail();
	ASSERT_LE(0, kmsg);
	logs = !dyndbg_query("module mdev +p");
	if (!logs)
		TH_LOG("no dynamic debug: the creation's log line is not checked");
	for (round = 0; round < 4 * ROUNDS; round++) {
		uuid_gen(uuid);
		memset(&c, 0, sizeof(c));
		c.uuid = uuid;
		ASSERT_EQ(0, pthread_create(&thread, NULL, remove_chaser, &c));
		EXPECT_EQ(0, mdev_create(round % 2, round % 2, uuid));
		end = now_ms() + 10000;
		while (mdev_exists(uuid) && now_ms() < end)
			usleep(1000);
		__atomic_store_n(&c.stop, 1, __ATOMIC_SEQ_CST);
		pthread_join(thread, NULL);
		EXPECT_EQ(0, c.ret);
		EXPECT_EQ(0U, c.other)
			TH_LOG("round %u: remove returned %d", round, c.last_other);
		EXPECT_LT(0U, c.busy)
			TH_LOG("round %u: no EBUSY during a %d ms creation",
			       round, PROBE_DELAY_MS);
		EXPECT_FALSE(mdev_exists(uuid));
		snprintf(line, sizeof(line), "%s: created", uuid);
		if (logs)
			EXPECT_TRUE(kmsg_find(kmsg, line))
				TH_LOG("round %u: no \"%s\" in the log",
				       round, line);
		busy += c.busy;
		ASSERT_TRUE(_metadata->passed);
	}
	if (logs)
		EXPECT_EQ(0, dyndbg_query("module mdev -p"));
	close(kmsg);
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(20, type_available(0, 0));
	EXPECT_EQ(3, type_available(1, 1));
	TH_LOG("%u EBUSY answers seen in %u rounds", busy, round);
}

/* shared_max: racers on all three types of one parent share 8 slots. */
FIXTURE(shared_slots) {
};

FIXTURE_SETUP(shared_slots)
{
	ASSERT_EQ(0, test_module_reload("shared_max=8 capacity=1,1,1"));
}

FIXTURE_TEARDOWN(shared_slots)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(shared_slots, last_slots_across_types)
{
	char uuids[8][UUID_STR_LEN];
	struct racer r[RACERS];
	unsigned int i, t, round;

	for (round = 0; round < ROUNDS; round++) {
		unsigned int k = 1 + round % 3;

		for (i = 0; i < 8 - k; i++) {
			uuid_gen(uuids[i]);
			ASSERT_EQ(0, mdev_create(1, i % 3, uuids[i]));
		}
		for (i = 0; i < RACERS; i++)
			aim_racer(&r[i], 1, i % 3);
		expect_winners(_metadata, r, k);
		for (t = 0; t < 3; t++)
			EXPECT_EQ(0, type_available(1, t));
		EXPECT_EQ(8, mdev_count());
		EXPECT_EQ(8, type_available(0, 0));

		remove_winners(_metadata, r, RACERS);
		for (i = 0; i < 8 - k; i++)
			ASSERT_EQ(0, mdev_remove(uuids[i]));
		for (t = 0; t < 3; t++)
			EXPECT_EQ(8, type_available(1, t));
	}
}

TEST_HARNESS_MAIN
