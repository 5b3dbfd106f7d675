/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgpu_stream.h - the byte layout of an mgpu migration stream: what
 * mgpu_migration.c produces while saving (PRE_COPY, STOP_COPY) and consumes
 * in RESUMING.  Whether the kernel offers PRE_COPY is <linux/mdev_compat.h>'s
 * business (MDEV_MIG_PRE_COPY).
 *
 * The stream is an ABI between two hosts, which may run different builds of
 * mgpu: every field is little-endian, every structure packed, and reserved
 * fields are 0.  Its layout has a number, MGPU_STREAM_FORMAT, in the header;
 * what a source's state means has another, the GPU's stream_version (the
 * module parameter that is part of the types' version strings).  The magic
 * and the format are the first 12 bytes of every format, so that a target
 * can always tell a stream it cannot parse.
 *
 * A stream is a header, then records, each a struct mgpu_stream_record and
 * its payload (a VRAM record's payload is followed by its check, struct
 * mgpu_stream_run_check), in this order:
 *
 *   CONFIG    config space and the BAR values as the guest wrote them
 *   REGS      the register BAR: dispi, VGA bytes, ENDIAN, IRQ_STATUS,
 *             IRQ_ENABLE, SCRATCH (the EDID is rebuilt from the profile)
 *   IRQ       the INTx mask and the causes already signalled by MSI (the
 *             eventfds are not migrated: the target's user installs its own)
 *   DISPLAY   the plane id counter (the plane itself is in REGS)
 *   ENGINE    the compute engine: ring, HEAD/TAIL, fence, status, weight
 *   VRAM      zero or more: a run of touched VRAM, at most
 *             MGPU_STREAM_RUN_MAX bytes at a 4 KiB-aligned offset, in
 *             increasing offset order without overlap; VRAM not in any
 *             run reads as zeros on the target
 *   END       the last record: no payload, the VRAM bytes sent
 *
 * Every record is checked on its own as it arrives, so that a target needs
 * no more than one record header of buffer however large the VRAM: the
 * header checksum covers the header, the data checksum the payload, the
 * sequence number catches a lost or repeated record.  The checksums are
 * xxh64 (seed 0) of lib/xxhash.c, a portable 64-bit hash (the record
 * header keeps its low 32 bits), except for VRAM payloads: their check is
 * taken while they are copied (mgpu_run_check.c), so it follows the
 * payload, and the record header's data_check is 0.
 *
 * Documentation/driver-api/mgpu.rst has the same as tables.
 */

#ifndef MGPU_STREAM_H
#define MGPU_STREAM_H

#include <linux/build_bug.h>
#include <linux/ioctl.h>
#include <linux/pci_regs.h>
#include <linux/sizes.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "mgpu.h"

#define MGPU_STREAM_MAGIC	"MGPUMIG"	/* and its NUL: 8 bytes */
#define MGPU_STREAM_MAGIC_LEN	8
/* The layout described here. */
#define MGPU_STREAM_FORMAT	3
/* The unit of VRAM offsets and lengths in the stream, whatever the host's. */
#define MGPU_STREAM_PAGE_SIZE	4096
/* The largest VRAM record payload. */
#define MGPU_STREAM_RUN_MAX	SZ_256K

/**
 * struct mgpu_stream_header - the start of a stream
 * @magic: MGPU_STREAM_MAGIC with its NUL
 * @format: MGPU_STREAM_FORMAT
 * @version: the stream version of the GPU that saved it (1-255)
 * @slices: the profile of the source: its slices (1, 2, 4 or 8)
 * @reserved0: 0
 * @vram_size: the VRAM of the source (its BAR0 size) in bytes
 * @reserved: 0
 * @check: xxh64 of the header's bytes before it
 */
struct mgpu_stream_header {
	u8 magic[MGPU_STREAM_MAGIC_LEN];
	__le32 format;
	__le32 version;
	__le32 slices;
	__le32 reserved0;
	__le64 vram_size;
	__le64 reserved[3];
	__le64 check;
} __packed;

/**
 * enum mgpu_stream_record_type - the records, in stream order
 * @MGPU_REC_CONFIG: struct mgpu_stream_config
 * @MGPU_REC_REGS: struct mgpu_stream_regs
 * @MGPU_REC_IRQ: struct mgpu_stream_irq
 * @MGPU_REC_DISPLAY: struct mgpu_stream_display
 * @MGPU_REC_ENGINE: struct mgpu_engine_state
 * @MGPU_REC_VRAM: VRAM contents at &mgpu_stream_record.offset, then their
 *	struct mgpu_stream_run_check
 * @MGPU_REC_END: the end of the stream
 * @MGPU_REC_TYPES: one more than the last
 *
 * CONFIG to ENGINE are the state records: each comes once, in this order.
 */
enum mgpu_stream_record_type {
	MGPU_REC_CONFIG = 1,
	MGPU_REC_REGS,
	MGPU_REC_IRQ,
	MGPU_REC_DISPLAY,
	MGPU_REC_ENGINE,
	MGPU_REC_VRAM,
	MGPU_REC_END,
	MGPU_REC_TYPES
};

#define MGPU_REC_STATES		(MGPU_REC_ENGINE - MGPU_REC_CONFIG + 1)

/**
 * struct mgpu_stream_record - the header of a record
 * @type: its enum mgpu_stream_record_type
 * @length: bytes of payload that follow (for VRAM, not counting the
 *	struct mgpu_stream_run_check after them)
 * @offset: VRAM: the byte offset in BAR0 of the payload; END: the sum of
 *	the VRAM records' lengths; others: 0
 * @data_check: xxh64 of the payload; 0 for VRAM (its check follows the
 *	payload) and END (no payload)
 * @seq: the number of records before this one
 * @head_check: the low 32 bits of xxh64 of the bytes of the record header
 *	before it
 */
struct mgpu_stream_record {
	__le32 type;
	__le32 length;
	__le64 offset;
	__le64 data_check;
	__le32 seq;
	__le32 head_check;
} __packed;

/**
 * struct mgpu_stream_run_check - what follows the payload of a VRAM record
 * @sum: the sum of the payload's 64-bit little-endian words, mod 2^64
 * @sums: the sum, mod 2^64, of the running sums after each word
 */
struct mgpu_stream_run_check {
	__le64 sum;
	__le64 sums;
} __packed;

/**
 * struct mgpu_run_check - a VRAM run's check as it is taken
 * @sum: &mgpu_stream_run_check.sum so far
 * @sums: &mgpu_stream_run_check.sums so far
 */
struct mgpu_run_check {
	u64 sum;
	u64 sums;
};

void mgpu_run_check_page(struct mgpu_run_check *check, const void *page);
int mgpu_run_copy_page_to_user(struct mgpu_run_check *check,
			       void __user *ubuf, const void *page);
int mgpu_run_copy_page_from_user(struct mgpu_run_check *check, void *page,
				 const void __user *ubuf);

/**
 * struct mgpu_stream_config - MGPU_REC_CONFIG
 * @config: the 256 bytes of config space as the guest reads them
 * @bar: the BAR values as written, before masking with the BAR sizes
 */
struct mgpu_stream_config {
	u8 config[PCI_CFG_SPACE_SIZE];
	__le32 bar[PCI_STD_NUM_BARS];
} __packed;

/**
 * struct mgpu_stream_regs - MGPU_REC_REGS, the register file
 * @dispi: the bochs dispi registers, by index
 * @vga: the VGA ioport bytes
 * @endian: the QEMU extended ENDIAN register
 * @irq_status: IRQ_STATUS
 * @irq_enable: IRQ_ENABLE
 * @scratch: SCRATCH
 */
struct mgpu_stream_regs {
	__le16 dispi[MGPU_DISPI_REGS];
	u8 vga[MGPU_MMIO_VGA_SIZE];
	__le32 endian;
	__le32 irq_status;
	__le32 irq_enable;
	__le32 scratch;
} __packed;

/**
 * struct mgpu_stream_irq - MGPU_REC_IRQ, interrupt delivery
 * @intx_masked: 1 if INTx is masked, else 0
 * @reserved: 0
 * @msi_sent: the asserted causes already signalled as MSI
 */
struct mgpu_stream_irq {
	u8 intx_masked;
	u8 reserved[3];
	__le32 msi_sent;
} __packed;

/**
 * struct mgpu_stream_display - MGPU_REC_DISPLAY
 * @next_dmabuf_id: the last plane id handed out
 * @reserved: 0
 */
struct mgpu_stream_display {
	__le32 next_dmabuf_id;
	__le32 reserved;
} __packed;

static_assert(sizeof(struct mgpu_stream_header) == 64);
static_assert(sizeof(struct mgpu_stream_record) == 32);
static_assert(sizeof(struct mgpu_stream_run_check) == 16);
static_assert(sizeof(struct mgpu_stream_config) == 280);
static_assert(sizeof(struct mgpu_stream_regs) == 70);
static_assert(sizeof(struct mgpu_stream_irq) == 8);
static_assert(sizeof(struct mgpu_stream_display) == 8);
static_assert(sizeof(struct mgpu_engine_state) == 48);
static_assert(MGPU_STREAM_RUN_MAX % PAGE_SIZE == 0);
static_assert(PAGE_SIZE % MGPU_STREAM_PAGE_SIZE == 0);

#endif /* MGPU_STREAM_H */
