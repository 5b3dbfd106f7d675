/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgpu_stream.h - the byte layout of an mgpu migration stream: what
 * mgpu_migration.c produces in STOP_COPY and consumes in RESUMING.
 *
 * The stream is an ABI between two hosts, which may run different builds of
 * mgpu: every field is little-endian, every structure packed, and reserved
 * fields are 0.  Any change of layout or meaning needs a new stream version
 * (the stream_version module parameter, which is part of the types' version
 * strings).  The magic and the version are the first 12 bytes of every
 * version, so that a target can always tell a stream it cannot parse.
 *
 * A stream is a header, then the MGPU_STREAM_SECTIONS sections in the order
 * of enum mgpu_stream_section_id, each a struct mgpu_stream_section and its
 * payload:
 *
 *   CONFIG   config space and the BAR values as the guest wrote them
 *   REGS     the register BAR: dispi, VGA bytes, ENDIAN, IRQ_STATUS,
 *            IRQ_ENABLE, SCRATCH (the EDID is rebuilt from the profile)
 *   IRQ      the INTx mask and the causes already signalled by MSI (the
 *            eventfds are not migrated: the target's user installs its own)
 *   DISPLAY  the plane id counter (the plane itself is in REGS)
 *   VRAM     a page count, then for each VRAM page that holds data, in
 *            increasing index order, its index and its 4096 bytes
 *
 * Documentation/driver-api/mgpu.rst has the same as tables.
 */

#ifndef MGPU_STREAM_H
#define MGPU_STREAM_H

#include <linux/build_bug.h>
#include <linux/pci_regs.h>
#include <linux/types.h>

#include "mgpu.h"

#define MGPU_STREAM_MAGIC	"MGPUMIG"	/* and its NUL: 8 bytes */
#define MGPU_STREAM_MAGIC_LEN	8
/* The unit of VRAM in the stream, whatever the host's page size. */
#define MGPU_STREAM_PAGE_SIZE	4096

/**
 * struct mgpu_stream_header - the start of a stream
 * @magic: MGPU_STREAM_MAGIC with its NUL
 * @version: the stream version of the GPU that saved it (1-255)
 * @slices: the profile of the source: its slices (1, 2, 4 or 8)
 * @vram_size: the VRAM of the source (its BAR0 size) in bytes
 * @sections: the number of sections, MGPU_STREAM_SECTIONS
 * @crc32: CRC-32 (the one of zlib and Ethernet) of every byte after the
 *	header, up to @length
 * @length: bytes of the whole stream, the header included
 * @reserved: 0
 */
struct mgpu_stream_header {
	u8 magic[MGPU_STREAM_MAGIC_LEN];
	__le32 version;
	__le32 slices;
	__le64 vram_size;
	__le32 sections;
	__le32 crc32;
	__le64 length;
	__le64 reserved;
} __packed;

/**
 * enum mgpu_stream_section_id - the sections, in stream order
 * @MGPU_SECTION_CONFIG: struct mgpu_stream_config
 * @MGPU_SECTION_REGS: struct mgpu_stream_regs
 * @MGPU_SECTION_IRQ: struct mgpu_stream_irq
 * @MGPU_SECTION_DISPLAY: struct mgpu_stream_display
 * @MGPU_SECTION_VRAM: struct mgpu_stream_vram, then its pages
 * @MGPU_STREAM_SECTIONS: how many there are
 */
enum mgpu_stream_section_id {
	MGPU_SECTION_CONFIG,
	MGPU_SECTION_REGS,
	MGPU_SECTION_IRQ,
	MGPU_SECTION_DISPLAY,
	MGPU_SECTION_VRAM,
	MGPU_STREAM_SECTIONS
};

/**
 * struct mgpu_stream_section - the header of a section
 * @id: its enum mgpu_stream_section_id
 * @reserved: 0
 * @length: bytes of payload that follow
 */
struct mgpu_stream_section {
	__le32 id;
	__le32 reserved;
	__le64 length;
} __packed;

/**
 * struct mgpu_stream_config - MGPU_SECTION_CONFIG
 * @config: the 256 bytes of config space as the guest reads them
 * @bar: the BAR values as written, before masking with the BAR sizes
 */
struct mgpu_stream_config {
	u8 config[PCI_CFG_SPACE_SIZE];
	__le32 bar[PCI_STD_NUM_BARS];
} __packed;

/**
 * struct mgpu_stream_regs - MGPU_SECTION_REGS, the register file
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
 * struct mgpu_stream_irq - MGPU_SECTION_IRQ, interrupt delivery
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
 * struct mgpu_stream_display - MGPU_SECTION_DISPLAY
 * @next_dmabuf_id: the last plane id handed out
 * @reserved: 0
 */
struct mgpu_stream_display {
	__le32 next_dmabuf_id;
	__le32 reserved;
} __packed;

/**
 * struct mgpu_stream_vram - MGPU_SECTION_VRAM, before its pages
 * @pages: the number of struct mgpu_stream_page that follow
 */
struct mgpu_stream_vram {
	__le64 pages;
} __packed;

/**
 * struct mgpu_stream_page - one page of VRAM
 * @index: its offset in BAR0 divided by MGPU_STREAM_PAGE_SIZE
 * @data: its contents
 */
struct mgpu_stream_page {
	__le64 index;
	u8 data[MGPU_STREAM_PAGE_SIZE];
} __packed;

static_assert(sizeof(struct mgpu_stream_header) == 48);
static_assert(sizeof(struct mgpu_stream_section) == 16);
static_assert(sizeof(struct mgpu_stream_config) == 280);
static_assert(sizeof(struct mgpu_stream_regs) == 70);
static_assert(sizeof(struct mgpu_stream_irq) == 8);
static_assert(sizeof(struct mgpu_stream_display) == 8);
static_assert(sizeof(struct mgpu_stream_vram) == 8);
static_assert(sizeof(struct mgpu_stream_page) == 4104);

#endif /* MGPU_STREAM_H */
