// SPDX-License-Identifier: GPL-2.0
/*
 * Stress tests of the mdev core with mgpu and test_mdev loaded together:
 *
 *  - ops: 8 threads, each doing at least 10,000 random operations (create,
 *    remove, open through VFIO, close, read) on a shared set of UUIDs over
 *    every type of both mgpu GPUs and both test_mdev parents.  The refusals
 *    that a race explains are listed per operation and failing step, with
 *    the race, in allowed[] and counted; any other result, a thread stuck
 *    for HANG_MS, or a total beyond DEADLINE_MS fails.  Afterwards
 *    everything is removed and every type's available_instances is what
 *    it was.  A thread holding an mgpu instance
 *    closes it when its REQ eventfd fires, as QEMU would; a thread that
 *    holds a device never removes one, so removals only wait for holders
 *    that keep going.  Thread i draws from seed + i (the seed is printed;
 *    MDEV_STRESS_SEED sets it, MDEV_STRESS_OPS the operations per thread);
 *  - uuid_index: 4 threads creating the same two UUIDs on their own
 *    parents and removing them, as fast as they can: lookups and inserts
 *    in the core's UUID index against removals of the same entries;
 *  - load_unload: 50 cycles of loading mgpu and test_mdev, creating
 *    instances of mixed types on both, unloading both (which removes the
 *    instances) and then the unused mdev core;
 *  - unload_while_open: what 6.1 does when a module is unloaded while one
 *    of its devices is in use.  vfio takes a reference on the vendor
 *    driver's module for every open device fd, and mgpu's migration data
 *    fds have their own (f_op->owner): delete_module() fails at once with
 *    EWOULDBLOCK (EAGAIN), with everything still working, and succeeds
 *    once the fd is closed.  A group and container fd without a device fd
 *    hold no such reference: the unload goes through, removing the
 *    instance, and the stale group fd only fails;
 *  - remove_while_open: removing an open instance waits, asking the user to
 *    close it (mgpu's REQ eventfd, test_mdev's test_requests), keeps the
 *    UUID taken meanwhile and completes when the device is closed.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

#define THREADS		8
#define OPS_PER_THREAD	10000
#define NR_UUIDS	24
#define HANG_MS		60000
#define DEADLINE_MS	900000
#define CYCLES		50
#define DEFAULT_SEED	0x6d646576ULL	/* "mdev" */

/* test_mdev's defaults: two parents, types t0..t2 of capacity 4, 2, 1. */
#define TMDEV_TYPES	3

static bool mgpu_ready;
static char mgpu_why[256];

static void sleep_ms(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	nanosleep(&ts, NULL);
}

/* xorshift64*: the same sequence from the same seed, on any libc. */
static __u64 rnd64(__u64 *state)
{
	__u64 x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned int rnd(__u64 *state, unsigned int n)
{
	return (rnd64(state) >> 32) % n;
}

/* ---- where instances go ------------------------------------------------------- */

struct target {
	bool mgpu;
	unsigned int parent;	/* the GPU, or the test parent */
	unsigned int type;
};

static const struct target targets[] = {
	{ true, 0, MGPU_EIGHTH }, { true, 0, MGPU_QUARTER },
	{ true, 0, MGPU_HALF }, { true, 0, MGPU_FULL },
	{ true, 1, MGPU_EIGHTH }, { true, 1, MGPU_QUARTER },
	{ true, 1, MGPU_HALF }, { true, 1, MGPU_FULL },
	{ false, 0, 0 }, { false, 0, 1 }, { false, 0, 2 },
	{ false, 1, 0 }, { false, 1, 1 }, { false, 1, 2 },
};

#define NR_TARGETS	ARRAY_SIZE(targets)

static int target_create(const struct target *t, const char *uuid)
{
	if (t->mgpu)
		return mgpu_create(t->parent, t->type, uuid);
	return mdev_create(t->parent, t->type, uuid);
}

static long target_available(const struct target *t)
{
	if (t->mgpu)
		return mgpu_available(t->parent, t->type);
	return type_available(t->parent, t->type);
}

static void target_name(const struct target *t, char *buf, size_t len)
{
	if (t->mgpu)
		snprintf(buf, len, "mgpu%u/%s", t->parent,
			 mgpu_type_name(t->type));
	else
		snprintf(buf, len, "mdev_test%u/t%u", t->parent, t->type);
}

/* ---- the random operations ------------------------------------------------------- */

enum op { OP_CREATE, OP_REMOVE, OP_OPEN, OP_CLOSE, OP_READ, NR_OPS };

static const char *const op_names[NR_OPS] = {
	"create", "remove", "open", "close", "read",
};

/*
 * Every refusal that a race between the threads explains, per operation
 * and, for an open, per step of vfio_client_open() that failed (its
 * failed_at).  Any other result fails the test; each entry says which race
 * it is, so that an errno is never accepted where it would hide a bug.
 */
struct allowed {
	enum op op;
	const char *step;	/* the open's failing step, NULL otherwise */
	int err;
	const char *why;
};

static const struct allowed allowed[] = {
	{ OP_CREATE, NULL, EEXIST, "the UUID exists (on any parent)" },
	{ OP_CREATE, NULL, EUSERS, "the type has no instance left" },
	{ OP_REMOVE, NULL, ENOENT, "no instance has the UUID" },
	{ OP_REMOVE, NULL, ENODEV, "another thread is removing it" },
	{ OP_REMOVE, NULL, EBUSY, "another thread is still creating it" },
	{ OP_OPEN, "iommu_group", ENOENT, "no instance has the UUID" },
	{ OP_OPEN, "group", ENOENT, "the group's /dev node went after the lookup" },
	{ OP_OPEN, "group", ENXIO, "the group's cdev is being deleted" },
	{ OP_OPEN, "group", EBUSY, "another thread has the group open" },
	{ OP_OPEN, "group", ENODEV, "the group lost its device" },
	{ OP_OPEN, "VFIO_GROUP_SET_CONTAINER", ENODEV, "the group lost its device" },
	/* SET_IOMMU's EINVAL for the same race is counted apart, as ENODEV. */
	{ OP_OPEN, "VFIO_SET_IOMMU", ENODEV, "the group lost its device" },
	{ OP_OPEN, "VFIO_GROUP_GET_DEVICE_FD", ENODEV, "the device is being removed" },
	/* The threads are one process: one single-usage instance at a time. */
	{ OP_OPEN, "VFIO_GROUP_GET_DEVICE_FD", EBUSY, "single usage: another is open" },
};

#define NR_ALLOWED	ARRAY_SIZE(allowed)

/* Unexpected results, by kind, for the report (the first few kinds). */
#define NR_UNEXPECTED	8

struct unexpected {
	enum op op;
	const char *step;
	int err;
	unsigned long count;
};

struct worker {
	pthread_t thread;
	unsigned int id;
	__u64 seed;
	__u64 rng;
	unsigned int ops;
	char (*uuids)[UUID_STR_LEN];
	/* The device this thread has open, if any. */
	int held;		/* index into uuids, or -1 */
	struct vfio_client c;
	int req;		/* mgpu's REQ eventfd, or -1 */
	/* Read by the watchdog. */
	unsigned int done;
	int cur_op;
	int cur_uuid;
	bool finished;
	/* Results. */
	unsigned long ok[NR_OPS];
	unsigned long refused[NR_ALLOWED];
	struct unexpected unexpected[NR_UNEXPECTED];
	unsigned long bad;
	unsigned long req_closes;
	unsigned long set_iommu_races;
	char first_bad[192];
};

static bool same_step(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Adds @n to the kind (@which, @step, @err) in @table, if it has room. */
static void count_unexpected(struct unexpected *table, enum op which,
			     const char *step, int err, unsigned long n)
{
	unsigned int i;

	for (i = 0; i < NR_UNEXPECTED; i++) {
		struct unexpected *u = &table[i];

		if (!u->count) {
			*u = (struct unexpected){ which, step, err, 0 };
		} else if (u->op != which || u->err != err ||
			   !same_step(u->step, step)) {
			continue;
		}
		u->count += n;
		return;
	}
}

/*
 * @step: the step of an open that failed (vfio_client's failed_at), or
 * what a failed read was reading; NULL for the other operations.
 */
static void record(struct worker *w, enum op which, int ret, int idx,
		   const char *step)
{
	unsigned int i;

	if (!ret) {
		w->ok[which]++;
		return;
	}
	for (i = 0; i < NR_ALLOWED; i++) {
		if (allowed[i].op == which && allowed[i].err == -ret &&
		    same_step(allowed[i].step, step)) {
			w->refused[i]++;
			return;
		}
	}
	count_unexpected(w->unexpected, which, step, -ret, 1);
	if (!w->bad++)
		snprintf(w->first_bad, sizeof(w->first_bad),
			 "thread %u op %u: %s %s%s%s: %s", w->id, w->done,
			 op_names[which], idx >= 0 ? w->uuids[idx] : "-",
			 step ? " at " : "", step ?: "", strerror(-ret));
}

static void do_create(struct worker *w)
{
	const struct target *t = &targets[rnd(&w->rng, NR_TARGETS)];
	int idx = rnd(&w->rng, NR_UUIDS);

	w->cur_uuid = idx;
	record(w, OP_CREATE, target_create(t, w->uuids[idx]), idx, NULL);
}

/* Removal writes begun and ended by all workers (__atomic builtins). */
static unsigned long removes_begun, removes_ended;

static void do_remove(struct worker *w)
{
	int idx = rnd(&w->rng, NR_UUIDS);
	int ret;

	w->cur_uuid = idx;
	__atomic_add_fetch(&removes_begun, 1, __ATOMIC_SEQ_CST);
	ret = mdev_remove(w->uuids[idx]);
	__atomic_add_fetch(&removes_ended, 1, __ATOMIC_SEQ_CST);
	record(w, OP_REMOVE, ret, idx, NULL);
}

/* Whether a removal ran during an operation that began at @begun, @ended. */
static bool remove_overlapped(unsigned long begun, unsigned long ended)
{
	return begun != ended ||
	       __atomic_load_n(&removes_begun, __ATOMIC_SEQ_CST) != begun;
}

static void do_open(struct worker *w)
{
	struct vfio_device_info info;
	int idx = rnd(&w->rng, NR_UUIDS);
	unsigned long ended = __atomic_load_n(&removes_ended, __ATOMIC_SEQ_CST);
	unsigned long begun = __atomic_load_n(&removes_begun, __ATOMIC_SEQ_CST);
	int ret;

	w->cur_uuid = idx;
	ret = vfio_client_open(&w->c, w->uuids[idx]);
	/*
	 * When the last device of a group goes, 6.1's vfio detaches the
	 * group from its container: a removal between SET_CONTAINER and
	 * SET_IOMMU leaves the container without a group, which SET_IOMMU
	 * refuses with EINVAL.  The device went away: counted as ENODEV,
	 * but only if a removal ran meanwhile; otherwise it is a bug.
	 */
	if (ret == -EINVAL && w->c.failed_at &&
	    !strcmp(w->c.failed_at, "VFIO_SET_IOMMU") &&
	    remove_overlapped(begun, ended)) {
		w->set_iommu_races++;
		ret = -ENODEV;
	}
	if (ret) {
		record(w, OP_OPEN, ret, idx, w->c.failed_at);
		return;
	}
	w->held = idx;
	/* mgpu has interrupts, REQ among them; test_mdev has none. */
	ret = vfio_device_info(w->c.device, &info);
	if (!ret && info.num_irqs > VFIO_PCI_REQ_IRQ_INDEX) {
		w->req = vfio_eventfd();
		ret = w->req < 0 ? w->req :
		      vfio_irq_set_eventfd(w->c.device,
					   VFIO_PCI_REQ_IRQ_INDEX, w->req);
	}
	record(w, OP_OPEN, ret, idx, ret ? "REQ eventfd" : NULL);
}

static void do_close(struct worker *w)
{
	vfio_client_close(&w->c);
	if (w->req >= 0)
		close(w->req);
	w->req = -1;
	record(w, OP_CLOSE, 0, w->held, NULL);
	w->held = -1;
}

/*
 * On the device held: mgpu's IDs in config space and BAR2, test_mdev's
 * device info.  Otherwise a type's available_instances.
 */
static void do_read(struct worker *w)
{
	struct vfio_device_info info;
	long val;
	int ret;

	if (w->held < 0) {
		val = target_available(&targets[rnd(&w->rng, NR_TARGETS)]);
		record(w, OP_READ, val < 0 ? (int)val : 0, -1,
		       "available_instances");
		return;
	}
	if (w->req >= 0) {
		val = vfio_cfg_get(w->c.device, PCI_VENDOR_ID, 4);
		if (val >= 0 && val != (MGPU_DEVICE << 16 | MGPU_VENDOR))
			val = -EBADMSG;
		if (val >= 0)
			val = mgpu_ctrl_get(w->c.device, MGPU_CTRL_ID);
		if (val >= 0 && val != MGPU_CTRL_ID_VALUE)
			val = -EBADMSG;
		ret = val < 0 ? (int)val : 0;
	} else {
		ret = vfio_device_info(w->c.device, &info);
		if (!ret && !(info.flags & VFIO_DEVICE_FLAGS_PCI))
			ret = -EBADMSG;
	}
	record(w, OP_READ, ret, w->held, "the open device");
}

/* Operation weights in percent: without a device, and holding one. */
static void step(struct worker *w)
{
	unsigned int r = rnd(&w->rng, 100);

	if (w->held >= 0) {
		/* Asked to let go (the instance is being removed). */
		if (w->req >= 0 && vfio_eventfd_wait(w->req, 0) > 0) {
			w->cur_op = OP_CLOSE;
			w->req_closes++;
			do_close(w);
			return;
		}
		w->cur_op = r < 50 ? OP_READ : r < 75 ? OP_CLOSE : OP_CREATE;
	} else {
		w->cur_op = r < 35 ? OP_CREATE : r < 60 ? OP_REMOVE :
			    r < 85 ? OP_OPEN : OP_READ;
	}
	switch (w->cur_op) {
	case OP_CREATE:
		do_create(w);
		break;
	case OP_REMOVE:
		do_remove(w);
		break;
	case OP_OPEN:
		do_open(w);
		break;
	case OP_CLOSE:
		do_close(w);
		break;
	default:
		do_read(w);
		break;
	}
}

static bool stop_all;

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (w->done < w->ops &&
	       !__atomic_load_n(&stop_all, __ATOMIC_RELAXED)) {
		step(w);
		__atomic_store_n(&w->done, w->done + 1, __ATOMIC_RELEASE);
	}
	if (w->held >= 0)
		do_close(w);
	__atomic_store_n(&w->finished, true, __ATOMIC_RELEASE);
	return NULL;
}

/* A UUID from the seed, so that a run can be repeated exactly. */
static void uuid_from(__u64 *rng, char *uuid)
{
	__u64 a = rnd64(rng), b = rnd64(rng);

	snprintf(uuid, UUID_STR_LEN, "%08x-%04x-4%03x-%04x-%012llx",
		 (unsigned int)(a >> 32), (unsigned int)(a >> 16) & 0xffff,
		 (unsigned int)a & 0xfff,
		 0x8000 | ((unsigned int)(b >> 48) & 0x3fff),
		 (unsigned long long)b & 0xffffffffffffULL);
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *val = getenv(name);

	return val && *val ? strtoull(val, NULL, 0) : def;
}

FIXTURE(stress) {
	char uuids[NR_UUIDS][UUID_STR_LEN];
	long avail[NR_TARGETS];
	struct worker w[THREADS];
};

FIXTURE_SETUP(stress)
{
	unsigned int i;

	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	ASSERT_EQ(0, test_module_reload(""));
	ASSERT_EQ(0, mdev_count());
	for (i = 0; i < NR_TARGETS; i++) {
		self->avail[i] = target_available(&targets[i]);
		ASSERT_LT(0, self->avail[i]);
	}
}

FIXTURE_TEARDOWN(stress)
{
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < NR_UUIDS; i++)
		if (mdev_exists(self->uuids[i]))
			mgpu_remove(self->uuids[i], 10000);
	EXPECT_EQ(0, test_module_unload_wait());
}

/* The histogram of results: per operation, per failing step and errno. */
static void print_counts(struct __test_metadata *_metadata,
			 const struct worker *w)
{
	struct unexpected unexpected[NR_UNEXPECTED] = { { 0 } };
	unsigned long ok[NR_OPS] = { 0 }, refused[NR_ALLOWED] = { 0 };
	unsigned long req_closes = 0, races = 0;
	unsigned int i, j;

	for (i = 0; i < THREADS; i++) {
		for (j = 0; j < NR_OPS; j++)
			ok[j] += w[i].ok[j];
		for (j = 0; j < NR_ALLOWED; j++)
			refused[j] += w[i].refused[j];
		for (j = 0; j < NR_UNEXPECTED && w[i].unexpected[j].count; j++)
			count_unexpected(unexpected, w[i].unexpected[j].op,
					 w[i].unexpected[j].step,
					 w[i].unexpected[j].err,
					 w[i].unexpected[j].count);
		req_closes += w[i].req_closes;
		races += w[i].set_iommu_races;
	}
	for (j = 0; j < NR_OPS; j++)
		TH_LOG("%-6s ok %26s %8lu", op_names[j], "", ok[j]);
	for (j = 0; j < NR_ALLOWED; j++)
		TH_LOG("%-6s %-6s at %-24s %6lu  (%s)", op_names[allowed[j].op],
		       strerrorname_np(allowed[j].err), allowed[j].step ?: "-",
		       refused[j], allowed[j].why);
	for (j = 0; j < NR_UNEXPECTED && unexpected[j].count; j++)
		TH_LOG("%-6s %-6s at %-24s %6lu  UNEXPECTED",
		       op_names[unexpected[j].op],
		       strerrorname_np(unexpected[j].err),
		       unexpected[j].step ?: "-", unexpected[j].count);
	TH_LOG("closes on a REQ (instance being removed): %lu", req_closes);
	TH_LOG("opens whose group lost its device before SET_IOMMU (EINVAL, as ENODEV): %lu",
	       races);
}

TEST_F_TIMEOUT(stress, ops, 1000)
{
	__u64 seed = env_ulong("MDEV_STRESS_SEED", DEFAULT_SEED), rng = seed;
	unsigned int ops = env_ulong("MDEV_STRESS_OPS", OPS_PER_THREAD);
	unsigned int last[THREADS] = { 0 }, i, finished;
	long long start, last_move[THREADS], now, elapsed;
	unsigned long total = 0, bad = 0;
	char name[32];
	long val;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	TH_LOG("seed %#llx: thread i draws from seed + i; MDEV_STRESS_SEED=%#llx repeats it",
	       (unsigned long long)seed, (unsigned long long)seed);
	for (i = 0; i < NR_UUIDS; i++)
		uuid_from(&rng, self->uuids[i]);
	start = now_ms();
	for (i = 0; i < THREADS; i++) {
		struct worker *w = &self->w[i];

		w->id = i;
		w->seed = seed + i;
		w->rng = w->seed ?: 1;
		w->ops = ops;
		w->uuids = self->uuids;
		w->held = -1;
		w->req = -1;
		vfio_client_init(&w->c);
		last_move[i] = start;
		ASSERT_EQ(0, pthread_create(&w->thread, NULL, worker_main, w));
	}

	/* Bounded polling: every thread must keep moving, and finish. */
	for (;;) {
		now = now_ms();
		finished = 0;
		for (i = 0; i < THREADS; i++) {
			struct worker *w = &self->w[i];
			unsigned int done;

			if (__atomic_load_n(&w->finished, __ATOMIC_ACQUIRE)) {
				finished++;
				continue;
			}
			done = __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
			if (done != last[i]) {
				last[i] = done;
				last_move[i] = now;
				continue;
			}
			if (now - last_move[i] > HANG_MS) {
				__atomic_store_n(&stop_all, true,
						 __ATOMIC_RELAXED);
				ASSERT_TRUE(false)
					TH_LOG("thread %u stuck for %d s in op %u (%s %s)",
					       i, HANG_MS / 1000, done,
					       op_names[w->cur_op],
					       self->uuids[w->cur_uuid]);
			}
		}
		if (finished == THREADS)
			break;
		if (now - start > DEADLINE_MS) {
			__atomic_store_n(&stop_all, true, __ATOMIC_RELAXED);
			ASSERT_TRUE(false)
				TH_LOG("not done after %d s", DEADLINE_MS / 1000);
		}
		sleep_ms(100);
	}
	elapsed = now_ms() - start;
	for (i = 0; i < THREADS; i++) {
		pthread_join(self->w[i].thread, NULL);
		total += self->w[i].done;
		bad += self->w[i].bad;
		if (self->w[i].bad)
			TH_LOG("%lu unexpected results, the first: %s",
			       self->w[i].bad, self->w[i].first_bad);
	}
	print_counts(_metadata, self->w);
	TH_LOG("%lu operations in %lld ms: %lld per second", total, elapsed,
	       total * 1000 / (elapsed ?: 1));
	EXPECT_EQ(0UL, bad);
	EXPECT_EQ((unsigned long)THREADS * ops, total);

	/* Nothing is open now: every removal completes at once. */
	for (i = 0; i < NR_UUIDS; i++)
		if (mdev_exists(self->uuids[i]))
			EXPECT_EQ(0, mdev_remove(self->uuids[i]))
				TH_LOG("removing %s", self->uuids[i]);
	EXPECT_EQ(0, mdev_count());
	for (i = 0; i < NR_TARGETS; i++) {
		val = target_available(&targets[i]);
		target_name(&targets[i], name, sizeof(name));
		EXPECT_EQ(self->avail[i], val)
			TH_LOG("%s: available_instances %ld, was %ld", name,
			       val, self->avail[i]);
	}
}

/* ---- the UUID index under churn ------------------------------------------------- */

#define CHURNERS	4
#define CHURN_ROUNDS	1000U
#define CHURN_UUIDS	2

/*
 * Every thread creates the same few UUIDs on its own parent and removes
 * them again, as fast as it can: each create looks its UUID up in the
 * core's index, and inserts it, while other threads' removals of the very
 * same UUID take it out and free it.  Only what the race explains may
 * fail: EEXIST (another parent has it), ENOENT and ENODEV (removed
 * meanwhile), EBUSY (still being created).
 */
static const int churn_ok[] = { 0, EEXIST, ENOENT, ENODEV, EBUSY };

struct churner {
	pthread_t thread;
	unsigned int parent;
	char (*uuids)[UUID_STR_LEN];
	unsigned int done;
	unsigned long created;
	unsigned long removed;
	int bad;
	char first_bad[128];
};

static void churn_check(struct churner *c, const char *what, unsigned int k,
			int ret)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(churn_ok); i++)
		if (-ret == churn_ok[i])
			return;
	if (!c->bad++)
		snprintf(c->first_bad, sizeof(c->first_bad),
			 "round %u: %s %s: %s", c->done, what, c->uuids[k],
			 strerror(-ret));
}

static void *churn_main(void *arg)
{
	struct churner *c = arg;
	unsigned int round, k;
	int ret;

	for (round = 0; round < CHURN_ROUNDS; round++) {
		for (k = 0; k < CHURN_UUIDS; k++) {
			ret = mdev_create(c->parent, 0, c->uuids[k]);
			c->created += !ret;
			churn_check(c, "creating", k, ret);
		}
		for (k = 0; k < CHURN_UUIDS; k++) {
			ret = mdev_remove(c->uuids[k]);
			c->removed += !ret;
			churn_check(c, "removing", k, ret);
		}
		__atomic_store_n(&c->done, round + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* The null driver (no VFIO device) keeps create and remove cheap. */
FIXTURE(churn) {
	char uuids[CHURN_UUIDS][UUID_STR_LEN];
	struct churner c[CHURNERS];
};

FIXTURE_SETUP(churn)
{
	ASSERT_EQ(0, test_module_reload("parents=4 capacity=4 vfio=N"));
}

FIXTURE_TEARDOWN(churn)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F_TIMEOUT(churn, uuid_index, 600)
{
	unsigned long created = 0, removed = 0;
	long long start = now_ms();
	unsigned int i, k;

	for (k = 0; k < CHURN_UUIDS; k++)
		uuid_gen(self->uuids[k]);
	for (i = 0; i < CHURNERS; i++) {
		self->c[i].parent = i;
		self->c[i].uuids = self->uuids;
		ASSERT_EQ(0, pthread_create(&self->c[i].thread, NULL,
					    churn_main, &self->c[i]));
	}
	for (i = 0; i < CHURNERS; i++) {
		pthread_join(self->c[i].thread, NULL);
		EXPECT_EQ(0, self->c[i].bad)
			TH_LOG("parent %u: %s", i, self->c[i].first_bad);
		created += self->c[i].created;
		removed += self->c[i].removed;
	}
	TH_LOG("%u rounds of %u threads in %lld ms: %lu created, %lu removed",
	       CHURN_ROUNDS, CHURNERS, now_ms() - start, created, removed);
	/* Every round ends with a remove of each UUID: none is left. */
	EXPECT_EQ(created, removed);
	EXPECT_LT(0UL, created);
	EXPECT_EQ(0, mdev_count());
	for (i = 0; i < CHURNERS; i++)
		EXPECT_EQ(4, type_available(i, 0));
}

/* ---- module load and unload --------------------------------------------------------- */

/*
 * Leaves the modules as it found them: our core loaded, test_mdev not, mgpu
 * loaded with its defaults if it was.
 */
FIXTURE(modules) {
	bool had_mgpu;
};

FIXTURE_SETUP(modules)
{
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	self->had_mgpu = module_loaded(MGPU_MODULE_NAME);
	ASSERT_EQ(0, test_env_reset());
	ASSERT_EQ(0, mdev_count());
}

FIXTURE_TEARDOWN(modules)
{
	if (_metadata->skip)
		return;
	if (module_loaded(TEST_MODULE_NAME))
		EXPECT_EQ(0, test_module_unload_wait());
	if (!module_loaded(CORE_MODULE_NAME))
		EXPECT_EQ(0, core_module_load());
	if (self->had_mgpu && !module_loaded(MGPU_MODULE_NAME))
		EXPECT_EQ(0, module_load(mgpu_module_path(), ""));
}

static int create_all(const struct target *t, unsigned int n,
		      char (*uuids)[UUID_STR_LEN])
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		uuid_gen(uuids[i]);
		ret = target_create(&t[i], uuids[i]);
		if (ret)
			return ret;
	}
	return 0;
}

TEST_F_TIMEOUT(modules, load_unload, 600)
{
	/* Every profile on mgpu0, the whole of mgpu1; all three types. */
	static const struct target on_mgpu[] = {
		{ true, 0, MGPU_EIGHTH }, { true, 0, MGPU_QUARTER },
		{ true, 0, MGPU_HALF }, { true, 1, MGPU_FULL },
	};
	static const struct target on_tmdev[] = {
		{ false, 0, 0 }, { false, 0, 1 }, { false, 1, 2 },
	};
	char m[ARRAY_SIZE(on_mgpu)][UUID_STR_LEN];
	char t[ARRAY_SIZE(on_tmdev)][UUID_STR_LEN];
	long long start = now_ms();
	unsigned int cycle, i;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	for (cycle = 0; cycle < CYCLES; cycle++) {
		if (module_loaded(MGPU_MODULE_NAME))
			ASSERT_EQ(0, module_unload_wait(MGPU_MODULE_NAME,
							10000));
		if (!module_loaded(CORE_MODULE_NAME))
			ASSERT_EQ(0, core_module_load())
				TH_LOG("cycle %u: loading the core", cycle);
		ASSERT_EQ(0, module_load(mgpu_module_path(), ""))
			TH_LOG("cycle %u: loading mgpu", cycle);
		ASSERT_EQ(0, test_module_load(""))
			TH_LOG("cycle %u: loading test_mdev", cycle);
		ASSERT_EQ(0, create_all(on_mgpu, ARRAY_SIZE(on_mgpu), m));
		ASSERT_EQ(0, create_all(on_tmdev, ARRAY_SIZE(on_tmdev), t));
		ASSERT_EQ(7, mdev_count());
		EXPECT_EQ(1, mgpu_available(0, MGPU_EIGHTH));
		EXPECT_EQ(0, mgpu_available(1, MGPU_EIGHTH));

		/* Unloading removes the instances, in either order. */
		if (cycle % 2)
			ASSERT_EQ(0, test_module_unload());
		ASSERT_EQ(0, module_unload(MGPU_MODULE_NAME))
			TH_LOG("cycle %u: unloading mgpu", cycle);
		for (i = 0; i < ARRAY_SIZE(m); i++)
			ASSERT_FALSE(mdev_exists(m[i]));
		if (!(cycle % 2)) {
			ASSERT_EQ((int)ARRAY_SIZE(t), mdev_count());
			ASSERT_EQ(0, test_module_unload());
		}
		for (i = 0; i < ARRAY_SIZE(t); i++)
			ASSERT_FALSE(mdev_exists(t[i]));
		ASSERT_EQ(0, mdev_count());

		/* Nothing uses the core now. */
		ASSERT_EQ(0, module_unload(CORE_MODULE_NAME))
			TH_LOG("cycle %u: unloading the core", cycle);
		ASSERT_FALSE(path_exists("/sys/bus/mdev"));
	}
	ASSERT_EQ(0, core_module_load());
	TH_LOG("%u cycles in %lld ms", CYCLES, now_ms() - start);
}

/* mgpu, freshly loaded with its defaults, and an eighth on mgpu0. */
static int fresh_mgpu_eighth(char *uuid)
{
	int ret = mgpu_reload("");

	if (ret)
		return ret;
	uuid_gen(uuid);
	return mgpu_create(0, MGPU_EIGHTH, uuid);
}

static int mig_set(int dev, __u32 state, int *data_fd)
{
	__u64 buf[4] = { 0 };
	struct vfio_device_feature *f = (void *)buf;
	struct vfio_device_feature_mig_state *mig = (void *)f->data;
	int ret;

	f->argsz = sizeof(*f) + sizeof(*mig);
	f->flags = VFIO_DEVICE_FEATURE_SET |
		   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	mig->device_state = state;
	mig->data_fd = -2;
	ret = vfio_ioctl(dev, VFIO_DEVICE_FEATURE, f);
	if (data_fd)
		*data_fd = ret ? -1 : mig->data_fd;
	return ret;
}

TEST_F_TIMEOUT(modules, unload_while_open, 120)
{
	char uuid[UUID_STR_LEN], buf[16];
	struct vfio_client c;
	int data_fd, dev_fd;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	/* An open device fd: refused at once, and everything still works. */
	ASSERT_EQ(0, fresh_mgpu_eighth(uuid));
	ASSERT_EQ(0, vfio_client_open(&c, uuid));
	EXPECT_EQ(-EWOULDBLOCK, module_unload(MGPU_MODULE_NAME));
	EXPECT_EQ(-EWOULDBLOCK, module_unload(CORE_MODULE_NAME));
	EXPECT_TRUE(module_loaded(MGPU_MODULE_NAME));
	EXPECT_TRUE(mdev_exists(uuid));
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(c.device, MGPU_CTRL_ID));
	vfio_client_close(&c);
	EXPECT_EQ(0, module_unload(MGPU_MODULE_NAME));
	EXPECT_FALSE(mdev_exists(uuid));

	/* A migration data fd outlives its device and pins the module. */
	ASSERT_EQ(0, fresh_mgpu_eighth(uuid));
	ASSERT_EQ(0, vfio_client_open(&c, uuid));
	ASSERT_EQ(0, mig_set(c.device, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, mig_set(c.device, VFIO_DEVICE_STATE_STOP_COPY, &data_fd));
	ASSERT_LE(0, data_fd);
	vfio_client_close(&c);
	EXPECT_EQ(-EWOULDBLOCK, module_unload(MGPU_MODULE_NAME));
	/* The session ended with the close. */
	EXPECT_EQ(-1, read(data_fd, buf, sizeof(buf)));
	EXPECT_EQ(ENODEV, errno);
	close(data_fd);
	EXPECT_EQ(0, module_unload(MGPU_MODULE_NAME));
	EXPECT_FALSE(mdev_exists(uuid));

	/* A group and container without a device fd: the unload goes on. */
	ASSERT_EQ(0, fresh_mgpu_eighth(uuid));
	ASSERT_EQ(0, vfio_client_open(&c, uuid));
	vfio_client_close_device(&c);
	EXPECT_EQ(0, module_unload(MGPU_MODULE_NAME));
	EXPECT_FALSE(mdev_exists(uuid));
	dev_fd = ioctl(c.group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	EXPECT_EQ(-1, dev_fd);
	if (dev_fd >= 0)
		close(dev_fd);
	vfio_client_close(&c);

	/* test_mdev, the same way. */
	ASSERT_EQ(0, test_module_load(""));
	uuid_gen(uuid);
	ASSERT_EQ(0, mdev_create(0, 1, uuid));
	ASSERT_EQ(0, vfio_client_open(&c, uuid));
	EXPECT_EQ(-EWOULDBLOCK, test_module_unload());
	EXPECT_EQ(1, mdev_read_long(uuid, "test_open_count"));
	vfio_client_close(&c);
	EXPECT_EQ(0, test_module_unload());
	EXPECT_FALSE(mdev_exists(uuid));
}

TEST_F_TIMEOUT(modules, remove_while_open, 120)
{
	char uuid[UUID_STR_LEN];
	struct bg_write b = { .pid = -1, .fd = -1 };
	struct vfio_client c;
	long requests;
	int req, ret;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	/* mgpu: the REQ eventfd fires, and the removal waits for the close. */
	ASSERT_EQ(0, fresh_mgpu_eighth(uuid));
	ASSERT_EQ(0, vfio_client_open(&c, uuid));
	req = vfio_eventfd();
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfio_irq_set_eventfd(c.device, VFIO_PCI_REQ_IRQ_INDEX,
					  req));
	ASSERT_EQ(0, bg_remove_start(&b, uuid));
	EXPECT_LT(0, vfio_eventfd_wait(req, 10000));
	EXPECT_EQ(0, bg_write_wait(&b, 0, &ret));
	/* Meanwhile: the device works, the UUID is taken, mgpu stays. */
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(c.device, MGPU_CTRL_ID));
	EXPECT_EQ(-EEXIST, mgpu_create(1, MGPU_EIGHTH, uuid));
	EXPECT_EQ(-EWOULDBLOCK, module_unload(MGPU_MODULE_NAME));
	vfio_client_close(&c);
	close(req);
	ASSERT_EQ(1, bg_write_wait(&b, 10000, &ret));
	EXPECT_EQ(0, ret);
	EXPECT_FALSE(mdev_exists(uuid));
	EXPECT_EQ(8, mgpu_available(0, MGPU_EIGHTH));
	EXPECT_EQ(0, mgpu_create(1, MGPU_EIGHTH, uuid));
	EXPECT_EQ(0, mdev_remove(uuid));

	/* test_mdev: its request callback counts. */
	ASSERT_EQ(0, test_module_load(""));
	uuid_gen(uuid);
	ASSERT_EQ(0, mdev_create(0, 1, uuid));
	ASSERT_EQ(0, vfio_client_open(&c, uuid));
	requests = type_requests(0, 1);
	ASSERT_LE(0, requests);
	ASSERT_EQ(0, bg_remove_start(&b, uuid));
	EXPECT_TRUE(type_requested_since(0, 1, requests, 10000));
	EXPECT_EQ(0, bg_write_wait(&b, 0, &ret));
	EXPECT_EQ(-EWOULDBLOCK, test_module_unload());
	vfio_client_close(&c);
	ASSERT_EQ(1, bg_write_wait(&b, 10000, &ret));
	EXPECT_EQ(0, ret);
	EXPECT_FALSE(mdev_exists(uuid));
	EXPECT_EQ(2, type_available(0, 1));
	EXPECT_EQ(0, test_module_unload());
}

int main(int argc, char **argv)
{
	/* The module tests leave mgpu loaded with its defaults, as found. */
	mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	return test_harness_run(argc, argv);
}
