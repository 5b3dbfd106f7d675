/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * mgpu_engine_abi.h - the guest-visible ABI of the mgpu compute engine: its
 * registers in BAR2, the command ring's layout, the commands, the error
 * codes and the interrupt causes.  Shared by the driver and by user-space
 * clients (tools/mgpu/, the selftests), so it only uses uapi types.
 *
 * Documentation/driver-api/mgpu.rst ("The engine") describes the semantics.
 */

#ifndef MGPU_ENGINE_ABI_H
#define MGPU_ENGINE_ABI_H

#include <linux/types.h>

/* ---- registers: 32 bits each, 32-bit accesses, offsets in BAR2 ---------- */
#define MGPU_MMIO_ENGINE	0x900
#define MGPU_ENG_RING_BASE	0x00	/* rw: VRAM offset of the ring */
#define MGPU_ENG_RING_SIZE	0x04	/* rw: ring bytes, a power of two */
#define MGPU_ENG_RING_HEAD	0x08	/* ro: commands consumed (free-running) */
#define MGPU_ENG_RING_TAIL	0x0c	/* rw: commands written (free-running) */
#define MGPU_ENG_DOORBELL	0x10	/* wo: run the ring up to TAIL */
#define MGPU_ENG_STATUS		0x14	/* ro: MGPU_ENG_ERR_* and BUSY */
#define MGPU_ENG_ERROR_CMD	0x18	/* ro: HEAD of the failed command */
#define MGPU_ENG_FENCE		0x1c	/* ro: seqno of the last FENCE run */
#define MGPU_ENG_CONTROL	0x20	/* wo: MGPU_ENG_CTRL_* */
#define MGPU_ENG_COMPLETED	0x24	/* ro: commands completed (wraps) */
#define MGPU_ENG_REGS_SIZE	0x28

/* MGPU_ENG_STATUS: the error code in bits 7:0, BUSY while commands wait */
#define MGPU_ENG_STATUS_ERROR	0x000000ffU
#define MGPU_ENG_STATUS_BUSY	0x80000000U

/* MGPU_ENG_CONTROL */
#define MGPU_ENG_CTRL_RESET	0x1	/* clear the error, drop what waits */

/* The ring: a power of two of commands, each MGPU_CMD_SIZE bytes. */
#define MGPU_RING_MIN		0x40		/* one command */
#define MGPU_RING_MAX		0x100000	/* 16384 commands */

/* ---- commands ------------------------------------------------------------ */
enum mgpu_cmd_opcode {
	MGPU_CMD_NOP = 1,
	MGPU_CMD_FILL = 2,		/* dst, size, value: 32-bit pattern */
	MGPU_CMD_COPY = 3,		/* dst, src, size: within VRAM */
	MGPU_CMD_BLIT = 4,		/* dst, src, width, height, pitches */
	MGPU_CMD_COPY_FROM_RAM = 5,	/* dst VRAM, src IOVA, size */
	MGPU_CMD_COPY_TO_RAM = 6,	/* dst IOVA, src VRAM, size */
	MGPU_CMD_FENCE = 7,		/* value: seqno; flags; dst */
};

/* FENCE flags */
#define MGPU_FENCE_WRITE	0x1	/* also store the seqno at dst in VRAM */
#define MGPU_FENCE_IRQ		0x2	/* raise MGPU_IRQ_FENCE */

/* The largest number of bytes one command may move or fill. */
#define MGPU_CMD_MAX_BYTES	0x1000000	/* 16 MiB */

/**
 * struct mgpu_cmd - one command in the ring, little-endian
 * @opcode: enum mgpu_cmd_opcode
 * @flags: FENCE: MGPU_FENCE_*; 0 for the others
 * @dst: destination: a VRAM offset, or an IOVA for COPY_TO_RAM
 * @src: source: a VRAM offset, or an IOVA for COPY_FROM_RAM
 * @size: bytes for FILL and the COPYs (FILL: a multiple of 4, @dst too)
 * @width: BLIT: bytes per row
 * @height: BLIT: rows
 * @dst_pitch: BLIT: bytes from one destination row to the next
 * @src_pitch: BLIT: bytes from one source row to the next
 * @value: FILL: the 32-bit pattern; FENCE: the seqno
 * @reserved: must be 0
 */
struct mgpu_cmd {
	__u32 opcode;
	__u32 flags;
	__u64 dst;
	__u64 src;
	__u64 size;
	__u32 width;
	__u32 height;
	__u32 dst_pitch;
	__u32 src_pitch;
	__u32 value;
	__u32 reserved[3];
};

#define MGPU_CMD_SIZE		64

/* ---- MGPU_ENG_STATUS error codes ------------------------------------------ */
enum mgpu_eng_error {
	MGPU_ENG_ERR_NONE = 0,
	MGPU_ENG_ERR_OPCODE = 1,	/* unknown opcode */
	MGPU_ENG_ERR_RESERVED = 2,	/* unknown flags or reserved bits */
	MGPU_ENG_ERR_SIZE = 3,		/* 0, or more than MGPU_CMD_MAX_BYTES */
	MGPU_ENG_ERR_ALIGN = 4,		/* FILL or FENCE address not 4-aligned */
	MGPU_ENG_ERR_RANGE = 5,		/* outside the instance's VRAM */
	MGPU_ENG_ERR_OVERLAP = 6,	/* source and destination overlap */
	MGPU_ENG_ERR_IOVA = 7,		/* guest RAM not mapped */
	MGPU_ENG_ERR_RING = 8,		/* bad RING_BASE or RING_SIZE */
	MGPU_ENG_ERR_OVERFLOW = 9,	/* TAIL more than a ring ahead of HEAD */
};

/* ---- interrupt causes in MGPU_CTRL_IRQ_STATUS ------------------------------ */
#define MGPU_IRQ_FENCE		0x1	/* a FENCE with MGPU_FENCE_IRQ ran */
#define MGPU_IRQ_ENGINE_ERROR	0x2	/* the engine stopped on an error */

#endif /* MGPU_ENGINE_ABI_H */
