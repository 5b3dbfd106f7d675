// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_regs.c - the MMIO register BAR (BAR2) of an mgpu instance: the EDID
 * block, the VGA ioport bytes, the bochs dispi display registers, QEMU's
 * extended registers and mgpu's control block, laid out as QEMU's stdvga
 * MMIO BAR so that bochs-drm drives it unchanged, and the compute engine's
 * register block (whose registers mgpu_engine.c keeps).
 *
 * The BAR is a table of blocks, each with the access widths it takes and
 * its read and write handlers; an access must fall inside one block (or
 * inside the reserved space between them, which reads 0 and ignores
 * writes).  Every handler runs under mgpu_device.lock.
 */

#include <linux/bits.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/nospec.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/time64.h>

#include "mgpu.h"

/* Access widths a block takes, as a mask of the access sizes in bytes. */
#define MGPU_W8		BIT(0)
#define MGPU_W16	BIT(1)
#define MGPU_W32	BIT(2)
#define MGPU_W_ANY	(MGPU_W8 | MGPU_W16 | MGPU_W32)

/* VGA input status register 1 (colour), offset in the VGA block */
#define MGPU_VGA_IS1_RC		(0x3da - 0x3c0)

/**
 * struct mgpu_mmio_block - a block of BAR2
 * @start: offset of the block in BAR2
 * @size: bytes
 * @widths: access sizes the block takes (MGPU_W*)
 * @read: returns the value at @off (from @start), @width bytes; NULL: 0
 * @write: stores @val at @off, @width bytes; NULL: ignored
 */
struct mgpu_mmio_block {
	u32 start;
	u32 size;
	u32 widths;
	u32 (*read)(struct mgpu_device *mgpu, u32 off, u32 width);
	void (*write)(struct mgpu_device *mgpu, u32 off, u32 width, u32 val);
};

/* ---- byte arrays: EDID and VGA ------------------------------------------ */

static u32 mgpu_bytes_read(const u8 *bytes, size_t len, u32 off, u32 width)
{
	u32 val = 0;
	u32 i;

	for (i = 0; i < width && off + i < len; i++)
		val |= (u32)bytes[array_index_nospec(off + i, len)] << (8 * i);
	return val;
}

static void mgpu_bytes_write(u8 *bytes, size_t len, u32 off, u32 width,
			     u32 val)
{
	u32 i;

	for (i = 0; i < width && off + i < len; i++)
		bytes[array_index_nospec(off + i, len)] = val >> (8 * i);
}

static u32 mgpu_edid_read(struct mgpu_device *mgpu, u32 off, u32 width)
{
	return mgpu_bytes_read(mgpu->regs.edid, sizeof(mgpu->regs.edid), off,
			       width);
}

static u32 mgpu_vga_read(struct mgpu_device *mgpu, u32 off, u32 width)
{
	u32 val = mgpu_bytes_read(mgpu->regs.vga, sizeof(mgpu->regs.vga), off,
				  width);

	/*
	 * Input status 1: drivers read it to reset the attribute controller's
	 * flip-flop and poll its retrace bits; there is no retrace here.
	 */
	if (off <= MGPU_VGA_IS1_RC && MGPU_VGA_IS1_RC < off + width)
		val &= ~(0xffU << (8 * (MGPU_VGA_IS1_RC - off)));
	return val;
}

static void mgpu_vga_write(struct mgpu_device *mgpu, u32 off, u32 width,
			   u32 val)
{
	mgpu_bytes_write(mgpu->regs.vga, sizeof(mgpu->regs.vga), off, width,
			 val);
}

/* ---- bochs dispi: 16-bit registers ---------------------------------------- */

/*
 * A write to a dispi register goes through its filter, which returns the
 * value to store: read-only registers keep @old, the resolution is clamped
 * to the profile, BPP keeps only depths bochs defines.  Whether the result
 * can be scanned out is mgpu_display.c's business.
 */
typedef u16 (*mgpu_dispi_filter_t)(const struct mgpu_device *mgpu, u16 old,
				   u16 val);

static u16 mgpu_dispi_keep(const struct mgpu_device *mgpu, u16 old, u16 val)
{
	return old;
}

static u16 mgpu_dispi_store(const struct mgpu_device *mgpu, u16 old, u16 val)
{
	return val;
}

static u16 mgpu_dispi_xres(const struct mgpu_device *mgpu, u16 old, u16 val)
{
	return min_t(u32, val, mgpu->profile->max_width);
}

static u16 mgpu_dispi_yres(const struct mgpu_device *mgpu, u16 old, u16 val)
{
	return min_t(u32, val, mgpu->profile->max_height);
}

static u16 mgpu_dispi_bpp(const struct mgpu_device *mgpu, u16 old, u16 val)
{
	switch (val) {
	case 0:
	case 8:
	case 16:
	case 24:
	case 32:
		return val;
	default:
		return old;
	}
}

static const mgpu_dispi_filter_t mgpu_dispi_filters[MGPU_DISPI_REGS] = {
	[MGPU_DISPI_ID]			= mgpu_dispi_keep,
	[MGPU_DISPI_XRES]		= mgpu_dispi_xres,
	[MGPU_DISPI_YRES]		= mgpu_dispi_yres,
	[MGPU_DISPI_BPP]		= mgpu_dispi_bpp,
	[MGPU_DISPI_ENABLE]		= mgpu_dispi_store,
	[MGPU_DISPI_BANK]		= mgpu_dispi_store,
	[MGPU_DISPI_VIRT_WIDTH]		= mgpu_dispi_store,
	[MGPU_DISPI_VIRT_HEIGHT]	= mgpu_dispi_store,
	[MGPU_DISPI_X_OFFSET]		= mgpu_dispi_store,
	[MGPU_DISPI_Y_OFFSET]		= mgpu_dispi_store,
	[MGPU_DISPI_VIDEO_MEMORY_64K]	= mgpu_dispi_keep,
};

/* The block takes 16-bit accesses and, on either half, 8-bit ones. */
static u32 mgpu_dispi_shift(u32 off)
{
	return 8 * (off & 1);
}

static u32 mgpu_dispi_read(struct mgpu_device *mgpu, u32 off, u32 width)
{
	unsigned int index = array_index_nospec(off >> 1, MGPU_DISPI_REGS);
	u32 reg = mgpu->regs.dispi[index] >> mgpu_dispi_shift(off);

	return width == 1 ? reg & 0xff : reg;
}

static void mgpu_dispi_write(struct mgpu_device *mgpu, u32 off, u32 width,
			     u32 val)
{
	/* Guest-controlled, and it indexes a table of functions. */
	unsigned int index = array_index_nospec(off >> 1, MGPU_DISPI_REGS);
	u16 old = mgpu->regs.dispi[index];
	u16 new = val;

	if (width == 1) {
		u32 shift = mgpu_dispi_shift(off);

		new = (old & ~(0xff << shift)) | ((val & 0xff) << shift);
	}
	mgpu->regs.dispi[index] = mgpu_dispi_filters[index](mgpu, old, new);
}

/*
 * ---- 32-bit register files: QEMU extended registers, control block -------
 *
 * The block dispatch bounds-checks the guest's offset; the accessors clamp
 * it again with array_index_nospec(), as the tables hold function pointers.
 */

/**
 * struct mgpu_reg32 - a 32-bit register
 * @read: its value; NULL: reads 0
 * @write: takes a written value; NULL: read-only
 */
struct mgpu_reg32 {
	u32 (*read)(struct mgpu_device *mgpu);
	void (*write)(struct mgpu_device *mgpu, u32 val);
};

static u32 mgpu_reg32_read(const struct mgpu_reg32 *reg,
			   struct mgpu_device *mgpu)
{
	return reg->read ? reg->read(mgpu) : 0;
}

static void mgpu_reg32_write(const struct mgpu_reg32 *reg,
			     struct mgpu_device *mgpu, u32 val)
{
	if (reg->write)
		reg->write(mgpu, val);
}

static u32 mgpu_qext_size_read(struct mgpu_device *mgpu)
{
	return MGPU_MMIO_QEXT_SIZE;
}

static u32 mgpu_qext_endian_read(struct mgpu_device *mgpu)
{
	return mgpu->regs.endian;
}

static void mgpu_qext_endian_write(struct mgpu_device *mgpu, u32 val)
{
	mgpu->regs.endian = val;
}

static const struct mgpu_reg32 mgpu_qext_regs[MGPU_MMIO_QEXT_SIZE / 4] = {
	[MGPU_QEXT_SIZE / 4] = { .read = mgpu_qext_size_read },
	[MGPU_QEXT_ENDIAN / 4] = {
		.read = mgpu_qext_endian_read,
		.write = mgpu_qext_endian_write,
	},
};

static u32 mgpu_qext_read(struct mgpu_device *mgpu, u32 off, u32 width)
{
	u32 i = array_index_nospec(off / 4, ARRAY_SIZE(mgpu_qext_regs));

	return mgpu_reg32_read(&mgpu_qext_regs[i], mgpu);
}

static void mgpu_qext_write(struct mgpu_device *mgpu, u32 off, u32 width,
			    u32 val)
{
	u32 i = array_index_nospec(off / 4, ARRAY_SIZE(mgpu_qext_regs));

	mgpu_reg32_write(&mgpu_qext_regs[i], mgpu, val);
}

/* Store new interrupt state; only a change can move the interrupt line. */
static void mgpu_ctrl_set_irq(struct mgpu_device *mgpu, u32 status, u32 enable)
{
	struct mgpu_regs *regs = &mgpu->regs;

	if (regs->irq_status == status && regs->irq_enable == enable)
		return;
	regs->irq_status = status;
	regs->irq_enable = enable;
	mgpu_irq_update(mgpu);
}

static u32 mgpu_ctrl_id_read(struct mgpu_device *mgpu)
{
	return MGPU_CTRL_ID_VALUE;
}

static u32 mgpu_ctrl_slices_read(struct mgpu_device *mgpu)
{
	return mgpu->profile->slices;
}

static u32 mgpu_ctrl_status_read(struct mgpu_device *mgpu)
{
	return mgpu->regs.irq_status;
}

static void mgpu_ctrl_status_write(struct mgpu_device *mgpu, u32 val)
{
	mgpu_ctrl_set_irq(mgpu, mgpu->regs.irq_status & ~val,
			  mgpu->regs.irq_enable);
}

static u32 mgpu_ctrl_enable_read(struct mgpu_device *mgpu)
{
	return mgpu->regs.irq_enable;
}

static void mgpu_ctrl_enable_write(struct mgpu_device *mgpu, u32 val)
{
	mgpu_ctrl_set_irq(mgpu, mgpu->regs.irq_status, val);
}

static void mgpu_ctrl_raise_write(struct mgpu_device *mgpu, u32 val)
{
	mgpu_ctrl_set_irq(mgpu, mgpu->regs.irq_status | val,
			  mgpu->regs.irq_enable);
}

static u32 mgpu_ctrl_scratch_read(struct mgpu_device *mgpu)
{
	return mgpu->regs.scratch;
}

static void mgpu_ctrl_scratch_write(struct mgpu_device *mgpu, u32 val)
{
	mgpu->regs.scratch = val;
}

static const struct mgpu_reg32 mgpu_ctrl_regs[MGPU_CTRL_SIZE / 4] = {
	[MGPU_CTRL_ID / 4] = { .read = mgpu_ctrl_id_read },
	[MGPU_CTRL_SLICES / 4] = { .read = mgpu_ctrl_slices_read },
	[MGPU_CTRL_IRQ_STATUS / 4] = {
		.read = mgpu_ctrl_status_read,
		.write = mgpu_ctrl_status_write,
	},
	[MGPU_CTRL_IRQ_ENABLE / 4] = {
		.read = mgpu_ctrl_enable_read,
		.write = mgpu_ctrl_enable_write,
	},
	[MGPU_CTRL_IRQ_RAISE / 4] = { .write = mgpu_ctrl_raise_write },
	[MGPU_CTRL_SCRATCH / 4] = {
		.read = mgpu_ctrl_scratch_read,
		.write = mgpu_ctrl_scratch_write,
	},
};

static u32 mgpu_ctrl_read(struct mgpu_device *mgpu, u32 off, u32 width)
{
	u32 i = array_index_nospec(off / 4, ARRAY_SIZE(mgpu_ctrl_regs));

	return mgpu_reg32_read(&mgpu_ctrl_regs[i], mgpu);
}

static void mgpu_ctrl_write(struct mgpu_device *mgpu, u32 off, u32 width,
			    u32 val)
{
	u32 i = array_index_nospec(off / 4, ARRAY_SIZE(mgpu_ctrl_regs));

	mgpu_reg32_write(&mgpu_ctrl_regs[i], mgpu, val);
}

/**
 * mgpu_regs_raise() - set interrupt causes, as a write to IRQ_RAISE does
 * @mgpu: the instance
 * @causes: the bits to set in IRQ_STATUS
 *
 * Context: mgpu->lock held.
 */
void mgpu_regs_raise(struct mgpu_device *mgpu, u32 causes)
{
	lockdep_assert_held(&mgpu->lock);
	mgpu_ctrl_raise_write(mgpu, causes);
}

static u32 mgpu_engine_read(struct mgpu_device *mgpu, u32 off, u32 width)
{
	return mgpu_engine_reg_read(mgpu, off);
}

static void mgpu_engine_write(struct mgpu_device *mgpu, u32 off, u32 width,
			      u32 val)
{
	mgpu_engine_reg_write(mgpu, off, val);
}

/* ---- the BAR -------------------------------------------------------------- */

static const struct mgpu_mmio_block mgpu_mmio_blocks[] = {
	{
		/* read-only; bochs-drm reads it bytewise, others by dword */
		.start = MGPU_MMIO_EDID, .size = MGPU_MMIO_EDID_SIZE,
		.widths = MGPU_W_ANY, .read = mgpu_edid_read,
	}, {
		/* byte ports; words for the index/data pairs */
		.start = MGPU_MMIO_VGA, .size = MGPU_MMIO_VGA_SIZE,
		.widths = MGPU_W8 | MGPU_W16,
		.read = mgpu_vga_read, .write = mgpu_vga_write,
	}, {
		.start = MGPU_MMIO_DISPI, .size = MGPU_DISPI_REGS * 2,
		.widths = MGPU_W8 | MGPU_W16,
		.read = mgpu_dispi_read, .write = mgpu_dispi_write,
	}, {
		.start = MGPU_MMIO_QEXT, .size = MGPU_MMIO_QEXT_SIZE,
		.widths = MGPU_W32,
		.read = mgpu_qext_read, .write = mgpu_qext_write,
	}, {
		.start = MGPU_MMIO_CTRL, .size = MGPU_CTRL_SIZE,
		.widths = MGPU_W32,
		.read = mgpu_ctrl_read, .write = mgpu_ctrl_write,
	}, {
		.start = MGPU_MMIO_ENGINE, .size = MGPU_ENG_REGS_SIZE,
		.widths = MGPU_W32,
		.read = mgpu_engine_read, .write = mgpu_engine_write,
	},
};

/* Everything between the blocks: reads 0, writes are dropped. */
static const struct mgpu_mmio_block mgpu_mmio_reserved = {
	.start = 0, .size = MGPU_MMIO_SIZE, .widths = MGPU_W_ANY,
};

/*
 * The block that holds [@pos, @pos + @width), the reserved block if no block
 * overlaps it, or NULL if it straddles a block's edge.
 */
static const struct mgpu_mmio_block *mgpu_mmio_find(u32 pos, u32 width)
{
	const struct mgpu_mmio_block *blk;

	for (blk = mgpu_mmio_blocks;
	     blk < mgpu_mmio_blocks + ARRAY_SIZE(mgpu_mmio_blocks); blk++) {
		if (pos + width <= blk->start || pos >= blk->start + blk->size)
			continue;
		if (pos < blk->start || pos + width > blk->start + blk->size)
			return NULL;
		return blk;
	}
	return &mgpu_mmio_reserved;
}

static u32 mgpu_le_get(const void *buf, u32 width)
{
	switch (width) {
	case 1:
		return *(const u8 *)buf;
	case 2:
		return get_unaligned_le16(buf);
	default:
		return get_unaligned_le32(buf);
	}
}

static void mgpu_le_put(void *buf, u32 width, u32 val)
{
	switch (width) {
	case 1:
		*(u8 *)buf = val;
		break;
	case 2:
		put_unaligned_le16(val, buf);
		break;
	default:
		put_unaligned_le32(val, buf);
		break;
	}
}

/**
 * mgpu_mmio_rw() - one access to the register BAR
 * @mgpu: the instance
 * @buf: the value, little-endian: read into or written from
 * @count: access width: 1, 2 or 4 bytes
 * @pos: offset in BAR2, a multiple of @count
 * @write: store @buf instead of loading it
 *
 * Context: mgpu->lock held.
 * Return: @count, or -EINVAL for a width or alignment the addressed block
 * does not take, an access that crosses a block's edge, or one outside BAR2.
 */
ssize_t mgpu_mmio_rw(struct mgpu_device *mgpu, void *buf, size_t count,
		     loff_t pos, bool write)
{
	const struct mgpu_mmio_block *blk;
	u32 off;

	lockdep_assert_held(&mgpu->lock);

	if (count > sizeof(u32) || !is_power_of_2(count) || pos < 0 ||
	    pos >= MGPU_MMIO_SIZE || pos & (count - 1))
		return -EINVAL;

	/* pos + count <= MGPU_MMIO_SIZE: aligned, and the size is 4-aligned */
	blk = mgpu_mmio_find(pos, count);
	if (!blk || !(blk->widths & count))
		return -EINVAL;

	off = pos - blk->start;
	if (write) {
		if (blk->write)
			blk->write(mgpu, off, count, mgpu_le_get(buf, count));
	} else {
		mgpu_le_put(buf, count,
			    blk->read ? blk->read(mgpu, off, count) : 0);
	}
	return count;
}

/* ---- EDID ----------------------------------------------------------------- */

/*
 * One EDID 1.4 base block that offers the profile's largest mode, at 60 Hz
 * with CVT reduced-blanking style timings, as the preferred and only
 * detailed mode.  A detailed timing holds 12-bit sizes, hence the clamp.
 */
#define MGPU_EDID_REFRESH	60		/* Hz */
#define MGPU_EDID_MAX_ACTIVE	4095U
#define MGPU_EDID_HFRONT	48		/* pixels */
#define MGPU_EDID_HSYNC		32
#define MGPU_EDID_HBLANK	160
#define MGPU_EDID_VFRONT	3		/* lines */
#define MGPU_EDID_VSYNC		6
#define MGPU_EDID_VBLANK_MIN	(MGPU_EDID_VFRONT + MGPU_EDID_VSYNC + 6)
#define MGPU_EDID_VBLANK_US	460		/* minimum vertical blank */
#define MGPU_EDID_PIXEL_UM	264		/* pixel pitch, about 96 dpi */

#define MGPU_EDID_DESC(n)	(54 + 18 * (n))	/* the four 18-byte slots */
#define MGPU_EDID_NAME_LEN	13

struct mgpu_edid_timing {
	u32 hactive, vactive, vblank, clock;	/* clock: 10 kHz units */
};

static void mgpu_edid_timing(const struct mgpu_profile *profile,
			     struct mgpu_edid_timing *t)
{
	u32 frame_us = USEC_PER_SEC / MGPU_EDID_REFRESH;
	u64 clock;

	t->hactive = clamp(profile->max_width, 1U, MGPU_EDID_MAX_ACTIVE);
	t->vactive = clamp(profile->max_height, 1U, MGPU_EDID_MAX_ACTIVE);
	/* vblank / (vactive + vblank) >= VBLANK_US / frame_us */
	t->vblank = DIV_ROUND_UP(t->vactive * MGPU_EDID_VBLANK_US,
				 frame_us - MGPU_EDID_VBLANK_US);
	t->vblank = max_t(u32, t->vblank, MGPU_EDID_VBLANK_MIN);
	clock = (u64)(t->hactive + MGPU_EDID_HBLANK) *
		(t->vactive + t->vblank) * MGPU_EDID_REFRESH;
	t->clock = min_t(u64, DIV_ROUND_UP_ULL(clock, 10000), U16_MAX);
}

static u8 mgpu_hi4(u32 a, u32 b)
{
	return ((a >> 8) & 0xf) << 4 | ((b >> 8) & 0xf);
}

static void mgpu_edid_dtd(u8 *d, const struct mgpu_edid_timing *t)
{
	u32 hmm = t->hactive * MGPU_EDID_PIXEL_UM / 1000;
	u32 vmm = t->vactive * MGPU_EDID_PIXEL_UM / 1000;

	put_unaligned_le16(t->clock, d);
	d[2] = t->hactive;
	d[3] = MGPU_EDID_HBLANK;
	d[4] = mgpu_hi4(t->hactive, MGPU_EDID_HBLANK);
	d[5] = t->vactive;
	d[6] = t->vblank;
	d[7] = mgpu_hi4(t->vactive, t->vblank);
	d[8] = MGPU_EDID_HFRONT;
	d[9] = MGPU_EDID_HSYNC;
	d[10] = MGPU_EDID_VFRONT << 4 | MGPU_EDID_VSYNC;
	d[11] = 0;			/* the high bits of the four above */
	d[12] = hmm;
	d[13] = vmm;
	d[14] = mgpu_hi4(hmm, vmm);
	d[15] = 0;			/* no borders */
	d[16] = 0;
	d[17] = 0x1a;			/* digital separate sync, +hsync */
}

static void mgpu_edid_range(u8 *d, const struct mgpu_edid_timing *t)
{
	u32 hfreq_khz = DIV_ROUND_UP((t->vactive + t->vblank) *
				     MGPU_EDID_REFRESH, 1000);

	d[3] = 0xfd;			/* display range limits */
	d[5] = MGPU_EDID_REFRESH - 10;	/* vertical, Hz */
	d[6] = MGPU_EDID_REFRESH + 15;
	d[7] = 30;			/* horizontal, kHz */
	d[8] = min_t(u32, max_t(u32, hfreq_khz, 31), 255);
	d[9] = DIV_ROUND_UP(t->clock, 1000);	/* 10 MHz units */
	d[10] = 0x01;			/* range limits only */
	d[11] = 0x0a;
	memset(&d[12], ' ', 6);
}

static void mgpu_edid_name(u8 *d, const struct mgpu_profile *profile)
{
	char name[MGPU_EDID_NAME_LEN + 1];
	int len;

	/* "mgpu 2/8": the share of the GPU the instance holds */
	len = scnprintf(name, sizeof(name), "mgpu %u/%u", profile->slices,
			MGPU_SLICES);
	d[3] = 0xfc;			/* display product name */
	memset(&d[5], ' ', MGPU_EDID_NAME_LEN);
	memcpy(&d[5], name, len);
	if (len < MGPU_EDID_NAME_LEN)
		d[5 + len] = 0x0a;	/* a short name ends with a newline */
}

/* sRGB primaries and D65 white, 10-bit binary fractions: rx ry gx gy bx by wx wy */
static const u16 mgpu_edid_chroma[8] = {
	655, 338, 307, 614, 154, 61, 320, 337,
};

static void mgpu_edid_chromaticity(u8 *c)
{
	const u16 *v = mgpu_edid_chroma;
	int i;

	c[0] = (v[0] & 3) << 6 | (v[1] & 3) << 4 | (v[2] & 3) << 2 | (v[3] & 3);
	c[1] = (v[4] & 3) << 6 | (v[5] & 3) << 4 | (v[6] & 3) << 2 | (v[7] & 3);
	for (i = 0; i < ARRAY_SIZE(mgpu_edid_chroma); i++)
		c[2 + i] = v[i] >> 2;
}

static void mgpu_edid_build(u8 *e, const struct mgpu_profile *profile)
{
	static const u8 header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	struct mgpu_edid_timing t;
	u8 sum = 0;
	int i;

	mgpu_edid_timing(profile, &t);
	memset(e, 0, MGPU_EDID_LENGTH);
	memcpy(e, header, sizeof(header));
	/* manufacturer "MGP": three 5-bit letters, big-endian */
	put_unaligned_be16(('M' - '@') << 10 | ('G' - '@') << 5 | ('P' - '@'),
			   &e[8]);
	put_unaligned_le16(profile->slices, &e[10]);	/* product code */
	e[17] = 2023 - 1990;		/* year of manufacture */
	e[18] = 1;			/* EDID 1.4 */
	e[19] = 4;
	e[20] = 0xa0;			/* digital, 8 bits per colour */
	e[21] = DIV_ROUND_CLOSEST(t.hactive * MGPU_EDID_PIXEL_UM, 10000);
	e[22] = DIV_ROUND_CLOSEST(t.vactive * MGPU_EDID_PIXEL_UM, 10000);
	e[23] = 120;			/* gamma 2.2 */
	e[24] = 0x06;			/* sRGB, preferred mode is native */
	mgpu_edid_chromaticity(&e[25]);
	memset(&e[38], 0x01, 16);	/* no standard timings */
	mgpu_edid_dtd(&e[MGPU_EDID_DESC(0)], &t);
	mgpu_edid_range(&e[MGPU_EDID_DESC(1)], &t);
	mgpu_edid_name(&e[MGPU_EDID_DESC(2)], profile);
	e[MGPU_EDID_DESC(3) + 3] = 0x10;	/* dummy descriptor */
	/* e[126] = 0: no extension blocks */
	for (i = 0; i < MGPU_EDID_LENGTH - 1; i++)
		sum += e[i];
	e[MGPU_EDID_LENGTH - 1] = -sum;
}

/**
 * mgpu_regs_reset() - put the register BAR in its power-on state
 * @mgpu: the instance; @profile and @vram_size must be set
 *
 * The display is off, the bochs ID and the VRAM size are readable, the
 * framebuffer is little-endian, no interrupt cause is pending or enabled,
 * and the EDID offers the profile's largest mode.  The interrupt line is
 * left to the rest of the device reset (config space, interrupt delivery).
 *
 * Context: mgpu->lock held.
 */
void mgpu_regs_reset(struct mgpu_device *mgpu)
{
	struct mgpu_regs *regs = &mgpu->regs;

	lockdep_assert_held(&mgpu->lock);

	memset(regs, 0, sizeof(*regs));
	regs->dispi[MGPU_DISPI_ID] = MGPU_DISPI_ID5;
	/* bochs-drm insists that this matches the size of BAR0 */
	regs->dispi[MGPU_DISPI_VIDEO_MEMORY_64K] =
		min_t(u64, mgpu->vram_size / SZ_64K, U16_MAX);
	regs->endian = MGPU_QEXT_LITTLE;
	mgpu_edid_build(regs->edid, mgpu->profile);
}
