// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the mgpu sample's types, checked against
 * Documentation/driver-api/mgpu.rst: the aligned placement of instances in a
 * GPU's eight VRAM slices, seen through available_instances of all four
 * types after every creation and removal of table-driven sequences (on
 * mgpu0 and mgpu1, each leaving the other untouched), refused creations
 * (EUSERS, nothing changed), the type attributes, the migration version
 * strings and their compatibility rule, and the module parameters that
 * change VRAM sizes and stream versions (mgpu is reloaded for those).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

static bool mgpu_ready;
static char mgpu_why[256];

/*
 * The 6.1 harness runs a test's body even when its fixture setup called
 * SKIP(), so every body of a fixture test starts by returning if it did.
 */

static const long empty_gpu[MGPU_NR_TYPES] = { 8, 4, 2, 1 };

static void expect_counts(struct __test_metadata *_metadata, unsigned int gpu,
			  const long *want, unsigned int step)
{
	unsigned int t;

	for (t = 0; t < MGPU_NR_TYPES; t++)
		EXPECT_EQ(want[t], mgpu_available(gpu, t))
			TH_LOG("mgpu%u mgpu-%s after step %u", gpu,
			       mgpu_type_name(t), step);
}

/* ---- placement ------------------------------------------------------------- */

enum step_op {
	S_END,
	S_CREATE,	/* create instance @id of @type */
	S_REMOVE,	/* remove instance @id */
	S_REFUSE,	/* a creation of @type fails with EUSERS */
};

#define MAX_IDS		16

/* One step and the four available_instances counts expected after it. */
struct step {
	enum step_op op;
	unsigned int type;
	unsigned int id;
	long avail[MGPU_NR_TYPES];
};

FIXTURE(placement) {
	char uuid[MAX_IDS][UUID_STR_LEN];
	bool live[MAX_IDS];
	unsigned int type[MAX_IDS];
	int devices[MGPU_NR_TYPES];	/* the live instances of each type */
	unsigned int steps_done;	/* numbers the steps in messages */
};

FIXTURE_VARIANT(placement) {
	unsigned int gpu;
	unsigned int other;
};

FIXTURE_VARIANT_ADD(placement, mgpu0) {
	.gpu = 0,
	.other = 1,
};

FIXTURE_VARIANT_ADD(placement, mgpu1) {
	.gpu = 1,
	.other = 0,
};

FIXTURE_SETUP(placement)
{
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	expect_counts(_metadata, variant->gpu, empty_gpu, 0);
	expect_counts(_metadata, variant->other, empty_gpu, 0);
	ASSERT_TRUE(_metadata->passed) TH_LOG("the GPUs are not empty");
}

FIXTURE_TEARDOWN(placement)
{
	unsigned int i;

	for (i = 0; i < MAX_IDS; i++)
		if (self->live[i])
			EXPECT_EQ(0, mgpu_remove(self->uuid[i], 10000));
	/* Every scenario gives everything back. */
	if (!_metadata->skip)
		expect_counts(_metadata, variant->gpu, empty_gpu, ~0U);
}

/* Carries out step @n, @s, on @gpu: the counts are checked by the caller. */
static void do_step(struct __test_metadata *_metadata,
		    struct _test_data_placement *self, unsigned int gpu,
		    const struct step *s, unsigned int n)
{
	char uuid[UUID_STR_LEN];

	switch (s->op) {
	case S_CREATE:
		ASSERT_FALSE(self->live[s->id]);
		uuid_gen(self->uuid[s->id]);
		ASSERT_EQ(0, mgpu_create(gpu, s->type, self->uuid[s->id]))
			TH_LOG("step %u: create mgpu-%s", n,
			       mgpu_type_name(s->type));
		self->live[s->id] = true;
		self->type[s->id] = s->type;
		self->devices[s->type]++;
		break;
	case S_REMOVE:
		ASSERT_TRUE(self->live[s->id]);
		ASSERT_EQ(0, mdev_remove(self->uuid[s->id]))
			TH_LOG("step %u: remove", n);
		self->live[s->id] = false;
		self->devices[self->type[s->id]]--;
		break;
	case S_REFUSE:
		uuid_gen(uuid);
		EXPECT_EQ(-EUSERS, mgpu_create(gpu, s->type, uuid))
			TH_LOG("step %u: create mgpu-%s", n,
			       mgpu_type_name(s->type));
		EXPECT_FALSE(mdev_exists(uuid));
		break;
	default:
		ASSERT_TRUE(false) TH_LOG("bad step %u", n);
	}
}

/*
 * Carries out @steps after the ones the test ran before, checking the
 * counts of both GPUs after each.
 */
static void run_steps(struct __test_metadata *_metadata,
		      struct _test_data_placement *self,
		      const struct _fixture_variant_placement *variant,
		      const struct step *steps)
{
	const unsigned int gpu = variant->gpu;
	const struct step *s;
	unsigned int t, n;

	if (_metadata->skip)
		return;
	for (s = steps; s->op != S_END; s++) {
		n = ++self->steps_done;
		do_step(_metadata, self, gpu, s, n);
		expect_counts(_metadata, gpu, s->avail, n);
		for (t = 0; t < MGPU_NR_TYPES; t++)
			EXPECT_EQ(self->devices[t], mgpu_type_devices(gpu, t))
				TH_LOG("step %u: devices of mgpu-%s", n,
				       mgpu_type_name(t));
		/* GPUs share nothing. */
		expect_counts(_metadata, variant->other, empty_gpu, n);
		ASSERT_TRUE(_metadata->passed);
	}
}

/* Instances 0-7: eighths that take slices 0-7 in turn, filling the GPU. */
static const struct step eighths_0_to_7[] = {
	{ S_CREATE, MGPU_EIGHTH, 0, { 7, 3, 1, 0 } },
	{ S_CREATE, MGPU_EIGHTH, 1, { 6, 3, 1, 0 } },
	{ S_CREATE, MGPU_EIGHTH, 2, { 5, 2, 1, 0 } },
	{ S_CREATE, MGPU_EIGHTH, 3, { 4, 2, 1, 0 } },
	{ S_CREATE, MGPU_EIGHTH, 4, { 3, 1, 0, 0 } },
	{ S_CREATE, MGPU_EIGHTH, 5, { 2, 1, 0, 0 } },
	{ S_CREATE, MGPU_EIGHTH, 6, { 1, 0, 0, 0 } },
	{ S_CREATE, MGPU_EIGHTH, 7, { 0, 0, 0, 0 } },
	{ S_END },
};

/* Eight eighths take slices 0-7 in turn, then are removed in order. */
TEST_F(placement, all_eighths)
{
	static const struct step steps[] = {
		{ S_REFUSE, MGPU_EIGHTH, 0, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_QUARTER, 0, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_FULL, 0, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 0, { 1, 0, 0, 0 } },
		{ S_REMOVE, 0, 1, { 2, 1, 0, 0 } },
		{ S_REMOVE, 0, 2, { 3, 1, 0, 0 } },
		{ S_REMOVE, 0, 3, { 4, 2, 1, 0 } },
		{ S_REMOVE, 0, 4, { 5, 2, 1, 0 } },
		{ S_REMOVE, 0, 5, { 6, 3, 1, 0 } },
		{ S_REMOVE, 0, 6, { 7, 3, 1, 0 } },
		{ S_REMOVE, 0, 7, { 8, 4, 2, 1 } },
		{ S_END },
	};

	run_steps(_metadata, self, variant, eighths_0_to_7);
	run_steps(_metadata, self, variant, steps);
}

/* The worked example of the documentation, plus refusals. */
TEST_F(placement, eighth_quarter_half)
{
	static const struct step steps[] = {
		{ S_CREATE, MGPU_EIGHTH, 0, { 7, 3, 1, 0 } },
		{ S_CREATE, MGPU_QUARTER, 1, { 5, 2, 1, 0 } },
		{ S_CREATE, MGPU_HALF, 2, { 1, 0, 0, 0 } },
		{ S_REFUSE, MGPU_QUARTER, 0, { 1, 0, 0, 0 } },
		{ S_REFUSE, MGPU_HALF, 0, { 1, 0, 0, 0 } },
		{ S_REFUSE, MGPU_FULL, 0, { 1, 0, 0, 0 } },
		{ S_REMOVE, 0, 0, { 2, 1, 0, 0 } },
		{ S_REMOVE, 0, 1, { 4, 2, 1, 0 } },
		{ S_REMOVE, 0, 2, { 8, 4, 2, 1 } },
		{ S_END },
	};

	run_steps(_metadata, self, variant, steps);
}

/*
 * On a GPU full of eighths, freed slices that are not buddies (1 and 2)
 * free no quarter; freeing slice 0 as well does, and the next quarter takes
 * it (slices 0-1).
 */
TEST_F(placement, fragmentation)
{
	static const struct step steps[] = {
		{ S_REMOVE, 0, 1, { 1, 0, 0, 0 } },
		{ S_REMOVE, 0, 2, { 2, 0, 0, 0 } },
		{ S_REFUSE, MGPU_QUARTER, 0, { 2, 0, 0, 0 } },
		{ S_REMOVE, 0, 0, { 3, 1, 0, 0 } },
		{ S_CREATE, MGPU_QUARTER, 8, { 1, 0, 0, 0 } },
		{ S_REFUSE, MGPU_QUARTER, 0, { 1, 0, 0, 0 } },
		{ S_CREATE, MGPU_EIGHTH, 9, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 8, { 2, 1, 0, 0 } },
		{ S_REMOVE, 0, 9, { 3, 1, 0, 0 } },
		{ S_REMOVE, 0, 3, { 4, 2, 1, 0 } },
		{ S_REMOVE, 0, 5, { 5, 2, 1, 0 } },
		{ S_REMOVE, 0, 6, { 6, 2, 1, 0 } },
		{ S_REMOVE, 0, 4, { 7, 3, 1, 0 } },
		{ S_REMOVE, 0, 7, { 8, 4, 2, 1 } },
		{ S_END },
	};

	run_steps(_metadata, self, variant, eighths_0_to_7);
	run_steps(_metadata, self, variant, steps);
}

TEST_F(placement, full_alone)
{
	static const struct step steps[] = {
		{ S_CREATE, MGPU_FULL, 0, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_EIGHTH, 0, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_QUARTER, 0, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_HALF, 0, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_FULL, 0, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 0, { 8, 4, 2, 1 } },
		{ S_CREATE, MGPU_FULL, 1, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 1, { 8, 4, 2, 1 } },
		{ S_END },
	};

	run_steps(_metadata, self, variant, steps);
}

/* Two halves; a freed half refilled with a quarter and two eighths. */
TEST_F(placement, halves_refilled)
{
	static const struct step steps[] = {
		{ S_CREATE, MGPU_HALF, 0, { 4, 2, 1, 0 } },
		{ S_CREATE, MGPU_HALF, 1, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_EIGHTH, 0, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 0, { 4, 2, 1, 0 } },
		{ S_CREATE, MGPU_QUARTER, 2, { 2, 1, 0, 0 } },
		{ S_REFUSE, MGPU_HALF, 0, { 2, 1, 0, 0 } },
		{ S_CREATE, MGPU_EIGHTH, 3, { 1, 0, 0, 0 } },
		{ S_CREATE, MGPU_EIGHTH, 4, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 1, { 4, 2, 1, 0 } },
		{ S_REMOVE, 0, 2, { 6, 3, 1, 0 } },
		{ S_REMOVE, 0, 3, { 7, 3, 1, 0 } },
		{ S_REMOVE, 0, 4, { 8, 4, 2, 1 } },
		{ S_END },
	};

	run_steps(_metadata, self, variant, steps);
}

/*
 * Four quarters; freeing the two middle ones frees four slices but no
 * aligned half (2-5), until the quarter on 0-1 goes.
 */
TEST_F(placement, quarters_no_half)
{
	static const struct step steps[] = {
		{ S_CREATE, MGPU_QUARTER, 0, { 6, 3, 1, 0 } },
		{ S_CREATE, MGPU_QUARTER, 1, { 4, 2, 1, 0 } },
		{ S_CREATE, MGPU_QUARTER, 2, { 2, 1, 0, 0 } },
		{ S_CREATE, MGPU_QUARTER, 3, { 0, 0, 0, 0 } },
		{ S_REFUSE, MGPU_QUARTER, 0, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 1, { 2, 1, 0, 0 } },
		{ S_REMOVE, 0, 2, { 4, 2, 0, 0 } },
		{ S_REFUSE, MGPU_HALF, 0, { 4, 2, 0, 0 } },
		{ S_REMOVE, 0, 0, { 6, 3, 1, 0 } },
		{ S_CREATE, MGPU_HALF, 4, { 2, 1, 0, 0 } },
		{ S_REMOVE, 0, 3, { 4, 2, 1, 0 } },
		{ S_REMOVE, 0, 4, { 8, 4, 2, 1 } },
		{ S_END },
	};

	run_steps(_metadata, self, variant, steps);
}

/*
 * An eighth on slice 0 pushes the half to 4-7 and the quarter to 2-3; the
 * next eighth fills slice 1.
 */
TEST_F(placement, lowest_free_block)
{
	static const struct step steps[] = {
		{ S_CREATE, MGPU_EIGHTH, 0, { 7, 3, 1, 0 } },
		{ S_CREATE, MGPU_HALF, 1, { 3, 1, 0, 0 } },
		{ S_CREATE, MGPU_QUARTER, 2, { 1, 0, 0, 0 } },
		{ S_CREATE, MGPU_EIGHTH, 3, { 0, 0, 0, 0 } },
		{ S_REMOVE, 0, 0, { 1, 0, 0, 0 } },
		{ S_REMOVE, 0, 3, { 2, 1, 0, 0 } },
		{ S_REMOVE, 0, 2, { 4, 2, 1, 0 } },
		{ S_REFUSE, MGPU_FULL, 0, { 4, 2, 1, 0 } },
		{ S_REMOVE, 0, 1, { 8, 4, 2, 1 } },
		{ S_END },
	};

	run_steps(_metadata, self, variant, steps);
}

/* ---- type attributes ------------------------------------------------------------ */

/* Runs @check on every type of both GPUs of the default parameters. */
static void check_every_type(struct __test_metadata *_metadata,
			     void (*check)(struct __test_metadata *_metadata,
					   unsigned int gpu, unsigned int type))
{
	unsigned int gpu, t;

	for (gpu = 0; gpu < MGPU_DEFAULT_GPUS; gpu++)
		for (t = 0; t < MGPU_NR_TYPES; t++)
			check(_metadata, gpu, t);
}

static void expect_type_attributes(struct __test_metadata *_metadata,
				   unsigned int gpu, unsigned int t)
{
	const struct mgpu_profile *p = &mgpu_profiles[t];
	char buf[256], want[256];

	ASSERT_LT(0, mgpu_type_read(gpu, t, "name", buf, sizeof(buf)));
	snprintf(want, sizeof(want), "%s\n", p->pretty_name);
	EXPECT_STREQ(want, buf);
	ASSERT_LT(0, mgpu_type_read(gpu, t, "description", buf, sizeof(buf)));
	snprintf(want, sizeof(want),
		 "vram=%lluM heads=%u max_resolution=%ux%u gpu_share=%u/8\n",
		 (unsigned long long)mgpu_vram_size(MGPU_DEFAULT_VRAM_MB, t) >> 20,
		 p->heads, p->max_width, p->max_height, p->slices);
	EXPECT_STREQ(want, buf);
	ASSERT_LT(0, mgpu_type_read(gpu, t, "device_api", buf, sizeof(buf)));
	EXPECT_STREQ("vfio-pci\n", buf);
	ASSERT_LT(0, mgpu_type_read(gpu, t, "single_usage_restriction",
				    buf, sizeof(buf)));
	EXPECT_STREQ(p->single ? "Y\n" : "N\n", buf);
}

TEST(type_attributes)
{
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	check_every_type(_metadata, expect_type_attributes);
}

/* ---- versions ---------------------------------------------------------------------- */

static void version_of(unsigned int vram_mb, unsigned int stream,
		       unsigned int type, char *buf, size_t len)
{
	snprintf(buf, len, "00021234-mgpu-%s-%lluM-s%u\n", mgpu_type_name(type),
		 (unsigned long long)mgpu_vram_size(vram_mb, type) >> 20, stream);
}

static int version_write(unsigned int gpu, unsigned int type, const char *v)
{
	return mgpu_type_write(gpu, type, "version", v, strlen(v));
}

static void expect_default_version(struct __test_metadata *_metadata,
				   unsigned int gpu, unsigned int t)
{
	char buf[256], want[256];

	ASSERT_LT(0, mgpu_type_read(gpu, t, "version", buf, sizeof(buf)));
	version_of(MGPU_DEFAULT_VRAM_MB, 1, t, want, sizeof(want));
	EXPECT_STREQ(want, buf);
}

TEST(version_format)
{
	char buf[256];

	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	check_every_type(_metadata, expect_default_version);
	/* The example of the documentation. */
	ASSERT_LT(0, mgpu_type_read(0, MGPU_HALF, "version", buf, sizeof(buf)));
	EXPECT_STREQ("00021234-mgpu-half-256M-s1\n", buf);
}

/* The type's version is accepted by itself and by the other GPU's type. */
static void expect_version_accepted(struct __test_metadata *_metadata,
				    unsigned int gpu, unsigned int t)
{
	char v[256];

	ASSERT_LT(0, mgpu_type_read(gpu, t, "version", v, sizeof(v)));
	EXPECT_EQ(0, version_write(gpu, t, v));
	EXPECT_EQ(0, version_write(!gpu, t, v))
		TH_LOG("mgpu%u mgpu-%s to mgpu%u", gpu, mgpu_type_name(t), !gpu);
	chomp(v);	/* the newline is optional */
	EXPECT_EQ(0, version_write(!gpu, t, v));
}

/* Each type accepts its own version and the same type's of the other GPU. */
TEST(version_same_type)
{
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	check_every_type(_metadata, expect_version_accepted);
}

/* No type accepts another profile's version, on either GPU. */
TEST(version_other_profile)
{
	unsigned int gpu, t, u;
	char v[256];

	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	for (t = 0; t < MGPU_NR_TYPES; t++) {
		ASSERT_LT(0, mgpu_type_read(0, t, "version", v, sizeof(v)));
		for (u = 0; u < MGPU_NR_TYPES; u++) {
			if (u == t)
				continue;
			for (gpu = 0; gpu < MGPU_DEFAULT_GPUS; gpu++)
				EXPECT_EQ(-EPROTO, version_write(gpu, u, v))
					TH_LOG("mgpu-%s version to mgpu%u mgpu-%s",
					       mgpu_type_name(t), gpu,
					       mgpu_type_name(u));
		}
	}
}

/* Each of the NULL-terminated @versions is refused by @type of mgpu0 with @err. */
static void expect_versions_refused(struct __test_metadata *_metadata,
				    unsigned int type,
				    const char * const *versions, int err)
{
	const char * const *v;
	char what[160];

	for (v = versions; *v; v++) {
		snprintf(what, sizeof(what), "%s", *v);
		EXPECT_EQ(err, version_write(0, type, what))
			TH_LOG("mgpu-%s: \"%s\"", mgpu_type_name(type), what);
	}
}

/* Well-formed versions that mgpu-half of mgpu0 must refuse. */
TEST(version_incompatible)
{
	static const char * const refused[] = {
		"00021234-mgpu-half-256M-s2",
		"00021234-mgpu-half-512M-s1",
		"00021234-mgpu-half-128M-s1",
		"00021234-mgpu-quarter-256M-s1",
		"00021235-mgpu-half-256M-s1",
		"00011234-mgpu-half-256M-s1",
		"00021234-mgpu-half-256M-s01",
		"00021234-mgpu-half-0256M-s1",
		"00021234-mgpu-half-256M-s+1",
		"00021234-mgpu-half-256M-s1x",
		"00021234-mgpu-half-256m-s1",
		"00021234-mgpu-half-s1",
		"00021234-mgpu-half-256M-s0",
		"00021234-mgpu-half-256M-s256",
		"00021234-mgpu-half-256M",
		"00021234-mgpu-half-256M-",
		"00021234-mgpu-half-256M-s1-",
		"00021234-mgpu-halfx-256M-s1",
		"00021234-mgpu-Half-256M-s1",
		"00021234-MGPU-half-256M-s1",
		"00021234-xgpu-half-256M-s1",
		"00021234-mgpu",
		"00021234-x",
		NULL
	};

	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	EXPECT_EQ(0, version_write(0, MGPU_HALF, "00021234-mgpu-half-256M-s1"));
	expect_versions_refused(_metadata, MGPU_HALF, refused, -EPROTO);
}

/* Malformed versions: EINVAL from the core, whatever the type. */
TEST(version_malformed)
{
	static const char * const malformed[] = {
		"\n",
		"garbage",
		"0002123-mgpu-half-256M-s1",
		"000212345-mgpu-half-256M-s1",
		"0002123g-mgpu-half-256M-s1",
		"00021234_mgpu-half-256M-s1",
		"00021234-",
		"00021234-\n",
		"00021234",
		"00021234-mgpu half-256M-s1",
		"00021234-mgpu-half-256M-s1\n\n",
		"00021234-mgpu-half-256M-s1\t",
		"\n00021234-mgpu-half-256M-s1",
		" 00021234-mgpu-half-256M-s1",
		"00021234-mgpu-half-256M-s1\x80",
		NULL
	};
	unsigned int t;
	char huge[200];

	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	for (t = 0; t < MGPU_NR_TYPES; t++)
		expect_versions_refused(_metadata, t, malformed, -EINVAL);
	/* Longer than any version may be. */
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "00021234-mgpu-half-256M-s1-", 27);
	EXPECT_EQ(-EINVAL, version_write(0, MGPU_HALF, huge));
	/* After all that, the good one is still good. */
	EXPECT_EQ(0, version_write(0, MGPU_HALF, "00021234-mgpu-half-256M-s1\n"));
}

/* ---- module parameters (mgpu is reloaded) ------------------------------------------ */

FIXTURE(params) {
	char uuid[UUID_STR_LEN];
	bool created;
	struct vfio_client v;
};

FIXTURE_SETUP(params)
{
	vfio_client_init(&self->v);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	if (mgpu_pci_mode())
		SKIP(return, "the virtual GPUs' parameters (mgpu_pci_test has the PCI ones)");
}

/* Back to the defaults, whatever happened. */
FIXTURE_TEARDOWN(params)
{
	vfio_client_close(&self->v);
	if (self->created && mdev_exists(self->uuid))
		EXPECT_EQ(0, mgpu_remove(self->uuid, 10000));
	if (!_metadata->skip) {
		EXPECT_EQ(0, mgpu_reload(""));
		EXPECT_TRUE(mgpu_gpu_exists(1));
		EXPECT_FALSE(mgpu_gpu_exists(2));
	}
}

TEST_F_TIMEOUT(params, vram_and_stream, 60)
{
	/* mgpu0 and mgpu2 alike, mgpu1 twice the VRAM, mgpu3 another stream */
	static const unsigned int vram[] = { 512, 1024, 512, 512 };
	static const unsigned int stream[] = { 1, 1, 1, 2 };
	struct vfio_region_info *ri;
	char v[256], want[256];
	unsigned int gpu, t;
	long val;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, mgpu_reload("gpus=4 vram_mb=512,1024,512 stream_version=1,1,1,2"));
	ASSERT_TRUE(mgpu_gpu_exists(3));
	EXPECT_FALSE(mgpu_gpu_exists(4));

	for (gpu = 0; gpu < 4; gpu++) {
		for (t = 0; t < MGPU_NR_TYPES; t++) {
			ASSERT_LT(0, mgpu_type_read(gpu, t, "version", v, sizeof(v)));
			version_of(vram[gpu], stream[gpu], t, want, sizeof(want));
			EXPECT_STREQ(want, v);
			EXPECT_EQ(empty_gpu[t], mgpu_available(gpu, t));
		}
	}
	ASSERT_LT(0, mgpu_type_read(1, MGPU_EIGHTH, "description", v, sizeof(v)));
	EXPECT_STREQ("vram=128M heads=1 max_resolution=1280x1024 gpu_share=1/8\n", v);

	/* Same profile, size and stream on another GPU: accepted. */
	ASSERT_LT(0, mgpu_type_read(0, MGPU_HALF, "version", v, sizeof(v)));
	EXPECT_EQ(0, version_write(2, MGPU_HALF, v));
	/* Another size, another stream: refused. */
	EXPECT_EQ(-EPROTO, version_write(1, MGPU_HALF, v));
	EXPECT_EQ(-EPROTO, version_write(3, MGPU_HALF, v));
	ASSERT_LT(0, mgpu_type_read(1, MGPU_HALF, "version", v, sizeof(v)));
	EXPECT_EQ(-EPROTO, version_write(0, MGPU_HALF, v));
	/* The same size in another profile: refused. */
	ASSERT_LT(0, mgpu_type_read(1, MGPU_EIGHTH, "version", v, sizeof(v)));
	EXPECT_STREQ("00021234-mgpu-eighth-128M-s1\n", v);
	EXPECT_EQ(-EPROTO, version_write(0, MGPU_QUARTER, v));
	EXPECT_EQ(-EPROTO, version_write(0, MGPU_EIGHTH, v));
	EXPECT_EQ(0, version_write(1, MGPU_EIGHTH, v));

	/* An eighth of the 1024 MiB GPU has a 128 MiB BAR0. */
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mgpu_create(1, MGPU_EIGHTH, self->uuid));
	self->created = true;
	ASSERT_EQ(0, vfio_client_open(&self->v, self->uuid));
	ASSERT_EQ(0, vfio_region_info(self->v.device, MGPU_VRAM, &ri));
	EXPECT_EQ(128ULL << 20, ri->size);
	free(ri);
	val = mgpu_dispi_get(self->v.device, DISPI_VIDEO_MEMORY_64K);
	EXPECT_EQ(2048, val);
	EXPECT_EQ(7, mgpu_available(1, MGPU_EIGHTH));
}

TEST_F_TIMEOUT(params, bad_values, 60)
{
	static const char * const bad[] = {
		"gpus=9",
		"vram_mb=100",
		"vram_mb=32",
		"vram_mb=4096",
		"vram_mb=512,512,512",
		"gpus=1 vram_mb=512,512",
		"stream_version=0",
		"stream_version=256",
		"stream_version=1,1,1",
		"gpus=0 vram_mb=512",
		"pci_stream_version=0",
		"pci_stream_version=256",
		"ids=1af4",
		"ids=zz:1110",
		"ids=1af4:1110,10000:1",
		NULL
	};
	const char * const *v;

	if (_metadata->skip)
		return;
	/* Unloading removes the instances there are. */
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mgpu_create(0, MGPU_HALF, self->uuid));
	ASSERT_EQ(0, module_unload_wait(MGPU_MODULE_NAME, 10000));
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_FALSE(mgpu_gpu_exists(0));
	for (v = bad; *v; v++) {
		EXPECT_EQ(-EINVAL, module_load(mgpu_module_path(), *v))
			TH_LOG("%s", *v);
		if (module_loaded(MGPU_MODULE_NAME))
			ASSERT_EQ(0, module_unload_wait(MGPU_MODULE_NAME, 10000));
	}
	/* No virtual GPU at all: a driver for PCI GPUs only. */
	ASSERT_EQ(0, module_load(mgpu_module_path(), "gpus=0"));
	EXPECT_FALSE(mgpu_gpu_exists(0));
	EXPECT_TRUE(path_exists("/sys/class/mgpu"));
	EXPECT_TRUE(path_exists(MGPU_PCI_DRIVER));
	ASSERT_EQ(0, module_unload_wait(MGPU_MODULE_NAME, 10000));
	/* The limits themselves are good. */
	ASSERT_EQ(0, module_load(mgpu_module_path(),
				 "gpus=8 vram_mb=64,2048 stream_version=255"));
	EXPECT_TRUE(mgpu_gpu_exists(7));
	EXPECT_EQ(0, version_write(0, MGPU_EIGHTH, "00021234-mgpu-eighth-8M-s255"));
	EXPECT_EQ(0, version_write(1, MGPU_FULL, "00021234-mgpu-full-2048M-s1"));
}

int main(int argc, char **argv)
{
	mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	return test_harness_run(argc, argv);
}
