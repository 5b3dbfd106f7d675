// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_config.c - the emulated PCI config space of an mgpu instance: its
 * power-on image, which bits the guest may write, BAR sizing, and the MSI
 * capability.
 *
 * Every register is described by a table entry (offset, size, power-on
 * value, writable bits), the way vfio-pci describes capabilities with
 * permission bits, so the access path has no per-register branches.  A
 * write changes only the writable bits; everything outside the table reads
 * 0 and ignores writes.
 *
 * Access granularity: because the table is applied per byte, any access
 * inside the 256 bytes works, whatever its size and alignment.  An access of
 * 1, 2 or 4 aligned bytes is what PCI allows; bigger or unaligned ones are
 * handled as the sequence of their bytes, and their side effects (interrupt
 * delivery after a command or MSI control write) run once at the end.  An
 * access that does not lie wholly inside config space is -EINVAL; the
 * region read/write path clips accesses to the region first.
 */

#include <linux/bits.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/nospec.h>
#include <linux/pci_regs.h>

#include "mgpu.h"

/* Command bits the guest may set: a memory-only device, no IO BARs. */
#define MGPU_CMD_WRITABLE	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | \
				 PCI_COMMAND_PARITY | PCI_COMMAND_SERR | \
				 PCI_COMMAND_INTX_DISABLE)

#define MGPU_MSI(reg)		(MGPU_CFG_MSI_CAP + (reg))
/* The MSI address is dword aligned: its two low bits are read-only 0. */
#define MGPU_MSI_ADDR_LO_WRITABLE	0xfffffffc

/**
 * struct mgpu_cfg_reg - one emulated config space register
 * @offset: its offset
 * @size: its size in bytes: 1, 2 or 4
 * @init: its power-on value
 * @writable: the bits a guest write changes; all others are read-only
 */
struct mgpu_cfg_reg {
	u8 offset;
	u8 size;
	u32 init;
	u32 writable;
};

/*
 * The registers of the config space except the BARs, which have their own
 * path below.  The subsystem ID is the profile's number of slices, filled in
 * by mgpu_config_reset().
 */
static const struct mgpu_cfg_reg mgpu_cfg_regs[] = {
	{ PCI_VENDOR_ID,	    2, MGPU_PCI_VENDOR,		0 },
	{ PCI_DEVICE_ID,	    2, MGPU_PCI_DEVICE,		0 },
	{ PCI_COMMAND,		    2, 0,			MGPU_CMD_WRITABLE },
	{ PCI_STATUS,		    2, PCI_STATUS_CAP_LIST,	0 },
	{ PCI_CLASS_REVISION,	    4, MGPU_PCI_CLASS << 8 | MGPU_PCI_REVISION, 0 },
	{ PCI_HEADER_TYPE,	    1, PCI_HEADER_TYPE_NORMAL,	0 },
	{ PCI_SUBSYSTEM_VENDOR_ID,  2, MGPU_PCI_SUBVENDOR,	0 },
	{ PCI_SUBSYSTEM_ID,	    2, 0,			0 },
	{ PCI_CAPABILITY_LIST,	    1, MGPU_CFG_MSI_CAP,	0 },
	{ PCI_INTERRUPT_LINE,	    1, 0,			0xff },
	{ PCI_INTERRUPT_PIN,	    1, 1,	/* INTA */	0 },
	/* MSI: 64-bit, one vector, no per-vector masking, the last cap */
	{ MGPU_MSI(PCI_CAP_LIST_ID),   1, PCI_CAP_ID_MSI,	0 },
	{ MGPU_MSI(PCI_CAP_LIST_NEXT), 1, 0,			0 },
	{ MGPU_MSI(PCI_MSI_FLAGS),     2, PCI_MSI_FLAGS_64BIT,	PCI_MSI_FLAGS_ENABLE },
	{ MGPU_MSI(PCI_MSI_ADDRESS_LO), 4, 0,			MGPU_MSI_ADDR_LO_WRITABLE },
	{ MGPU_MSI(PCI_MSI_ADDRESS_HI), 4, 0,			0xffffffff },
	{ MGPU_MSI(PCI_MSI_DATA_64),   2, 0,			0xffff },
};

/* Writes to these registers can change how an interrupt is delivered. */
static const u8 mgpu_cfg_irq_regs[] = {
	PCI_COMMAND, MGPU_MSI(PCI_MSI_FLAGS),
};

/* Type bits of each BAR; a BAR of size 0 reads 0 whatever these say. */
static const u32 mgpu_bar_flags[PCI_STD_NUM_BARS] = {
	[MGPU_VRAM_BAR] = PCI_BASE_ADDRESS_SPACE_MEMORY |
			  PCI_BASE_ADDRESS_MEM_TYPE_32 |
			  PCI_BASE_ADDRESS_MEM_PREFETCH,
	[MGPU_MMIO_BAR] = PCI_BASE_ADDRESS_SPACE_MEMORY |
			  PCI_BASE_ADDRESS_MEM_TYPE_32,
};

#define MGPU_BARS_START		PCI_BASE_ADDRESS_0
#define MGPU_BARS_END		(PCI_BASE_ADDRESS_5 + 4)

static void mgpu_cfg_put(u8 *config, unsigned int offset, unsigned int size,
			 u32 value)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		config[offset + i] = value >> (8 * i);
}

static u32 mgpu_cfg_get(const u8 *config, unsigned int offset,
			unsigned int size)
{
	u32 value = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		value |= (u32)config[offset + i] << (8 * i);
	return value;
}

static bool mgpu_ranges_overlap(unsigned int a, unsigned int a_len,
				unsigned int b, unsigned int b_len)
{
	return a < b + b_len && b < a + a_len;
}

/* The writable bits of the config byte at @offset (0 outside the table). */
static u8 mgpu_cfg_writable(unsigned int offset)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mgpu_cfg_regs); i++) {
		const struct mgpu_cfg_reg *reg = &mgpu_cfg_regs[i];

		if (mgpu_ranges_overlap(offset, 1, reg->offset, reg->size))
			return reg->writable >> (8 * (offset - reg->offset));
	}
	return 0;
}

/*
 * What BAR @i reads as: the address written, cut to the BAR's size, and
 * the type bits.  Writing all ones therefore reads back ~(size - 1) | flags,
 * which is how software sizes a BAR.
 */
static u32 mgpu_bar_value(struct mgpu_device *mgpu, unsigned int i)
{
	u64 size = mgpu_region_size(mgpu, VFIO_PCI_BAR0_REGION_INDEX + i);

	if (!size)
		return 0;
	return (mgpu->bar[i] & ~(u32)(size - 1)) | mgpu_bar_flags[i];
}

static void mgpu_bars_refresh(struct mgpu_device *mgpu)
{
	unsigned int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		mgpu_cfg_put(mgpu->config, PCI_BASE_ADDRESS_0 + 4 * i, 4,
			     mgpu_bar_value(mgpu, i));
}

/* Stores one byte of a BAR as written; mgpu_bars_refresh() masks it. */
static void mgpu_bar_write_byte(struct mgpu_device *mgpu, unsigned int offset,
				u8 value)
{
	unsigned int i = (offset - MGPU_BARS_START) / 4;
	unsigned int shift = 8 * ((offset - MGPU_BARS_START) % 4);

	mgpu->bar[i] &= ~((u32)0xff << shift);
	mgpu->bar[i] |= (u32)value << shift;
}

static void mgpu_cfg_write_byte(struct mgpu_device *mgpu, unsigned int offset,
				u8 value)
{
	u8 writable;

	if (offset >= MGPU_BARS_START && offset < MGPU_BARS_END) {
		mgpu_bar_write_byte(mgpu, offset, value);
		return;
	}
	writable = mgpu_cfg_writable(offset);
	offset = array_index_nospec(offset, PCI_CFG_SPACE_SIZE);
	mgpu->config[offset] &= ~writable;
	mgpu->config[offset] |= value & writable;
}

static bool mgpu_cfg_touches_irq(unsigned int offset, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mgpu_cfg_irq_regs); i++)
		if (mgpu_ranges_overlap(offset, count, mgpu_cfg_irq_regs[i], 2))
			return true;
	return false;
}

/**
 * mgpu_config_reset() - put config space in its power-on state
 * @mgpu: the instance, with its lock held
 *
 * Memory decoding, bus mastering and MSI are off, the BARs read their type
 * bits only, and no interrupt is pending.
 */
void mgpu_config_reset(struct mgpu_device *mgpu)
{
	unsigned int i;

	lockdep_assert_held(&mgpu->lock);
	memset(mgpu->config, 0, sizeof(mgpu->config));
	memset(mgpu->bar, 0, sizeof(mgpu->bar));
	for (i = 0; i < ARRAY_SIZE(mgpu_cfg_regs); i++)
		mgpu_cfg_put(mgpu->config, mgpu_cfg_regs[i].offset,
			     mgpu_cfg_regs[i].size, mgpu_cfg_regs[i].init);
	mgpu_cfg_put(mgpu->config, PCI_SUBSYSTEM_ID, 2, mgpu->profile->slices);
	mgpu_bars_refresh(mgpu);
}

/**
 * mgpu_config_rw() - a guest access to config space
 * @mgpu: the instance, with its lock held
 * @buf: the data to write, or where to read into
 * @count: bytes; any size and alignment (see the top of this file)
 * @pos: offset in config space
 * @write: true for a write
 *
 * Return: @count, or -EINVAL for an access not wholly inside config space.
 */
ssize_t mgpu_config_rw(struct mgpu_device *mgpu, void *buf, size_t count,
		       loff_t pos, bool write)
{
	const u8 *src = buf;
	size_t i;

	lockdep_assert_held(&mgpu->lock);
	if (pos < 0 || pos >= PCI_CFG_SPACE_SIZE ||
	    count > PCI_CFG_SPACE_SIZE - pos)
		return -EINVAL;
	/* a guest's offset: no speculative access beyond config space */
	pos = array_index_nospec(pos, PCI_CFG_SPACE_SIZE);
	count = min_t(size_t, count, PCI_CFG_SPACE_SIZE - pos);

	if (!write) {
		memcpy(buf, mgpu->config + pos, count);
		return count;
	}

	for (i = 0; i < count; i++)
		mgpu_cfg_write_byte(mgpu, pos + i, src[i]);
	if (mgpu_ranges_overlap(pos, count, MGPU_BARS_START,
				MGPU_BARS_END - MGPU_BARS_START))
		mgpu_bars_refresh(mgpu);
	/*
	 * Clearing INTX_DISABLE, setting MASTER or toggling MSI may deliver
	 * a pending irq.
	 */
	if (mgpu_cfg_touches_irq(pos, count))
		mgpu_irq_update(mgpu);
	return count;
}

/**
 * mgpu_config_msi_enabled() - whether the guest enabled MSI
 * @mgpu: the instance, with its lock held
 *
 * Return: the MSI Enable bit of the MSI capability.
 */
bool mgpu_config_msi_enabled(struct mgpu_device *mgpu)
{
	lockdep_assert_held(&mgpu->lock);
	return mgpu_cfg_get(mgpu->config, MGPU_MSI(PCI_MSI_FLAGS), 2) &
	       PCI_MSI_FLAGS_ENABLE;
}

/**
 * mgpu_config_bus_master() - whether the guest enabled bus mastering
 * @mgpu: the instance, with its lock held
 *
 * Without it the function cannot write memory, so it sends no MSI.
 *
 * Return: the Bus Master bit of the command register.
 */
bool mgpu_config_bus_master(struct mgpu_device *mgpu)
{
	lockdep_assert_held(&mgpu->lock);
	return mgpu_cfg_get(mgpu->config, PCI_COMMAND, 2) & PCI_COMMAND_MASTER;
}

/**
 * mgpu_config_intx_disabled() - whether the guest disabled INTx
 * @mgpu: the instance, with its lock held
 *
 * Return: the Interrupt Disable bit of the command register.
 */
bool mgpu_config_intx_disabled(struct mgpu_device *mgpu)
{
	lockdep_assert_held(&mgpu->lock);
	return mgpu_cfg_get(mgpu->config, PCI_COMMAND, 2) &
	       PCI_COMMAND_INTX_DISABLE;
}

/**
 * mgpu_config_set_intx_status() - show the INTx state in the status register
 * @mgpu: the instance, with its lock held
 * @asserted: whether the function's INTx is asserted
 *
 * As in PCI, Interrupt Status reflects the interrupt whether or not
 * Interrupt Disable keeps it off the wire.
 */
void mgpu_config_set_intx_status(struct mgpu_device *mgpu, bool asserted)
{
	u32 status;

	lockdep_assert_held(&mgpu->lock);
	status = mgpu_cfg_get(mgpu->config, PCI_STATUS, 2);
	if (asserted)
		status |= PCI_STATUS_INTERRUPT;
	else
		status &= ~PCI_STATUS_INTERRUPT;
	mgpu_cfg_put(mgpu->config, PCI_STATUS, 2, status);
}
