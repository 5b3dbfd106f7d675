// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-injection sweeps of the mdev core and the mgpu sample, in the style
 * of the kernel's iommufd fail-nth test: an operation is run with its n-th
 * fault point failing (/proc/self/task/<tid>/fail-nth, with failslab and
 * fail_page_alloc made to fail GFP_KERNEL allocations too), for n = 1, 2, ...
 * until it completes with nothing injected.  After every injected failure
 * the operation must have returned an errno and left nothing behind:
 *
 *  - create of a test_mdev instance (core-counted and driver-counted slots,
 *    with and without a VFIO device): no device, the UUID free again, every
 *    type's available_instances and devices/ exact;
 *  - create of an mgpu instance, whose probe allocates the VFIO device and
 *    places it in the GPU's VRAM: the same, with every profile's placement
 *    count on both GPUs unchanged;
 *  - removal of an instance through its remove file, on both: either gone
 *    with the counts as before, or whole and then removable;
 *  - opening an instance through VFIO (container, group, IOMMU, device fd),
 *    on test_mdev and mgpu: everything closes, test_open_count is back to
 *    0, mgpu's single-usage claim is released, and a clean open works;
 *  - saving an mgpu instance (STOP_COPY and its data fd read to EOF, back to
 *    STOP) and resuming one (RESUMING, the stream written, back to STOP):
 *    both devices usable, a clean save of the source gives the same stream,
 *    and the target's state is as before (VRAM may hold the runs that had
 *    arrived) or, if the failure was absorbed, exactly the source.
 *
 * A failure that the kernel absorbs (a lost uevent, say) must leave a
 * complete result.  Between iterations there must be as many IOMMU groups
 * as before the pass (each instance has its own emulated one).  Every pass
 * stops at NTH_MAX and logs how many fault points it walked; the kernel log
 * gets a "fail_nth_test: <pass>: fail-nth <n>" line before each iteration,
 * so that a report there tells its n.  Memory leaks show up in the runner's
 * kmemleak scan; crashes, KASAN, lockdep reports and WARNs in its log scan.
 *
 * Module load, parent registration and module removal have their sweeps in
 * fail_nth_module_test.c.
 *
 * Without fault injection in the kernel (Debian's kernel has none) every
 * test is skipped.  main() configures debugfs and puts it back afterwards.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"
#include "fail_nth_lib.h"
#include "mgpu_lib.h"
#include "mig_client.h"
#include "vfio_client.h"

#define PAGE		4096UL

/* test_mdev's defaults: two parents (as mgpu has two GPUs), three types. */
#define TMDEV_TYPES	3
#define MAX_TYPES	4

static bool fi_ready;
static char fi_why[256];
static bool mgpu_ready;
static char mgpu_why[256];

/* ---- instances on test_mdev or mgpu --------------------------------------------- */

struct target {
	bool mgpu;
	unsigned int parent;	/* the GPU, or the test parent */
	unsigned int type;
};

static unsigned int nr_types(bool mgpu)
{
	return mgpu ? MGPU_NR_TYPES : TMDEV_TYPES;
}

static char *target_path(char *buf, const struct target *t,
			 unsigned int type, const char *file)
{
	if (t->mgpu)
		return mgpu_type_path(buf, t->parent, type, file);
	return type_path(buf, t->parent, type, file);
}

static int target_create(const struct target *t, const char *uuid)
{
	if (t->mgpu)
		return mgpu_create(t->parent, t->type, uuid);
	return mdev_create(t->parent, t->type, uuid);
}

/* What create changes: every type's room and instances, on both parents. */
struct counts {
	long avail[2][MAX_TYPES];
	int devs[2][MAX_TYPES];
	int mdevs;
};

static int counts_take(bool mgpu, struct counts *c)
{
	struct target t = { .mgpu = mgpu };
	char path[PATH_MAX];
	unsigned int type;

	memset(c, 0, sizeof(*c));
	for (t.parent = 0; t.parent < 2; t.parent++) {
		for (type = 0; type < nr_types(mgpu); type++) {
			long *avail = &c->avail[t.parent][type];
			int *devs = &c->devs[t.parent][type];

			target_path(path, &t, type, "available_instances");
			*avail = sysfs_read_long(path);
			*devs = dir_count(target_path(path, &t, type,
						      "devices"));
			if (*avail < 0)
				return *avail;
			if (*devs < 0)
				return *devs;
		}
	}
	c->mdevs = mdev_count();
	return c->mdevs < 0 ? c->mdevs : 0;
}

/* NULL if @a and @b agree, else what differs, in @buf. */
static const char *counts_diff(bool mgpu, const struct counts *a,
			       const struct counts *b, char *buf, size_t len)
{
	unsigned int p, type;

	for (p = 0; p < 2; p++) {
		for (type = 0; type < nr_types(mgpu); type++) {
			if (a->avail[p][type] != b->avail[p][type]) {
				snprintf(buf, len,
					 "parent %u type %u: available_instances %ld, expected %ld",
					 p, type, b->avail[p][type],
					 a->avail[p][type]);
				return buf;
			}
			if (a->devs[p][type] != b->devs[p][type]) {
				snprintf(buf, len,
					 "parent %u type %u: %d devices, expected %d",
					 p, type, b->devs[p][type],
					 a->devs[p][type]);
				return buf;
			}
		}
	}
	if (a->mdevs != b->mdevs) {
		snprintf(buf, len, "%d instances on the bus, expected %d",
			 b->mdevs, a->mdevs);
		return buf;
	}
	return NULL;
}

/* NULL if the instance has everything a created one has, else what not. */
static const char *instance_incomplete(const struct target *t,
				       const char *uuid, bool vfio)
{
	char path[PATH_MAX], file[64];

	if (!is_symlink(mdev_path(path, uuid, "mdev_type")))
		return "mdev_type link";
	if (!is_symlink(mdev_path(path, uuid, "driver")))
		return "driver link (not bound)";
	if (vfio && !is_symlink(mdev_path(path, uuid, "iommu_group")))
		return "iommu_group link";
	if (!path_exists(mdev_path(path, uuid, "remove")))
		return "remove file";
	snprintf(file, sizeof(file), "devices/%s", uuid);
	if (!is_symlink(target_path(path, t, t->type, file)))
		return "link in the type's devices/";
	return NULL;
}

/*
 * Creates @uuid on @t with every fault point in turn failing.  One instance
 * of @t's parent exists already (the fixture's), so that the counts are not
 * all trivial.
 */
static void create_sweep(struct __test_metadata *_metadata,
			 const struct target *t, bool vfio, const char *what)
{
	struct counts before, after, now;
	char uuid[UUID_STR_LEN], path[PATH_MAX], why[160];
	const char *diff;
	struct nth s;
	int fd, ret, injected;

	uuid_gen(uuid);
	ASSERT_EQ(0, counts_take(t->mgpu, &before));
	/* The reference: what a clean create changes. */
	ASSERT_EQ(0, target_create(t, uuid));
	diff = instance_incomplete(t, uuid, vfio);
	ASSERT_EQ(NULL, diff) TH_LOG("a clean create has no %s", diff);
	ASSERT_EQ(0, counts_take(t->mgpu, &after));
	ASSERT_EQ(0, mdev_remove(uuid));
	ASSERT_EQ(0, counts_take(t->mgpu, &now));
	diff = counts_diff(t->mgpu, &before, &now, why, sizeof(why));
	ASSERT_EQ(NULL, diff) TH_LOG("after a clean remove: %s", diff);

	ASSERT_EQ(0, nth_open(&s, what));
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		fd = open(target_path(path, t, t->type, "create"),
			  O_WRONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, nth_arm(&s));
		ret = write(fd, uuid, strlen(uuid));
		ret = ret < 0 ? -errno : ret;
		injected = nth_disarm(&s);
		close(fd);
		ASSERT_LE(0, injected);

		if (ret >= 0) {
			ASSERT_EQ((int)strlen(uuid), ret);
			diff = instance_incomplete(t, uuid, vfio);
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: created without %s",
				       s.n, diff);
			ASSERT_EQ(0, counts_take(t->mgpu, &now));
			diff = counts_diff(t->mgpu, &after, &now, why,
					   sizeof(why));
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: created, but %s", s.n,
				       diff);
			ASSERT_EQ(0, mdev_remove(uuid))
				TH_LOG("fail-nth %u: removing", s.n);
			if (!injected)
				break;
			s.absorbed++;
		} else {
			ASSERT_TRUE(injected)
				TH_LOG("create failed with %s, nothing injected",
				       strerror(-ret));
			nth_errno(&s, -ret);
			EXPECT_FALSE(mdev_exists(uuid))
				TH_LOG("fail-nth %u: %s, yet the device is there",
				       s.n, strerror(-ret));
			/* The UUID is free: a clean create takes it. */
			ASSERT_EQ(0, target_create(t, uuid))
				TH_LOG("fail-nth %u (%s): then a clean create",
				       s.n, strerror(-ret));
			ASSERT_EQ(0, mdev_remove(uuid));
		}
		ASSERT_EQ(0, counts_take(t->mgpu, &now));
		diff = counts_diff(t->mgpu, &before, &now, why, sizeof(why));
		ASSERT_EQ(NULL, diff)
			TH_LOG("fail-nth %u (%s): %s", s.n,
			       ret < 0 ? strerror(-ret) : "created", diff);
	}
	NTH_REPORT(&s);
}

/*
 * Removes a fresh instance of @t through its remove file with every fault
 * point in turn failing: either it is gone with the counts as before its
 * create, or it is still whole and a clean remove takes it.
 */
static void remove_sweep(struct __test_metadata *_metadata,
			 const struct target *t, bool vfio, const char *what)
{
	struct counts before, after, now;
	char uuid[UUID_STR_LEN], path[PATH_MAX], why[160];
	const char *diff;
	struct nth s;
	int fd, ret, injected, groups;

	ASSERT_EQ(0, counts_take(t->mgpu, &before));
	groups = dir_count("/sys/kernel/iommu_groups");
	ASSERT_EQ(0, nth_open(&s, what));
	/* Each armed point has an instance more: counted below instead. */
	s.groups = -1;
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		uuid_gen(uuid);
		ASSERT_EQ(0, target_create(t, uuid));
		ASSERT_EQ(0, counts_take(t->mgpu, &after));
		fd = open(mdev_path(path, uuid, "remove"), O_WRONLY | O_CLOEXEC);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, nth_arm(&s));
		ret = write(fd, "1", 1);
		ret = ret < 0 ? -errno : ret;
		injected = nth_disarm(&s);
		close(fd);
		ASSERT_LE(0, injected);

		if (ret < 0) {
			ASSERT_TRUE(injected)
				TH_LOG("remove failed with %s, nothing injected",
				       strerror(-ret));
			nth_errno(&s, -ret);
			diff = instance_incomplete(t, uuid, vfio);
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: remove failed with %s; lost: %s",
				       s.n, strerror(-ret), diff);
			ASSERT_EQ(0, counts_take(t->mgpu, &now));
			diff = counts_diff(t->mgpu, &after, &now, why,
					   sizeof(why));
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: remove failed with %s, but %s",
				       s.n, strerror(-ret), diff);
			ASSERT_EQ(0, mdev_remove(uuid))
				TH_LOG("fail-nth %u: then a clean remove", s.n);
		} else {
			ASSERT_EQ(1, ret);
			EXPECT_FALSE(mdev_exists(uuid))
				TH_LOG("fail-nth %u: removed, yet the device is there",
				       s.n);
		}
		ASSERT_EQ(0, counts_take(t->mgpu, &now));
		diff = counts_diff(t->mgpu, &before, &now, why, sizeof(why));
		ASSERT_EQ(NULL, diff)
			TH_LOG("fail-nth %u (%s): %s", s.n,
			       ret < 0 ? strerror(-ret) : "removed", diff);
		ASSERT_EQ(groups, dir_count("/sys/kernel/iommu_groups"))
			TH_LOG("fail-nth %u: an IOMMU group left behind", s.n);
		if (ret >= 0 && !injected)
			break;
		if (ret >= 0)
			s.absorbed++;
	}
	NTH_REPORT(&s);
}

/* ---- (a) create on test_mdev ------------------------------------------------- */

FIXTURE(tmdev) {
	char uuid[UUID_STR_LEN];
	bool made;
};

FIXTURE_VARIANT(tmdev) {
	const char *params;
	bool vfio;
};

/* The driver counts its instances (get_available). */
FIXTURE_VARIANT_ADD(tmdev, capacity) {
	.params = "",
	.vfio = true,
};

/* The core counts the slots (max_instances), shared by all types. */
FIXTURE_VARIANT_ADD(tmdev, shared) {
	.params = "shared_max=3",
	.vfio = true,
};

/* An empty probe: only the core allocates. */
FIXTURE_VARIANT_ADD(tmdev, novfio) {
	.params = "vfio=N",
	.vfio = false,
};

FIXTURE_SETUP(tmdev)
{
	if (!fi_ready)
		SKIP(return, "%s", fi_why);
	ASSERT_EQ(0, test_module_reload(variant->params));
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mdev_create(1, 0, self->uuid));
	self->made = true;
}

FIXTURE_TEARDOWN(tmdev)
{
	if (self->made)
		EXPECT_EQ(0, mdev_remove(self->uuid));
	if (module_loaded(TEST_MODULE_NAME))
		EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F_TIMEOUT(tmdev, create, 1200)
{
	const struct target t = { .mgpu = false, .parent = 1, .type = 0 };
	char what[64];

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	snprintf(what, sizeof(what), "test_mdev create (%s)",
		 *variant->params ? variant->params : "defaults");
	create_sweep(_metadata, &t, variant->vfio, what);
}

TEST_F_TIMEOUT(tmdev, remove, 1200)
{
	const struct target t = { .mgpu = false, .parent = 1, .type = 0 };
	char what[64];

	if (_metadata->skip)
		return;
	snprintf(what, sizeof(what), "test_mdev remove (%s)",
		 *variant->params ? variant->params : "defaults");
	remove_sweep(_metadata, &t, variant->vfio, what);
}

/* ---- (b) create on mgpu: the probe ---------------------------------------------- */

FIXTURE(mcreate) {
	char uuid[UUID_STR_LEN];
	bool made;
};

FIXTURE_VARIANT(mcreate) {
	unsigned int gpu;
	unsigned int type;
};

/* Next to the fixture's eighth at slice 0: placed at slices 2-3. */
FIXTURE_VARIANT_ADD(mcreate, quarter) {
	.gpu = 0,
	.type = MGPU_QUARTER,
};

/* The whole of the other GPU. */
FIXTURE_VARIANT_ADD(mcreate, full) {
	.gpu = 1,
	.type = MGPU_FULL,
};

FIXTURE_SETUP(mcreate)
{
	if (!fi_ready)
		SKIP(return, "%s", fi_why);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	ASSERT_EQ(0, mdev_count());
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mgpu_create(0, MGPU_EIGHTH, self->uuid));
	self->made = true;
}

FIXTURE_TEARDOWN(mcreate)
{
	if (self->made)
		EXPECT_EQ(0, mdev_remove(self->uuid));
}

TEST_F_TIMEOUT(mcreate, probe, 1200)
{
	const struct target t = {
		.mgpu = true, .parent = variant->gpu, .type = variant->type,
	};
	char what[64];

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	snprintf(what, sizeof(what), "mgpu create (mgpu%u, %s)", t.parent,
		 mgpu_type_name(t.type));
	create_sweep(_metadata, &t, true, what);
}

TEST_F_TIMEOUT(mcreate, remove, 1200)
{
	const struct target t = {
		.mgpu = true, .parent = variant->gpu, .type = variant->type,
	};
	char what[64];

	if (_metadata->skip)
		return;
	snprintf(what, sizeof(what), "mgpu remove (mgpu%u, %s)", t.parent,
		 mgpu_type_name(t.type));
	remove_sweep(_metadata, &t, true, what);
}

/* ---- (c) open through VFIO ----------------------------------------------------------- */

FIXTURE(open) {
	char uuid[UUID_STR_LEN];
	bool made;
};

FIXTURE_VARIANT(open) {
	bool mgpu;
};

FIXTURE_VARIANT_ADD(open, test_mdev) {
	.mgpu = false,
};

/* A single-usage eighth: a leaked claim would refuse the next open. */
FIXTURE_VARIANT_ADD(open, mgpu) {
	.mgpu = true,
};

FIXTURE_SETUP(open)
{
	if (!fi_ready)
		SKIP(return, "%s", fi_why);
	uuid_gen(self->uuid);
	if (variant->mgpu) {
		if (!mgpu_ready)
			SKIP(return, "mgpu not available: %s", mgpu_why);
		ASSERT_EQ(0, mgpu_create(0, MGPU_EIGHTH, self->uuid));
	} else {
		ASSERT_EQ(0, test_module_reload(""));
		ASSERT_EQ(0, mdev_create(0, 1, self->uuid));
	}
	self->made = true;
}

FIXTURE_TEARDOWN(open)
{
	/* A leaked open would make a plain remove wait forever. */
	if (self->made)
		EXPECT_EQ(0, mgpu_remove(self->uuid, 10000));
	if (!variant->mgpu && module_loaded(TEST_MODULE_NAME))
		EXPECT_EQ(0, test_module_unload_wait());
}

/*
 * test_mdev's test_open_count, which must be @expected; mgpu has no such
 * file, but the clean open that follows a failed one checks its claim.
 */
static bool open_count_is(const char *uuid, bool mgpu, long expected)
{
	return mgpu || mdev_read_long(uuid, "test_open_count") == expected;
}

TEST_F_TIMEOUT(open, device_fd, 1200)
{
	struct vfio_device_info info;
	struct vfio_client c;
	const char *step, *what = variant->mgpu ? "open (mgpu eighth)" :
			   "open (test_mdev)";
	struct nth s;
	int group, ret, err, injected;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	group = mdev_iommu_group(self->uuid);
	ASSERT_LE(0, group);

	ASSERT_EQ(0, nth_open(&s, what));
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		ASSERT_EQ(0, nth_arm(&s));
		ret = vfio_client_open_group(&c, group, self->uuid);
		injected = nth_disarm(&s);
		ASSERT_LE(0, injected);
		step = c.failed_at;

		if (!ret) {
			EXPECT_EQ(0, vfio_device_info(c.device, &info))
				TH_LOG("fail-nth %u: opened, GET_INFO fails",
				       s.n);
			EXPECT_TRUE(open_count_is(self->uuid, variant->mgpu,
						  1));
		} else {
			ASSERT_TRUE(injected)
				TH_LOG("%s failed with %s, nothing injected",
				       step, strerror(-ret));
			nth_errno(&s, -ret);
		}
		vfio_client_close(&c);
		ASSERT_TRUE(open_count_is(self->uuid, variant->mgpu, 0))
			TH_LOG("fail-nth %u: %s: %s, closed, yet still open",
			       s.n, step ?: "-", strerror(-ret));
		if (!ret && !injected)
			break;
		if (!ret) {
			s.absorbed++;
			continue;
		}
		/* Nothing of the failed open is left: a clean one works. */
		err = -ret;
		ret = vfio_client_open(&c, self->uuid);
		ASSERT_EQ(0, ret)
			TH_LOG("fail-nth %u (%s: %s): then a clean open: %s at %s",
			       s.n, step, strerror(err), strerror(-ret),
			       c.failed_at);
		EXPECT_EQ(0, vfio_device_info(c.device, &info));
		EXPECT_TRUE(open_count_is(self->uuid, variant->mgpu, 1));
		vfio_client_close(&c);
		ASSERT_TRUE(open_count_is(self->uuid, variant->mgpu, 0));
	}
	NTH_REPORT(&s);
}

/* ---- (d) migration: save and resume ----------------------------------------------------- */

enum {
	STOP = VFIO_DEVICE_STATE_STOP,
	RUNNING = VFIO_DEVICE_STATE_RUNNING,
	STOP_COPY = VFIO_DEVICE_STATE_STOP_COPY,
	RESUMING = VFIO_DEVICE_STATE_RESUMING,
};

/* A stream buffer, touched in full so that no read into it faults. */
#define STREAM_CAP	(1024 * 1024UL)
#define IO_CHUNK	(16 * 1024UL)

static int stream_alloc(struct vfio_mig_stream *s)
{
	s->buf = malloc(STREAM_CAP);
	if (!s->buf)
		return -ENOMEM;
	memset(s->buf, 0, STREAM_CAP);
	s->cap = STREAM_CAP;
	s->len = 0;
	return 0;
}

static bool stream_eq(const struct vfio_mig_stream *a,
		      const struct vfio_mig_stream *b)
{
	return a->len == b->len && !memcmp(a->buf, b->buf, a->len);
}

/*
 * The header and the state records of two streams are the same: the
 * device state apart from VRAM, which a resume writes as the stream
 * arrives.
 */
static bool state_eq(const struct vfio_mig_stream *a,
		     const struct vfio_mig_stream *b)
{
	long end = mgpu_stream_record(a->buf, a->len, MGPU_ST_VRAM - 1);

	return end > 0 &&
	       end == mgpu_stream_record(b->buf, b->len, MGPU_ST_VRAM - 1) &&
	       !memcmp(a->buf, b->buf, end);
}

/*
 * The byte of VRAM at @at as stream @s carries it: in one of its VRAM
 * runs, or zero (a page the source never touched is not sent).
 */
static int stream_vram_byte(const struct vfio_mig_stream *s, __u64 at)
{
	unsigned int n;
	long rec;

	for (n = MGPU_ST_VRAM - 1;
	     (rec = mgpu_stream_record(s->buf, s->len, n)) >= 0; n++) {
		const __u8 *r = s->buf + rec;
		__u64 off = mig_get_le(r + MGPU_ST_REC_OFFSET, 8);
		__u64 len = mig_get_le(r + MGPU_ST_REC_LENGTH, 4);
		size_t pos = rec + MGPU_ST_REC_LEN + (at - off);

		if (mig_get_le(r + MGPU_ST_REC_TYPE, 4) != MGPU_ST_VRAM)
			break;
		if (at >= off && at < off + len)
			return pos < s->len ? s->buf[pos] : -1;
	}
	return 0;
}

/* Every VRAM byte that @a's runs carry is the same in @b. */
static bool vram_covered(const struct vfio_mig_stream *a,
			 const struct vfio_mig_stream *b)
{
	unsigned int n;
	long rec;
	__u64 i;

	for (n = MGPU_ST_VRAM - 1;
	     (rec = mgpu_stream_record(a->buf, a->len, n)) >= 0; n++) {
		const __u8 *r = a->buf + rec;
		__u64 off = mig_get_le(r + MGPU_ST_REC_OFFSET, 8);
		__u64 len = mig_get_le(r + MGPU_ST_REC_LENGTH, 4);

		if (mig_get_le(r + MGPU_ST_REC_TYPE, 4) != MGPU_ST_VRAM)
			break;
		for (i = 0; i < len; i++)
			if (stream_vram_byte(a, off + i) !=
			    stream_vram_byte(b, off + i))
				return false;
	}
	return true;
}

/*
 * Two streams describe the same device: the same state records and the
 * same VRAM.  Not byte for byte: a resumed target that had pages of its
 * own sends them as zeros where the source sent nothing.
 */
static bool same_device(const struct vfio_mig_stream *a,
			const struct vfio_mig_stream *b)
{
	return state_eq(a, b) && vram_covered(a, b) && vram_covered(b, a);
}

/* STOP -> RESUMING, @s written in IO_CHUNK writes, -> STOP. */
static int resume_steps(int dev, const struct vfio_mig_stream *s,
			const char **step)
{
	int fd, ret;

	*step = "RESUMING";
	ret = vfio_mig_set_state(dev, RESUMING, &fd);
	if (ret)
		return ret;
	if (fd < 0)
		return -EBADF;
	*step = "write";
	ret = vfio_mig_write_all(fd, s->buf, s->len, IO_CHUNK);
	close(fd);
	if (ret)
		return ret;
	*step = "STOP";
	return vfio_mig_set_state(dev, STOP, NULL);
}

struct dev_setup {
	struct mgpu_mode mode;
	__u16 cmd;
	__u32 bar0;
	__u32 scratch;
	__u32 irq_enable;
	__u32 seed;
	__u64 vram_at[3];	/* where the patterned runs of pages start */
	unsigned int pages;	/* pages in each run */
};

static const struct dev_setup src_setup = {
	.mode = { 1024, 768, 32, 0, 0, 0, 0x41 },
	.cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
	.bar0 = 0xe0000000,
	.scratch = 0x5eed0001,
	.irq_enable = 0x5,
	.seed = 1,
	.vram_at = { 0, 100 * PAGE, 131072 * PAGE - 4 * PAGE },
	.pages = 4,
};

static const struct dev_setup dst_setup = {
	.mode = { 800, 600, 16, 0, 0, 0, 0x01 },
	.cmd = PCI_COMMAND_MEMORY,
	.bar0 = 0xd0000000,
	.scratch = 0xdeadbeef,
	.irq_enable = 0x2,
	.seed = 7,
	.vram_at = { 40 * PAGE, 102 * PAGE, 65536 * PAGE },
	.pages = 3,
};

static int dev_program(int dev, const struct dev_setup *d)
{
	unsigned int i;
	int ret;

	ret = vfio_cfg_write(dev, PCI_COMMAND, 2, d->cmd);
	ret = ret ?: vfio_cfg_write(dev, PCI_BASE_ADDRESS_0, 4, d->bar0);
	ret = ret ?: mgpu_set_mode(dev, &d->mode);
	ret = ret ?: mgpu_ctrl_set(dev, MGPU_CTRL_SCRATCH, d->scratch);
	ret = ret ?: mgpu_ctrl_set(dev, MGPU_CTRL_IRQ_ENABLE, d->irq_enable);
	for (i = 0; !ret && i < ARRAY_SIZE(d->vram_at); i++)
		ret = mgpu_vram_fill(dev, d->vram_at[i], d->pages * PAGE,
				     d->seed + i);
	return ret;
}

/* A full-GPU instance, opened and programmed, in STOP. */
struct mig_dev {
	char uuid[UUID_STR_LEN];
	bool made;
	struct vfio_client c;
};

static int mig_dev_new(struct mig_dev *m, unsigned int gpu,
		       const struct dev_setup *d)
{
	int ret;

	vfio_client_init(&m->c);
	uuid_gen(m->uuid);
	ret = mgpu_create(gpu, MGPU_FULL, m->uuid);
	if (ret)
		return ret;
	m->made = true;
	ret = vfio_client_open(&m->c, m->uuid);
	ret = ret ?: dev_program(m->c.device, d);
	return ret ?: vfio_mig_set_state(m->c.device, STOP, NULL);
}

static int mig_dev_del(struct mig_dev *m)
{
	vfio_client_close(&m->c);
	if (!m->made)
		return 0;
	m->made = false;
	return mgpu_remove(m->uuid, 10000);
}

/*
 * The source on mgpu0 and the target on mgpu1, both of the full profile (a
 * shared one, so that one process has both open), programmed differently.
 * @ref is the source's stream, @orig the target's.
 */
FIXTURE(mig) {
	struct mig_dev s, d;
	struct vfio_mig_stream ref, orig, now;
};

FIXTURE_SETUP(mig)
{
	const char *step;

	vfio_client_init(&self->s.c);
	vfio_client_init(&self->d.c);
	if (!fi_ready)
		SKIP(return, "%s", fi_why);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	ASSERT_EQ(0, stream_alloc(&self->ref));
	ASSERT_EQ(0, stream_alloc(&self->orig));
	ASSERT_EQ(0, stream_alloc(&self->now));
	ASSERT_EQ(0, mig_dev_new(&self->s, 0, &src_setup));
	ASSERT_EQ(0, mig_dev_new(&self->d, 1, &dst_setup));
	ASSERT_EQ(0, vfio_mig_save(self->s.c.device, &self->ref, IO_CHUNK, &step));
	ASSERT_EQ(0, vfio_mig_save(self->d.c.device, &self->orig, IO_CHUNK, &step));
	ASSERT_FALSE(stream_eq(&self->ref, &self->orig));
}

FIXTURE_TEARDOWN(mig)
{
	EXPECT_EQ(0, mig_dev_del(&self->s));
	EXPECT_EQ(0, mig_dev_del(&self->d));
	free(self->ref.buf);
	free(self->orig.buf);
	free(self->now.buf);
}

/* After a pass: both devices run again and answer register accesses. */
static void both_usable(struct __test_metadata *_metadata, int src, int dst)
{
	EXPECT_EQ(0, vfio_mig_set_state(src, RUNNING, NULL));
	EXPECT_EQ(0, vfio_mig_set_state(dst, RUNNING, NULL));
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(src, MGPU_CTRL_ID));
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(dst, MGPU_CTRL_ID));
	EXPECT_EQ(src_setup.scratch, mgpu_ctrl_get(src, MGPU_CTRL_SCRATCH));
}

/* Saving changes nothing: the same source serves every iteration. */
TEST_F_TIMEOUT(mig, save, 1200)
{
	int dev = self->s.c.device, ret, injected, state;
	const char *step;
	struct nth s;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, nth_open(&s, "save (STOP_COPY, read, STOP)"));
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		ASSERT_EQ(0, nth_arm(&s));
		ret = vfio_mig_save(dev, &self->now, IO_CHUNK, &step);
		injected = nth_disarm(&s);
		ASSERT_LE(0, injected);

		if (!ret) {
			ASSERT_TRUE(stream_eq(&self->ref, &self->now))
				TH_LOG("fail-nth %u: saved %zu bytes, not the %zu of a clean save",
				       s.n, self->now.len, self->ref.len);
			if (!injected)
				break;
			s.absorbed++;
			continue;
		}
		ASSERT_TRUE(injected)
			TH_LOG("%s failed with %s, nothing injected", step,
			       strerror(-ret));
		nth_errno(&s, -ret);
		/* Wherever it failed, STOP is a step away, and nothing changed. */
		state = vfio_mig_get_state(dev);
		ASSERT_TRUE(state == STOP || state == STOP_COPY)
			TH_LOG("fail-nth %u: %s: %s, then state %d", s.n, step,
			       strerror(-ret), state);
		if (state == STOP_COPY)
			ASSERT_EQ(0, vfio_mig_set_state(dev, STOP, NULL));
		ASSERT_EQ(0, vfio_mig_save(dev, &self->now, IO_CHUNK, &step))
			TH_LOG("fail-nth %u: then a clean save fails at %s",
			       s.n, step);
		ASSERT_TRUE(stream_eq(&self->ref, &self->now))
			TH_LOG("fail-nth %u (%s: %s): the source changed", s.n,
			       step, strerror(-ret));
	}
	NTH_REPORT(&s);
	both_usable(_metadata, dev, self->d.c.device);
}

/*
 * Resuming allocates the target's VRAM pages for good: every iteration gets
 * a new target, so that each one walks the same fault points.
 */
TEST_F_TIMEOUT(mig, resume, 1200)
{
	int dev, ret, injected, state;
	const char *step, *step2;
	struct nth s;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, nth_open(&s, "resume (RESUMING, write, STOP)"));
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		ASSERT_EQ(0, mig_dev_del(&self->d));
		ASSERT_EQ(0, mig_dev_new(&self->d, 1, &dst_setup));
		dev = self->d.c.device;
		ASSERT_EQ(0, nth_arm(&s));
		ret = resume_steps(dev, &self->ref, &step);
		injected = nth_disarm(&s);
		ASSERT_LE(0, injected);

		if (!ret) {
			/* Taken whole: the target is now the source. */
			ASSERT_EQ(0, vfio_mig_save(dev, &self->now, IO_CHUNK, &step2));
			ASSERT_TRUE(same_device(&self->ref, &self->now))
				TH_LOG("fail-nth %u: resumed, but the target is not the source",
				       s.n);
			if (!injected)
				break;
			s.absorbed++;
			continue;
		}
		ASSERT_TRUE(injected)
			TH_LOG("%s failed with %s, nothing injected", step,
			       strerror(-ret));
		nth_errno(&s, -ret);
		state = vfio_mig_get_state(dev);
		ASSERT_TRUE(state == STOP || state == RESUMING)
			TH_LOG("fail-nth %u: %s: %s, then state %d", s.n, step,
			       strerror(-ret), state);
		/* The session's fd is closed: the stream is incomplete. */
		if (state == RESUMING)
			EXPECT_NE(0, vfio_mig_set_state(dev, STOP, NULL))
				TH_LOG("fail-nth %u: %s: %s, yet a clean STOP takes the stream",
				       s.n, step, strerror(-ret));
		ASSERT_EQ(STOP, vfio_mig_get_state(dev));
		/*
		 * A refused stream leaves the target's state as it was; VRAM
		 * may hold the runs that arrived.
		 */
		ASSERT_EQ(0, vfio_mig_save(dev, &self->now, IO_CHUNK, &step2))
			TH_LOG("fail-nth %u: then saving the target fails at %s",
			       s.n, step2);
		ASSERT_TRUE(state_eq(&self->orig, &self->now))
			TH_LOG("fail-nth %u (%s: %s): the target changed", s.n,
			       step, strerror(-ret));
	}
	NTH_REPORT(&s);
	both_usable(_metadata, self->s.c.device, self->d.c.device);
}

int main(int argc, char **argv)
{
	fi_ready = fi_setup(fi_why, sizeof(fi_why));
	/* test_harness_run() exits: debugfs is put back at exit. */
	if (fi_ready)
		atexit(fi_restore);
	/* mgpu is loaded only when there is something to test. */
	if (fi_ready)
		mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	return test_harness_run(argc, argv);
}
