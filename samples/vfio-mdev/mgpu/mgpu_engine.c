// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_engine.c - the compute engine of an mgpu instance: its register
 * block in BAR2, and the decoding, validation and execution of the commands
 * a guest puts in its ring (the ABI is mgpu_engine_abi.h).
 *
 * The guest writes commands into a ring in its own VRAM, advances TAIL and
 * writes DOORBELL.  The GPU's scheduler (mgpu_sched.c) then calls
 * mgpu_engine_run() for slices of commands.  Every command is checked
 * against the instance's own VRAM before it runs; guest RAM is reached only
 * through vfio_dma_rw(), which looks every IOVA up in the container under
 * the IOMMU driver's lock, so an instance can reach neither another
 * instance's memory nor unmapped IOVAs.  A bad command stops the engine with
 * an error code in STATUS and its HEAD in ERROR_CMD, and raises
 * MGPU_IRQ_ENGINE_ERROR; it never touches memory.
 *
 * Locking: the registers are under mgpu_device.lock; commands run without
 * it (they may sleep in vfio_dma_rw() and take long), inside the
 * scheduler's exec_lock.  A command's completion is recorded only if no
 * reset happened while it ran (@epoch).
 */

#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/vfio.h>

#include "mgpu.h"

/* The most commands one slice runs, whatever the time they take. */
#define MGPU_SLICE_CMDS		64

static_assert(sizeof(struct mgpu_cmd) == MGPU_CMD_SIZE);

static u32 mgpu_ring_entries(const struct mgpu_engine *eng)
{
	return eng->ring_size / MGPU_CMD_SIZE;
}

static bool mgpu_vram_range_ok(const struct mgpu_device *mgpu, u64 off,
			       u64 len)
{
	return off < mgpu->vram_size && len <= mgpu->vram_size - off;
}

static bool mgpu_ranges_overlap(u64 a, u64 alen, u64 b, u64 blen)
{
	return a < b + blen && b < a + alen;
}

static bool mgpu_ring_ok(const struct mgpu_device *mgpu, u32 base, u32 size)
{
	return is_power_of_2(size) && size >= MGPU_RING_MIN &&
	       size <= MGPU_RING_MAX && IS_ALIGNED(base, MGPU_CMD_SIZE) &&
	       mgpu_vram_range_ok(mgpu, base, size);
}

/* ---- registers ------------------------------------------------------------ */

/* Stop on @error at the command at HEAD and tell the guest. */
static void mgpu_engine_fail(struct mgpu_device *mgpu, u32 error)
{
	struct mgpu_engine *eng = &mgpu->engine;

	lockdep_assert_held(&mgpu->lock);
	eng->error = error;
	eng->error_cmd = eng->head;
	mgpu_regs_raise(mgpu, MGPU_IRQ_ENGINE_ERROR);
}

static bool mgpu_engine_busy(const struct mgpu_engine *eng)
{
	return !eng->error && eng->head != eng->submitted;
}

static void mgpu_engine_doorbell(struct mgpu_device *mgpu)
{
	struct mgpu_engine *eng = &mgpu->engine;

	if (eng->error)
		return;		/* stopped until CONTROL resets it */
	if (!mgpu_ring_ok(mgpu, eng->ring_base, eng->ring_size)) {
		mgpu_engine_fail(mgpu, MGPU_ENG_ERR_RING);
		return;
	}
	if (eng->tail - eng->head > mgpu_ring_entries(eng)) {
		mgpu_engine_fail(mgpu, MGPU_ENG_ERR_OVERFLOW);
		return;
	}
	eng->submitted = eng->tail;
	if (mgpu_engine_busy(eng))
		mgpu_sched_kick(mgpu);
}

/* Drops what waits; a command in flight finishes but is not recorded. */
static void mgpu_engine_control(struct mgpu_device *mgpu, u32 val)
{
	struct mgpu_engine *eng = &mgpu->engine;

	if (!(val & MGPU_ENG_CTRL_RESET))
		return;
	eng->error = MGPU_ENG_ERR_NONE;
	eng->error_cmd = 0;
	eng->head = eng->tail;
	eng->submitted = eng->tail;
	eng->epoch++;
}

/**
 * mgpu_engine_reg_read() - read an engine register
 * @mgpu: the instance
 * @off: offset in the engine block, a multiple of 4
 *
 * Context: mgpu->lock held.
 * Return: the register's value; 0 for write-only ones.
 */
u32 mgpu_engine_reg_read(struct mgpu_device *mgpu, u32 off)
{
	struct mgpu_engine *eng = &mgpu->engine;

	lockdep_assert_held(&mgpu->lock);
	switch (off) {
	case MGPU_ENG_RING_BASE:
		return eng->ring_base;
	case MGPU_ENG_RING_SIZE:
		return eng->ring_size;
	case MGPU_ENG_RING_HEAD:
		return eng->head;
	case MGPU_ENG_RING_TAIL:
		return eng->tail;
	case MGPU_ENG_STATUS:
		return eng->error |
		       (mgpu_engine_busy(eng) ? MGPU_ENG_STATUS_BUSY : 0);
	case MGPU_ENG_ERROR_CMD:
		return eng->error_cmd;
	case MGPU_ENG_FENCE:
		return eng->fence;
	case MGPU_ENG_COMPLETED:
		return eng->completed;
	default:
		return 0;
	}
}

/**
 * mgpu_engine_reg_write() - write an engine register
 * @mgpu: the instance
 * @off: offset in the engine block, a multiple of 4
 * @val: the value
 *
 * The ring's base and size are taken only while the engine is idle (no
 * command waits): moving a ring under the engine's feet is ignored.
 *
 * Context: mgpu->lock held.
 */
void mgpu_engine_reg_write(struct mgpu_device *mgpu, u32 off, u32 val)
{
	struct mgpu_engine *eng = &mgpu->engine;

	lockdep_assert_held(&mgpu->lock);
	switch (off) {
	case MGPU_ENG_RING_BASE:
		if (!mgpu_engine_busy(eng))
			eng->ring_base = val;
		break;
	case MGPU_ENG_RING_SIZE:
		if (!mgpu_engine_busy(eng))
			eng->ring_size = val;
		break;
	case MGPU_ENG_RING_TAIL:
		eng->tail = val;
		break;
	case MGPU_ENG_DOORBELL:
		mgpu_engine_doorbell(mgpu);
		break;
	case MGPU_ENG_CONTROL:
		mgpu_engine_control(mgpu, val);
		break;
	default:
		break;		/* read-only */
	}
}

/* ---- VRAM access from the engine (kernel buffers) ------------------------ */

static size_t mgpu_page_left(u64 pos)
{
	return PAGE_SIZE - offset_in_page(pos);
}

static int mgpu_eng_vram_read(struct mgpu_device *mgpu, u64 pos, void *buf,
			      size_t len)
{
	size_t done = 0;

	while (done < len) {
		size_t n = min_t(size_t, len - done, mgpu_page_left(pos + done));
		void *vaddr = mgpu_vram_map(mgpu, (pos + done) >> PAGE_SHIFT);

		if (vaddr) {
			memcpy(buf + done, vaddr + offset_in_page(pos + done), n);
			mgpu_vram_unmap(mgpu, vaddr);
		} else {
			memset(buf + done, 0, n);
		}
		done += n;
	}
	return 0;
}

/* Maps the page of @pos, touching it first: NULL if memory ran out. */
static void *mgpu_eng_vram_get(struct mgpu_device *mgpu, u64 pos)
{
	if (mgpu_vram_touch(mgpu, pos >> PAGE_SHIFT))
		return NULL;
	return mgpu_vram_map(mgpu, pos >> PAGE_SHIFT);
}

/* ---- commands ------------------------------------------------------------- */

/**
 * struct mgpu_cmd_desc - how one opcode is checked and run
 * @flags: the flags it takes
 * @check: the MGPU_ENG_ERR_* of a command that must not run, or 0
 * @exec: runs a checked command: 0 or an MGPU_ENG_ERR_* it found while
 *	running (guest RAM that went away, memory that ran out)
 * @dma: whether it reaches guest RAM (see mgpu_cmd_dma_range())
 */
struct mgpu_cmd_desc {
	u32 flags;
	u32 (*check)(const struct mgpu_device *mgpu, const struct mgpu_cmd *cmd);
	u32 (*exec)(struct mgpu_device *mgpu, const struct mgpu_cmd *cmd);
	bool dma;
};

static u32 mgpu_check_size(u64 size)
{
	return size && size <= MGPU_CMD_MAX_BYTES ? 0 : MGPU_ENG_ERR_SIZE;
}

static u32 mgpu_check_none(const struct mgpu_device *mgpu,
			   const struct mgpu_cmd *cmd)
{
	return 0;
}

static u32 mgpu_exec_none(struct mgpu_device *mgpu, const struct mgpu_cmd *cmd)
{
	return 0;
}

static u32 mgpu_check_fill(const struct mgpu_device *mgpu,
			   const struct mgpu_cmd *cmd)
{
	if (mgpu_check_size(cmd->size))
		return MGPU_ENG_ERR_SIZE;
	if (!IS_ALIGNED(cmd->dst, 4) || !IS_ALIGNED(cmd->size, 4))
		return MGPU_ENG_ERR_ALIGN;
	if (!mgpu_vram_range_ok(mgpu, cmd->dst, cmd->size))
		return MGPU_ENG_ERR_RANGE;
	return 0;
}

static u32 mgpu_exec_fill(struct mgpu_device *mgpu, const struct mgpu_cmd *cmd)
{
	u64 done = 0;

	while (done < cmd->size) {
		u64 pos = cmd->dst + done;
		size_t n = min_t(u64, cmd->size - done, mgpu_page_left(pos));
		void *vaddr = mgpu_eng_vram_get(mgpu, pos);

		if (!vaddr)
			return MGPU_ENG_ERR_RANGE;
		memset32(vaddr + offset_in_page(pos), cmd->value, n / 4);
		mgpu_vram_unmap(mgpu, vaddr);
		done += n;
		cond_resched();
	}
	return 0;
}

/* VRAM to VRAM, the ranges checked and apart; untouched source reads 0. */
static u32 mgpu_vram_copy(struct mgpu_device *mgpu, u64 dst, u64 src, u64 len)
{
	u64 done = 0;

	while (done < len) {
		size_t n = min3(len - done, (u64)mgpu_page_left(src + done),
				(u64)mgpu_page_left(dst + done));
		void *s = mgpu_vram_map(mgpu, (src + done) >> PAGE_SHIFT);
		void *d = mgpu_eng_vram_get(mgpu, dst + done);

		if (d) {
			void *to = d + offset_in_page(dst + done);

			if (s)
				memcpy(to, s + offset_in_page(src + done), n);
			else
				memset(to, 0, n);
			mgpu_vram_unmap(mgpu, d);
		}
		if (s)
			mgpu_vram_unmap(mgpu, s);
		if (!d)
			return MGPU_ENG_ERR_RANGE;
		done += n;
		cond_resched();
	}
	return 0;
}

static u32 mgpu_check_copy(const struct mgpu_device *mgpu,
			   const struct mgpu_cmd *cmd)
{
	if (mgpu_check_size(cmd->size))
		return MGPU_ENG_ERR_SIZE;
	if (!mgpu_vram_range_ok(mgpu, cmd->dst, cmd->size) ||
	    !mgpu_vram_range_ok(mgpu, cmd->src, cmd->size))
		return MGPU_ENG_ERR_RANGE;
	if (mgpu_ranges_overlap(cmd->dst, cmd->size, cmd->src, cmd->size))
		return MGPU_ENG_ERR_OVERLAP;
	return 0;
}

static u32 mgpu_exec_copy(struct mgpu_device *mgpu, const struct mgpu_cmd *cmd)
{
	return mgpu_vram_copy(mgpu, cmd->dst, cmd->src, cmd->size);
}

/* The bytes a rectangle of @height rows of @width, @pitch apart, spans. */
static u64 mgpu_blit_span(const struct mgpu_cmd *cmd, u32 pitch)
{
	return (u64)(cmd->height - 1) * pitch + cmd->width;
}

/*
 * Destination rows must not overlap each other, and the spans of the two
 * rectangles must be apart (a conservative rule: interleaved but disjoint
 * rectangles are refused too).  Source rows may overlap: a source pitch of
 * 0 repeats one row, which is how a guest paints a rectangle.
 */
static u32 mgpu_check_blit(const struct mgpu_device *mgpu,
			   const struct mgpu_cmd *cmd)
{
	u64 dspan, sspan;

	if (!cmd->width || !cmd->height ||
	    mgpu_check_size((u64)cmd->width * cmd->height))
		return MGPU_ENG_ERR_SIZE;
	if (cmd->height > 1 && cmd->dst_pitch < cmd->width)
		return MGPU_ENG_ERR_OVERLAP;
	dspan = mgpu_blit_span(cmd, cmd->dst_pitch);
	sspan = mgpu_blit_span(cmd, cmd->src_pitch);
	if (!mgpu_vram_range_ok(mgpu, cmd->dst, dspan) ||
	    !mgpu_vram_range_ok(mgpu, cmd->src, sspan))
		return MGPU_ENG_ERR_RANGE;
	if (mgpu_ranges_overlap(cmd->dst, dspan, cmd->src, sspan))
		return MGPU_ENG_ERR_OVERLAP;
	return 0;
}

static u32 mgpu_exec_blit(struct mgpu_device *mgpu, const struct mgpu_cmd *cmd)
{
	u32 row, ret;

	for (row = 0; row < cmd->height; row++) {
		ret = mgpu_vram_copy(mgpu, cmd->dst + (u64)row * cmd->dst_pitch,
				     cmd->src + (u64)row * cmd->src_pitch,
				     cmd->width);
		if (ret)
			return ret;
	}
	return 0;
}

static bool mgpu_iova_range_ok(u64 iova, u64 len)
{
	u64 end;

	return !check_add_overflow(iova, len, &end);
}

static u32 mgpu_check_from_ram(const struct mgpu_device *mgpu,
			       const struct mgpu_cmd *cmd)
{
	if (mgpu_check_size(cmd->size))
		return MGPU_ENG_ERR_SIZE;
	if (!mgpu_vram_range_ok(mgpu, cmd->dst, cmd->size))
		return MGPU_ENG_ERR_RANGE;
	if (!mgpu_iova_range_ok(cmd->src, cmd->size))
		return MGPU_ENG_ERR_IOVA;
	return 0;
}

/*
 * Guest RAM into VRAM a VRAM page at a time, straight into the page (a
 * kmap_local mapping may sleep).  vfio_dma_rw() fails for IOVAs that are
 * not mapped in the container, also when they are unmapped in the middle.
 */
static u32 mgpu_exec_from_ram(struct mgpu_device *mgpu,
			      const struct mgpu_cmd *cmd)
{
	u64 done = 0;
	int ret;

	while (done < cmd->size) {
		u64 pos = cmd->dst + done;
		size_t n = min_t(u64, cmd->size - done, mgpu_page_left(pos));
		void *vaddr = mgpu_eng_vram_get(mgpu, pos);

		if (!vaddr)
			return MGPU_ENG_ERR_RANGE;
		ret = vfio_dma_rw(&mgpu->vdev, cmd->src + done,
				  vaddr + offset_in_page(pos), n, false);
		mgpu_vram_unmap(mgpu, vaddr);
		if (ret)
			return MGPU_ENG_ERR_IOVA;
		done += n;
		cond_resched();
	}
	return 0;
}

static u32 mgpu_check_to_ram(const struct mgpu_device *mgpu,
			     const struct mgpu_cmd *cmd)
{
	if (mgpu_check_size(cmd->size))
		return MGPU_ENG_ERR_SIZE;
	if (!mgpu_vram_range_ok(mgpu, cmd->src, cmd->size))
		return MGPU_ENG_ERR_RANGE;
	if (!mgpu_iova_range_ok(cmd->dst, cmd->size))
		return MGPU_ENG_ERR_IOVA;
	return 0;
}

static u32 mgpu_exec_to_ram(struct mgpu_device *mgpu, const struct mgpu_cmd *cmd)
{
	u64 done = 0;
	int ret;

	while (done < cmd->size) {
		u64 pos = cmd->src + done;
		size_t n = min_t(u64, cmd->size - done, mgpu_page_left(pos));
		void *vaddr = mgpu_vram_map(mgpu, pos >> PAGE_SHIFT);
		void *from = vaddr ? vaddr + offset_in_page(pos) :
				     page_address(ZERO_PAGE(0));

		ret = vfio_dma_rw(&mgpu->vdev, cmd->dst + done, from, n, true);
		if (vaddr)
			mgpu_vram_unmap(mgpu, vaddr);
		if (ret)
			return MGPU_ENG_ERR_IOVA;
		done += n;
		cond_resched();
	}
	return 0;
}

static u32 mgpu_check_fence(const struct mgpu_device *mgpu,
			    const struct mgpu_cmd *cmd)
{
	if (!(cmd->flags & MGPU_FENCE_WRITE))
		return 0;
	if (!IS_ALIGNED(cmd->dst, 4))
		return MGPU_ENG_ERR_ALIGN;
	if (!mgpu_vram_range_ok(mgpu, cmd->dst, sizeof(u32)))
		return MGPU_ENG_ERR_RANGE;
	return 0;
}

/* The seqno in VRAM; FENCE register and interrupt at completion. */
static u32 mgpu_exec_fence(struct mgpu_device *mgpu, const struct mgpu_cmd *cmd)
{
	void *vaddr;

	if (!(cmd->flags & MGPU_FENCE_WRITE))
		return 0;
	vaddr = mgpu_eng_vram_get(mgpu, cmd->dst);
	if (!vaddr)
		return MGPU_ENG_ERR_RANGE;
	put_unaligned_le32(cmd->value, vaddr + offset_in_page(cmd->dst));
	mgpu_vram_unmap(mgpu, vaddr);
	return 0;
}

static const struct mgpu_cmd_desc mgpu_cmd_descs[] = {
	[MGPU_CMD_NOP] = { 0, mgpu_check_none, mgpu_exec_none },
	[MGPU_CMD_FILL] = { 0, mgpu_check_fill, mgpu_exec_fill },
	[MGPU_CMD_COPY] = { 0, mgpu_check_copy, mgpu_exec_copy },
	[MGPU_CMD_BLIT] = { 0, mgpu_check_blit, mgpu_exec_blit },
	[MGPU_CMD_COPY_FROM_RAM] = {
		0, mgpu_check_from_ram, mgpu_exec_from_ram, .dma = true,
	},
	[MGPU_CMD_COPY_TO_RAM] = {
		0, mgpu_check_to_ram, mgpu_exec_to_ram, .dma = true,
	},
	[MGPU_CMD_FENCE] = {
		MGPU_FENCE_WRITE | MGPU_FENCE_IRQ, mgpu_check_fence,
		mgpu_exec_fence,
	},
};

/* The ring slot holds little-endian fields. */
static void mgpu_cmd_decode(struct mgpu_cmd *cmd, const u8 *raw)
{
	unsigned int i;

	cmd->opcode = get_unaligned_le32(raw + offsetof(struct mgpu_cmd, opcode));
	cmd->flags = get_unaligned_le32(raw + offsetof(struct mgpu_cmd, flags));
	cmd->dst = get_unaligned_le64(raw + offsetof(struct mgpu_cmd, dst));
	cmd->src = get_unaligned_le64(raw + offsetof(struct mgpu_cmd, src));
	cmd->size = get_unaligned_le64(raw + offsetof(struct mgpu_cmd, size));
	cmd->width = get_unaligned_le32(raw + offsetof(struct mgpu_cmd, width));
	cmd->height = get_unaligned_le32(raw +
					 offsetof(struct mgpu_cmd, height));
	cmd->dst_pitch = get_unaligned_le32(raw + offsetof(struct mgpu_cmd,
							   dst_pitch));
	cmd->src_pitch = get_unaligned_le32(raw + offsetof(struct mgpu_cmd,
							   src_pitch));
	cmd->value = get_unaligned_le32(raw + offsetof(struct mgpu_cmd, value));
	for (i = 0; i < ARRAY_SIZE(cmd->reserved); i++)
		cmd->reserved[i] = get_unaligned_le32(raw +
			offsetof(struct mgpu_cmd, reserved) + 4 * i);
}

/* The table entry of a command fit to run, or NULL and the error. */
static const struct mgpu_cmd_desc *
mgpu_cmd_validate(const struct mgpu_device *mgpu, const struct mgpu_cmd *cmd,
		  u32 *error)
{
	const struct mgpu_cmd_desc *desc;
	unsigned int i;

	if (cmd->opcode >= ARRAY_SIZE(mgpu_cmd_descs) ||
	    !mgpu_cmd_descs[cmd->opcode].check) {
		*error = MGPU_ENG_ERR_OPCODE;
		return NULL;
	}
	desc = &mgpu_cmd_descs[array_index_nospec(cmd->opcode,
						  ARRAY_SIZE(mgpu_cmd_descs))];
	for (i = 0; i < ARRAY_SIZE(cmd->reserved); i++)
		if (cmd->reserved[i])
			break;
	if (cmd->flags & ~desc->flags || i < ARRAY_SIZE(cmd->reserved)) {
		*error = MGPU_ENG_ERR_RESERVED;
		return NULL;
	}
	*error = desc->check(mgpu, cmd);
	return *error ? NULL : desc;
}

/* The guest RAM a checked command reaches, for mgpu_engine_dma_unmap(). */
static void mgpu_cmd_dma_range(const struct mgpu_cmd *cmd, u64 *iova, u64 *len)
{
	*iova = cmd->opcode == MGPU_CMD_COPY_TO_RAM ? cmd->dst : cmd->src;
	*len = cmd->size;
}

/* Record the end of the command at @head, unless a reset came between. */
static void mgpu_cmd_complete(struct mgpu_device *mgpu,
			      const struct mgpu_cmd *cmd, u32 head, u32 epoch,
			      u32 error)
{
	struct mgpu_engine *eng = &mgpu->engine;

	lockdep_assert_held(&mgpu->lock);
	eng->dma_len = 0;
	if (eng->epoch != epoch || eng->head != head)
		return;
	if (error) {
		mgpu_engine_fail(mgpu, error);
		return;
	}
	eng->head++;
	eng->completed++;
	if (cmd->opcode == MGPU_CMD_FENCE) {
		eng->fence = cmd->value;
		if (cmd->flags & MGPU_FENCE_IRQ)
			mgpu_regs_raise(mgpu, MGPU_IRQ_FENCE);
	}
}

/* Runs the command at HEAD: false when there was none to run. */
static bool mgpu_engine_step(struct mgpu_device *mgpu)
{
	struct mgpu_engine *eng = &mgpu->engine;
	const struct mgpu_cmd_desc *desc;
	u8 raw[MGPU_CMD_SIZE];
	struct mgpu_cmd cmd;
	u32 head, epoch, error;
	u64 slot;

	mutex_lock(&mgpu->lock);
	/*
	 * A device that is not RUNNING (migration) starts no command; what
	 * waits runs at the next doorbell or mgpu_engine_resume().
	 */
	if (!mgpu_engine_busy(eng) || mgpu->irq.stopped) {
		mutex_unlock(&mgpu->lock);
		return false;
	}
	head = eng->head;
	epoch = eng->epoch;
	/* the doorbell checked the ring, which cannot move while busy */
	slot = eng->ring_base +
	       (u64)(head & (mgpu_ring_entries(eng) - 1)) * MGPU_CMD_SIZE;
	mutex_unlock(&mgpu->lock);

	mgpu_eng_vram_read(mgpu, slot, raw, sizeof(raw));
	mgpu_cmd_decode(&cmd, raw);
	desc = mgpu_cmd_validate(mgpu, &cmd, &error);
	if (desc && desc->dma) {
		mutex_lock(&mgpu->lock);
		mgpu_cmd_dma_range(&cmd, &eng->dma_iova, &eng->dma_len);
		mutex_unlock(&mgpu->lock);
	}
	if (desc)
		error = desc->exec(mgpu, &cmd);

	mutex_lock(&mgpu->lock);
	mgpu_cmd_complete(mgpu, &cmd, head, epoch, error);
	mutex_unlock(&mgpu->lock);
	return true;
}

/**
 * mgpu_engine_run() - run a slice of an instance's commands
 * @mgpu: the instance, open
 * @budget_ns: stop after the command that used this much time up
 *
 * Runs commands in ring order until none waits, one fails, MGPU_SLICE_CMDS
 * ran or @budget_ns is used.  A command is never cut: one may take longer
 * than the budget, the scheduler charges what it used.
 *
 * Context: the scheduler's exec_lock held, mgpu->lock not; may sleep.
 * Return: whether commands still wait.
 */
bool mgpu_engine_run(struct mgpu_device *mgpu, u64 budget_ns)
{
	u64 start = ktime_get_ns();
	unsigned int n;
	bool busy;

	for (n = 0; n < MGPU_SLICE_CMDS; n++) {
		if (!mgpu_engine_step(mgpu))
			return false;
		if (ktime_get_ns() - start >= budget_ns)
			break;
	}
	mutex_lock(&mgpu->lock);
	busy = mgpu_engine_busy(&mgpu->engine);
	mutex_unlock(&mgpu->lock);
	return busy;
}

/* ---- life ------------------------------------------------------------------ */

/**
 * mgpu_engine_init() - set up the engine of a new instance
 * @mgpu: the instance, at init_dev, before its registers are reset
 */
void mgpu_engine_init(struct mgpu_device *mgpu)
{
	memset(&mgpu->engine, 0, sizeof(mgpu->engine));
	mgpu_sched_engine_init(mgpu);
}

/**
 * mgpu_engine_fini() - undo mgpu_engine_init()
 * @mgpu: the instance, at remove, after its last close
 *
 * Context: may sleep; mgpu->lock not held.
 */
void mgpu_engine_fini(struct mgpu_device *mgpu)
{
	mgpu_sched_engine_fini(mgpu);
}

/**
 * mgpu_engine_quiesce() - stop the engine between two commands
 * @mgpu: the instance
 *
 * Takes the engine off the GPU's scheduler and waits for the command in
 * flight, if any, to end.  Nothing runs until mgpu_engine_resume(); a
 * doorbell meanwhile is recorded and runs then.
 *
 * Context: may sleep; mgpu->lock not held.
 */
void mgpu_engine_quiesce(struct mgpu_device *mgpu)
{
	mgpu_sched_stop(mgpu);
}

/**
 * mgpu_engine_resume() - undo mgpu_engine_quiesce()
 * @mgpu: the instance
 *
 * Commands that wait run again, from HEAD.
 *
 * Context: mgpu->lock not held.
 */
void mgpu_engine_resume(struct mgpu_device *mgpu)
{
	mgpu_sched_start(mgpu);
}

/**
 * mgpu_engine_reset() - the engine's registers back to power-on
 * @mgpu: the instance, quiesced (or never started)
 *
 * No ring, nothing waits, no error, FENCE and COMPLETED 0.  The weight and
 * the engine time used are the host's, and stay.
 *
 * Context: mgpu->lock held.
 */
void mgpu_engine_reset(struct mgpu_device *mgpu)
{
	struct mgpu_engine *eng = &mgpu->engine;

	lockdep_assert_held(&mgpu->lock);
	eng->ring_base = 0;
	eng->ring_size = 0;
	eng->head = 0;
	eng->tail = 0;
	eng->submitted = 0;
	eng->error = MGPU_ENG_ERR_NONE;
	eng->error_cmd = 0;
	eng->fence = 0;
	eng->completed = 0;
	eng->dma_len = 0;
	eng->epoch++;
}

/**
 * mgpu_engine_save() - the engine state for a migration stream
 * @mgpu: the instance, quiesced
 * @state: filled in
 *
 * Context: may sleep; takes mgpu->lock.
 */
void mgpu_engine_save(struct mgpu_device *mgpu, struct mgpu_engine_state *state)
{
	struct mgpu_engine *eng = &mgpu->engine;

	memset(state, 0, sizeof(*state));
	mutex_lock(&mgpu->lock);
	state->ring_base = cpu_to_le32(eng->ring_base);
	state->ring_size = cpu_to_le32(eng->ring_size);
	state->head = cpu_to_le32(eng->head);
	state->tail = cpu_to_le32(eng->tail);
	state->submitted = cpu_to_le32(eng->submitted);
	state->error = cpu_to_le32(eng->error);
	state->error_cmd = cpu_to_le32(eng->error_cmd);
	state->fence = cpu_to_le32(eng->fence);
	state->completed = cpu_to_le32(eng->completed);
	mutex_unlock(&mgpu->lock);
	state->weight = cpu_to_le32(mgpu_sched_weight(mgpu));
}

/* A state no engine could have reached is refused. */
static bool mgpu_engine_state_ok(const struct mgpu_device *mgpu,
				 const struct mgpu_engine_state *s)
{
	u32 base = le32_to_cpu(s->ring_base), size = le32_to_cpu(s->ring_size);
	u32 head = le32_to_cpu(s->head), submitted = le32_to_cpu(s->submitted);
	u32 weight = le32_to_cpu(s->weight);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(s->reserved); i++)
		if (s->reserved[i])
			return false;
	if (le32_to_cpu(s->error) > MGPU_ENG_ERR_OVERFLOW ||
	    weight < 1 || weight > MGPU_WEIGHT_MAX)
		return false;
	if (head == submitted)
		return true;
	/* commands wait: the ring held them, and still must */
	return mgpu_ring_ok(mgpu, base, size) &&
	       submitted - head <= size / MGPU_CMD_SIZE;
}

/**
 * mgpu_engine_restore() - take the engine state of a migration stream
 * @mgpu: the instance, quiesced
 * @state: what mgpu_engine_save() gave on the source
 *
 * Commands that waited on the source run on this instance once it is
 * resumed, from the saved HEAD, against this instance's VRAM (restored
 * with it).
 *
 * Context: may sleep; takes mgpu->lock.
 * Return: 0, or -EINVAL for a state that no engine can be in (a ring out
 * of this instance's VRAM, an unknown error, a weight out of range, set
 * reserved fields); the engine is unchanged then.
 */
int mgpu_engine_restore(struct mgpu_device *mgpu,
			const struct mgpu_engine_state *state)
{
	struct mgpu_engine *eng = &mgpu->engine;

	if (!mgpu_engine_state_ok(mgpu, state))
		return -EINVAL;
	mutex_lock(&mgpu->lock);
	eng->ring_base = le32_to_cpu(state->ring_base);
	eng->ring_size = le32_to_cpu(state->ring_size);
	eng->head = le32_to_cpu(state->head);
	eng->tail = le32_to_cpu(state->tail);
	eng->submitted = le32_to_cpu(state->submitted);
	eng->error = le32_to_cpu(state->error);
	eng->error_cmd = le32_to_cpu(state->error_cmd);
	eng->fence = le32_to_cpu(state->fence);
	eng->completed = le32_to_cpu(state->completed);
	eng->dma_len = 0;
	eng->epoch++;
	mutex_unlock(&mgpu->lock);
	return mgpu_sched_set_weight(mgpu, le32_to_cpu(state->weight));
}

/**
 * mgpu_engine_dma_unmap() - vfio_device_ops.dma_unmap
 * @vdev: the instance's VFIO device
 * @iova: the first IOVA being unmapped
 * @length: bytes
 *
 * The engine pins no pages: vfio_dma_rw() looks each chunk up under the
 * IOMMU driver's lock, so a chunk after the unmap fails (the command stops
 * with MGPU_ENG_ERR_IOVA) and none touches unmapped memory.  Still, when a
 * command in flight reaches into the range, this waits for it to end, so
 * that once the unmap returns no command uses the range any more.
 */
void mgpu_engine_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length)
{
	struct mgpu_device *mgpu = vdev_to_mgpu(vdev);
	struct mgpu_engine *eng = &mgpu->engine;
	bool in_flight;

	mutex_lock(&mgpu->lock);
	in_flight = eng->dma_len &&
		    mgpu_ranges_overlap(eng->dma_iova, eng->dma_len, iova,
					length);
	mutex_unlock(&mgpu->lock);
	if (in_flight)
		mgpu_sched_sync(mgpu);
}
