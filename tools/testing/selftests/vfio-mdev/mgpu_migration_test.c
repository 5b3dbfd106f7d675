// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of mgpu's live migration (VFIO migration v2), driven through the
 * uAPI directly and checked against the "Migration" section of
 * Documentation/driver-api/mgpu.rst: the migration feature and its states,
 * every legal arc and refused ones, interrupts held back while stopped, the
 * saving and resuming files, PRE_COPY where the kernel has it, the stream
 * format, sparse VRAM, a full round trip of VRAM, config space, registers,
 * display and interrupt state from one GPU to another, every kind of bad
 * stream with its errno (the target unchanged and usable after each), and the
 * agreement between a type's version file and what its instances accept.
 *
 * The fractional profiles are single-usage (one open instance per process),
 * so every test works like a migration between two QEMUs: the source is
 * saved and closed, then the target is opened and resumed.
 *
 * Each fixture reloads mgpu with its parameters: "pair" with
 * stream_version=1,1 (two compatible 512 MiB GPUs), "mix" with four GPUs
 * that differ in stream version and VRAM.  The defaults are put back at
 * exit.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_engine_lib.h"
#include "mgpu_lib.h"
#include "mig_client.h"
#include "vfio_client.h"

#define PAGE		4096UL
#define MIB		(1024UL * 1024)
/* An eventfd that must not fire is given this long; delivery is synchronous. */
#define QUIET_MS	50
#define FIRE_MS		1000

#define CFG_PAIR	"gpus=2 stream_version=1,1"
/* mgpu2 speaks stream 2; mgpu3 has 1 GiB, so its profiles have other sizes. */
#define CFG_MIX		"gpus=4 vram_mb=512,512,512,1024 stream_version=1,1,2,1"

/* ---- the stream, as the documentation lays it out ------------------------ */

#define HDR_MAGIC	0
#define HDR_VERSION	MGPU_ST_HDR_VERSION
#define HDR_SLICES	MGPU_ST_HDR_SLICES
#define HDR_VRAM	MGPU_ST_HDR_VRAM
#define HDR_LEN		MGPU_ST_HDR_LEN
#define REC_LEN		MGPU_ST_REC_LEN
#define CONFIG_LEN	280
#define REGS_LEN	70
#define IRQ_LEN		8
#define DISPLAY_LEN	8
#define ENGINE_LEN	48

/* The state records come first, in this order, at fixed places. */
#define REC_CONFIG	HDR_LEN
#define REC_REGS	(REC_CONFIG + REC_LEN + CONFIG_LEN)
#define REC_IRQ		(REC_REGS + REC_LEN + REGS_LEN)
#define REC_DISPLAY	(REC_IRQ + REC_LEN + IRQ_LEN)
#define REC_ENGINE	(REC_DISPLAY + REC_LEN + DISPLAY_LEN)
#define STATE_END	(REC_ENGINE + REC_LEN + ENGINE_LEN)	/* 638 */
#define CONFIG_AT	(REC_CONFIG + REC_LEN)
#define REGS_AT		(REC_REGS + REC_LEN)
#define IRQ_AT		(REC_IRQ + REC_LEN)
#define DISPLAY_AT	(REC_DISPLAY + REC_LEN)
#define ENGINE_AT	(REC_ENGINE + REC_LEN)
/* No VRAM: the state records and END. */
#define STREAM_MIN	(STATE_END + REC_LEN)
/* VRAM record @n of a stream whose runs before it are all full. */
#define RUN_CHECK	MGPU_ST_RUN_CHECK_LEN
#define VREC(n)		(STATE_END + (n) * (REC_LEN + MGPU_ST_RUN_MAX + RUN_CHECK))

#define REGS_DISPI(i)	(REGS_AT + 2 * (i))
#define REGS_VGA	(REGS_AT + 22)
#define REGS_IRQ_STATUS	(REGS_AT + 58)
#define IRQ_INTX_MASKED	IRQ_AT
#define IRQ_MSI_SENT	(IRQ_AT + 4)
#define ENGINE_SUBMITTED (ENGINE_AT + 16)
#define ENGINE_ERROR	(ENGINE_AT + 20)
#define ENGINE_WEIGHT	(ENGINE_AT + 36)	/* 1 to 1000 */
#define ENGINE_RESERVED	(ENGINE_AT + 40)

#define put_le		mig_put_le
#define get_le		mig_get_le

enum mig_state {
	ERROR = VFIO_DEVICE_STATE_ERROR,
	STOP = VFIO_DEVICE_STATE_STOP,
	RUNNING = VFIO_DEVICE_STATE_RUNNING,
	STOP_COPY = VFIO_DEVICE_STATE_STOP_COPY,
	RESUMING = VFIO_DEVICE_STATE_RESUMING,
	RUNNING_P2P = VFIO_DEVICE_STATE_RUNNING_P2P,
};

static const char *const state_names[] = {
	"ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P",
};

static const enum mig_state valid_states[] = {
	RUNNING, RUNNING_P2P, STOP, STOP_COPY, RESUMING,
};

static bool mgpu_ready;
static char mgpu_why[256];

/*
 * The 6.1 harness runs a test's body even when its setup called SKIP(), so
 * every body below starts by returning when _metadata->skip is set.
 */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the migration uAPI (mig_client.h) --------------------------------- */

/*
 * Resumes @dev from whatever state it is in: RESUMING, @len bytes written in
 * writes of at most @chunk, then STOP.  *@write_err gets the first write's
 * error (0 if all were taken); the result is the errno of RESUMING -> STOP.
 */
static int resume(int dev, const void *buf, size_t len, size_t chunk,
		  int *write_err)
{
	int fd, ret;

	*write_err = 0;
	ret = vfio_mig_set_state(dev, RESUMING, &fd);
	if (ret)
		return ret;
	if (fd < 0)
		return -EBADF;
	*write_err = vfio_mig_write_all(fd, buf, len, chunk);
	close(fd);
	return vfio_mig_set_state(dev, STOP, NULL);
}

/* ---- instances -------------------------------------------------------------- */

struct inst {
	char uuid[UUID_STR_LEN];
	unsigned int gpu;
	unsigned int type;
	__u64 vram;
	bool created;
	struct vfio_client v;
	int dev;
};

static int inst_create(struct inst *in, unsigned int gpu, unsigned int type,
		       unsigned int gpu_vram_mb)
{
	int ret;

	vfio_client_init(&in->v);
	in->dev = -1;
	in->gpu = gpu;
	in->type = type;
	in->vram = mgpu_vram_size(gpu_vram_mb, type);
	uuid_gen(in->uuid);
	ret = mgpu_create(gpu, type, in->uuid);
	in->created = !ret;
	return ret;
}

static int inst_open(struct inst *in)
{
	int ret = vfio_client_open(&in->v, in->uuid);

	in->dev = ret ? -1 : in->v.device;
	return ret;
}

static void inst_close(struct inst *in)
{
	vfio_client_close(&in->v);
	in->dev = -1;
}

static int inst_destroy(struct inst *in)
{
	inst_close(in);
	if (!in->created || !mdev_exists(in->uuid))
		return 0;
	in->created = false;
	return mdev_remove(in->uuid);
}

/* ---- device state as its user sees it --------------------------------------- */

struct snap {
	__u8 cfg[MGPU_CFG_SIZE];
	__u16 dispi[DISPI_REGS];
	__u8 vga[32];
	__u32 endian;
	__u32 ctrl[6];		/* ID, SLICES, STATUS, ENABLE, (RAISE), SCRATCH */
	__u8 edid[128];
	__u64 vram_hash;
	struct vfio_device_gfx_plane_info plane;
	int plane_ret;
};

/* A 64-bit hash of the whole of BAR0, read with pread in 1 MiB pieces. */
static int vram_hash(int dev, __u64 size, __u64 *hash)
{
	__u64 *buf = malloc(MIB), h = 0xcbf29ce484222325ULL, off;
	ssize_t n;
	size_t i;

	if (!buf)
		return -ENOMEM;
	for (off = 0; off < size; off += MIB) {
		n = vfio_region_read(dev, MGPU_VRAM, off, buf, MIB);
		if (n != (ssize_t)MIB) {
			free(buf);
			return n < 0 ? n : -EIO;
		}
		for (i = 0; i < MIB / 8; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL + off;
	}
	free(buf);
	*hash = h;
	return 0;
}

static int query_plane(int dev, struct vfio_device_gfx_plane_info *plane)
{
	memset(plane, 0, sizeof(*plane));
	plane->argsz = sizeof(*plane);
	plane->flags = VFIO_GFX_PLANE_TYPE_REGION;
	plane->drm_plane_type = 1;	/* DRM_PLANE_TYPE_PRIMARY */
	return vfio_ioctl(dev, VFIO_DEVICE_QUERY_GFX_PLANE, plane);
}

static int snap_take(int dev, __u64 vram, struct snap *s)
{
	unsigned int i;
	__u32 val;
	int ret;

	memset(s, 0, sizeof(*s));
	if (vfio_region_read(dev, MGPU_CFG, 0, s->cfg, sizeof(s->cfg)) !=
	    sizeof(s->cfg))
		return -EIO;
	for (i = 0; i < DISPI_REGS; i++) {
		ret = mgpu_mmio_read(dev, MGPU_DISPI(i), 2, &val);
		if (ret)
			return ret;
		s->dispi[i] = val;
	}
	for (i = 0; i < sizeof(s->vga); i++) {
		ret = mgpu_mmio_read(dev, MGPU_MMIO_VGA + i, 1, &val);
		if (ret)
			return ret;
		s->vga[i] = val;
	}
	ret = mgpu_mmio_read(dev, MGPU_QEXT_ENDIAN, 4, &s->endian);
	for (i = 0; !ret && i < 6; i++)
		ret = mgpu_mmio_read(dev, MGPU_MMIO_CTRL + 4 * i, 4,
				     &s->ctrl[i]);
	for (i = 0; !ret && i < sizeof(s->edid); i += 4) {
		ret = mgpu_mmio_read(dev, MGPU_MMIO_EDID + i, 4, &val);
		memcpy(s->edid + i, &val, 4);
	}
	if (ret)
		return ret;
	s->plane_ret = query_plane(dev, &s->plane);
	return vram_hash(dev, vram, &s->vram_hash);
}

/* The first part of two snapshots that differs, or NULL. */
static const char *snap_diff(const struct snap *a, const struct snap *b)
{
	unsigned int i;

	for (i = 0; i < sizeof(a->cfg); i++)
		if (a->cfg[i] != b->cfg[i])
			return "config space";
	if (memcmp(a->dispi, b->dispi, sizeof(a->dispi)))
		return "dispi registers";
	if (memcmp(a->vga, b->vga, sizeof(a->vga)))
		return "VGA bytes";
	if (a->endian != b->endian)
		return "ENDIAN";
	if (memcmp(a->ctrl, b->ctrl, sizeof(a->ctrl)))
		return "control block";
	if (memcmp(a->edid, b->edid, sizeof(a->edid)))
		return "EDID";
	if (a->vram_hash != b->vram_hash)
		return "VRAM";
	if (a->plane_ret != b->plane_ret ||
	    a->plane.drm_format != b->plane.drm_format ||
	    a->plane.width != b->plane.width ||
	    a->plane.height != b->plane.height ||
	    a->plane.stride != b->plane.stride ||
	    a->plane.size != b->plane.size ||
	    a->plane.region_index != b->plane.region_index)
		return "display plane";
	return NULL;
}

/* ---- programming a device ---------------------------------------------------- */

struct dev_setup {
	struct mgpu_mode mode;
	__u16 cmd;
	__u32 bar0, bar2;
	__u8 irq_line;
	bool msi;
	__u32 scratch;
	__u32 irq_enable;
	__u32 vram_seed;
	__u64 vram_off;		/* first patterned byte */
	size_t vram_len;	/* patterned bytes there, and the last page */
};

/*
 * Puts @dev into a known state: config space, a display mode, VGA bytes,
 * ENDIAN, SCRATCH, IRQ_ENABLE and VRAM.  Interrupts are raised by the
 * caller.
 */
static int dev_program(int dev, __u64 vram, const struct dev_setup *d)
{
	unsigned int i;
	int ret;

	ret = vfio_cfg_write(dev, PCI_COMMAND, 2, d->cmd);
	ret = ret ?: vfio_cfg_write(dev, PCI_BASE_ADDRESS_0, 4, d->bar0);
	ret = ret ?: vfio_cfg_write(dev, PCI_BASE_ADDRESS_2, 4, d->bar2);
	ret = ret ?: vfio_cfg_write(dev, PCI_INTERRUPT_LINE, 1, d->irq_line);
	ret = ret ?: vfio_cfg_write(dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_LO, 4,
				    0xfee00000 | d->irq_line << 12);
	ret = ret ?: vfio_cfg_write(dev, MGPU_MSI_CAP + PCI_MSI_DATA_64, 2,
				    0x4000 | d->irq_line);
	ret = ret ?: vfio_cfg_write(dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2,
				    d->msi ? PCI_MSI_FLAGS_ENABLE : 0);
	ret = ret ?: mgpu_set_mode(dev, &d->mode);
	for (i = 0; !ret && i < 16; i++)
		ret = mgpu_mmio_write(dev, MGPU_MMIO_VGA + i, 1,
				      d->scratch + i);
	ret = ret ?: mgpu_ctrl_set(dev, MGPU_CTRL_SCRATCH, d->scratch);
	ret = ret ?: mgpu_ctrl_set(dev, MGPU_CTRL_IRQ_ENABLE, d->irq_enable);
	ret = ret ?: mgpu_vram_fill(dev, d->vram_off, d->vram_len, d->vram_seed);
	ret = ret ?: mgpu_vram_fill(dev, vram - PAGE, PAGE, d->vram_seed);
	return ret;
}

/* The source of the round trips: INTx, a mode at offset 0, 3 MiB of VRAM. */
static const struct dev_setup src_setup = {
	.mode = { 1024, 768, 32, 0, 0, 0, 0x41 },
	.cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR,
	.bar0 = 0xe0000000,
	.bar2 = 0xfebf0000,
	.irq_line = 11,
	.scratch = 0x5eed0001,
	.irq_enable = 0x5,
	.vram_seed = 1,
	.vram_off = 0,
	.vram_len = 3 * MIB,
};

/* A target that differs in everything, to see that a bad stream leaves it. */
static const struct dev_setup other_setup = {
	.mode = { 800, 600, 16, 0, 0, 0, 0x01 },
	.cmd = PCI_COMMAND_MEMORY,
	.bar0 = 0xd0000000,
	.bar2 = 0xfeb00000,
	.irq_line = 5,
	.scratch = 0xdeadbeef,
	.irq_enable = 0x2,
	.vram_seed = 7,
	.vram_off = 40 * PAGE,
	.vram_len = 8 * PAGE,
};

/* ---- fixtures ------------------------------------------------------------------ */

#define MAX_INST	12

struct world {
	struct inst in[MAX_INST];
	unsigned int nr;
	int fds[8];
};

static void world_init(struct world *w)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	for (i = 0; i < MAX_INST; i++) {
		vfio_client_init(&w->in[i].v);
		w->in[i].dev = -1;
	}
	for (i = 0; i < 8; i++)
		w->fds[i] = -1;
}

static void world_fini(struct __test_metadata *_metadata, struct world *w)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		if (w->fds[i] >= 0)
			close(w->fds[i]);
	for (i = 0; i < w->nr; i++)
		EXPECT_EQ(0, inst_destroy(&w->in[i]));
}

/* A new instance in @w, or NULL (the errno in the log). */
static struct inst *world_add(struct __test_metadata *_metadata,
			      struct world *w, unsigned int gpu,
			      unsigned int type, unsigned int gpu_vram_mb)
{
	struct inst *in = &w->in[w->nr];
	int ret;

	if (w->nr == MAX_INST)
		return NULL;
	ret = inst_create(in, gpu, type, gpu_vram_mb);
	if (ret) {
		TH_LOG("creating mgpu-%s on mgpu%u: %s",
		       mgpu_profiles[type].name, gpu, strerror(-ret));
		return NULL;
	}
	w->nr++;
	return in;
}

FIXTURE(pair) {
	struct world w;
};

FIXTURE_SETUP(pair)
{
	world_init(&self->w);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	/* Two PCI GPUs are a pair like CFG_PAIR's: 512 MiB, stream 1. */
	ASSERT_EQ(0, mgpu_reload(mgpu_pci_mode() ? "" : CFG_PAIR));
}

FIXTURE_TEARDOWN(pair)
{
	world_fini(_metadata, &self->w);
}

FIXTURE(mix) {
	struct world w;
};

FIXTURE_SETUP(mix)
{
	world_init(&self->w);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	if (mgpu_pci_mode())
		SKIP(return, "needs virtual GPUs of chosen VRAM sizes and streams");
	ASSERT_EQ(0, mgpu_reload(CFG_MIX));
}

FIXTURE_TEARDOWN(mix)
{
	world_fini(_metadata, &self->w);
}

/*
 * Creates and opens @src, programs it with @d, raises @raise with an INTx
 * eventfd installed (which fires and automasks for enabled causes),
 * snapshots it into @snap if given, and saves it: the source is closed
 * again afterwards.
 */
static void save_source(struct __test_metadata *_metadata, struct inst *src,
			const struct dev_setup *d, __u32 raise,
			struct snap *snap, struct vfio_mig_stream *s)
{
	int efd;

	ASSERT_EQ(0, inst_open(src));
	ASSERT_EQ(0, dev_program(src->dev, src->vram, d));
	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(src->dev, VFIO_PCI_INTX_IRQ_INDEX,
					  efd));
	ASSERT_EQ(0, mgpu_ctrl_set(src->dev, MGPU_CTRL_IRQ_RAISE, raise));
	if (raise & d->irq_enable && !d->msi)
		EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	if (snap)
		ASSERT_EQ(0, snap_take(src->dev, src->vram, snap));
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, STOP, NULL));
	ASSERT_EQ(0, vfio_mig_save(src->dev, s, 1 << 20, NULL));
	EXPECT_EQ(STOP, vfio_mig_get_state(src->dev));
	close(efd);
	inst_close(src);
}

/*
 * mgpu offers PRE_COPY where the kernel's migration uAPI has it (6.2 and
 * later); the test binary is built once, with the newest headers, so the
 * running kernel tells.
 */
static bool kernel_has_precopy(void)
{
	static int cached = -1;
	unsigned int major = 0, minor = 0;
	struct utsname u;

	if (cached < 0)
		cached = !uname(&u) &&
			 sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
			 (major > 6 || (major == 6 && minor >= 2));
	return cached;
}

/* ---- the feature -------------------------------------------------------------- */

TEST_F(pair, feature)
{
	struct vfio_device_feature_migration mig = { 0 };
	struct vfio_device_feature probe = {
		.argsz = sizeof(probe),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_SET |
			 VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
	};
	struct inst *in;

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));

	ASSERT_EQ(0, vfio_feature(in->dev, VFIO_DEVICE_FEATURE_GET |
				  VFIO_DEVICE_FEATURE_MIGRATION, &mig,
				  sizeof(mig)));
	EXPECT_EQ((__u64)(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
			  (kernel_has_precopy() ? VFIO_MIGRATION_PRE_COPY : 0)),
		  mig.flags);
	EXPECT_EQ(0, vfio_ioctl(in->dev, VFIO_DEVICE_FEATURE, &probe));
	/* MIGRATION can only be read. */
	EXPECT_EQ(-EINVAL, vfio_feature(in->dev, VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_MIGRATION, &mig,
					sizeof(mig)));
	/* A fresh open starts RUNNING. */
	EXPECT_EQ(RUNNING, vfio_mig_get_state(in->dev));

	/* Closing in STOP and opening again starts RUNNING again. */
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP, NULL));
	inst_close(in);
	ASSERT_EQ(0, inst_open(in));
	EXPECT_EQ(RUNNING, vfio_mig_get_state(in->dev));
}

/* ---- the stream format ---------------------------------------------------------- */

/* Where each state record is, and its payload length. */
static const struct {
	unsigned int at, len;
} state_recs[] = {
	{ REC_CONFIG, CONFIG_LEN }, { REC_REGS, REGS_LEN },
	{ REC_IRQ, IRQ_LEN }, { REC_DISPLAY, DISPLAY_LEN },
	{ REC_ENGINE, ENGINE_LEN },
};

/*
 * Each record's head and data checks (a VRAM run's after its payload, its
 * data_check 0), and its sequence number @seq.
 */
static bool rec_checks_ok(const __u8 *s, size_t at, unsigned int seq)
{
	const __u8 *r = s + at;
	__u32 len = get_le(r + MGPU_ST_REC_LENGTH, 4);
	__u64 type = get_le(r + MGPU_ST_REC_TYPE, 4);
	__u8 check[RUN_CHECK];

	if (get_le(r + MGPU_ST_REC_SEQ, 4) != seq ||
	    get_le(r + MGPU_ST_REC_HEAD_CHECK, 4) !=
			(__u32)mig_xxh64(r, MGPU_ST_REC_HEAD_CHECK, 0))
		return false;
	if (type == MGPU_ST_END)
		return true;
	if (type != MGPU_ST_VRAM)
		return get_le(r + MGPU_ST_REC_DATA_CHECK, 8) ==
		       mig_xxh64(r + REC_LEN, len, 0);
	mgpu_run_check(r + REC_LEN, len, check);
	return !get_le(r + MGPU_ST_REC_DATA_CHECK, 8) &&
	       !memcmp(r + REC_LEN + len, check, RUN_CHECK);
}

/* An instance nobody touched: the header, the state records and END. */
TEST_F(pair, untouched_stream)
{
	struct vfio_mig_stream s = { 0 };
	struct inst *in;
	unsigned int i;

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));
	ASSERT_EQ(0, vfio_mig_save(in->dev, &s, 4096, NULL));

	ASSERT_EQ((size_t)STREAM_MIN, s.len);
	EXPECT_EQ(0, memcmp(s.buf + HDR_MAGIC, "MGPUMIG", 8));
	EXPECT_EQ((__u64)MGPU_ST_FORMAT, get_le(s.buf + MGPU_ST_HDR_FORMAT, 4));
	EXPECT_EQ(1U, get_le(s.buf + HDR_VERSION, 4));
	EXPECT_EQ(1U, get_le(s.buf + HDR_SLICES, 4));
	EXPECT_EQ(0U, get_le(s.buf + MGPU_ST_HDR_RESERVED0, 4));
	EXPECT_EQ(64 * MIB, get_le(s.buf + HDR_VRAM, 8));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0U, get_le(s.buf + MGPU_ST_HDR_RESERVED + 8 * i, 8));
	EXPECT_EQ(mig_xxh64(s.buf, MGPU_ST_HDR_CHECK, 0),
		  get_le(s.buf + MGPU_ST_HDR_CHECK, 8));

	/* The state records in order, with their lengths and checks. */
	for (i = 0; i < ARRAY_SIZE(state_recs); i++) {
		const __u8 *r = s.buf + state_recs[i].at;

		EXPECT_EQ((__u64)MGPU_ST_CONFIG + i, get_le(r + MGPU_ST_REC_TYPE, 4));
		EXPECT_EQ((__u64)state_recs[i].len, get_le(r + MGPU_ST_REC_LENGTH, 4));
		EXPECT_EQ(0U, get_le(r + MGPU_ST_REC_OFFSET, 8));
		EXPECT_TRUE(rec_checks_ok(s.buf, state_recs[i].at, i));
	}
	/* END: no VRAM byte sent. */
	EXPECT_EQ((__u64)MGPU_ST_END, get_le(s.buf + STATE_END + MGPU_ST_REC_TYPE, 4));
	EXPECT_EQ(0U, get_le(s.buf + STATE_END + MGPU_ST_REC_LENGTH, 4));
	EXPECT_EQ(0U, get_le(s.buf + STATE_END + MGPU_ST_REC_OFFSET, 8));
	EXPECT_TRUE(rec_checks_ok(s.buf, STATE_END, 5));
	/* Power-on state: vendor and device ID, dispi ID, an idle engine. */
	EXPECT_EQ((__u64)MGPU_VENDOR, get_le(s.buf + CONFIG_AT + PCI_VENDOR_ID, 2));
	EXPECT_EQ((__u64)MGPU_DEVICE, get_le(s.buf + CONFIG_AT + PCI_DEVICE_ID, 2));
	EXPECT_EQ((__u64)MGPU_DISPI_ID5, get_le(s.buf + REGS_DISPI(DISPI_ID), 2));
	EXPECT_EQ(0U, get_le(s.buf + ENGINE_AT + 8, 4));	/* head */
	EXPECT_EQ(0U, get_le(s.buf + ENGINE_AT + 28, 4));	/* fence */
	vfio_mig_stream_free(&s);
}

/*
 * A 256 MiB half with 1 MiB touched: about 1 MiB of stream in runs of at
 * most 256 KiB, in increasing order, and it all lands.
 */
TEST_F_TIMEOUT(pair, sparse_vram, 120)
{
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	__u64 h_src, h_dst, sent = 0, end = 0, last = 0;
	unsigned int n, runs = 0;
	long at;
	int werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_HALF, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_HALF, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(256 * MIB, src->vram);

	/* 1 MiB in three places: the start, the middle and the end. */
	ASSERT_EQ(0, inst_open(src));
	ASSERT_EQ(0, mgpu_vram_fill(src->dev, 0, 96 * PAGE, 3));
	ASSERT_EQ(0, mgpu_vram_fill(src->dev, 128 * MIB, 96 * PAGE, 4));
	ASSERT_EQ(0, mgpu_vram_fill(src->dev, src->vram - 64 * PAGE, 64 * PAGE, 5));
	ASSERT_EQ(0, vram_hash(src->dev, src->vram, &h_src));
	ASSERT_EQ(0, vfio_mig_save(src->dev, &s, 1 << 20, NULL));
	inst_close(src);

	TH_LOG("half, 1 MiB touched: stream of %zu bytes", s.len);
	for (n = 5; (at = mgpu_stream_record(s.buf, s.len, n)) >= 0; n++) {
		const __u8 *r = s.buf + at;
		__u64 off = get_le(r + MGPU_ST_REC_OFFSET, 8);
		__u32 len = get_le(r + MGPU_ST_REC_LENGTH, 4);

		EXPECT_TRUE(rec_checks_ok(s.buf, at, n));
		if (get_le(r + MGPU_ST_REC_TYPE, 4) == MGPU_ST_END) {
			EXPECT_EQ(sent, off);
			EXPECT_EQ((size_t)at + REC_LEN, s.len);
			break;
		}
		EXPECT_EQ((__u64)MGPU_ST_VRAM, get_le(r + MGPU_ST_REC_TYPE, 4));
		EXPECT_EQ(0U, off % PAGE);
		EXPECT_LE(end, off);
		EXPECT_GE((__u32)MGPU_ST_RUN_MAX, len);
		end = off + len;
		last = end;
		sent += len;
		runs++;
	}
	/* 96 + 96 + 64 pages: 2 + 2 + 1 runs of 256 KiB at most. */
	EXPECT_EQ(1 * MIB, sent);
	EXPECT_EQ(5U, runs);
	EXPECT_EQ(256 * MIB, last);
	EXPECT_EQ(STATE_END + 5 * (REC_LEN + RUN_CHECK) + 1 * MIB + REC_LEN,
		  s.len);

	ASSERT_EQ(0, inst_open(dst));
	EXPECT_EQ(0, resume(dst->dev, s.buf, s.len, 1 << 20, &werr));
	EXPECT_EQ(0, werr);
	ASSERT_EQ(0, vram_hash(dst->dev, dst->vram, &h_dst));
	EXPECT_EQ(h_src, h_dst);
	EXPECT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	vfio_mig_stream_free(&s);
}

/* ---- the round trip ------------------------------------------------------------- */

/*
 * An eighth on mgpu0 with VRAM, config space, registers, a display mode and
 * a pending, INTx-masked interrupt, into a fresh eighth on mgpu1.
 */
TEST_F_TIMEOUT(pair, roundtrip_intx, 120)
{
	struct vfio_device_gfx_plane_info plane;
	struct snap before, after;
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	const char *diff;
	int efd, efd2, werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);

	/* Cause 0 enabled and raised (INTx fired, now masked), cause 3 too. */
	save_source(_metadata, src, &src_setup, 0x9, &before, &s);
	ASSERT_EQ(0, before.plane_ret);
	EXPECT_EQ(1024U, before.plane.width);
	EXPECT_EQ(0x9U, before.ctrl[2]);
	EXPECT_TRUE(before.cfg[PCI_STATUS] & PCI_STATUS_INTERRUPT);

	/* The target's INTx eventfd is installed before the state arrives. */
	ASSERT_EQ(0, inst_open(dst));
	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(dst->dev, VFIO_PCI_INTX_IRQ_INDEX,
					  efd));
	EXPECT_EQ(0, resume(dst->dev, s.buf, s.len, 1 << 20, &werr));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(STOP, vfio_mig_get_state(dst->dev));

	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &after));
	diff = snap_diff(&before, &after);
	EXPECT_EQ(NULL, diff) TH_LOG("%s differs", diff);

	/* INTx arrived masked: RUNNING signals nothing until it is unmasked. */
	ASSERT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, QUIET_MS));
	EXPECT_EQ(0, vfio_irq_unmask(dst->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));

	/* A freshly installed eventfd gets the level that is still asserted. */
	efd2 = vfio_eventfd();
	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, vfio_irq_set_eventfd(dst->dev, VFIO_PCI_INTX_IRQ_INDEX,
					  efd2));
	EXPECT_EQ(1, vfio_eventfd_wait(efd2, FIRE_MS));
	/* And a new cause after acknowledging: the device is live. */
	EXPECT_EQ(0, mgpu_ctrl_set(dst->dev, MGPU_CTRL_IRQ_STATUS, 0x9));
	EXPECT_EQ(0, vfio_irq_unmask(dst->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(0, mgpu_ctrl_set(dst->dev, MGPU_CTRL_IRQ_RAISE, 0x4));
	EXPECT_EQ(1, vfio_eventfd_wait(efd2, FIRE_MS));

	/* The same plane. */
	ASSERT_EQ(0, query_plane(dst->dev, &plane));
	EXPECT_EQ(before.plane.drm_format, plane.drm_format);
	EXPECT_EQ(before.plane.width, plane.width);
	EXPECT_EQ(before.plane.height, plane.height);
	EXPECT_EQ(before.plane.stride, plane.stride);
	EXPECT_EQ(before.plane.size, plane.size);
	close(efd);
	close(efd2);
	vfio_mig_stream_free(&s);
}

/* MSI: a cause already signalled is not signalled again by the target. */
TEST_F(pair, roundtrip_msi)
{
	struct dev_setup d = src_setup;
	struct snap before, after;
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	const char *diff;
	int efd, werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);

	d.msi = true;
	d.irq_enable = 0x3;
	ASSERT_EQ(0, inst_open(src));
	ASSERT_EQ(0, dev_program(src->dev, src->vram, &d));
	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(src->dev, VFIO_PCI_MSI_IRQ_INDEX,
					  efd));
	ASSERT_EQ(0, mgpu_ctrl_set(src->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	ASSERT_EQ(0, snap_take(src->dev, src->vram, &before));
	ASSERT_EQ(0, vfio_mig_save(src->dev, &s, 1 << 20, NULL));
	EXPECT_EQ(1U, get_le(s.buf + IRQ_MSI_SENT, 4));
	close(efd);
	inst_close(src);

	ASSERT_EQ(0, inst_open(dst));
	EXPECT_EQ(0, resume(dst->dev, s.buf, s.len, 1 << 20, &werr));
	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &after));
	diff = snap_diff(&before, &after);
	EXPECT_EQ(NULL, diff) TH_LOG("%s differs", diff);

	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(dst->dev, VFIO_PCI_MSI_IRQ_INDEX,
					  efd));
	ASSERT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, QUIET_MS));
	/* A new cause is a new message. */
	EXPECT_EQ(0, mgpu_ctrl_set(dst->dev, MGPU_CTRL_IRQ_RAISE, 0x2));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	close(efd);
	vfio_mig_stream_free(&s);
}

/* ---- the engine ------------------------------------------------------------------ */

#define ENG_RING	(1 * MIB)
#define ENG_DATA	(2 * MIB)

/*
 * The engine state travels: the ring, HEAD and TAIL, the last fence and
 * the weight.  A command doorbelled while the source was stopped runs on
 * the target, not on the source, and the target's engine takes new
 * commands: its fence advances.
 */
TEST_F_TIMEOUT(pair, engine, 120)
{
	struct mgpu_cmd cmds[2];
	struct eng e, te;
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	__u32 val;
	int werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);

	ASSERT_EQ(0, inst_open(src));
	ASSERT_EQ(0, vfio_cfg_write(src->dev, PCI_COMMAND, 2,
				    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	ASSERT_EQ(0, eng_weight_set(src->uuid, 3));
	ASSERT_EQ(0, eng_init(&e, src->dev, ENG_RING, 64));
	cmds[0] = cmd_fill(ENG_DATA, PAGE, 0x11223344);
	cmds[1] = cmd_fence(5, MGPU_FENCE_WRITE, ENG_DATA + PAGE);
	ASSERT_EQ(0, eng_submit(&e, cmds, 2));
	ASSERT_EQ(0, eng_wait_idle(&e, FIRE_MS));
	EXPECT_EQ(5, eng_reg_get(src->dev, MGPU_ENG_FENCE));
	EXPECT_EQ(2, eng_reg_get(src->dev, MGPU_ENG_RING_HEAD));

	/* Stopped: the doorbell is recorded, the command waits. */
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, RUNNING_P2P, NULL));
	cmds[0] = cmd_fence(6, MGPU_FENCE_WRITE, ENG_DATA + PAGE);
	ASSERT_EQ(0, eng_submit(&e, cmds, 1));
	usleep(QUIET_MS * 1000);
	EXPECT_EQ(5, eng_reg_get(src->dev, MGPU_ENG_FENCE));
	EXPECT_EQ(2, eng_reg_get(src->dev, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(3, eng_reg_get(src->dev, MGPU_ENG_RING_TAIL));
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, STOP, NULL));
	ASSERT_EQ(0, vfio_mig_save(src->dev, &s, 1 << 20, NULL));
	/* The ENGINE record: base, size, head 2, tail 3, submitted 3, fence 5. */
	EXPECT_EQ((__u64)ENG_RING, get_le(s.buf + ENGINE_AT, 4));
	EXPECT_EQ(64U * MGPU_CMD_SIZE, get_le(s.buf + ENGINE_AT + 4, 4));
	EXPECT_EQ(2U, get_le(s.buf + ENGINE_AT + 8, 4));
	EXPECT_EQ(3U, get_le(s.buf + ENGINE_AT + 12, 4));
	EXPECT_EQ(3U, get_le(s.buf + ENGINE_AT + 16, 4));
	EXPECT_EQ(5U, get_le(s.buf + ENGINE_AT + 28, 4));
	EXPECT_EQ(3U, get_le(s.buf + ENGINE_AT + 36, 4));
	inst_close(src);

	ASSERT_EQ(0, inst_open(dst));
	EXPECT_EQ(0, resume(dst->dev, s.buf, s.len, 1 << 20, &werr));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(3, eng_weight_get(dst->uuid));
	EXPECT_EQ(5, eng_reg_get(dst->dev, MGPU_ENG_FENCE));
	EXPECT_EQ((long)ENG_RING, eng_reg_get(dst->dev, MGPU_ENG_RING_BASE));
	ASSERT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	/* The waiting command runs on the target. */
	te = e;
	te.dev = dst->dev;
	ASSERT_EQ(0, eng_wait_idle(&te, FIRE_MS));
	EXPECT_EQ(6, eng_reg_get(dst->dev, MGPU_ENG_FENCE));
	EXPECT_EQ(3, eng_reg_get(dst->dev, MGPU_ENG_RING_HEAD));
	/* And new commands: the fence advances. */
	cmds[0] = cmd_fill(ENG_DATA, PAGE, 0x55667788);
	cmds[1] = cmd_fence(7, MGPU_FENCE_WRITE, ENG_DATA + PAGE);
	ASSERT_EQ(0, eng_submit(&te, cmds, 2));
	ASSERT_EQ(0, eng_wait_idle(&te, FIRE_MS));
	EXPECT_EQ(7, eng_reg_get(dst->dev, MGPU_ENG_FENCE));
	EXPECT_EQ(5, eng_reg_get(dst->dev, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(0, eng_reg_get(dst->dev, MGPU_ENG_STATUS));
	ASSERT_EQ(4, vfio_region_read(dst->dev, MGPU_VRAM, ENG_DATA, &val, 4));
	EXPECT_EQ(0x55667788U, val);
	ASSERT_EQ(4, vfio_region_read(dst->dev, MGPU_VRAM, ENG_DATA + PAGE,
				      &val, 4));
	EXPECT_EQ(7U, val);
	vfio_mig_stream_free(&s);
}

/* ---- stopped means quiet ----------------------------------------------------------- */

TEST_F(pair, quiesce)
{
	struct inst *in;
	int efd, msi;

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));
	ASSERT_EQ(0, vfio_cfg_write(in->dev, PCI_COMMAND, 2,
				    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(in->dev, VFIO_PCI_INTX_IRQ_INDEX,
					  efd));
	ASSERT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_ENABLE, 0x3));

	/* INTx: held back from RUNNING_P2P on, sent on the way to RUNNING. */
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RUNNING_P2P, NULL));
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, QUIET_MS));
	/* The status bit follows the causes all the same. */
	EXPECT_EQ(PCI_STATUS_INTERRUPT,
		  vfio_cfg_get(in->dev, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP, NULL));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, QUIET_MS));
	/* Unmasking while stopped signals nothing either. */
	EXPECT_EQ(0, vfio_irq_unmask(in->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, QUIET_MS));
	/* Registers still work while stopped. */
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_SCRATCH, 0x1234));
	EXPECT_EQ(0x1234, mgpu_ctrl_get(in->dev, MGPU_CTRL_SCRATCH));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RUNNING_P2P, NULL));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, QUIET_MS));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RUNNING, NULL));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_STATUS, 0x3));

	/* MSI: the same, and a cause raised and cleared while stopped is lost. */
	msi = vfio_eventfd();
	ASSERT_LE(0, msi);
	ASSERT_EQ(0, vfio_cfg_write(in->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2,
				    PCI_MSI_FLAGS_ENABLE));
	ASSERT_EQ(0, vfio_irq_set_eventfd(in->dev, VFIO_PCI_MSI_IRQ_INDEX,
					  msi));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP, NULL));
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_RAISE, 0x2));
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_STATUS, 0x2));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RUNNING, NULL));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, QUIET_MS));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP, NULL));
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_RAISE, 0x2));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, QUIET_MS));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RUNNING, NULL));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, QUIET_MS));
	close(msi);
	close(efd);
}

/* ---- arcs ------------------------------------------------------------------------ */

/* Every legal transition among the five states, direct or combined. */
TEST_F_TIMEOUT(pair, every_arc, 120)
{
	struct vfio_mig_stream s = { 0 };
	unsigned int f, t;
	struct inst *in;
	int fd, fd2, ret;

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));
	ASSERT_EQ(0, mgpu_vram_fill(in->dev, 0, 4 * PAGE, 9));
	/* A valid stream for leaving RESUMING: the instance's own. */
	ASSERT_EQ(0, vfio_mig_save(in->dev, &s, 1 << 20, NULL));

	for (f = 0; f < 5; f++) {
		for (t = 0; t < 5; t++) {
			enum mig_state from = valid_states[f];
			enum mig_state to = valid_states[t];
			bool new_fd = to != from &&
				      (to == STOP_COPY || to == RESUMING);

			ASSERT_EQ(0, vfio_device_reset(in->dev));
			ASSERT_EQ(RUNNING, vfio_mig_get_state(in->dev));
			ASSERT_EQ(0, vfio_mig_set_state(in->dev, from, &fd));
			EXPECT_EQ(from == STOP_COPY || from == RESUMING, fd >= 0);
			if (from == RESUMING && to != RESUMING)
				ASSERT_EQ((ssize_t)s.len, write(fd, s.buf, s.len));

			ret = vfio_mig_set_state(in->dev, to, &fd2);
			EXPECT_EQ(0, ret) TH_LOG("%s -> %s", state_names[from],
						 state_names[to]);
			EXPECT_EQ((int)to, vfio_mig_get_state(in->dev))
				TH_LOG("%s -> %s", state_names[from],
				       state_names[to]);
			EXPECT_EQ(new_fd, fd2 >= 0)
				TH_LOG("%s -> %s: data_fd %d", state_names[from],
				       state_names[to], fd2);
			/* A session ends when its state is left. */
			if (from == STOP_COPY && to != STOP_COPY) {
				char c;

				EXPECT_EQ(-1, read(fd, &c, 1));
				EXPECT_EQ(ENODEV, errno);
			}
			if (fd >= 0)
				close(fd);
			if (fd2 >= 0)
				close(fd2);
		}
	}
	vfio_mig_stream_free(&s);
}

/*
 * ERROR and states that do not exist are refused, and nothing changes.
 * PRE_COPY (6) and PRE_COPY_P2P (7) exist where the kernel has them.
 */
TEST_F(pair, refused_arcs)
{
	static const __u32 all_bad[] = { ERROR, 6, 7, 255, 0x80000000, ~0U };
	__u32 bad[ARRAY_SIZE(all_bad)];
	unsigned int nr_bad = 0;
	__u64 buf[4] = { 0 };
	struct vfio_device_feature *feat = (void *)buf;
	unsigned int f, i;
	struct inst *in;
	int fd, fd2;

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));

	for (i = 0; i < ARRAY_SIZE(all_bad); i++)
		if (!kernel_has_precopy() || (all_bad[i] != 6 && all_bad[i] != 7))
			bad[nr_bad++] = all_bad[i];
	for (f = 0; f < 5; f++) {
		enum mig_state from = valid_states[f];

		ASSERT_EQ(0, vfio_device_reset(in->dev));
		ASSERT_EQ(0, vfio_mig_set_state(in->dev, from, &fd));
		for (i = 0; i < nr_bad; i++) {
			EXPECT_EQ(-EINVAL, vfio_mig_set_state(in->dev, bad[i], &fd2))
				TH_LOG("%s -> %u", state_names[from], bad[i]);
			EXPECT_EQ(-1, fd2);
			EXPECT_EQ((int)from, vfio_mig_get_state(in->dev));
		}
		/* The session of @from survives a refused transition. */
		if (from == STOP_COPY) {
			char c;

			EXPECT_EQ(1, read(fd, &c, 1));
		}
		if (fd >= 0)
			close(fd);
	}

	/* Leaving RESUMING with no data: the empty stream is refused. */
	ASSERT_EQ(0, vfio_device_reset(in->dev));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RESUMING, &fd));
	EXPECT_EQ(-ENODATA, vfio_mig_set_state(in->dev, RUNNING, NULL));
	EXPECT_EQ(STOP, vfio_mig_get_state(in->dev));
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	EXPECT_EQ(0, vfio_mig_set_state(in->dev, RUNNING, NULL));

	/* A short argsz. */
	feat->argsz = sizeof(*feat) + 4;
	feat->flags = VFIO_DEVICE_FEATURE_SET |
		      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE;
	EXPECT_EQ(-EINVAL, vfio_ioctl(in->dev, VFIO_DEVICE_FEATURE, feat));
	EXPECT_EQ(RUNNING, vfio_mig_get_state(in->dev));
}

/* ---- the data fds --------------------------------------------------------------- */

TEST_F(pair, data_fds)
{
	struct vfio_mig_stream a = { 0 }, b = { 0 };
	struct inst *in;
	int fd, werr;
	char c;

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));
	ASSERT_EQ(0, mgpu_vram_fill(in->dev, 0, 5 * PAGE, 11));
	ASSERT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_SCRATCH, 42));

	/* The saving fd: read-only, close-on-exec, no position, EOF at the end. */
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP_COPY, &fd));
	ASSERT_LE(0, fd);
	EXPECT_EQ(O_RDONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD));
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, pread(fd, &c, 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, lseek(fd, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno);
	/* Odd read sizes give the same stream as big ones. */
	ASSERT_EQ(0, vfio_mig_read_all(fd, &a, 333));
	EXPECT_EQ(0, read(fd, &c, 1));
	EXPECT_EQ(0, read(fd, &c, 1));
	/* Asking for STOP_COPY again keeps the session and gives no new fd. */
	EXPECT_EQ(0, vfio_mig_set_state(in->dev, STOP_COPY, &werr));
	EXPECT_EQ(-1, werr);
	EXPECT_EQ(0, read(fd, &c, 1));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP, NULL));
	EXPECT_EQ(-1, read(fd, &c, 1));
	EXPECT_EQ(ENODEV, errno);
	close(fd);

	/* While stopped nothing changes: a second save is the same stream. */
	ASSERT_EQ(0, vfio_mig_save(in->dev, &b, 1 << 20, NULL));
	ASSERT_EQ(a.len, b.len);
	EXPECT_EQ(0, memcmp(a.buf, b.buf, a.len));
	/* END says 5 pages of VRAM were sent. */
	EXPECT_EQ(5 * PAGE, get_le(a.buf + a.len - REC_LEN + MGPU_ST_REC_OFFSET, 8));

	/* The resuming fd: write-only, takes the stream in any pieces. */
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RESUMING, &fd));
	ASSERT_LE(0, fd);
	EXPECT_EQ(O_WRONLY, fcntl(fd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(-1, read(fd, &c, 1));
	EXPECT_EQ(EBADF, errno);
	EXPECT_EQ(-1, pwrite(fd, "x", 1, 0));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(0, write(fd, a.buf, 0));
	close(fd);
	/* Closing the fd does not end the session; leaving RESUMING does. */
	EXPECT_EQ(RESUMING, vfio_mig_get_state(in->dev));
	EXPECT_EQ(-ENODATA, vfio_mig_set_state(in->dev, STOP, NULL));

	EXPECT_EQ(0, resume(in->dev, a.buf, a.len, 1, &werr));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(0, resume(in->dev, a.buf, a.len, 47, &werr));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(0, resume(in->dev, a.buf, a.len, 4099, &werr));
	EXPECT_EQ(0, werr);

	/* One byte too many, in a write of its own. */
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RESUMING, &fd));
	EXPECT_EQ((ssize_t)a.len, write(fd, a.buf, a.len));
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EFBIG, errno);
	/* The session remembers the refused write. */
	EXPECT_EQ(-1, write(fd, "", 1));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ(-EFBIG, vfio_mig_set_state(in->dev, STOP, NULL));
	close(fd);

	EXPECT_EQ(0, vfio_mig_set_state(in->dev, RUNNING, NULL));
	EXPECT_EQ(42, mgpu_ctrl_get(in->dev, MGPU_CTRL_SCRATCH));
	vfio_mig_stream_free(&a);
	vfio_mig_stream_free(&b);
}

/* ---- PRE_COPY (6.2 and later) -------------------------------------------------- */

static int precopy_info(int fd, struct vfio_precopy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	return vfio_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, info);
}

/*
 * RUNNING -> PRE_COPY gives the saving fd with only the header to read;
 * VFIO_MIG_GET_PRECOPY_INFO counts what is left of it as initial bytes and
 * the touched VRAM as dirty bytes, and the device runs on meanwhile.  In
 * STOP_COPY the same fd carries the rest: header and rest together are the
 * stream a plain save of the stopped device gives, and they resume on the
 * other GPU.  PRE_COPY -> RUNNING ends the session.
 */
TEST_F(pair, precopy)
{
	struct vfio_mig_stream rest = { 0 }, plain = { 0 };
	struct vfio_precopy_info info;
	struct snap before, after;
	struct inst *src, *dst;
	const char *diff;
	__u8 hdr[4096];
	int fd, nofd;

	if (_metadata->skip)
		return;
	if (!kernel_has_precopy())
		SKIP(return, "the kernel has no PRE_COPY (it came with 6.2)");
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, inst_open(src));
	ASSERT_EQ(0, mgpu_vram_fill(src->dev, 0, 3 * PAGE, 21));

	ASSERT_EQ(0, vfio_mig_set_state(src->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_LE(0, fd);
	EXPECT_EQ(VFIO_DEVICE_STATE_PRE_COPY, vfio_mig_get_state(src->dev));
	ASSERT_EQ(0, precopy_info(fd, &info));
	EXPECT_EQ((__u64)HDR_LEN, info.initial_bytes);
	EXPECT_EQ(3 * PAGE, info.dirty_bytes);
	/* A short argsz is refused. */
	info.argsz = offsetof(struct vfio_precopy_info, dirty_bytes);
	EXPECT_EQ(-EINVAL, vfio_ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));

	/* The header, then nothing until STOP_COPY. */
	ASSERT_EQ(HDR_LEN, read(fd, hdr, sizeof(hdr)));
	EXPECT_EQ(-1, read(fd, hdr + HDR_LEN, sizeof(hdr) - HDR_LEN));
	EXPECT_EQ(ENOMSG, errno);
	ASSERT_EQ(0, precopy_info(fd, &info));
	EXPECT_EQ(0ULL, info.initial_bytes);

	/* The device runs: it takes writes, and a newly touched page counts. */
	ASSERT_EQ(0, mgpu_ctrl_set(src->dev, MGPU_CTRL_SCRATCH, 77));
	ASSERT_EQ(0, mgpu_vram_fill(src->dev, 16 * PAGE, PAGE, 22));
	ASSERT_EQ(0, precopy_info(fd, &info));
	EXPECT_EQ(4 * PAGE, info.dirty_bytes);

	/* STOP_COPY gives no new fd; the ioctl is for PRE_COPY only. */
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, STOP_COPY, &nofd));
	EXPECT_EQ(-1, nofd);
	EXPECT_EQ(-EINVAL, precopy_info(fd, &info));
	ASSERT_EQ(0, vfio_mig_read_all(fd, &rest, 1 << 20));
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, STOP, NULL));
	EXPECT_EQ(-1, read(fd, hdr, 1));
	EXPECT_EQ(ENODEV, errno);
	close(fd);

	ASSERT_EQ(0, vfio_mig_save(src->dev, &plain, 1 << 20, NULL));
	ASSERT_EQ(plain.len, HDR_LEN + rest.len);
	EXPECT_EQ(0, memcmp(plain.buf, hdr, HDR_LEN));
	EXPECT_EQ(0, memcmp(plain.buf + HDR_LEN, rest.buf, rest.len));
	/* END says 4 pages of VRAM were sent. */
	EXPECT_EQ(4 * PAGE, get_le(rest.buf + rest.len - REC_LEN +
				   MGPU_ST_REC_OFFSET, 8));
	ASSERT_EQ(0, snap_take(src->dev, src->vram, &before));

	/* PRE_COPY -> RUNNING ends the session. */
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, RUNNING, NULL));
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, RUNNING, NULL));
	EXPECT_EQ(-1, read(fd, hdr + HDR_LEN, 1));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENODEV, precopy_info(fd, &info));
	close(fd);
	inst_close(src);

	/* The header and the rest, written as they came, resume the target. */
	ASSERT_EQ(0, inst_open(dst));
	ASSERT_EQ(0, vfio_mig_set_state(dst->dev, RESUMING, &fd));
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, vfio_mig_write_all(fd, hdr, HDR_LEN, HDR_LEN));
	EXPECT_EQ(0, vfio_mig_write_all(fd, rest.buf, rest.len, 1 << 20));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(dst->dev, STOP, NULL));
	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &after));
	diff = snap_diff(&before, &after);
	EXPECT_EQ(NULL, diff) TH_LOG("%s differs", diff);
	EXPECT_EQ(77, mgpu_ctrl_get(dst->dev, MGPU_CTRL_SCRATCH));
	EXPECT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	vfio_mig_stream_free(&rest);
	vfio_mig_stream_free(&plain);
}

/* A reset ends a session and returns to RUNNING; a close does too. */
TEST_F(pair, reset_ends_sessions)
{
	struct snap snap0, snap1;
	struct inst *in;
	int fd;
	char c[64];

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));
	ASSERT_EQ(0, mgpu_vram_fill(in->dev, 0, 2 * PAGE, 13));

	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP_COPY, &fd));
	EXPECT_EQ((ssize_t)sizeof(c), read(fd, c, sizeof(c)));
	EXPECT_EQ(0, vfio_device_reset(in->dev));
	EXPECT_EQ(RUNNING, vfio_mig_get_state(in->dev));
	EXPECT_EQ(-1, read(fd, c, sizeof(c)));
	EXPECT_EQ(ENODEV, errno);
	close(fd);

	/* Aborting RESUMING with a reset applies nothing of the stream. */
	ASSERT_EQ(0, snap_take(in->dev, in->vram, &snap0));
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, RESUMING, &fd));
	memset(c, 0, sizeof(c));
	/* Less than a header: nothing is checked yet. */
	EXPECT_EQ(40, write(fd, c, 40));
	EXPECT_EQ(0, vfio_device_reset(in->dev));
	EXPECT_EQ(RUNNING, vfio_mig_get_state(in->dev));
	EXPECT_EQ(-1, write(fd, c, 1));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	ASSERT_EQ(0, snap_take(in->dev, in->vram, &snap1));
	EXPECT_EQ(NULL, snap_diff(&snap0, &snap1));

	/* Closing the device in STOP_COPY: the fd outlives it, ended. */
	ASSERT_EQ(0, vfio_mig_set_state(in->dev, STOP_COPY, &fd));
	inst_close(in);
	EXPECT_EQ(-1, read(fd, c, sizeof(c)));
	EXPECT_EQ(ENODEV, errno);
	ASSERT_EQ(0, inst_open(in));
	EXPECT_EQ(RUNNING, vfio_mig_get_state(in->dev));
	close(fd);
}

/* ---- bad streams ------------------------------------------------------------------ */

enum bad_op {
	TRUNC,		/* keep @at bytes (negative: from the end) */
	FLIP,		/* xor 0xff into the byte at @at */
	PUT8,		/* store @val at @at, 1, 2, 4 or 8 bytes */
	PUT16,
	PUT32,
	PUT64,
	APPEND,		/* @val bytes of garbage at the end */
};

/*
 * @fix: recompute the checks of the header (@fix_at 0) or of the record at
 * @fix_at (negative: from the end) after the change, so that the change
 * itself is what the target sees.  @vram: the target's VRAM may have taken
 * runs before the error (the stream is written in place).
 */
struct bad_case {
	const char *name;
	enum bad_op op;
	long at;
	__u64 val;
	bool fix;
	long fix_at;
	bool vram;
	int write_err;
	int arc_err;
};

#define END_REC		(-(long)REC_LEN)
#define LAST_RUN	VREC(12)

/*
 * The source has VRAM pages 0-767 and 16383 (see src_setup): twelve full
 * runs, VREC(0) to VREC(11), one run of one page, LAST_RUN, then END.
 */
static const struct bad_case bad_cases[] = {
	/* truncated: ENODATA when RESUMING ends */
	{ "nothing", TRUNC, 0, 0, false, 0, false, 0, -ENODATA },
	{ "1 byte", TRUNC, 1, 0, false, 0, false, 0, -ENODATA },
	{ "header - 1", TRUNC, HDR_LEN - 1, 0, false, 0, false, 0, -ENODATA },
	{ "header only", TRUNC, HDR_LEN, 0, false, 0, false, 0, -ENODATA },
	{ "in config", TRUNC, CONFIG_AT + 100, 0, false, 0, false, 0, -ENODATA },
	{ "in a record header", TRUNC, REC_REGS + 10, 0, false, 0, false, 0,
	  -ENODATA },
	{ "state only", TRUNC, STATE_END, 0, false, 0, false, 0, -ENODATA },
	{ "in a run", TRUNC, VREC(3) + 100, 0, false, 0, true, 0, -ENODATA },
	{ "in a run check", TRUNC, VREC(1) + REC_LEN + MGPU_ST_RUN_MAX + 8, 0,
	  false, 0, true, 0, -ENODATA },
	{ "no END", TRUNC, END_REC, 0, false, 0, true, 0, -ENODATA },
	{ "last byte", TRUNC, -1, 0, false, 0, true, 0, -ENODATA },
	/* too long: refused by the write that brings it */
	{ "1 more byte", APPEND, 0, 1, false, 0, true, -EFBIG, -EFBIG },
	{ "1 more record", APPEND, 0, REC_LEN, false, 0, true, -EFBIG, -EFBIG },
	/* the header */
	{ "magic", FLIP, HDR_MAGIC + 2, 0, false, 0, false, -EINVAL, -EINVAL },
	{ "magic NUL", PUT8, HDR_MAGIC + 7, 'X', false, 0, false, -EINVAL,
	  -EINVAL },
	{ "format 1", PUT32, MGPU_ST_HDR_FORMAT, 1, true, 0, false, -EINVAL,
	  -EINVAL },
	{ "format 2", PUT32, MGPU_ST_HDR_FORMAT, 2, true, 0, false, -EINVAL,
	  -EINVAL },
	{ "format 4", PUT32, MGPU_ST_HDR_FORMAT, 4, true, 0, false, -EINVAL,
	  -EINVAL },
	{ "header check", FLIP, MGPU_ST_HDR_CHECK, 0, false, 0, false,
	  -EBADMSG, -EBADMSG },
	{ "header byte", FLIP, HDR_VRAM + 1, 0, false, 0, false, -EBADMSG,
	  -EBADMSG },
	{ "reserved0", PUT32, MGPU_ST_HDR_RESERVED0, 1, true, 0, false, -EINVAL,
	  -EINVAL },
	{ "reserved", PUT8, MGPU_ST_HDR_RESERVED + 23, 1, true, 0, false,
	  -EINVAL, -EINVAL },
	/* incompatible: the version rule */
	{ "version 2", PUT32, HDR_VERSION, 2, true, 0, false, -EPROTO, -EPROTO },
	{ "version 0", PUT32, HDR_VERSION, 0, true, 0, false, -EPROTO, -EPROTO },
	{ "quarter", PUT32, HDR_SLICES, 2, true, 0, false, -EPROTO, -EPROTO },
	{ "no profile", PUT32, HDR_SLICES, 3, true, 0, false, -EPROTO, -EPROTO },
	{ "128 MiB", PUT64, HDR_VRAM, 128 * MIB, true, 0, false, -EPROTO,
	  -EPROTO },
	{ "64 MiB + 4K", PUT64, HDR_VRAM, 64 * MIB + PAGE, true, 0, false,
	  -EPROTO, -EPROTO },
	/* a byte flipped in each record: its checks */
	{ "record head", FLIP, REC_CONFIG + 4, 0, false, 0, false, -EBADMSG,
	  -EBADMSG },
	{ "config", FLIP, CONFIG_AT + PCI_COMMAND, 0, false, 0, false, -EBADMSG,
	  -EBADMSG },
	{ "bar", FLIP, CONFIG_AT + 256 + 3, 0, false, 0, false, -EBADMSG,
	  -EBADMSG },
	{ "regs", FLIP, REGS_DISPI(DISPI_XRES), 0, false, 0, false, -EBADMSG,
	  -EBADMSG },
	{ "irq", FLIP, IRQ_INTX_MASKED, 0, false, 0, false, -EBADMSG, -EBADMSG },
	{ "display", FLIP, DISPLAY_AT, 0, false, 0, false, -EBADMSG, -EBADMSG },
	{ "engine", FLIP, ENGINE_AT, 0, false, 0, false, -EBADMSG, -EBADMSG },
	{ "run header", FLIP, VREC(1) + 8, 0, false, 0, true, -EBADMSG,
	  -EBADMSG },
	{ "run data", FLIP, VREC(2) + REC_LEN + 1000, 0, false, 0, true,
	  -EBADMSG, -EBADMSG },
	{ "last page", FLIP, LAST_RUN + REC_LEN + PAGE - 1, 0, false, 0, true,
	  -EBADMSG, -EBADMSG },
	{ "run check sum", FLIP, VREC(1) + REC_LEN + MGPU_ST_RUN_MAX + 3, 0,
	  false, 0, true, -EBADMSG, -EBADMSG },
	{ "run check sums", FLIP, LAST_RUN + REC_LEN + PAGE + 8, 0, false, 0,
	  true, -EBADMSG, -EBADMSG },
	{ "END check", FLIP, -1, 0, false, 0, true, -EBADMSG, -EBADMSG },
	/* with correct checks: the structure */
	{ "sequence", PUT32, REC_REGS + MGPU_ST_REC_SEQ, 7, true, REC_REGS,
	  false, -EINVAL, -EINVAL },
	{ "record order", PUT32, REC_REGS, MGPU_ST_IRQ, true, REC_REGS, false,
	  -EINVAL, -EINVAL },
	{ "state length", PUT32, REC_DISPLAY + 4, DISPLAY_LEN + 1, true,
	  REC_DISPLAY, false, -EINVAL, -EINVAL },
	{ "state offset", PUT64, REC_IRQ + 8, 1, true, REC_IRQ, false, -EINVAL,
	  -EINVAL },
	{ "huge run", PUT32, VREC(0) + 4, ~0U, true, VREC(0), false, -EINVAL,
	  -EINVAL },
	{ "run > 256K", PUT32, VREC(0) + 4, MGPU_ST_RUN_MAX + PAGE, true,
	  VREC(0), false, -EINVAL, -EINVAL },
	{ "run of 0", PUT32, VREC(0) + 4, 0, true, VREC(0), false, -EINVAL,
	  -EINVAL },
	{ "run data_check", PUT64, VREC(0) + MGPU_ST_REC_DATA_CHECK, 1, true,
	  VREC(0), false, -EINVAL, -EINVAL },
	{ "run not in pages", PUT32, VREC(0) + 4, MGPU_ST_RUN_MAX - 1, true,
	  VREC(0), false, -EINVAL, -EINVAL },
	{ "run unaligned", PUT64, VREC(0) + 8, 1, true, VREC(0), false, -EINVAL,
	  -EINVAL },
	{ "run past BAR0", PUT64, VREC(0) + 8, 64 * MIB - PAGE, true, VREC(0),
	  false, -EINVAL, -EINVAL },
	{ "run beyond BAR0", PUT64, LAST_RUN + 8, 64 * MIB, true, LAST_RUN,
	  true, -EINVAL, -EINVAL },
	{ "runs out of order", PUT64, VREC(1) + 8, 0, true, VREC(1), true,
	  -EINVAL, -EINVAL },
	{ "unknown record", PUT32, VREC(0), 9, true, VREC(0), false, -EINVAL,
	  -EINVAL },
	{ "state record again", PUT32, VREC(0), MGPU_ST_CONFIG, true, VREC(0),
	  false, -EINVAL, -EINVAL },
	{ "END count", PUT64, END_REC + 8, 0, true, END_REC, true, -EINVAL,
	  -EINVAL },
	{ "END length", PUT32, END_REC + 4, PAGE, true, END_REC, true, -EINVAL,
	  -EINVAL },
	/* with correct checks: states no guest can reach (VRAM has landed) */
	{ "vendor ID", PUT8, CONFIG_AT + PCI_VENDOR_ID, 0x86, true, REC_CONFIG,
	  true, 0, -EINVAL },
	{ "I/O space enable", PUT8, CONFIG_AT + PCI_COMMAND, 0x7, true,
	  REC_CONFIG, true, 0, -EINVAL },
	{ "status bit", PUT8, CONFIG_AT + PCI_STATUS, 0x10, true, REC_CONFIG,
	  true, 0, -EINVAL },
	{ "BAR0 low bits", PUT8, CONFIG_AT + PCI_BASE_ADDRESS_0, 0x9, true,
	  REC_CONFIG, true, 0, -EINVAL },
	{ "dispi ID", PUT8, REGS_DISPI(DISPI_ID), 0xc4, true, REC_REGS, true, 0,
	  -EINVAL },
	{ "XRES > max", PUT16, REGS_DISPI(DISPI_XRES), 1281, true, REC_REGS,
	  true, 0, -EINVAL },
	{ "BPP 15", PUT8, REGS_DISPI(DISPI_BPP), 15, true, REC_REGS, true, 0,
	  -EINVAL },
	{ "VRAM 64K", PUT8, REGS_DISPI(DISPI_VIDEO_MEMORY_64K), 1, true,
	  REC_REGS, true, 0, -EINVAL },
	{ "intx_masked 2", PUT8, IRQ_INTX_MASKED, 2, true, REC_IRQ, true, 0,
	  -EINVAL },
	{ "irq reserved", PUT8, IRQ_INTX_MASKED + 2, 1, true, REC_IRQ, true, 0,
	  -EINVAL },
	{ "MSI sent, MSI off", PUT32, IRQ_MSI_SENT, 1, true, REC_IRQ, true, 0,
	  -EINVAL },
	{ "display reserved", PUT32, DISPLAY_AT + 4, 1, true, REC_DISPLAY, true,
	  0, -EINVAL },
	{ "engine reserved", PUT32, ENGINE_RESERVED, 1, true, REC_ENGINE, true,
	  0, -EINVAL },
	/* the source's engine is idle: no ring, HEAD = submitted = 0 */
	{ "engine error 10", PUT32, ENGINE_ERROR, MGPU_ENG_ERR_OVERFLOW + 1,
	  true, REC_ENGINE, true, 0, -EINVAL },
	{ "engine weight 0", PUT32, ENGINE_WEIGHT, 0, true, REC_ENGINE, true, 0,
	  -EINVAL },
	{ "engine weight 1001", PUT32, ENGINE_WEIGHT, 1001, true, REC_ENGINE,
	  true, 0, -EINVAL },
	{ "engine waits, no ring", PUT32, ENGINE_SUBMITTED, 1, true, REC_ENGINE,
	  true, 0, -EINVAL },
};

/* A copy of @s with @c applied; NULL on ENOMEM. */
static __u8 *bad_stream(const struct vfio_mig_stream *s, const struct bad_case *c,
			size_t *len)
{
	size_t at = c->at < 0 ? s->len + c->at : (size_t)c->at;
	size_t fix_at = c->fix_at < 0 ? s->len + c->fix_at : (size_t)c->fix_at;
	__u8 *b = calloc(1, s->len + 4096);

	if (!b)
		return NULL;
	memcpy(b, s->buf, s->len);
	*len = s->len;
	switch (c->op) {
	case TRUNC:
		*len = at;
		break;
	case FLIP:
		b[at] ^= 0xff;
		break;
	case PUT8:
		b[at] = c->val;
		break;
	case PUT16:
		put_le(b + at, 2, c->val);
		break;
	case PUT32:
		put_le(b + at, 4, c->val);
		break;
	case PUT64:
		put_le(b + at, 8, c->val);
		break;
	case APPEND:
		memset(b + s->len, 0x5a, c->val);
		*len += c->val;
		break;
	}
	if (c->fix && !fix_at)
		mgpu_stream_fix_header(b);
	else if (c->fix)
		mgpu_stream_fix_record(b, *len, fix_at);
	return b;
}

/*
 * Every bad stream gets its errno, from the write that brings the error
 * and again when RESUMING ends, and leaves the target in STOP with its
 * config space, registers, display and interrupt state as they were, and
 * its VRAM too unless runs had landed before the error; then it works.
 */
TEST_F_TIMEOUT(pair, bad_streams, 600)
{
	struct snap before, after;
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	const char *diff;
	unsigned int i;
	int efd, werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	save_source(_metadata, src, &src_setup, 0x1, NULL, &s);
	/* The layout the table relies on. */
	ASSERT_EQ((size_t)LAST_RUN + REC_LEN + PAGE + RUN_CHECK + REC_LEN, s.len);
	ASSERT_EQ((__u64)MGPU_ST_VRAM, get_le(s.buf + LAST_RUN, 4));
	ASSERT_EQ((__u64)PAGE, get_le(s.buf + LAST_RUN + 4, 4));
	ASSERT_EQ(64 * MIB - PAGE, get_le(s.buf + LAST_RUN + 8, 8));

	ASSERT_EQ(0, inst_open(dst));
	ASSERT_EQ(0, dev_program(dst->dev, dst->vram, &other_setup));
	ASSERT_EQ(0, vfio_mig_set_state(dst->dev, STOP, NULL));
	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &before));

	for (i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len;
		__u8 *b = bad_stream(&s, c, &len);

		ASSERT_NE(NULL, b);
		EXPECT_EQ(c->arc_err, resume(dst->dev, b, len, len ?: 1, &werr))
			TH_LOG("%s", c->name);
		EXPECT_EQ(c->write_err, werr) TH_LOG("%s: write", c->name);
		free(b);
		EXPECT_EQ(STOP, vfio_mig_get_state(dst->dev)) TH_LOG("%s", c->name);
		ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &after));
		if (c->vram)
			before.vram_hash = after.vram_hash;
		diff = snap_diff(&before, &after);
		EXPECT_EQ(NULL, diff) TH_LOG("%s: %s changed", c->name, diff);
	}

	/* Still a working device: an interrupt, then a good stream. */
	ASSERT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(dst->dev, VFIO_PCI_INTX_IRQ_INDEX,
					  efd));
	EXPECT_EQ(0, mgpu_ctrl_set(dst->dev, MGPU_CTRL_IRQ_RAISE, 0x2));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	EXPECT_EQ(0, resume(dst->dev, s.buf, s.len, s.len, &werr));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	EXPECT_EQ(src_setup.scratch, mgpu_ctrl_get(dst->dev, MGPU_CTRL_SCRATCH));
	close(efd);
	vfio_mig_stream_free(&s);
}

/* ---- compatibility: the version rule ----------------------------------------------- */

/* What the version file says: 0 (compatible) or -errno. */
static int version_accepts(unsigned int src_gpu, unsigned int src_type,
			   unsigned int dst_gpu, unsigned int dst_type)
{
	char v[160];
	int ret;

	ret = mgpu_type_read(src_gpu, src_type, "version", v, sizeof(v));
	if (ret < 0)
		return ret;
	return mgpu_type_write(dst_gpu, dst_type, "version", v, strlen(v));
}

/* An eighth into a quarter: another profile. */
TEST_F(mix, wrong_type)
{
	struct snap before, after;
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	int werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_QUARTER, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	save_source(_metadata, src, &src_setup, 0x1, NULL, &s);

	ASSERT_EQ(0, inst_open(dst));
	ASSERT_EQ(0, dev_program(dst->dev, dst->vram, &other_setup));
	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &before));
	EXPECT_EQ(-EPROTO, resume(dst->dev, s.buf, s.len, s.len, &werr));
	EXPECT_EQ(-EPROTO, werr);
	EXPECT_EQ(STOP, vfio_mig_get_state(dst->dev));
	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &after));
	EXPECT_EQ(NULL, snap_diff(&before, &after));
	EXPECT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	EXPECT_EQ(-EPROTO, version_accepts(0, MGPU_EIGHTH, 1, MGPU_QUARTER));
	vfio_mig_stream_free(&s);
}

/* An eighth of a stream-1 GPU into an eighth of a stream-2 GPU. */
TEST_F(mix, wrong_version)
{
	struct snap before, after;
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	int werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 2, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	save_source(_metadata, src, &src_setup, 0x1, NULL, &s);
	EXPECT_EQ(1U, get_le(s.buf + HDR_VERSION, 4));

	ASSERT_EQ(0, inst_open(dst));
	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &before));
	EXPECT_EQ(-EPROTO, resume(dst->dev, s.buf, s.len, 64, &werr));
	EXPECT_EQ(-EPROTO, werr);
	EXPECT_EQ(STOP, vfio_mig_get_state(dst->dev));
	ASSERT_EQ(0, snap_take(dst->dev, dst->vram, &after));
	EXPECT_EQ(NULL, snap_diff(&before, &after));
	EXPECT_EQ(0, vfio_mig_set_state(dst->dev, RUNNING, NULL));
	EXPECT_EQ(-EPROTO, version_accepts(0, MGPU_EIGHTH, 2, MGPU_EIGHTH));
	vfio_mig_stream_free(&s);
}

/*
 * For every pair of a source and a target instance, writing the source
 * type's version into the target type's version file succeeds exactly when
 * the target takes the source's stream.
 */
TEST_F_TIMEOUT(mix, version_matches_stream, 300)
{
	static const struct {
		unsigned int gpu, type;
	} srcs[] = {
		{ 0, MGPU_EIGHTH }, { 0, MGPU_HALF }, { 2, MGPU_EIGHTH },
		{ 3, MGPU_QUARTER },
	}, dsts[] = {
		{ 1, MGPU_EIGHTH }, { 1, MGPU_QUARTER }, { 1, MGPU_HALF },
		{ 2, MGPU_EIGHTH }, { 3, MGPU_QUARTER }, { 3, MGPU_HALF },
	};
	static const unsigned int gpu_mb[] = { 512, 512, 512, 1024 };
	unsigned int ns = ARRAY_SIZE(srcs);
	unsigned int nd = ARRAY_SIZE(dsts);
	struct vfio_mig_stream s[4] = { 0 };
	struct inst *src[4], *dst[6];
	unsigned int i, j, yes = 0, no = 0;

	if (_metadata->skip)
		return;
	for (i = 0; i < ns; i++) {
		src[i] = world_add(_metadata, &self->w, srcs[i].gpu,
				   srcs[i].type, gpu_mb[srcs[i].gpu]);
		ASSERT_NE(NULL, src[i]);
		ASSERT_EQ(0, inst_open(src[i]));
		ASSERT_EQ(0, mgpu_vram_fill(src[i]->dev, 0, 2 * PAGE, i));
		ASSERT_EQ(0, mgpu_ctrl_set(src[i]->dev, MGPU_CTRL_SCRATCH, i));
		ASSERT_EQ(0, vfio_mig_save(src[i]->dev, &s[i], 1 << 20, NULL));
		inst_close(src[i]);
	}
	for (j = 0; j < nd; j++) {
		dst[j] = world_add(_metadata, &self->w, dsts[j].gpu,
				   dsts[j].type, gpu_mb[dsts[j].gpu]);
		ASSERT_NE(NULL, dst[j]);
	}

	for (i = 0; i < ns; i++) {
		for (j = 0; j < nd; j++) {
			int by_version, by_stream, werr;

			by_version = version_accepts(srcs[i].gpu, srcs[i].type,
						     dsts[j].gpu, dsts[j].type);
			ASSERT_EQ(0, inst_open(dst[j]));
			by_stream = resume(dst[j]->dev, s[i].buf, s[i].len,
					   s[i].len, &werr);
			EXPECT_EQ(by_version, by_stream)
				TH_LOG("mgpu%u/%s -> mgpu%u/%s", srcs[i].gpu,
				       mgpu_profiles[srcs[i].type].name,
				       dsts[j].gpu,
				       mgpu_profiles[dsts[j].type].name);
			EXPECT_TRUE(by_stream == 0 || by_stream == -EPROTO);
			if (!by_stream)
				EXPECT_EQ(i, mgpu_ctrl_get(dst[j]->dev,
							   MGPU_CTRL_SCRATCH));
			EXPECT_EQ(0, vfio_mig_set_state(dst[j]->dev, RUNNING, NULL));
			inst_close(dst[j]);
			if (by_stream)
				no++;
			else
				yes++;
		}
	}
	/*
	 * Both outcomes, as the rule says: each source has exactly one
	 * target of its profile, VRAM size and stream version.
	 */
	EXPECT_EQ(ns, yes);
	EXPECT_EQ(ns * nd - ns, no);
	for (i = 0; i < ns; i++)
		vfio_mig_stream_free(&s[i]);
}

/* ---- races ------------------------------------------------------------------------------ */

struct race {
	int dev;
	const struct vfio_mig_stream *s;
	bool stop;	/* read and written with __atomic builtins */
	/* what the threads saw that the uAPI does not allow: all must be 0 */
	unsigned int bad_state;	/* a state outside the five valid ones */
	unsigned int bad_fd;	/* a data fd for a target without a session */
	unsigned int bad_errno;	/* a failure other than ENODATA leaving RESUMING */
	unsigned int bad_read;	/* a read neither 512 bytes of the header */
	unsigned int bad_write;	/* a write neither whole nor ENODEV */
	unsigned int bad_access; /* a register or config access failing */
	/* what happened, all updated with __atomic builtins */
	unsigned int sessions;	/* transitions that returned a data fd */
	unsigned int refused;	/* transitions that failed with ENODATA */
	unsigned int ended;	/* session I/O that found its session ended */
	unsigned int reset_tries;
	unsigned int resets;
};

static void race_add(unsigned int *count)
{
	__atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
}

/*
 * Random transitions, with a little of each session's data moved.  A
 * transition succeeds, or fails only with ENODATA (leaving RESUMING with
 * the stream not all written: the device is then in STOP; so never on the
 * way to RESUMING, which from RESUMING is no transition); it returns a
 * data fd only when it enters STOP_COPY or RESUMING.  A read of a saving
 * fd returns 512 bytes starting with the header that every save of this
 * instance has, or ENODEV once another thread or a reset ended the
 * session; a write of the whole stream into a resuming fd is taken whole
 * or fails with ENODEV: nothing else.
 */
static void *race_transitions(void *arg)
{
	struct race *r = arg;
	unsigned int seed = 1;
	__u8 buf[512];
	ssize_t n;
	int fd, ret;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		__u32 to = valid_states[rand_r(&seed) % 5];

		ret = vfio_mig_set_state(r->dev, to, &fd);
		if (ret) {
			/* only leaving RESUMING checks a stream */
			if (ret == -ENODATA && to != RESUMING)
				race_add(&r->refused);
			else
				race_add(&r->bad_errno);
			continue;
		}
		if (fd < 0)
			continue;
		race_add(&r->sessions);
		if (to != STOP_COPY && to != RESUMING) {
			race_add(&r->bad_fd);
		} else if (to == STOP_COPY) {
			n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == ENODEV)
				race_add(&r->ended);
			else if (n != sizeof(buf) ||
				 memcmp(buf, r->s->buf, HDR_LEN))
				race_add(&r->bad_read);
		} else {
			n = write(fd, r->s->buf, r->s->len);
			if (n < 0 && errno == ENODEV)
				race_add(&r->ended);
			else if (n != (ssize_t)r->s->len)
				race_add(&r->bad_write);
		}
		close(fd);
	}
	return NULL;
}

/*
 * Resets, state queries, register and config accesses: every reset and
 * every access succeeds whatever the migration state, and every state
 * read is one of the five.
 */
static void *race_device(void *arg)
{
	struct race *r = arg;
	unsigned int n = 0;
	int state;

	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (!(++n % 16)) {
			race_add(&r->reset_tries);
			if (!vfio_device_reset(r->dev))
				race_add(&r->resets);
		}
		state = vfio_mig_get_state(r->dev);
		if (state != RUNNING && state != RUNNING_P2P && state != STOP &&
		    state != STOP_COPY && state != RESUMING)
			race_add(&r->bad_state);
		if (mgpu_ctrl_set(r->dev, MGPU_CTRL_IRQ_ENABLE, 1) ||
		    mgpu_ctrl_set(r->dev, MGPU_CTRL_IRQ_RAISE, n & 1) ||
		    mgpu_ctrl_set(r->dev, MGPU_CTRL_IRQ_STATUS, 1) ||
		    vfio_cfg_get(r->dev, PCI_STATUS, 2) < 0)
			race_add(&r->bad_access);
	}
	return NULL;
}

/*
 * Transitions, sessions, resets and accesses from three threads at once.
 * Asserted exactly: no thread saw anything race_transitions() and
 * race_device() above list as not allowed (each bad_* count is 0), every
 * reset succeeded (resets == reset_tries), and afterwards a reset gives
 * RUNNING, the saved stream resumes and an interrupt is delivered.  The
 * one lower bound, sessions and resets > 10, only checks that the race
 * was run at all.
 */
TEST_F_TIMEOUT(pair, races, 120)
{
	struct race r = { 0 };
	struct vfio_mig_stream s = { 0 };
	pthread_t t[3];
	struct inst *in;
	int efd, werr;

	if (_metadata->skip)
		return;
	in = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, in);
	ASSERT_EQ(0, inst_open(in));
	ASSERT_EQ(0, mgpu_vram_fill(in->dev, 0, 16 * PAGE, 17));
	ASSERT_EQ(0, vfio_mig_save(in->dev, &s, 1 << 20, NULL));
	ASSERT_LT(512U, s.len);
	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(in->dev, VFIO_PCI_INTX_IRQ_INDEX,
					  efd));

	r.dev = in->dev;
	r.s = &s;
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_transitions, &r));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_transitions, &r));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_device, &r));
	usleep(3 * 1000 * 1000);
	__atomic_store_n(&r.stop, true, __ATOMIC_RELAXED);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pthread_join(t[2], NULL);
	TH_LOG("%u sessions (%u ended under them), %u refused, %u resets",
	       r.sessions, r.ended, r.refused, r.resets);
	EXPECT_EQ(0U, r.bad_state);
	EXPECT_EQ(0U, r.bad_fd);
	EXPECT_EQ(0U, r.bad_errno);
	EXPECT_EQ(0U, r.bad_read);
	EXPECT_EQ(0U, r.bad_write);
	EXPECT_EQ(0U, r.bad_access);
	EXPECT_EQ(r.reset_tries, r.resets);
	EXPECT_LT(10U, r.sessions);
	EXPECT_LT(10U, r.resets);

	/* Back to a known state, and still a working device. */
	ASSERT_EQ(0, vfio_device_reset(in->dev));
	EXPECT_EQ(RUNNING, vfio_mig_get_state(in->dev));
	EXPECT_EQ(0, resume(in->dev, s.buf, s.len, s.len, &werr));
	EXPECT_EQ(0, werr);
	EXPECT_EQ(0, vfio_mig_set_state(in->dev, RUNNING, NULL));
	vfio_eventfd_wait(efd, 0);
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_ENABLE, 1));
	EXPECT_EQ(0, mgpu_ctrl_set(in->dev, MGPU_CTRL_IRQ_RAISE, 1));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	close(efd);
	vfio_mig_stream_free(&s);
}

/* ---- throughput ----------------------------------------------------------------------- */

/* A whole eighth (64 MiB) written: save and resume rates. */
TEST_F_TIMEOUT(pair, throughput, 300)
{
	double t0, t_snap, t_save, t_resume;
	struct vfio_mig_stream s = { 0 };
	struct inst *src, *dst;
	__u64 h_src, h_dst;
	int fd, werr;

	if (_metadata->skip)
		return;
	src = world_add(_metadata, &self->w, 0, MGPU_EIGHTH, 512);
	dst = world_add(_metadata, &self->w, 1, MGPU_EIGHTH, 512);
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);

	ASSERT_EQ(0, inst_open(src));
	ASSERT_EQ(0, mgpu_vram_fill(src->dev, 0, src->vram, 21));
	ASSERT_EQ(0, vram_hash(src->dev, src->vram, &h_src));
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, STOP, NULL));
	/* Entering STOP_COPY renders the state; the reads copy VRAM out. */
	t0 = now_s();
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, STOP_COPY, &fd));
	t_snap = now_s() - t0;
	ASSERT_EQ(0, vfio_mig_read_all(fd, &s, 4 << 20));
	t_save = now_s() - t0;
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(src->dev, STOP, NULL));
	inst_close(src);
	/* Every page, in full runs: the runs' headers are all it adds. */
	EXPECT_EQ(STREAM_MIN + src->vram / MGPU_ST_RUN_MAX * (REC_LEN + RUN_CHECK) +
		  src->vram, s.len);

	ASSERT_EQ(0, inst_open(dst));
	t0 = now_s();
	EXPECT_EQ(0, resume(dst->dev, s.buf, s.len, 4 << 20, &werr));
	t_resume = now_s() - t0;
	EXPECT_EQ(0, werr);
	ASSERT_EQ(0, vram_hash(dst->dev, dst->vram, &h_dst));
	EXPECT_EQ(h_src, h_dst);
	TH_LOG("64 MiB, %zu bytes: save %.0f ms (%.0f MiB/s; snapshot %.0f ms)",
	       s.len, t_save * 1e3, s.len / MIB / t_save, t_snap * 1e3);
	TH_LOG("resume %.0f ms (%.0f MiB/s)", t_resume * 1e3,
	       s.len / MIB / t_resume);
	vfio_mig_stream_free(&s);
}

/* The fixtures reloaded mgpu: leave it with its defaults. */
static void mgpu_restore_defaults(void)
{
	if (module_loaded(MGPU_MODULE_NAME) && mgpu_reload(""))
		fprintf(stderr, "# could not reload mgpu with its defaults\n");
}

int main(int argc, char **argv)
{
	mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	/*
	 * test_harness_run() exits.  atexit() handlers run in reverse order,
	 * so this one runs before mgpu_env_init()'s unload of a module that
	 * it loaded.
	 */
	if (mgpu_ready)
		atexit(mgpu_restore_defaults);
	return test_harness_run(argc, argv);
}
