// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of the mgpu compute engine, checked against the "Engine"
 * section of Documentation/driver-api/mgpu.rst: the registers and the ring,
 * every command (FILL, COPY, BLIT, the guest RAM copies, FENCE with its
 * interrupt), every validation failure (after which nothing was touched
 * and the engine recovers), guest RAM unmapped while commands run, reset
 * and removal in the middle of a stream (also beside another instance's
 * commands in flight), the weight and engine_time_ns
 * files, and the scheduler's fairness under saturation.
 *
 * On virtual GPUs or, with MGPU_PARENTS=pci, on PCI GPUs (mgpu_lib.h).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_engine_lib.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

#define PAGE		4096UL
#define MiB		0x100000UL
#define IDLE_MS		20000
#define FIRE_MS		1000
#define REMOVE_MS	10000
/* The ring at the start of VRAM; data from DATA on. */
#define RING_BASE	0
#define RING_ENTRIES	1024
#define DATA		(1 * MiB)
#define IOVA		0x10000000ULL

static bool mgpu_ready;
static char mgpu_why[256];

static int vram_read(int dev, __u64 off, void *buf, size_t len)
{
	ssize_t ret = vfio_region_read(dev, MGPU_VRAM, off, buf, len);

	return ret == (ssize_t)len ? 0 : ret < 0 ? ret : -EIO;
}

static int vram_write(int dev, __u64 off, const void *buf, size_t len)
{
	ssize_t ret = vfio_region_write(dev, MGPU_VRAM, off, buf, len);

	return ret == (ssize_t)len ? 0 : ret < 0 ? ret : -EIO;
}

static long vram_word(int dev, __u64 off)
{
	__u32 v = 0xdeadbeef;

	vram_read(dev, off, &v, sizeof(v));
	return v;
}

/* Bytes that say where they are: @seed and the offset. */
static void pattern(__u8 *buf, size_t len, __u32 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (__u8)(seed * 31 + i * 7 + (i >> 8));
}

static bool all_zero(const __u8 *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

/* ---- fixture: one instance, opened, with a ring ----------------------------- */

FIXTURE(engine) {
	char uuid[UUID_STR_LEN];
	bool created;
	struct vfio_client v;
	int dev;
	__u64 vram;
	struct eng e;
	struct guest_ram ram;
};

FIXTURE_VARIANT(engine) {
	unsigned int gpu;
	unsigned int type;
};

FIXTURE_VARIANT_ADD(engine, eighth) {
	.gpu = 0,
	.type = MGPU_EIGHTH,
};

FIXTURE_VARIANT_ADD(engine, full) {
	.gpu = 1,
	.type = MGPU_FULL,
};

FIXTURE_SETUP(engine)
{
	int ret;

	vfio_client_init(&self->v);
	self->dev = -1;
	self->ram.buf = MAP_FAILED;
	self->ram.container = -1;
	self->vram = mgpu_vram_size(MGPU_DEFAULT_VRAM_MB, variant->type);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);

	uuid_gen(self->uuid);
	ASSERT_EQ(0, mgpu_create(variant->gpu, variant->type, self->uuid));
	self->created = true;
	ret = vfio_client_open(&self->v, self->uuid);
	ASSERT_EQ(0, ret) TH_LOG("open failed at %s", self->v.failed_at);
	self->dev = self->v.device;
	ASSERT_EQ(0, eng_init(&self->e, self->dev, RING_BASE, RING_ENTRIES));
}

FIXTURE_TEARDOWN(engine)
{
	guest_ram_free(&self->ram);
	vfio_client_close(&self->v);
	if (self->created && mdev_exists(self->uuid))
		EXPECT_EQ(0, mgpu_remove(self->uuid, REMOVE_MS));
}

static long run(struct _test_data_engine *self, const struct mgpu_cmd *cmds,
		unsigned int n)
{
	int ret = eng_submit(&self->e, cmds, n);

	return ret ? ret : eng_wait_idle(&self->e, IDLE_MS);
}

static long run1(struct _test_data_engine *self, struct mgpu_cmd cmd)
{
	return run(self, &cmd, 1);
}

static long reg(struct _test_data_engine *self, __u32 off)
{
	return eng_reg_get(self->dev, off);
}

/* ---- registers --------------------------------------------------------------- */

TEST_F(engine, registers_after_open)
{
	if (_metadata->skip)
		return;
	EXPECT_EQ(RING_BASE, reg(self, MGPU_ENG_RING_BASE));
	EXPECT_EQ(RING_ENTRIES * MGPU_CMD_SIZE, reg(self, MGPU_ENG_RING_SIZE));
	EXPECT_EQ(0, reg(self, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(0, reg(self, MGPU_ENG_RING_TAIL));
	EXPECT_EQ(0, reg(self, MGPU_ENG_STATUS));
	EXPECT_EQ(0, reg(self, MGPU_ENG_FENCE));
	EXPECT_EQ(0, reg(self, MGPU_ENG_COMPLETED));
	/* Write-only registers read 0; 32-bit accesses only. */
	EXPECT_EQ(0, reg(self, MGPU_ENG_DOORBELL));
	EXPECT_EQ(0, reg(self, MGPU_ENG_CONTROL));
	EXPECT_EQ(-EINVAL, mgpu_mmio_get(self->dev, ENG_REG(MGPU_ENG_STATUS), 2));
	/* HEAD is read-only. */
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_HEAD, 5));
	EXPECT_EQ(0, reg(self, MGPU_ENG_RING_HEAD));
}

TEST_F(engine, nop_head_completed)
{
	struct mgpu_cmd cmds[3] = { cmd_nop(), cmd_nop(), cmd_nop() };

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, run(self, cmds, 3));
	EXPECT_EQ(3, reg(self, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(3, reg(self, MGPU_ENG_COMPLETED));
	/* TAIL written without the doorbell runs nothing. */
	ASSERT_EQ(0, eng_queue(&self->e, cmds, 2));
	usleep(50000);
	EXPECT_EQ(3, reg(self, MGPU_ENG_RING_HEAD));
	ASSERT_EQ(0, eng_doorbell(&self->e));
	ASSERT_EQ(0, eng_wait_idle(&self->e, IDLE_MS));
	EXPECT_EQ(5, reg(self, MGPU_ENG_RING_HEAD));
}

/* More commands than the ring holds, in batches: the ring wraps. */
TEST_F(engine, ring_wraps)
{
	struct mgpu_cmd cmds[300];
	unsigned int i, batch;

	if (_metadata->skip)
		return;
	for (batch = 0; batch < 5; batch++) {
		for (i = 0; i < 300; i++)
			cmds[i] = cmd_fill(DATA + 4 * i, 4, batch * 1000 + i);
		ASSERT_EQ(0, run(self, cmds, 300));
		for (i = 0; i < 300; i += 37)
			EXPECT_EQ(batch * 1000 + i, vram_word(self->dev, DATA + 4 * i));
	}
	EXPECT_EQ(1500, reg(self, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(1500, reg(self, MGPU_ENG_COMPLETED));
}

/* ---- commands ---------------------------------------------------------------- */

TEST_F(engine, fill)
{
	size_t len = 3 * PAGE + 12;
	__u64 at = DATA + PAGE - 8;
	__u8 *buf = malloc(len + 8);
	size_t i;

	if (_metadata->skip)
		return;
	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, run1(self, cmd_fill(at, len, 0x11223344)));
	ASSERT_EQ(0, vram_read(self->dev, at - 4, buf, len + 8));
	EXPECT_EQ(0u, *(__u32 *)buf);			/* before: untouched */
	for (i = 0; i < len; i += 4)
		ASSERT_EQ(0x11223344u, *(__u32 *)(buf + 4 + i));
	EXPECT_EQ(0u, *(__u32 *)(buf + 4 + len));	/* after: untouched */
	/* The last word of VRAM can be filled. */
	ASSERT_EQ(0, run1(self, cmd_fill(self->vram - 4, 4, 0x5a5a5a5a)));
	EXPECT_EQ(0x5a5a5a5a, vram_word(self->dev, self->vram - 4));
	free(buf);
}

TEST_F(engine, copy)
{
	size_t len = 2 * PAGE + 100;
	__u8 *src = malloc(len), *dst = malloc(len + 2);

	if (_metadata->skip)
		return;
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, len, 1);
	ASSERT_EQ(0, vram_write(self->dev, DATA + 3, src, len));
	ASSERT_EQ(0, run1(self, cmd_copy(DATA + 5 * PAGE + 1, DATA + 3, len)));
	ASSERT_EQ(0, vram_read(self->dev, DATA + 5 * PAGE, dst, len + 2));
	EXPECT_EQ(0, dst[0]);
	EXPECT_EQ(0, memcmp(dst + 1, src, len));
	EXPECT_EQ(0, dst[len + 1]);
	/* VRAM nobody touched copies as zeros. */
	ASSERT_EQ(0, run1(self, cmd_copy(DATA + 5 * PAGE + 1,
					 self->vram - 4 * PAGE, len)));
	ASSERT_EQ(0, vram_read(self->dev, DATA + 5 * PAGE + 1, dst, len));
	EXPECT_TRUE(all_zero(dst, len));
	free(src);
	free(dst);
}

TEST_F(engine, blit)
{
	const __u32 w = 300, h = 20, spitch = 512, dpitch = 1000;
	__u8 *src = malloc(spitch * h), *dst = malloc(dpitch * h);
	__u32 y;

	if (_metadata->skip)
		return;
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, spitch * h, 2);
	ASSERT_EQ(0, vram_write(self->dev, DATA, src, spitch * h));
	ASSERT_EQ(0, run1(self, cmd_blit(DATA + MiB, dpitch, DATA, spitch,
					 w, h)));
	ASSERT_EQ(0, vram_read(self->dev, DATA + MiB, dst, dpitch * h));
	for (y = 0; y < h; y++) {
		EXPECT_EQ(0, memcmp(dst + y * dpitch, src + y * spitch, w))
			TH_LOG("row %u", y);
		/* Between the rows: untouched. */
		if (y < h - 1)
			EXPECT_TRUE(all_zero(dst + y * dpitch + w, dpitch - w));
	}
	/* A source pitch of 0 repeats one row: a painted rectangle. */
	ASSERT_EQ(0, run1(self, cmd_blit(DATA + MiB, dpitch, DATA, 0, w, h)));
	ASSERT_EQ(0, vram_read(self->dev, DATA + MiB, dst, dpitch * h));
	for (y = 0; y < h; y++)
		EXPECT_EQ(0, memcmp(dst + y * dpitch, src, w)) TH_LOG("row %u", y);
	free(src);
	free(dst);
}

TEST_F(engine, fence_register_vram_irq_msi)
{
	struct mgpu_cmd cmds[2];
	int msi;

	if (_metadata->skip)
		return;
	/* Without an eventfd: status bits only. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE,
				   MGPU_IRQ_FENCE));
	ASSERT_EQ(0, run1(self, cmd_fence(7, MGPU_FENCE_WRITE, DATA)));
	EXPECT_EQ(7, reg(self, MGPU_ENG_FENCE));
	EXPECT_EQ(7, vram_word(self->dev, DATA));
	EXPECT_EQ(0, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	ASSERT_EQ(0, run1(self, cmd_fence(8, MGPU_FENCE_IRQ, 0)));
	EXPECT_EQ(8, reg(self, MGPU_ENG_FENCE));
	EXPECT_EQ(7, vram_word(self->dev, DATA));	/* no WRITE flag */
	EXPECT_EQ(MGPU_IRQ_FENCE, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, ~0u));

	/* With MSI: one message per fence that asks for it. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_LO,
				    4, 0xfee00000));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2,
				    PCI_MSI_FLAGS_ENABLE));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2,
				    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	msi = vfio_eventfd();
	ASSERT_LE(0, msi);
	ASSERT_EQ(0, vfio_irq_set_eventfd(self->dev, VFIO_PCI_MSI_IRQ_INDEX, msi));
	/* The fence comes after the fill: the fill is done when it fires. */
	cmds[0] = cmd_fill(DATA + 64, 4 * MiB, 0xabcdef01);
	cmds[1] = cmd_fence(9, MGPU_FENCE_IRQ | MGPU_FENCE_WRITE, DATA + 4);
	ASSERT_EQ(0, eng_submit(&self->e, cmds, 2));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, IDLE_MS));
	EXPECT_EQ(9, reg(self, MGPU_ENG_FENCE));
	EXPECT_EQ(9, vram_word(self->dev, DATA + 4));
	EXPECT_EQ(0xabcdef01, vram_word(self->dev, DATA + 64 + 4 * MiB - 4));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, 0));
	/* A fence without the flag sends nothing. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, ~0u));
	ASSERT_EQ(0, run1(self, cmd_fence(10, 0, 0)));
	EXPECT_EQ(10, reg(self, MGPU_ENG_FENCE));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, 100));
	close(msi);
}

/* ---- guest RAM ------------------------------------------------------------------ */

TEST_F(engine, copy_guest_ram)
{
	size_t len = 5 * PAGE + 123;
	__u8 *back = malloc(len);

	if (_metadata->skip)
		return;
	ASSERT_NE(NULL, back);
	ASSERT_EQ(0, guest_ram_map(&self->ram, self->v.container, IOVA, 4 * MiB));
	pattern(self->ram.buf, len, 3);
	/* Guest RAM (unaligned IOVA) into VRAM (unaligned offset). */
	ASSERT_EQ(0, run1(self, cmd_from_ram(DATA + 77, IOVA + 5, len - 5)));
	ASSERT_EQ(0, vram_read(self->dev, DATA + 77, back, len - 5));
	EXPECT_EQ(0, memcmp(back, (__u8 *)self->ram.buf + 5, len - 5));
	/* And back to another place in guest RAM. */
	ASSERT_EQ(0, run1(self, cmd_to_ram(IOVA + 2 * MiB + 1, DATA + 77,
					   len - 5)));
	EXPECT_EQ(0, memcmp((__u8 *)self->ram.buf + 2 * MiB + 1,
			    (__u8 *)self->ram.buf + 5, len - 5));
	/* Untouched VRAM arrives as zeros. */
	ASSERT_EQ(0, run1(self, cmd_to_ram(IOVA, self->vram - len, len)));
	EXPECT_TRUE(all_zero(self->ram.buf, len));
	free(back);
}

/* Unmapping guest RAM while commands read it: they stop, no use after. */
TEST_F(engine, dma_unmap_during_work)
{
	struct mgpu_cmd cmds[256];
	long head, status;
	unsigned int i;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, guest_ram_map(&self->ram, self->v.container, IOVA, 4 * MiB));
	memset(self->ram.buf, 0x5c, 4 * MiB);
	for (i = 0; i < 256; i++)
		cmds[i] = cmd_from_ram(DATA + (i % 8) * 4 * MiB, IOVA, 4 * MiB);
	ASSERT_EQ(0, eng_submit(&self->e, cmds, 256));
	usleep(20000);
	ASSERT_TRUE(reg(self, MGPU_ENG_STATUS) & MGPU_ENG_STATUS_BUSY)
		TH_LOG("the engine finished before the unmap: make the work bigger");
	ASSERT_EQ(0, guest_ram_unmap_dma(&self->ram));
	status = eng_wait_idle(&self->e, IDLE_MS);
	head = reg(self, MGPU_ENG_RING_HEAD);
	EXPECT_EQ(MGPU_ENG_ERR_IOVA, status);
	EXPECT_LT(head, 256);
	EXPECT_EQ(head, reg(self, MGPU_ENG_ERROR_CMD));
	/* What was copied is the guest's data; the RAM can go now. */
	EXPECT_EQ(0x5c5c5c5c, vram_word(self->dev, DATA));
	munmap(self->ram.buf, self->ram.len);
	self->ram.buf = MAP_FAILED;
	/* The engine recovers, and the IOVA stays unreachable. */
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	EXPECT_EQ(MGPU_ENG_ERR_IOVA, run1(self, cmd_from_ram(DATA, IOVA, 4)));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	EXPECT_EQ(0, run1(self, cmd_fill(DATA, 4, 1)));
}

/* ---- validation ------------------------------------------------------------------ */

/*
 * A bad command between two good ones: the engine stops at it with the
 * error and its HEAD, raises the error interrupt, runs nothing after it
 * and touches nothing; CONTROL RESET lets it run again.
 */
struct bad_cmd {
	const char *what;
	struct mgpu_cmd cmd;
	__u32 error;
};

static struct mgpu_cmd cmd_reserved(void)
{
	struct mgpu_cmd cmd = cmd_fill(DATA, 4, 1);

	cmd.reserved[2] = 1;
	return cmd;
}

static struct mgpu_cmd cmd_flagged(void)
{
	struct mgpu_cmd cmd = cmd_fill(DATA, 4, 1);

	cmd.flags = MGPU_FENCE_IRQ;
	return cmd;
}

#define V	(self->vram)

static void check_bad(struct __test_metadata *_metadata,
		      struct _test_data_engine *self, const struct bad_cmd *b)
{
	__u8 probe[64];
	struct mgpu_cmd cmds[3] = {
		cmd_nop(), b->cmd, cmd_fill(DATA + 8 * MiB, 4, 0x1234),
	};
	long head = reg(self, MGPU_ENG_RING_HEAD);

	/* each case starts clean: an earlier failure must not leak into it */
	ASSERT_EQ(0, vram_write(self->dev, DATA + 8 * MiB, &(__u32){ 0 }, 4));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, ~0u));
	EXPECT_EQ(b->error, run(self, cmds, 3)) TH_LOG("%s", b->what);
	EXPECT_EQ(head + 1, reg(self, MGPU_ENG_RING_HEAD)) TH_LOG("%s", b->what);
	EXPECT_EQ(head + 1, reg(self, MGPU_ENG_ERROR_CMD)) TH_LOG("%s", b->what);
	EXPECT_EQ(MGPU_IRQ_ENGINE_ERROR,
		  mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	EXPECT_EQ(0, vram_word(self->dev, DATA + 8 * MiB)) TH_LOG("%s", b->what);
	/* Stopped: a doorbell does nothing until the reset. */
	ASSERT_EQ(0, eng_doorbell(&self->e));
	EXPECT_EQ(b->error, eng_wait_idle(&self->e, IDLE_MS));
	/* Nothing of the bad command's destination changed. */
	ASSERT_EQ(0, vram_read(self->dev, DATA, probe, sizeof(probe)));
	EXPECT_TRUE(all_zero(probe, sizeof(probe))) TH_LOG("%s", b->what);
	ASSERT_EQ(0, vram_read(self->dev, V - sizeof(probe), probe,
			       sizeof(probe)));
	EXPECT_TRUE(all_zero(probe, sizeof(probe))) TH_LOG("%s", b->what);

	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	EXPECT_EQ(0, reg(self, MGPU_ENG_STATUS));
	EXPECT_EQ(reg(self, MGPU_ENG_RING_TAIL), reg(self, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(0, run1(self, cmd_nop()));
}

TEST_F(engine, bad_commands)
{
	const struct bad_cmd bad[] = {
		{ "opcode 0", { .opcode = 0 }, MGPU_ENG_ERR_OPCODE },
		{ "opcode 8", { .opcode = 8 }, MGPU_ENG_ERR_OPCODE },
		{ "opcode ~0", { .opcode = ~0u }, MGPU_ENG_ERR_OPCODE },
		{ "reserved", cmd_reserved(), MGPU_ENG_ERR_RESERVED },
		{ "fill flags", cmd_flagged(), MGPU_ENG_ERR_RESERVED },
		{ "fence flags", cmd_fence(1, 4, 0), MGPU_ENG_ERR_RESERVED },
		{ "fill 0", cmd_fill(DATA, 0, 1), MGPU_ENG_ERR_SIZE },
		{ "fill too big", cmd_fill(0, MGPU_CMD_MAX_BYTES + 4, 1),
		  MGPU_ENG_ERR_SIZE },
		{ "fill unaligned dst", cmd_fill(DATA + 2, 4, 1),
		  MGPU_ENG_ERR_ALIGN },
		{ "fill unaligned size", cmd_fill(DATA, 6, 1),
		  MGPU_ENG_ERR_ALIGN },
		{ "fill past the end", cmd_fill(V - 32, 64, 1),
		  MGPU_ENG_ERR_RANGE },
		{ "fill beyond", cmd_fill(V, 4, 1), MGPU_ENG_ERR_RANGE },
		{ "fill wraps", cmd_fill(~0ull - 3, 8, 1), MGPU_ENG_ERR_RANGE },
		{ "copy dst past the end", cmd_copy(V - 32, DATA + 64, 64),
		  MGPU_ENG_ERR_RANGE },
		{ "copy src past the end", cmd_copy(DATA, V - 32, 64),
		  MGPU_ENG_ERR_RANGE },
		{ "copy overlap", cmd_copy(DATA, DATA + 32, 64),
		  MGPU_ENG_ERR_OVERLAP },
		{ "copy onto itself", cmd_copy(DATA, DATA, 64),
		  MGPU_ENG_ERR_OVERLAP },
		{ "copy 0", cmd_copy(DATA, DATA + 64, 0), MGPU_ENG_ERR_SIZE },
		{ "blit 0 rows", cmd_blit(DATA, 64, DATA + MiB, 64, 64, 0),
		  MGPU_ENG_ERR_SIZE },
		{ "blit too big", cmd_blit(0, 8192, 0, 8192, 8192, 4096),
		  MGPU_ENG_ERR_SIZE },
		{ "blit dst pitch < width",
		  cmd_blit(DATA, 32, DATA + MiB, 64, 64, 2), MGPU_ENG_ERR_OVERLAP },
		{ "blit overlap", cmd_blit(DATA, 128, DATA + 64, 128, 64, 4),
		  MGPU_ENG_ERR_OVERLAP },
		{ "blit past the end", cmd_blit(V - 4096, 4096, DATA, 64, 64, 2),
		  MGPU_ENG_ERR_RANGE },
		{ "blit pitch overflow", cmd_blit(DATA, ~0u, DATA + MiB, 64, 64,
						  4096), MGPU_ENG_ERR_RANGE },
		{ "from unmapped ram", cmd_from_ram(DATA, IOVA + 64 * MiB, 64),
		  MGPU_ENG_ERR_IOVA },
		/* found while copying: what came before may have arrived */
		{ "from ram past the mapping",
		  cmd_from_ram(DATA + 4 * MiB, IOVA + 4 * MiB - 64, 128),
		  MGPU_ENG_ERR_IOVA },
		{ "to unmapped ram", cmd_to_ram(IOVA - PAGE, DATA + 64, 64),
		  MGPU_ENG_ERR_IOVA },
		{ "from ram iova wraps", cmd_from_ram(DATA, ~0ull - 3, 8),
		  MGPU_ENG_ERR_IOVA },
		{ "from ram past VRAM", cmd_from_ram(V - 4, IOVA, 8),
		  MGPU_ENG_ERR_RANGE },
		{ "to ram from past VRAM", cmd_to_ram(IOVA, V - 4, 8),
		  MGPU_ENG_ERR_RANGE },
		{ "fence unaligned", cmd_fence(1, MGPU_FENCE_WRITE, DATA + 1),
		  MGPU_ENG_ERR_ALIGN },
		{ "fence beyond", cmd_fence(1, MGPU_FENCE_WRITE, V),
		  MGPU_ENG_ERR_RANGE },
	};
	unsigned int i;

	if (_metadata->skip)
		return;
	/* the refused copies read this: it must not reach VRAM */
	ASSERT_EQ(0, guest_ram_map(&self->ram, self->v.container, IOVA, 4 * MiB));
	memset(self->ram.buf, 0x77, 4 * MiB);
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, ~0u));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		check_bad(_metadata, self, &bad[i]);
}

TEST_F(engine, bad_ring)
{
	struct mgpu_cmd nop = cmd_nop();
	const struct {
		__u32 base, size;
	} rings[] = {
		{ 0, 0 }, { 0, 96 }, { 0, 32 }, { 8, 4096 },
		{ 0, MGPU_RING_MAX * 2 }, { 0xffffffc0, 64 },
	};
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < ARRAY_SIZE(rings); i++) {
		ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_BASE,
					 rings[i].base));
		ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_SIZE,
					 rings[i].size));
		ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_TAIL, 1));
		ASSERT_EQ(0, eng_doorbell(&self->e));
		EXPECT_EQ(MGPU_ENG_ERR_RING, eng_wait_idle(&self->e, IDLE_MS))
			TH_LOG("ring %#x + %#x", rings[i].base, rings[i].size);
		EXPECT_EQ(0, reg(self, MGPU_ENG_RING_HEAD));
		ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL,
					 MGPU_ENG_CTRL_RESET));
		ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_TAIL, 0));
		ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL,
					 MGPU_ENG_CTRL_RESET));
	}
	/* The ring at the very end of VRAM is fine. */
	ASSERT_EQ(0, eng_init(&self->e, self->dev, self->vram - 4096, 64));
	EXPECT_EQ(0, run(self, &nop, 1));
}

TEST_F(engine, ring_overflow)
{
	if (_metadata->skip)
		return;
	/* TAIL more than a ring ahead of HEAD. */
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_TAIL, RING_ENTRIES + 1));
	ASSERT_EQ(0, eng_doorbell(&self->e));
	EXPECT_EQ(MGPU_ENG_ERR_OVERFLOW, eng_wait_idle(&self->e, IDLE_MS));
	EXPECT_EQ(0, reg(self, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(0, reg(self, MGPU_ENG_COMPLETED));
	/* Exactly a ring's worth is fine (the slots read as opcode 0 here). */
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_TAIL,
				 reg(self, MGPU_ENG_RING_HEAD) + RING_ENTRIES));
	ASSERT_EQ(0, eng_doorbell(&self->e));
	EXPECT_EQ(MGPU_ENG_ERR_OPCODE, eng_wait_idle(&self->e, IDLE_MS));
}

/* The ring cannot move while commands wait. */
TEST_F(engine, ring_fixed_while_busy)
{
	struct mgpu_cmd cmds[64];
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < 64; i++)
		cmds[i] = cmd_fill(DATA, 4 * MiB, i);
	ASSERT_EQ(0, eng_submit(&self->e, cmds, 64));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_BASE, 4096));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_RING_SIZE, 64));
	EXPECT_EQ(RING_BASE, reg(self, MGPU_ENG_RING_BASE));
	EXPECT_EQ(RING_ENTRIES * MGPU_CMD_SIZE, reg(self, MGPU_ENG_RING_SIZE));
	EXPECT_EQ(0, eng_wait_idle(&self->e, IDLE_MS));
	EXPECT_EQ(63, vram_word(self->dev, DATA));
}

/* ---- reset and removal in the middle of a stream ------------------------------ */

static void flood(struct __test_metadata *_metadata,
		  struct _test_data_engine *self, unsigned int n)
{
	struct mgpu_cmd cmds[RING_ENTRIES];
	unsigned int i;

	for (i = 0; i < n; i++)
		cmds[i] = cmd_fill(DATA, 4 * MiB, i + 1);
	ASSERT_EQ(0, eng_submit(&self->e, cmds, n));
}

TEST_F(engine, reset_mid_stream)
{
	if (_metadata->skip)
		return;
	flood(_metadata, self, 512);
	usleep(10000);
	EXPECT_TRUE(reg(self, MGPU_ENG_STATUS) & MGPU_ENG_STATUS_BUSY);
	ASSERT_EQ(0, vfio_device_reset(self->dev));
	/* Power-on state at once: nothing waits, no ring. */
	EXPECT_EQ(0, reg(self, MGPU_ENG_STATUS));
	EXPECT_EQ(0, reg(self, MGPU_ENG_RING_HEAD));
	EXPECT_EQ(0, reg(self, MGPU_ENG_RING_TAIL));
	EXPECT_EQ(0, reg(self, MGPU_ENG_RING_SIZE));
	EXPECT_EQ(0, reg(self, MGPU_ENG_COMPLETED));
	/* Nothing runs any more, and the engine works again. */
	ASSERT_EQ(0, vram_write(self->dev, DATA, &(__u32){ 0 }, 4));
	usleep(50000);
	EXPECT_EQ(0, vram_word(self->dev, DATA));
	ASSERT_EQ(0, eng_init(&self->e, self->dev, RING_BASE, RING_ENTRIES));
	EXPECT_EQ(0, run1(self, cmd_fill(DATA, 4, 99)));
	EXPECT_EQ(99, vram_word(self->dev, DATA));
	EXPECT_EQ(1, reg(self, MGPU_ENG_COMPLETED));
}

TEST_F(engine, close_and_remove_mid_stream)
{
	struct vfio_client again;

	if (_metadata->skip)
		return;
	flood(_metadata, self, 1000);
	usleep(10000);
	EXPECT_TRUE(reg(self, MGPU_ENG_STATUS) & MGPU_ENG_STATUS_BUSY);
	vfio_client_close(&self->v);
	/* Reopened: power-on engine, scrubbed VRAM, nothing running. */
	vfio_client_init(&again);
	ASSERT_EQ(0, vfio_client_open(&again, self->uuid));
	EXPECT_EQ(0, eng_reg_get(again.device, MGPU_ENG_STATUS));
	EXPECT_EQ(0, eng_reg_get(again.device, MGPU_ENG_RING_TAIL));
	usleep(50000);
	EXPECT_EQ(0, vram_word(again.device, DATA));
	self->e.dev = again.device;
	self->dev = again.device;
	ASSERT_EQ(0, eng_init(&self->e, again.device, RING_BASE, RING_ENTRIES));
	flood(_metadata, self, 1000);
	vfio_client_close(&again);
	/* Removal right after a close in the middle of a stream. */
	EXPECT_EQ(0, mgpu_remove(self->uuid, REMOVE_MS));
}

/*
 * The last close of an instance leaves its engine on the GPU's runnable
 * list until the executor ends the slice in flight of another instance:
 * its removal must take it off before the instance is freed, or the
 * executor walks freed memory (an oops in mgpu_sched_work, once, in the
 * stress test).  An eighth on GPU 0 keeps the executor busy with the
 * slowest commands there are, 16 MiB copies out of guest RAM, while
 * another eighth beside it is opened, closed and removed at once, by a
 * child (the type is single-usage).  Before the fix, KASAN reported a
 * use-after-free here.
 */
#define BUSY_ROUNDS	20

static int open_close_remove(const char *uuid)
{
	struct vfio_client v;

	vfio_client_init(&v);
	if (vfio_client_open(&v, uuid))
		return 2;
	vfio_client_close(&v);
	return mdev_remove(uuid) ? 1 : 0;
}

TEST(remove_beside_a_busy_engine)
{
	char busy[UUID_STR_LEN], victim[UUID_STR_LEN];
	struct guest_ram ram = { .buf = MAP_FAILED, .container = -1 };
	struct mgpu_cmd cmds[4];
	struct vfio_client v;
	unsigned int i;
	long waiting;
	struct eng e;
	int status;
	pid_t pid;

	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	uuid_gen(busy);
	ASSERT_EQ(0, mgpu_create(0, MGPU_EIGHTH, busy));
	vfio_client_init(&v);
	ASSERT_EQ(0, vfio_client_open(&v, busy));
	ASSERT_EQ(0, eng_init(&e, v.device, RING_BASE, RING_ENTRIES));
	ASSERT_EQ(0, guest_ram_map(&ram, v.container, IOVA,
				   MGPU_CMD_MAX_BYTES));
	for (i = 0; i < ARRAY_SIZE(cmds); i++)
		cmds[i] = cmd_from_ram(DATA, IOVA, MGPU_CMD_MAX_BYTES);

	for (i = 0; i < BUSY_ROUNDS; i++) {
		/* commands wait behind the one in flight */
		waiting = eng_reg_get(v.device, MGPU_ENG_RING_TAIL) -
			  eng_reg_get(v.device, MGPU_ENG_RING_HEAD);
		if (waiting < 2)
			ASSERT_EQ(0, eng_submit(&e, cmds, ARRAY_SIZE(cmds)));
		ASSERT_TRUE(eng_reg_get(v.device, MGPU_ENG_STATUS) &
			    MGPU_ENG_STATUS_BUSY);
		uuid_gen(victim);
		ASSERT_EQ(0, mgpu_create(0, MGPU_EIGHTH, victim));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(open_close_remove(victim));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status))
			TH_LOG("round %u: the %s failed", i,
			       WEXITSTATUS(status) == 1 ? "remove" : "open");
		EXPECT_FALSE(mdev_exists(victim));
	}
	/* The executor went on: the busy instance's commands all complete. */
	EXPECT_EQ(0, eng_wait_idle(&e, IDLE_MS));
	EXPECT_EQ(eng_reg_get(v.device, MGPU_ENG_RING_TAIL),
		  eng_reg_get(v.device, MGPU_ENG_COMPLETED));
	guest_ram_free(&ram);
	vfio_client_close(&v);
	EXPECT_EQ(0, mgpu_remove(busy, REMOVE_MS));
}

/* ---- fuzzing the ring -------------------------------------------------------- */

#define FUZZ_BATCHES	200
#define FUZZ_BATCH	16
#define FUZZ_RAM	(1 * MiB)
#define FUZZ_CANARY	0xc0ffee00u

/* A value for a command field, biased to the edges of VRAM and the IOVAs. */
static __u64 fuzz_value(__u64 vram)
{
	const __u64 edges[] = {
		0, 1, 4, 63, 64, PAGE - 4, PAGE, PAGE + 4, DATA, vram - 64,
		vram - 4, vram - 1, vram, vram + 4, 2 * vram,
		MGPU_CMD_MAX_BYTES, MGPU_CMD_MAX_BYTES + 4, IOVA, IOVA - 4,
		IOVA + FUZZ_RAM - 4, IOVA + FUZZ_RAM, ~0ull, ~0ull - 3,
		0x80000000ull, 0xffffffffull,
	};
	unsigned int pick = rand() % (ARRAY_SIZE(edges) + 4);

	switch (pick) {
	case ARRAY_SIZE(edges):
		return rand() % vram;
	case ARRAY_SIZE(edges) + 1:
		return IOVA + rand() % (2 * FUZZ_RAM);
	case ARRAY_SIZE(edges) + 2:
		return rand() % (64 * 1024);
	case ARRAY_SIZE(edges) + 3:
		return (__u64)rand() << 32 | rand();
	default:
		return edges[pick];
	}
}

static __u64 fuzz_below(__u64 n)
{
	return n ? ((__u64)rand() << 31 ^ rand()) % n : 0;
}

/* A valid command of a random kind: dst in the lower half, src upper. */
static struct mgpu_cmd fuzz_valid(__u64 vram)
{
	__u64 half = vram / 2, size = 4 + (fuzz_below(16384) & ~3ull);
	__u64 dst = DATA + (fuzz_below(half - DATA - size) & ~3ull);
	__u64 src = half + (fuzz_below(half - size) & ~3ull);
	__u64 iova = IOVA + fuzz_below(FUZZ_RAM - size);
	__u32 w = 1 + fuzz_below(256), h = 1 + fuzz_below(32);

	switch (1 + rand() % 7) {
	case MGPU_CMD_NOP:
		return cmd_nop();
	case MGPU_CMD_FILL:
		return cmd_fill(dst, size, rand());
	case MGPU_CMD_COPY:
		return cmd_copy(dst, src, size);
	case MGPU_CMD_BLIT:
		return cmd_blit(dst, w + fuzz_below(64), src, w + fuzz_below(64),
				w, h);
	case MGPU_CMD_COPY_FROM_RAM:
		return cmd_from_ram(dst, iova, size);
	case MGPU_CMD_COPY_TO_RAM:
		return cmd_to_ram(iova, src, size);
	default:
		return cmd_fence(rand(), rand() % 4, dst);
	}
}

/* A quarter of the time one field of a valid command gets a bad value. */
static struct mgpu_cmd fuzz_cmd(__u64 vram)
{
	struct mgpu_cmd c = fuzz_valid(vram);
	__u64 v = fuzz_value(vram);

	if (rand() % 4)
		return c;
	switch (rand() % 12) {
	case 0:
		c.opcode = rand() % 2 ? (__u32)(rand() % 10) : (__u32)rand();
		break;
	case 1:
		c.flags = rand() % 2 ? 1u << (rand() % 32) : (__u32)rand();
		break;
	case 2:
	case 3:
		c.dst = v;
		break;
	case 4:
	case 5:
		c.src = v;
		break;
	case 6:
		c.size = v;
		break;
	case 7:
		c.width = v;
		break;
	case 8:
		c.height = v;
		break;
	case 9:
		c.dst_pitch = v;
		break;
	case 10:
		c.src_pitch = v;
		break;
	default:
		c.reserved[rand() % 3] = rand() | 1;
		break;
	}
	return c;
}

/* The neighbour on the same GPU, kept open by a child (single usage). */
static int fuzz_neighbour(const char *uuid, int ready, int done)
{
	struct vfio_client v;
	__u32 words[PAGE / 4];
	unsigned int i, page;
	char c;

	vfio_client_init(&v);
	if (vfio_client_open(&v, uuid))
		return 2;
	for (i = 0; i < PAGE / 4; i++)
		words[i] = FUZZ_CANARY + i;
	/* three pages spread over its VRAM */
	for (page = 0; page < 3; page++)
		if (vram_write(v.device, (__u64)page * (8 * MiB - PAGE) * 4,
			       words, PAGE))
			return 2;
	if (write(ready, "r", 1) != 1 || read(done, &c, 1) != 1)
		return 2;
	for (page = 0; page < 3; page++) {
		memset(words, 0, PAGE);
		if (vram_read(v.device, (__u64)page * (8 * MiB - PAGE) * 4,
			      words, PAGE))
			return 2;
		for (i = 0; i < PAGE / 4; i++)
			if (words[i] != FUZZ_CANARY + i)
				return 1;
	}
	vfio_client_close(&v);
	return 0;
}

/*
 * Random commands, most of them bad: the engine only ever reports a
 * documented status, HEAD never passes TAIL, a reset always recovers it,
 * and the neighbour instance on the same GPU keeps its VRAM.
 */
TEST_F(engine, fuzz_ring)
{
	char neighbour[UUID_STR_LEN], c;
	int ready[2], done[2], status;
	unsigned int seed = time(NULL), batch, i, errors = 0;
	struct mgpu_cmd cmds[FUZZ_BATCH];
	/* static: not clobbered by the harness's longjmp */
	static pid_t pid;

	if (_metadata->skip)
		return;
	TH_LOG("seed %u", seed);
	srand(seed);
	/* a full instance has the GPU to itself: no neighbour then */
	if (variant->type != MGPU_FULL) {
		uuid_gen(neighbour);
		ASSERT_EQ(0, mgpu_create(variant->gpu, MGPU_EIGHTH, neighbour));
		ASSERT_EQ(0, pipe(ready));
		ASSERT_EQ(0, pipe(done));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(fuzz_neighbour(neighbour, ready[1], done[0]));
		ASSERT_EQ(1, read(ready[0], &c, 1));
	}
	ASSERT_EQ(0, guest_ram_map(&self->ram, self->v.container, IOVA,
				   FUZZ_RAM));

	for (batch = 0; batch < FUZZ_BATCHES; batch++) {
		long st, head, tail;

		for (i = 0; i < FUZZ_BATCH; i++)
			cmds[i] = fuzz_cmd(self->vram);
		ASSERT_EQ(0, eng_submit(&self->e, cmds, FUZZ_BATCH));
		st = eng_wait_idle(&self->e, IDLE_MS);
		ASSERT_LE(0, st);
		ASSERT_GE(MGPU_ENG_ERR_OVERFLOW, st) TH_LOG("batch %u", batch);
		head = reg(self, MGPU_ENG_RING_HEAD);
		tail = reg(self, MGPU_ENG_RING_TAIL);
		ASSERT_LE(0, (__s32)((__u32)tail - (__u32)head));
		if (st) {
			errors++;
			ASSERT_EQ(head, reg(self, MGPU_ENG_ERROR_CMD));
			ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL,
						 MGPU_ENG_CTRL_RESET));
			ASSERT_EQ(0, reg(self, MGPU_ENG_STATUS));
		}
	}
	TH_LOG("%u of %u batches stopped on an error, %ld commands completed",
	       errors, FUZZ_BATCHES, reg(self, MGPU_ENG_COMPLETED));
	EXPECT_LT(0u, errors);
	EXPECT_LT(FUZZ_BATCHES, reg(self, MGPU_ENG_COMPLETED));
	/* still a working engine */
	EXPECT_EQ(0, run1(self, cmd_fill(DATA, 4, 0x600d)));
	EXPECT_EQ(0x600d, vram_word(self->dev, DATA));

	if (variant->type == MGPU_FULL)
		return;
	ASSERT_EQ(1, write(done[1], "d", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the neighbour's VRAM changed");
	EXPECT_EQ(0, mgpu_remove(neighbour, REMOVE_MS));
}

/* ---- weight and engine time ----------------------------------------------------- */

TEST_F(engine, weight_file)
{
	char path[256];
	long long before;

	if (_metadata->skip)
		return;
	EXPECT_EQ(1, eng_weight_get(self->uuid));
	EXPECT_EQ(0, eng_weight_set(self->uuid, 5));
	EXPECT_EQ(5, eng_weight_get(self->uuid));
	EXPECT_EQ(0, eng_weight_set(self->uuid, 1000));
	EXPECT_EQ(-EINVAL, eng_weight_set(self->uuid, 0));
	EXPECT_EQ(-EINVAL, eng_weight_set(self->uuid, 1001));
	snprintf(path, sizeof(path), MDEV_BUS_DEVICES "/%s/weight", self->uuid);
	EXPECT_EQ(-EINVAL, sysfs_write(path, "abc", 3));
	EXPECT_EQ(-EINVAL, sysfs_write(path, "-1", 2));
	EXPECT_EQ(1000, eng_weight_get(self->uuid));
	snprintf(path, sizeof(path), MDEV_BUS_DEVICES "/%s/engine_time_ns",
		 self->uuid);
	EXPECT_EQ(0444, file_mode(path));
	/* Engine time grows with work, and only then. */
	before = eng_time_ns(self->uuid);
	ASSERT_LE(0, before);
	usleep(20000);
	EXPECT_EQ(before, eng_time_ns(self->uuid));
	ASSERT_EQ(0, run1(self, cmd_fill(DATA, 8 * MiB, 3)));
	EXPECT_LT(before, eng_time_ns(self->uuid));
	/* A reset keeps the weight (the host's setting). */
	ASSERT_EQ(0, vfio_device_reset(self->dev));
	EXPECT_EQ(1000, eng_weight_get(self->uuid));
}

/* ---- fairness ------------------------------------------------------------------- */

#define FAIR_MAX	3
#define FAIR_WARMUP_MS	500
#define FAIR_MEASURE_MS	3000
/* Each share within 5 % of its weight's share. */
#define FAIR_TOLERANCE	0.05

/*
 * Fractional instances are single-usage: one process per instance.  Each
 * child keeps its instance's ring full from before @warm to after @end and
 * exits 0 if the ring never ran dry in between, 1 if it did, 2 on errors.
 */
FIXTURE(fair) {
	char uuid[FAIR_MAX][UUID_STR_LEN];
	unsigned int n;
};

FIXTURE_VARIANT(fair) {
	unsigned int n;
	unsigned int weight[FAIR_MAX];
	/* bytes per FILL: a flooder with big commands gets only its share */
	__u32 fill[FAIR_MAX];
	/* if set, the weights written while the rings stay full, measured again */
	unsigned int later[FAIR_MAX];
};

FIXTURE_VARIANT_ADD(fair, w1_1) {
	.n = 2, .weight = { 1, 1 }, .fill = { 256 << 10, 256 << 10 },
};

FIXTURE_VARIANT_ADD(fair, w1_2_4) {
	.n = 3, .weight = { 1, 2, 4 },
	.fill = { 256 << 10, 256 << 10, 256 << 10 },
};

/* The weight-8 instance floods with commands 64 times bigger. */
FIXTURE_VARIANT_ADD(fair, w1_8_flood) {
	.n = 2, .weight = { 1, 8 }, .fill = { 64 << 10, 4 << 20 },
};

/* The weights change at run time, under saturation: 1:1, then 4:1. */
FIXTURE_VARIANT_ADD(fair, w1_1_then_4_1) {
	.n = 2, .weight = { 1, 1 }, .fill = { 256 << 10, 256 << 10 },
	.later = { 4, 1 },
};

FIXTURE_SETUP(fair)
{
	unsigned int i;

	for (i = 0; i < FAIR_MAX; i++)
		self->uuid[i][0] = 0;
	self->n = variant->n;
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	for (i = 0; i < self->n; i++) {
		uuid_gen(self->uuid[i]);
		ASSERT_EQ(0, mgpu_create(0, MGPU_EIGHTH, self->uuid[i]));
		ASSERT_EQ(0, eng_weight_set(self->uuid[i], variant->weight[i]));
	}
}

FIXTURE_TEARDOWN(fair)
{
	unsigned int i;

	for (i = 0; i < FAIR_MAX; i++)
		if (self->uuid[i][0] && mdev_exists(self->uuid[i]))
			EXPECT_EQ(0, mgpu_remove(self->uuid[i], REMOVE_MS));
}

static int fair_child(const char *uuid, __u32 fill, long long warm,
		      long long end)
{
	static struct mgpu_cmd cmds[RING_ENTRIES];
	struct vfio_client v;
	bool dry = false;
	struct eng e;
	unsigned int i;

	vfio_client_init(&v);
	if (vfio_client_open(&v, uuid) ||
	    eng_init(&e, v.device, RING_BASE, RING_ENTRIES))
		return 2;
	for (i = 0; i < RING_ENTRIES; i++)
		cmds[i] = cmd_fill(DATA, fill, i);
	while (now_ms() < end + 200) {
		long room = eng_room(&e);
		long long t = now_ms();

		if (room < 0 || (room > 0 && eng_submit(&e, cmds, room)))
			return 2;
		if (room == RING_ENTRIES && t >= warm && t <= end)
			dry = true;
		usleep(5000);
	}
	eng_reg_set(v.device, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET);
	vfio_client_close(&v);
	return dry;
}

static void sleep_until(long long t)
{
	long long left;

	while ((left = t - now_ms()) > 0)
		usleep(left * 1000);
}

/* Engine time each instance used from now until @end. */
static void measure(const struct _test_data_fair *self, long long end,
		    long long *used)
{
	long long t0[FAIR_MAX];
	unsigned int i;

	for (i = 0; i < self->n; i++)
		t0[i] = eng_time_ns(self->uuid[i]);
	sleep_until(end);
	for (i = 0; i < self->n; i++)
		used[i] = eng_time_ns(self->uuid[i]) - t0[i];
}

static void check_shares(struct __test_metadata *_metadata, unsigned int n,
			 const unsigned int *weight, const long long *used)
{
	long long total = 0;
	unsigned int i, wsum = 0;

	for (i = 0; i < n; i++) {
		wsum += weight[i];
		total += used[i];
	}
	ASSERT_LT(0, total);
	for (i = 0; i < n; i++) {
		double want = (double)weight[i] / wsum;
		double got = (double)used[i] / total;

		TH_LOG("weight %u: share %.4f, expected %.4f (%lld ns)",
		       weight[i], got, want, used[i]);
		EXPECT_GE(got, want * (1 - FAIR_TOLERANCE));
		EXPECT_LE(got, want * (1 + FAIR_TOLERANCE));
	}
}

TEST_F(fair, shares_follow_weights)
{
	long long first[FAIR_MAX], second[FAIR_MAX], warm, end, end2;
	bool change = variant->later[0];
	pid_t pid[FAIR_MAX];
	unsigned int i;
	int status;

	if (_metadata->skip)
		return;
	warm = now_ms() + FAIR_WARMUP_MS;
	end = warm + FAIR_MEASURE_MS;
	/* a second window, after the change has had a warm-up of its own */
	end2 = change ? end + FAIR_WARMUP_MS + FAIR_MEASURE_MS : end;
	for (i = 0; i < self->n; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (!pid[i])
			_exit(fair_child(self->uuid[i], variant->fill[i], warm,
					 end2));
	}
	sleep_until(warm);
	measure(self, end, first);
	if (change) {
		for (i = 0; i < self->n; i++)
			EXPECT_EQ(0, eng_weight_set(self->uuid[i],
						    variant->later[i]));
		sleep_until(end + FAIR_WARMUP_MS);
		measure(self, end2, second);
	}
	for (i = 0; i < self->n; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status))
			TH_LOG("instance %u: %s", i, WEXITSTATUS(status) == 1 ?
			       "its ring ran dry: shares mean nothing" :
			       "could not drive its engine");
	}
	check_shares(_metadata, self->n, variant->weight, first);
	if (change) {
		TH_LOG("after the weights changed:");
		check_shares(_metadata, self->n, variant->later, second);
	}
}

int main(int argc, char **argv)
{
	mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	return test_harness_run(argc, argv);
}
