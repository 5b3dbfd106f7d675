// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of one mgpu instance as its VFIO user sees it, checked against
 * Documentation/driver-api/mgpu.rst: device, region and interrupt info, the
 * emulated PCI config space, VRAM through read/write and mmap, the register
 * BAR, INTx, MSI and REQ interrupts, reset and close, the single usage
 * restriction, and a sweep of bad input after which the device must still
 * work.  Every test runs on a fresh instance of each profile (eighth and
 * half on GPU 0, quarter and full on GPU 1), on virtual GPUs or, with
 * MGPU_PARENTS=pci, on PCI GPUs (mgpu_lib.h).
 *
 * mgpu is loaded by the VM runner (--load) or, if it is not, by main() with
 * its default parameters; without it every test is skipped.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

#define PAGE		4096L
/* How long an eventfd that must fire gets; delivery itself is synchronous. */
#define FIRE_MS		1000
/* How long a removal of a closed instance may take. */
#define REMOVE_MS	10000

static bool mgpu_ready;
static char mgpu_why[256];

/*
 * The 6.1 harness runs a test's body even when its fixture setup called
 * SKIP(), so every body of a fixture test starts by returning if it did.
 */

static __u16 le16(const __u8 *p)
{
	return p[0] | p[1] << 8;
}

static __u32 le32(const __u8 *p)
{
	return (__u32)le16(p) | (__u32)le16(p + 2) << 16;
}

/* ---- fixture: one instance of each profile, opened ------------------------ */

FIXTURE(mgpu) {
	char uuid[UUID_STR_LEN];
	bool created;
	struct vfio_client v;
	int dev;
	__u64 vram;
	const struct mgpu_profile *p;
	void *map;
	size_t map_len;
};

FIXTURE_VARIANT(mgpu) {
	unsigned int gpu;
	unsigned int type;
};

FIXTURE_VARIANT_ADD(mgpu, eighth) {
	.gpu = 0,
	.type = MGPU_EIGHTH,
};

FIXTURE_VARIANT_ADD(mgpu, quarter) {
	.gpu = 1,
	.type = MGPU_QUARTER,
};

FIXTURE_VARIANT_ADD(mgpu, half) {
	.gpu = 0,
	.type = MGPU_HALF,
};

FIXTURE_VARIANT_ADD(mgpu, full) {
	.gpu = 1,
	.type = MGPU_FULL,
};

FIXTURE_SETUP(mgpu)
{
	int ret;

	vfio_client_init(&self->v);
	self->dev = -1;
	self->map = MAP_FAILED;
	self->p = &mgpu_profiles[variant->type];
	self->vram = mgpu_vram_size(MGPU_DEFAULT_VRAM_MB, variant->type);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);

	uuid_gen(self->uuid);
	ASSERT_EQ(1, mgpu_available(variant->gpu, MGPU_FULL))
		TH_LOG("mgpu%u is not empty", variant->gpu);
	ASSERT_EQ(0, mgpu_create(variant->gpu, variant->type, self->uuid));
	self->created = true;
	ret = vfio_client_open(&self->v, self->uuid);
	if (ret)
		mdev_remove(self->uuid);	/* no teardown after this */
	ASSERT_EQ(0, ret);
	self->dev = self->v.device;
}

FIXTURE_TEARDOWN(mgpu)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	/* The device must be closed first, or the removal waits for it. */
	vfio_client_close(&self->v);
	if (self->created && mdev_exists(self->uuid))
		EXPECT_EQ(0, mgpu_remove(self->uuid, REMOVE_MS));
}

/* Maps @len bytes of VRAM at @offset, unmapped by the teardown. */
static void *map_vram(struct _test_data_mgpu *self, __u64 offset, size_t len)
{
	self->map = vfio_region_mmap(self->dev, MGPU_VRAM, offset, len,
				     PROT_READ | PROT_WRITE, MAP_SHARED);
	self->map_len = len;
	return self->map;
}

static void unmap_vram(struct _test_data_mgpu *self)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->map_len);
	self->map = MAP_FAILED;
}

/* Opens the instance's device, as self->dev. */
static void open_device(struct __test_metadata *_metadata,
			struct _test_data_mgpu *self)
{
	ASSERT_EQ(0, vfio_client_open(&self->v, self->uuid));
	self->dev = self->v.device;
}

/* Closes the device and opens it again, as its next user would. */
static void reopen_device(struct __test_metadata *_metadata,
			  struct _test_data_mgpu *self)
{
	vfio_client_close(&self->v);
	open_device(_metadata, self);
}

/* A new eventfd, installed as the trigger of interrupt @index. */
static int irq_eventfd(struct __test_metadata *_metadata, int dev,
		       unsigned int index)
{
	int efd = vfio_eventfd();

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_irq_set_eventfd(dev, index, efd));
	return efd;
}

/* ---- VFIO device information --------------------------------------------- */

TEST_F(mgpu, device_info)
{
	struct vfio_device_info info;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, vfio_device_info(self->dev, &info));
	EXPECT_EQ((__u32)(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET),
		  info.flags);
	EXPECT_EQ((__u32)VFIO_PCI_NUM_REGIONS, info.num_regions);
	EXPECT_EQ(9U, info.num_regions);
	EXPECT_EQ((__u32)VFIO_PCI_NUM_IRQS, info.num_irqs);
	EXPECT_EQ(5U, info.num_irqs);

	/* A bigger argsz is fine, one short of num_irqs is not. */
	info.argsz = sizeof(info) + 64;
	EXPECT_EQ(0, vfio_ioctl(self->dev, VFIO_DEVICE_GET_INFO, &info));
	info.argsz = offsetof(struct vfio_device_info, num_irqs) +
		     sizeof(info.num_irqs) - 1;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_INFO, &info));
	info.argsz = 0;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_INFO, &info));

	EXPECT_EQ(-ENOTTY, vfio_ioctl(self->dev, _IO(VFIO_TYPE, VFIO_BASE + 30),
				      &info));
}

struct region_expect {
	__u64 size;
	__u32 flags;
};

static struct region_expect region_expected(struct _test_data_mgpu *self,
					    unsigned int index)
{
	const __u32 rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

	switch (index) {
	case MGPU_CFG:
		return (struct region_expect){ MGPU_CFG_SIZE, rw };
	case MGPU_VRAM:
		return (struct region_expect){ self->vram,
			rw | VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS };
	case MGPU_MMIO:
		return (struct region_expect){ MGPU_MMIO_SIZE, rw };
	default:
		return (struct region_expect){ 0, 0 };
	}
}

TEST_F(mgpu, region_info)
{
	const struct vfio_region_info_cap_sparse_mmap *sparse;
	const struct vfio_info_cap_header *hdr;
	struct vfio_region_info *ri, plain;
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		struct region_expect want = region_expected(self, i);

		ASSERT_EQ(0, vfio_region_info(self->dev, i, &ri));
		EXPECT_EQ(i, ri->index);
		EXPECT_EQ(VFIO_CLIENT_REGION(i), ri->offset) TH_LOG("region %u", i);
		EXPECT_EQ(want.size, ri->size) TH_LOG("region %u", i);
		EXPECT_EQ(want.flags, ri->flags) TH_LOG("region %u", i);
		if (i != MGPU_VRAM) {
			EXPECT_EQ(0U, ri->cap_offset) TH_LOG("region %u", i);
			free(ri);
			continue;
		}

		/* BAR0: one sparse-mmap area covering the whole BAR. */
		hdr = vfio_region_cap_find(ri, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
		ASSERT_NE(NULL, hdr) {
			free(ri);
		}
		sparse = (const void *)hdr;
		EXPECT_EQ(1, hdr->version);
		EXPECT_EQ(0U, hdr->next);
		EXPECT_EQ(1U, sparse->nr_areas);
		EXPECT_EQ(0ULL, sparse->areas[0].offset);
		EXPECT_EQ(self->vram, sparse->areas[0].size);
		EXPECT_LE(sizeof(*ri) + sizeof(*sparse) + sizeof(sparse->areas[0]),
			  ri->argsz);
		free(ri);
	}

	/* Without room for the chain, argsz says how much is needed. */
	memset(&plain, 0, sizeof(plain));
	plain.argsz = sizeof(plain);
	plain.index = MGPU_VRAM;
	ASSERT_EQ(0, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO, &plain));
	EXPECT_LT(sizeof(plain), plain.argsz);
	EXPECT_EQ(0U, plain.cap_offset);
	EXPECT_NE(0U, plain.flags & VFIO_REGION_INFO_FLAG_CAPS);
	EXPECT_EQ(self->vram, plain.size);

	/* Bad index, short argsz. */
	plain.argsz = sizeof(plain);
	plain.index = VFIO_PCI_NUM_REGIONS;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO,
				      &plain));
	plain.index = ~0U;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO,
				      &plain));
	plain.index = MGPU_CFG;
	plain.argsz = sizeof(plain) - 1;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO,
				      &plain));
	plain.argsz = 0;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO,
				      &plain));
}

TEST_F(mgpu, irq_info)
{
	static const struct {
		__u32 flags;
		__u32 count;
	} want[VFIO_PCI_NUM_IRQS] = {
		[VFIO_PCI_INTX_IRQ_INDEX] = { VFIO_IRQ_INFO_EVENTFD |
			VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED, 1 },
		[VFIO_PCI_MSI_IRQ_INDEX] = { VFIO_IRQ_INFO_EVENTFD |
			VFIO_IRQ_INFO_NORESIZE, 1 },
		[VFIO_PCI_MSIX_IRQ_INDEX] = { 0, 0 },
		[VFIO_PCI_ERR_IRQ_INDEX] = { 0, 0 },
		[VFIO_PCI_REQ_IRQ_INDEX] = { VFIO_IRQ_INFO_EVENTFD, 1 },
	};
	struct vfio_irq_info info;
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < VFIO_PCI_NUM_IRQS; i++) {
		ASSERT_EQ(0, vfio_irq_info(self->dev, i, &info));
		EXPECT_EQ(want[i].flags, info.flags) TH_LOG("irq index %u", i);
		EXPECT_EQ(want[i].count, info.count) TH_LOG("irq index %u", i);
	}
	EXPECT_EQ(-EINVAL, vfio_irq_info(self->dev, VFIO_PCI_NUM_IRQS, &info));
	EXPECT_EQ(-EINVAL, vfio_irq_info(self->dev, ~0U, &info));
	info.argsz = 8;
	info.index = 0;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_IRQ_INFO,
				      &info));
}

/* ---- config space ----------------------------------------------------------- */

/* The power-on config space of an instance, as the doc describes it. */
static void config_expected(struct _test_data_mgpu *self, __u8 *cfg)
{
	memset(cfg, 0, MGPU_CFG_SIZE);
	cfg[PCI_VENDOR_ID] = MGPU_VENDOR & 0xff;
	cfg[PCI_VENDOR_ID + 1] = MGPU_VENDOR >> 8;
	cfg[PCI_DEVICE_ID] = MGPU_DEVICE & 0xff;
	cfg[PCI_DEVICE_ID + 1] = MGPU_DEVICE >> 8;
	cfg[PCI_STATUS] = PCI_STATUS_CAP_LIST;
	cfg[PCI_REVISION_ID] = MGPU_CLASS_REV & 0xff;
	cfg[PCI_CLASS_PROG] = (MGPU_CLASS_REV >> 8) & 0xff;
	cfg[PCI_CLASS_DEVICE] = (MGPU_CLASS_REV >> 16) & 0xff;
	cfg[PCI_CLASS_DEVICE + 1] = MGPU_CLASS_REV >> 24;
	cfg[PCI_BASE_ADDRESS_0] = MGPU_BAR0_FLAGS;
	cfg[PCI_BASE_ADDRESS_2] = MGPU_BAR2_FLAGS;
	cfg[PCI_SUBSYSTEM_VENDOR_ID] = MGPU_SUBVENDOR & 0xff;
	cfg[PCI_SUBSYSTEM_VENDOR_ID + 1] = MGPU_SUBVENDOR >> 8;
	cfg[PCI_SUBSYSTEM_ID] = self->p->slices;
	cfg[PCI_CAPABILITY_LIST] = MGPU_MSI_CAP;
	cfg[PCI_INTERRUPT_PIN] = 1;
	cfg[MGPU_MSI_CAP + PCI_CAP_LIST_ID] = PCI_CAP_ID_MSI;
	cfg[MGPU_MSI_CAP + PCI_MSI_FLAGS] = PCI_MSI_FLAGS_64BIT;
}

static void expect_config(struct __test_metadata *_metadata, int dev,
			  const __u8 *want)
{
	__u8 cfg[MGPU_CFG_SIZE];
	unsigned int i;

	ASSERT_EQ(MGPU_CFG_SIZE, vfio_region_read(dev, MGPU_CFG, 0, cfg,
						  sizeof(cfg)));
	for (i = 0; i < MGPU_CFG_SIZE; i++)
		EXPECT_EQ(want[i], cfg[i]) TH_LOG("config byte %#x", i);
}

TEST_F(mgpu, config_identity)
{
	__u8 want[MGPU_CFG_SIZE];
	__u32 val;

	if (_metadata->skip)
		return;
	config_expected(self, want);
	expect_config(_metadata, self->dev, want);

	/* The registers by their natural widths, and odd accesses. */
	EXPECT_EQ(MGPU_DEVICE << 16 | MGPU_VENDOR,
		  vfio_cfg_get(self->dev, PCI_VENDOR_ID, 4));
	EXPECT_EQ(MGPU_SUBVENDOR, vfio_cfg_get(self->dev, PCI_SUBSYSTEM_VENDOR_ID, 2));
	EXPECT_EQ(self->p->slices, vfio_cfg_get(self->dev, PCI_SUBSYSTEM_ID, 2));
	EXPECT_EQ(MGPU_CLASS_REV, vfio_cfg_get(self->dev, PCI_CLASS_REVISION, 4));
	EXPECT_EQ(PCI_HEADER_TYPE_NORMAL, vfio_cfg_get(self->dev, PCI_HEADER_TYPE, 1));
	EXPECT_EQ(MGPU_MSI_CAP, vfio_cfg_get(self->dev, PCI_CAPABILITY_LIST, 1));
	EXPECT_EQ(PCI_MSI_FLAGS_64BIT << 16 | PCI_CAP_ID_MSI,
		  vfio_cfg_get(self->dev, MGPU_MSI_CAP, 4));
	EXPECT_EQ(1, vfio_cfg_get(self->dev, PCI_INTERRUPT_PIN, 1));
	val = 0;
	ASSERT_EQ(3, vfio_region_read(self->dev, MGPU_CFG, 1, &val, 3));
	EXPECT_EQ(0x111112U, val);
	/* The last byte is in reach (it is not in the upstream samples). */
	EXPECT_EQ(0, vfio_cfg_get(self->dev, 0xff, 1));
}

TEST_F(mgpu, config_read_only)
{
	static const __u8 writable[] = {
		PCI_COMMAND, PCI_BASE_ADDRESS_0, PCI_BASE_ADDRESS_1,
		PCI_BASE_ADDRESS_2, PCI_BASE_ADDRESS_3, PCI_BASE_ADDRESS_4,
		PCI_BASE_ADDRESS_5, PCI_INTERRUPT_LINE,
		MGPU_MSI_CAP + PCI_MSI_FLAGS - 2, MGPU_MSI_CAP + PCI_MSI_ADDRESS_LO,
		MGPU_MSI_CAP + PCI_MSI_ADDRESS_HI, MGPU_MSI_CAP + PCI_MSI_DATA_64,
	};
	__u8 want[MGPU_CFG_SIZE];
	unsigned int off, i;
	bool skip;

	if (_metadata->skip)
		return;
	config_expected(self, want);
	/* Every dword without a writable bit ignores all-ones and zeros. */
	for (off = 0; off < MGPU_CFG_SIZE; off += 4) {
		skip = false;
		for (i = 0; i < sizeof(writable); i++)
			skip |= (writable[i] & ~3) == off;
		if (skip)
			continue;
		ASSERT_EQ(0, vfio_cfg_write(self->dev, off, 4, 0xffffffff));
		EXPECT_EQ(le32(want + off), vfio_cfg_get(self->dev, off, 4))
			TH_LOG("dword %#x after writing ones", off);
		ASSERT_EQ(0, vfio_cfg_write(self->dev, off, 4, 0));
		EXPECT_EQ(le32(want + off), vfio_cfg_get(self->dev, off, 4))
			TH_LOG("dword %#x after writing zeros", off);
	}

	/* The read-only halves of dwords with writable bits. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_STATUS, 2, 0xffff));
	EXPECT_EQ(PCI_STATUS_CAP_LIST, vfio_cfg_get(self->dev, PCI_STATUS, 2));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_INTERRUPT_PIN, 1, 0x04));
	EXPECT_EQ(1, vfio_cfg_get(self->dev, PCI_INTERRUPT_PIN, 1));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP, 2, 0xffff));
	EXPECT_EQ(PCI_CAP_ID_MSI, vfio_cfg_get(self->dev, MGPU_MSI_CAP, 2));

	/* Byte writes all over config space leave it as it was. */
	for (off = 0x40; off < MGPU_CFG_SIZE; off++) {
		if (off >= MGPU_MSI_CAP && off < MGPU_MSI_CAP + 0x10)
			continue;
		ASSERT_EQ(0, vfio_cfg_write(self->dev, off, 1, 0xa5));
	}
	expect_config(_metadata, self->dev, want);
}

TEST_F(mgpu, config_writable)
{
	if (_metadata->skip)
		return;
	/* Command: memory, master, parity, SERR, INTx disable; never I/O. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2, 0xffff));
	EXPECT_EQ(MGPU_CMD_WRITABLE, vfio_cfg_get(self->dev, PCI_COMMAND, 2));
	EXPECT_EQ(PCI_STATUS_CAP_LIST, vfio_cfg_get(self->dev, PCI_STATUS, 2));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2, PCI_COMMAND_IO));
	EXPECT_EQ(0, vfio_cfg_get(self->dev, PCI_COMMAND, 2));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2,
				    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	EXPECT_EQ(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
		  vfio_cfg_get(self->dev, PCI_COMMAND, 2));
	/* A byte write changes that byte only. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND + 1, 1, 0xff));
	EXPECT_EQ(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | 0x0500,
		  vfio_cfg_get(self->dev, PCI_COMMAND, 2));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2, 0));
	EXPECT_EQ(0, vfio_cfg_get(self->dev, PCI_COMMAND, 2));

	/* Interrupt line: all 8 bits. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_INTERRUPT_LINE, 1, 0xa5));
	EXPECT_EQ(0xa5, vfio_cfg_get(self->dev, PCI_INTERRUPT_LINE, 1));

	/* MSI: enable only, address dword aligned, 16 data bits. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2,
				    0xffff));
	EXPECT_EQ(PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_ENABLE,
		  vfio_cfg_get(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2, 0));
	EXPECT_EQ(PCI_MSI_FLAGS_64BIT,
		  vfio_cfg_get(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_LO,
				    4, 0xffffffff));
	EXPECT_EQ(0xfffffffc,
		  vfio_cfg_get(self->dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_LO, 4));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_HI,
				    4, 0xffffffff));
	EXPECT_EQ(0xffffffff,
		  vfio_cfg_get(self->dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_HI, 4));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_DATA_64,
				    4, 0xffffffff));
	EXPECT_EQ(0xffff,
		  vfio_cfg_get(self->dev, MGPU_MSI_CAP + PCI_MSI_DATA_64, 4));
}

TEST_F(mgpu, config_bar_sizing)
{
	__u32 bar0_mask = (__u32)~(self->vram - 1);
	unsigned int i;

	if (_metadata->skip)
		return;
	for (i = 0; i < 6; i++) {
		__u32 want = 0;

		if (i == 0)
			want = bar0_mask | MGPU_BAR0_FLAGS;
		else if (i == 2)
			want = (__u32)~(MGPU_MMIO_SIZE - 1) | MGPU_BAR2_FLAGS;
		ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_BASE_ADDRESS_0 + 4 * i,
					    4, 0xffffffff));
		EXPECT_EQ(want, vfio_cfg_get(self->dev, PCI_BASE_ADDRESS_0 + 4 * i, 4))
			TH_LOG("BAR%u", i);
	}
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_ROM_ADDRESS, 4, 0xffffffff));
	EXPECT_EQ(0, vfio_cfg_get(self->dev, PCI_ROM_ADDRESS, 4));

	/* Addresses are cut to the BAR's size. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_BASE_ADDRESS_0, 4, 0xc0001234));
	EXPECT_EQ(0xc0000000 | MGPU_BAR0_FLAGS,
		  vfio_cfg_get(self->dev, PCI_BASE_ADDRESS_0, 4));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_BASE_ADDRESS_2, 4, 0xfebf1234));
	EXPECT_EQ(0xfebf1000, vfio_cfg_get(self->dev, PCI_BASE_ADDRESS_2, 4));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_BASE_ADDRESS_2 + 3, 1, 0xab));
	EXPECT_EQ(0xabbf1000, vfio_cfg_get(self->dev, PCI_BASE_ADDRESS_2, 4));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_BASE_ADDRESS_1, 4, 0x12345678));
	EXPECT_EQ(0, vfio_cfg_get(self->dev, PCI_BASE_ADDRESS_1, 4));
}

TEST_F(mgpu, config_bounds)
{
	__u8 buf[16];

	if (_metadata->skip)
		return;
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, MGPU_CFG, MGPU_CFG_SIZE,
					    buf, 4));
	EXPECT_EQ(-EINVAL, vfio_region_write(self->dev, MGPU_CFG, MGPU_CFG_SIZE,
					     buf, 4));
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, MGPU_CFG, 0x1000, buf, 1));
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, MGPU_CFG, 0xffffffffff,
					    buf, 1));
	/* Starting inside and running past the end: cut short. */
	EXPECT_EQ(6, vfio_region_read(self->dev, MGPU_CFG, MGPU_CFG_SIZE - 6,
				      buf, sizeof(buf)));
	EXPECT_EQ(6, vfio_region_write(self->dev, MGPU_CFG, MGPU_CFG_SIZE - 6,
				       buf, sizeof(buf)));
	EXPECT_EQ(MGPU_DEVICE << 16 | MGPU_VENDOR,
		  vfio_cfg_get(self->dev, PCI_VENDOR_ID, 4));
}

/* ---- VRAM ---------------------------------------------------------------- */

static bool all_zero(const __u8 *buf, size_t len)
{
	return !len || (!buf[0] && !memcmp(buf, buf + 1, len - 1));
}

static void fill(__u8 *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (__u8)(seed + i * 7 + (i >> 8));
}

TEST_F(mgpu, vram_rw)
{
	const __u64 end = self->vram;
	__u8 buf[3 * PAGE + 777], back[sizeof(buf)], zero[PAGE];
	const ssize_t n = sizeof(buf);

	if (_metadata->skip)
		return;
	memset(zero, 0, sizeof(zero));
	/* Untouched VRAM reads zeros. */
	ASSERT_EQ(PAGE, vfio_region_read(self->dev, MGPU_VRAM, 0, back, PAGE));
	EXPECT_EQ(0, memcmp(back, zero, PAGE));
	ASSERT_EQ(PAGE, vfio_region_read(self->dev, MGPU_VRAM, end - PAGE, back,
					 PAGE));
	EXPECT_EQ(0, memcmp(back, zero, PAGE));

	/* Offset 0, a page boundary, the last byte, the last 4 bytes. */
	EXPECT_EQ(1, vfio_region_write(self->dev, MGPU_VRAM, 0, "A", 1));
	EXPECT_EQ(8, vfio_region_write(self->dev, MGPU_VRAM, PAGE - 4,
				       "crossing", 8));
	EXPECT_EQ(1, vfio_region_write(self->dev, MGPU_VRAM, end - 1, "Z", 1));
	memset(back, 0, 16);
	EXPECT_EQ(1, vfio_region_read(self->dev, MGPU_VRAM, 0, back, 1));
	EXPECT_EQ('A', back[0]);
	EXPECT_EQ(8, vfio_region_read(self->dev, MGPU_VRAM, PAGE - 4, back, 8));
	EXPECT_EQ(0, memcmp(back, "crossing", 8));
	EXPECT_EQ(1, vfio_region_read(self->dev, MGPU_VRAM, end - 1, back, 1));
	EXPECT_EQ('Z', back[0]);
	EXPECT_EQ(4, vfio_region_write(self->dev, MGPU_VRAM, end - 4, "tail", 4));
	EXPECT_EQ(4, vfio_region_read(self->dev, MGPU_VRAM, end - 4, back, 4));
	EXPECT_EQ(0, memcmp(back, "tail", 4));

	/* Several pages at an odd offset. */
	fill(buf, sizeof(buf), 3);
	EXPECT_EQ(n, vfio_region_write(self->dev, MGPU_VRAM, 12345, buf, n));
	memset(back, 0, sizeof(back));
	EXPECT_EQ(n, vfio_region_read(self->dev, MGPU_VRAM, 12345, back, n));
	EXPECT_EQ(0, memcmp(buf, back, sizeof(buf)));

	/* Past the end: cut short, or EINVAL when it starts there. */
	EXPECT_EQ(4, vfio_region_write(self->dev, MGPU_VRAM, end - 4, "abcdefgh", 8));
	memset(back, 0, 16);
	EXPECT_EQ(4, vfio_region_read(self->dev, MGPU_VRAM, end - 4, back, 16));
	EXPECT_EQ(0, memcmp(back, "abcd", 4));
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, MGPU_VRAM, end, back, 1));
	EXPECT_EQ(-EINVAL, vfio_region_write(self->dev, MGPU_VRAM, end, back, 1));
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, MGPU_VRAM, end + PAGE, back, 1));
	/* The neighbouring BAR1 is not VRAM. */
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, VFIO_PCI_BAR1_REGION_INDEX,
					    0, back, 1));
}

TEST_F(mgpu, vram_mmap)
{
	const __u64 end = self->vram;
	__u8 back[16];
	char *m;

	if (_metadata->skip)
		return;
	m = map_vram(self, 0, end);
	ASSERT_NE(MAP_FAILED, m) TH_LOG("mmap of BAR0: %s", strerror(errno));

	/* Writes through the mapping reach read(), start and last page. */
	memcpy(m + 16, "MMAPHEAD", 8);
	memcpy(m + end - 8, "MMAPTAIL", 8);
	ASSERT_EQ(8, vfio_region_read(self->dev, MGPU_VRAM, 16, back, 8));
	EXPECT_EQ(0, memcmp(back, "MMAPHEAD", 8));
	ASSERT_EQ(8, vfio_region_read(self->dev, MGPU_VRAM, end - 8, back, 8));
	EXPECT_EQ(0, memcmp(back, "MMAPTAIL", 8));

	/* And write() reaches the mapping. */
	ASSERT_EQ(8, vfio_region_write(self->dev, MGPU_VRAM, 256, "PWRHEAD!", 8));
	ASSERT_EQ(8, vfio_region_write(self->dev, MGPU_VRAM, end - PAGE + 32,
				       "PWRTAIL!", 8));
	EXPECT_EQ(0, memcmp(m + 256, "PWRHEAD!", 8));
	EXPECT_EQ(0, memcmp(m + end - PAGE + 32, "PWRTAIL!", 8));
	/* Never-touched pages map as zeros. */
	EXPECT_EQ(0, m[end / 2]);
	EXPECT_EQ(0, m[end / 2 + PAGE - 1]);
	unmap_vram(self);

	/* A mapping of the last page alone sees the same bytes. */
	m = map_vram(self, end - PAGE, PAGE);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_EQ(0, memcmp(m + PAGE - 8, "MMAPTAIL", 8));
	EXPECT_EQ(0, memcmp(m + 32, "PWRTAIL!", 8));
	unmap_vram(self);
}

static int mmap_errno(int dev, unsigned int index, __u64 offset, size_t len,
		      int flags)
{
	void *m = vfio_region_mmap(dev, index, offset, len,
				   PROT_READ | PROT_WRITE, flags);

	if (m != MAP_FAILED) {
		munmap(m, len);
		return 0;
	}
	return -errno;
}

TEST_F(mgpu, vram_mmap_bad)
{
	const __u64 end = self->vram;

	if (_metadata->skip)
		return;
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_VRAM, end - PAGE, 2 * PAGE,
				      MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_VRAM, end, PAGE, MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_VRAM, 0, end + PAGE,
				      MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_VRAM, 0, PAGE, MAP_PRIVATE));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_MMIO, 0, PAGE, MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_CFG, 0, PAGE, MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, VFIO_PCI_BAR1_REGION_INDEX, 0,
				      PAGE, MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, VFIO_PCI_NUM_REGIONS, 0, PAGE,
				      MAP_SHARED));
	/* The good one, for contrast. */
	EXPECT_EQ(0, mmap_errno(self->dev, MGPU_VRAM, end - PAGE, PAGE, MAP_SHARED));
}

TEST_F(mgpu, vram_survives_reset)
{
	const __u64 end = self->vram;
	__u8 buf[64], back[64];
	const ssize_t n = sizeof(buf);

	if (_metadata->skip)
		return;
	fill(buf, n, 11);
	ASSERT_EQ(n, vfio_region_write(self->dev, MGPU_VRAM, 0, buf, n));
	ASSERT_EQ(n, vfio_region_write(self->dev, MGPU_VRAM, end - n, buf, n));
	ASSERT_EQ(0, vfio_device_reset(self->dev));
	ASSERT_EQ(n, vfio_region_read(self->dev, MGPU_VRAM, 0, back, n));
	EXPECT_EQ(0, memcmp(buf, back, n));
	ASSERT_EQ(n, vfio_region_read(self->dev, MGPU_VRAM, end - n, back, n));
	EXPECT_EQ(0, memcmp(buf, back, n));
}

/*
 * The next opener may be another tenant: closing scrubs VRAM, whether it
 * was written through read/write or through a mapping, and the scrubbed
 * pages read as zeros through both again.
 */
TEST_F(mgpu, vram_scrubbed_for_next_opener)
{
	const __u64 end = self->vram;
	__u8 buf[64], back[64];
	const ssize_t n = sizeof(buf);
	__u8 *m;

	if (_metadata->skip)
		return;
	fill(buf, n, 23);
	ASSERT_EQ(n, vfio_region_write(self->dev, MGPU_VRAM, 0, buf, n));
	m = vfio_region_mmap(self->dev, MGPU_VRAM, end - PAGE, PAGE,
			     PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, m);
	memcpy(m + PAGE - n, buf, n);
	ASSERT_EQ(0, munmap(m, PAGE));
	ASSERT_EQ(n, vfio_region_read(self->dev, MGPU_VRAM, end - n, back, n));
	ASSERT_EQ(0, memcmp(buf, back, n));

	reopen_device(_metadata, self);
	ASSERT_EQ(n, vfio_region_read(self->dev, MGPU_VRAM, 0, back, n));
	EXPECT_TRUE(all_zero(back, n));
	ASSERT_EQ(n, vfio_region_read(self->dev, MGPU_VRAM, end - n, back, n));
	EXPECT_TRUE(all_zero(back, n));
	m = vfio_region_mmap(self->dev, MGPU_VRAM, 0, PAGE, PROT_READ,
			     MAP_SHARED);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_TRUE(all_zero(m, n));
	munmap(m, PAGE);
}

/* A new instance on the same slices starts with zeroed VRAM. */
TEST_F(mgpu, vram_zeroed_for_new_instance)
{
	const __u64 end = self->vram;
	__u8 back[8];

	if (_metadata->skip)
		return;
	ASSERT_EQ(8, vfio_region_write(self->dev, MGPU_VRAM, 0, "previous", 8));
	ASSERT_EQ(8, vfio_region_write(self->dev, MGPU_VRAM, end - 8, "previous", 8));
	vfio_client_close(&self->v);
	ASSERT_EQ(0, mgpu_remove(self->uuid, REMOVE_MS));
	/* The GPU is empty again, so the new one takes the same slices. */
	ASSERT_EQ(0, mgpu_create(variant->gpu, variant->type, self->uuid));
	open_device(_metadata, self);
	ASSERT_EQ(8, vfio_region_read(self->dev, MGPU_VRAM, 0, back, 8));
	EXPECT_EQ(0, memcmp(back, "\0\0\0\0\0\0\0\0", 8));
	ASSERT_EQ(8, vfio_region_read(self->dev, MGPU_VRAM, end - 8, back, 8));
	EXPECT_EQ(0, memcmp(back, "\0\0\0\0\0\0\0\0", 8));
}

/* ---- BAR2 registers -------------------------------------------------------- */

static void expect_regs_power_on(struct __test_metadata *_metadata,
				 struct _test_data_mgpu *self)
{
	unsigned int i;

	EXPECT_EQ(MGPU_DISPI_ID5, mgpu_dispi_get(self->dev, DISPI_ID));
	for (i = DISPI_XRES; i < DISPI_VIDEO_MEMORY_64K; i++)
		EXPECT_EQ(0, mgpu_dispi_get(self->dev, i)) TH_LOG("dispi %#x", i);
	EXPECT_EQ((long)(self->vram >> 16), mgpu_dispi_get(self->dev, DISPI_VIDEO_MEMORY_64K));
	EXPECT_EQ(8, mgpu_mmio_get(self->dev, MGPU_QEXT_SIZE, 4));
	EXPECT_EQ(MGPU_ENDIAN_LITTLE, mgpu_mmio_get(self->dev, MGPU_QEXT_ENDIAN, 4));
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(self->dev, MGPU_CTRL_ID));
	EXPECT_EQ(self->p->slices, mgpu_ctrl_get(self->dev, MGPU_CTRL_SLICES));
	EXPECT_EQ(0, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	EXPECT_EQ(0, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_ENABLE));
	EXPECT_EQ(0, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_RAISE));
	EXPECT_EQ(0, mgpu_ctrl_get(self->dev, MGPU_CTRL_SCRATCH));
	for (i = 0; i < 0x20; i += 2)
		EXPECT_EQ(0, mgpu_mmio_get(self->dev, MGPU_MMIO_VGA + i, 2))
			TH_LOG("VGA %#x", i);
}

TEST_F(mgpu, regs_power_on)
{
	__u8 edid[MGPU_MMIO_VGA];
	unsigned int i, sum = 0;
	const __u8 *dtd;

	if (_metadata->skip)
		return;
	expect_regs_power_on(_metadata, self);
	EXPECT_EQ(0, mgpu_mmio_get(self->dev, 0x700, 4));
	EXPECT_EQ(0, mgpu_mmio_get(self->dev, MGPU_MMIO_SIZE - 4, 4));

	/* The EDID block: 128 bytes of EDID 1.4, zeros after. */
	ASSERT_EQ(MGPU_MMIO_VGA, vfio_region_read(self->dev, MGPU_MMIO,
						  MGPU_MMIO_EDID, edid, sizeof(edid)));
	EXPECT_EQ(0, memcmp(edid, "\0\xff\xff\xff\xff\xff\xff\0", 8));
	for (i = 0; i < 128; i++)
		sum += edid[i];
	EXPECT_EQ(0U, sum % 256);
	EXPECT_EQ(0x34, edid[8]);	/* "MGP" */
	EXPECT_EQ(0xf0, edid[9]);
	EXPECT_EQ(self->p->slices, le16(edid + 10));
	EXPECT_EQ(1, edid[18]);
	EXPECT_EQ(4, edid[19]);
	dtd = edid + 54;		/* the preferred mode: the profile's max */
	EXPECT_EQ(self->p->max_width,
		  (unsigned int)(dtd[2] | (dtd[4] >> 4) << 8));
	EXPECT_EQ(self->p->max_height,
		  (unsigned int)(dtd[5] | (dtd[7] >> 4) << 8));
	for (i = 128; i < sizeof(edid); i++)
		EXPECT_EQ(0, edid[i]) TH_LOG("EDID byte %u", i);
}

TEST_F(mgpu, regs_rw)
{
	__u8 buf[64];
	__u32 val;

	if (_metadata->skip)
		return;
	/* Read-only dispi registers. */
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_ID, 0x1234));
	EXPECT_EQ(MGPU_DISPI_ID5, mgpu_dispi_get(self->dev, DISPI_ID));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_VIDEO_MEMORY_64K, 7));
	EXPECT_EQ((long)(self->vram >> 16), mgpu_dispi_get(self->dev, DISPI_VIDEO_MEMORY_64K));

	/* XRES and YRES are clamped to the profile's maximum. */
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_XRES, 4000));
	EXPECT_EQ(self->p->max_width, mgpu_dispi_get(self->dev, DISPI_XRES));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_XRES, 0xffff));
	EXPECT_EQ(self->p->max_width, mgpu_dispi_get(self->dev, DISPI_XRES));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_XRES, self->p->max_width));
	EXPECT_EQ(self->p->max_width, mgpu_dispi_get(self->dev, DISPI_XRES));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_XRES, 640));
	EXPECT_EQ(640, mgpu_dispi_get(self->dev, DISPI_XRES));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_YRES, 5000));
	EXPECT_EQ(self->p->max_height, mgpu_dispi_get(self->dev, DISPI_YRES));

	/* BPP takes 0, 8, 16, 24 and 32 only. */
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_BPP, 32));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_BPP, 17));
	EXPECT_EQ(32, mgpu_dispi_get(self->dev, DISPI_BPP));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_BPP, 16));
	EXPECT_EQ(16, mgpu_dispi_get(self->dev, DISPI_BPP));

	/* 8-bit halves of a dispi register. */
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_DISPI(DISPI_VIRT_WIDTH), 1, 0x34));
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_DISPI(DISPI_VIRT_WIDTH) + 1, 1,
				     0x12));
	EXPECT_EQ(0x1234, mgpu_dispi_get(self->dev, DISPI_VIRT_WIDTH));
	EXPECT_EQ(0x12, mgpu_mmio_get(self->dev, MGPU_DISPI(DISPI_VIRT_WIDTH) + 1, 1));

	/* Control block. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_SCRATCH, 0xdeadbeef));
	EXPECT_EQ(0xdeadbeef, mgpu_ctrl_get(self->dev, MGPU_CTRL_SCRATCH));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_ID, 0));
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(self->dev, MGPU_CTRL_ID));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_SLICES, 0x55));
	EXPECT_EQ(self->p->slices, mgpu_ctrl_get(self->dev, MGPU_CTRL_SLICES));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x5));
	EXPECT_EQ(0x5, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	EXPECT_EQ(0, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_RAISE));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x1));
	EXPECT_EQ(0x4, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x80000001));
	EXPECT_EQ(0x80000001, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_ENABLE));

	/* QEMU extended: ENDIAN stores what is written. */
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_QEXT_ENDIAN, 4, MGPU_ENDIAN_BIG));
	EXPECT_EQ(MGPU_ENDIAN_BIG, mgpu_mmio_get(self->dev, MGPU_QEXT_ENDIAN, 4));
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_QEXT_SIZE, 4, 0x20));
	EXPECT_EQ(8, mgpu_mmio_get(self->dev, MGPU_QEXT_SIZE, 4));

	/* VGA bytes are stored; input status 1 always reads 0. */
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_MMIO_VGA, 1, 0x20));
	EXPECT_EQ(0x20, mgpu_mmio_get(self->dev, MGPU_MMIO_VGA, 1));
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_MMIO_VGA + 0x1a, 1, 0x55));
	EXPECT_EQ(0, mgpu_mmio_get(self->dev, MGPU_MMIO_VGA + 0x1a, 1));

	/* Widths and alignment a block does not take. */
	EXPECT_EQ(-EINVAL, mgpu_mmio_read(self->dev, MGPU_DISPI(0), 4, &val));
	EXPECT_EQ(-EINVAL, mgpu_mmio_read(self->dev, MGPU_DISPI(0) + 1, 2, &val));
	EXPECT_EQ(-EINVAL, mgpu_mmio_read(self->dev, MGPU_CTRL_ID, 1, &val));
	EXPECT_EQ(-EINVAL, mgpu_mmio_read(self->dev, MGPU_CTRL_ID, 2, &val));
	EXPECT_EQ(-EINVAL, mgpu_mmio_write(self->dev, MGPU_CTRL_SCRATCH, 2, 0));
	EXPECT_EQ(-EINVAL, mgpu_mmio_read(self->dev, MGPU_QEXT_SIZE, 2, &val));
	EXPECT_EQ(-EINVAL, mgpu_mmio_read(self->dev, MGPU_MMIO_VGA, 4, &val));
	EXPECT_EQ(-EINVAL, mgpu_mmio_read(self->dev, 0x3fe, 4, &val));
	EXPECT_EQ(0xdeadbeef, mgpu_ctrl_get(self->dev, MGPU_CTRL_SCRATCH));

	/* Other sizes are split: two control registers, no dispi pair. */
	ASSERT_EQ(8, vfio_region_read(self->dev, MGPU_MMIO, MGPU_CTRL_ID, buf, 8));
	EXPECT_EQ((__u32)MGPU_CTRL_ID_VALUE, le32(buf));
	EXPECT_EQ(self->p->slices, le32(buf + 4));
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, MGPU_MMIO, MGPU_DISPI(0),
					    buf, 8));
	/* A split access stops at the first piece refused: 2 of 6 bytes. */
	EXPECT_EQ(2, vfio_region_read(self->dev, MGPU_MMIO,
				      MGPU_DISPI(DISPI_Y_OFFSET), buf, 6));
	/* Reserved space takes any width and reads 0. */
	EXPECT_EQ(0, mgpu_mmio_get(self->dev, 0x421, 1));
	EXPECT_EQ(0, mgpu_mmio_get(self->dev, 0x7fe, 2));
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, 0x818, 4, 0xffffffff));
	EXPECT_EQ(0, mgpu_mmio_get(self->dev, 0x818, 4));

	/* The EDID ignores writes. */
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_MMIO_EDID, 4, 0x12345678));
	EXPECT_EQ(0xffffff00, mgpu_mmio_get(self->dev, MGPU_MMIO_EDID, 4));

	/* The end of BAR2. */
	EXPECT_EQ(32, vfio_region_read(self->dev, MGPU_MMIO, MGPU_MMIO_SIZE - 32,
				       buf, sizeof(buf)));
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, MGPU_MMIO, MGPU_MMIO_SIZE,
					    buf, 4));
	EXPECT_EQ(-EINVAL, vfio_region_write(self->dev, MGPU_MMIO, MGPU_MMIO_SIZE,
					     buf, 4));
}

static bool intx_status(int dev)
{
	return vfio_cfg_get(dev, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT;
}

/*
 * Changes every piece of state a reset or close must undo, with an INTx
 * eventfd installed (returned) to see what becomes of it.
 */
static int dirty_everything(struct __test_metadata *_metadata,
			    struct _test_data_mgpu *self)
{
	static const struct mgpu_mode mode = {
		.xres = 640, .yres = 480, .bpp = 32, .virt_width = 800,
		.x_offset = 8, .y_offset = 2, .enable = 0x41,
	};
	int efd = irq_eventfd(_metadata, self->dev, VFIO_PCI_INTX_IRQ_INDEX);

	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2, MGPU_CMD_WRITABLE));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_BASE_ADDRESS_0, 4, 0xc0000000));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_BASE_ADDRESS_2, 4, 0xfebf0000));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_INTERRUPT_LINE, 1, 11));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_LO, 4,
				    0xfee00000));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_HI, 4,
				    0x1));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_DATA_64, 2,
				    0x4021));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2,
				    PCI_MSI_FLAGS_ENABLE));
	ASSERT_EQ(0, mgpu_set_mode(self->dev, &mode));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_BANK, 3));
	ASSERT_EQ(0, mgpu_dispi_set(self->dev, DISPI_VIRT_HEIGHT, 600));
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_MMIO_VGA + 4, 2, 0xabcd));
	ASSERT_EQ(0, mgpu_mmio_write(self->dev, MGPU_QEXT_ENDIAN, 4, MGPU_ENDIAN_BIG));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_SCRATCH, 0x12345678));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0xff));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x3));
	/* Sanity: it did change. */
	ASSERT_EQ(MGPU_CMD_WRITABLE, vfio_cfg_get(self->dev, PCI_COMMAND, 2));
	ASSERT_EQ(640, mgpu_dispi_get(self->dev, DISPI_XRES));
	ASSERT_EQ(0x3, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	return efd;
}

/* Config space and registers as they are at power-on. */
static void expect_power_on(struct __test_metadata *_metadata,
			    struct _test_data_mgpu *self)
{
	__u8 want[MGPU_CFG_SIZE];

	config_expected(self, want);
	expect_config(_metadata, self->dev, want);
	expect_regs_power_on(_metadata, self);
}

TEST_F(mgpu, reset_power_on)
{
	int efd;

	if (_metadata->skip)
		return;
	efd = dirty_everything(_metadata, self);
	ASSERT_EQ(0, vfio_device_reset(self->dev));
	expect_power_on(_metadata, self);

	/* A reset keeps the eventfds: INTx still reaches ours. */
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 1));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 1));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	close(efd);
}

TEST_F(mgpu, close_power_on)
{
	int efd;

	if (_metadata->skip)
		return;
	efd = dirty_everything(_metadata, self);
	reopen_device(_metadata, self);
	expect_power_on(_metadata, self);

	/* Closing dropped the eventfds: the old one hears nothing. */
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 1));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	EXPECT_TRUE(intx_status(self->dev));
	close(efd);
}

/* ---- interrupts --------------------------------------------------------------- */

/* VFIO_DEVICE_SET_IRQS @action on INTx with a bool. */
static int intx_set_bool(int dev, __u32 action, bool set)
{
	__u8 val = set;

	return vfio_set_irqs(dev, VFIO_PCI_INTX_IRQ_INDEX,
			     VFIO_IRQ_SET_DATA_BOOL | action, 0, 1, &val, 1, 0);
}

TEST_F(mgpu, intx_automask)
{
	int efd;

	if (_metadata->skip)
		return;
	efd = irq_eventfd(_metadata, self->dev, VFIO_PCI_INTX_IRQ_INDEX);
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x1));

	/* A cause that is not enabled does not interrupt. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x2));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	EXPECT_FALSE(intx_status(self->dev));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x2));

	/* Raise: signalled once, then automasked. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	EXPECT_TRUE(intx_status(self->dev));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x1));
	EXPECT_FALSE(intx_status(self->dev));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	EXPECT_TRUE(intx_status(self->dev));

	/* Unmask while still asserted: signalled again (level). */
	ASSERT_EQ(0, vfio_irq_unmask(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));

	/* Acknowledged, then unmasked: nothing; the next raise fires. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x1));
	ASSERT_EQ(0, vfio_irq_unmask(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));

	/* Enabling a pending cause asserts the line too. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x1));
	ASSERT_EQ(0, vfio_irq_unmask(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x4));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x5));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));

	/* The loopback trigger signals the eventfd; a false bool does not. */
	ASSERT_EQ(0, vfio_irq_trigger(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	ASSERT_EQ(0, intx_set_bool(self->dev, VFIO_IRQ_SET_ACTION_TRIGGER, false));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, intx_set_bool(self->dev, VFIO_IRQ_SET_ACTION_TRIGGER, true));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));

	/* MASK and UNMASK take a bool too. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x5));
	ASSERT_EQ(0, vfio_irq_unmask(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	ASSERT_EQ(0, intx_set_bool(self->dev, VFIO_IRQ_SET_ACTION_MASK, true));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, intx_set_bool(self->dev, VFIO_IRQ_SET_ACTION_UNMASK, false));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, intx_set_bool(self->dev, VFIO_IRQ_SET_ACTION_UNMASK, true));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	close(efd);
}

TEST_F(mgpu, intx_mask_and_disable)
{
	int efd;

	if (_metadata->skip)
		return;
	efd = irq_eventfd(_metadata, self->dev, VFIO_PCI_INTX_IRQ_INDEX);
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x1));

	/* Masked by user space: held until unmasked. */
	ASSERT_EQ(0, vfio_irq_mask(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	ASSERT_EQ(0, vfio_irq_unmask(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x1));
	ASSERT_EQ(0, vfio_irq_unmask(self->dev, VFIO_PCI_INTX_IRQ_INDEX));

	/* Interrupt disable keeps it off the wire, not out of the status. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2,
				    PCI_COMMAND_INTX_DISABLE));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	EXPECT_TRUE(intx_status(self->dev));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2, 0));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));

	/* Without a trigger (count 0), raising only sets status. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x1));
	ASSERT_EQ(0, vfio_irq_disable(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	EXPECT_TRUE(intx_status(self->dev));
	close(efd);
}

TEST_F(mgpu, intx_without_eventfd)
{
	int efd;

	if (_metadata->skip)
		return;
	/* No eventfd at all: status bits only, and no crash. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x1));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(1, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	EXPECT_TRUE(intx_status(self->dev));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0xffffffff));
	EXPECT_EQ(0xffffffff, mgpu_ctrl_get(self->dev, MGPU_CTRL_IRQ_STATUS));
	EXPECT_EQ(0, vfio_irq_trigger(self->dev, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(0, vfio_irq_trigger(self->dev, VFIO_PCI_MSI_IRQ_INDEX));
	EXPECT_EQ(0, vfio_irq_trigger(self->dev, VFIO_PCI_REQ_IRQ_INDEX));
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(self->dev, MGPU_CTRL_ID));

	/* An eventfd installed while the line is asserted fires at once. */
	efd = irq_eventfd(_metadata, self->dev, VFIO_PCI_INTX_IRQ_INDEX);
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	/* Removing it with -1 works, and then raising is silent again. */
	ASSERT_EQ(0, vfio_irq_set_eventfd(self->dev, VFIO_PCI_INTX_IRQ_INDEX, -1));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0xffffffff));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	EXPECT_TRUE(intx_status(self->dev));
	close(efd);
}

static void msi_enable(struct __test_metadata *_metadata, int dev, bool master)
{
	ASSERT_EQ(0, vfio_cfg_write(dev, MGPU_MSI_CAP + PCI_MSI_ADDRESS_LO, 4,
				    0xfee00000));
	ASSERT_EQ(0, vfio_cfg_write(dev, MGPU_MSI_CAP + PCI_MSI_DATA_64, 2, 0x41));
	ASSERT_EQ(0, vfio_cfg_write(dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2,
				    PCI_MSI_FLAGS_ENABLE));
	ASSERT_EQ(0, vfio_cfg_write(dev, PCI_COMMAND, 2, PCI_COMMAND_MEMORY |
				    (master ? PCI_COMMAND_MASTER : 0)));
}

TEST_F(mgpu, msi)
{
	int intx, msi;

	if (_metadata->skip)
		return;
	intx = irq_eventfd(_metadata, self->dev, VFIO_PCI_INTX_IRQ_INDEX);
	msi_enable(_metadata, self->dev, true);
	msi = irq_eventfd(_metadata, self->dev, VFIO_PCI_MSI_IRQ_INDEX);
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x3));

	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(intx, 0));
	EXPECT_FALSE(intx_status(self->dev));

	/* Edge-triggered: the same pending cause sends nothing more. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, 0));
	/* Another cause does, and so does a cleared and raised one. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x2));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, FIRE_MS));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x3));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(intx, 0));

	/* MSI disabled in config space: back to INTx. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x3));
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2, 0));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(1, vfio_eventfd_wait(intx, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, 0));
	EXPECT_TRUE(intx_status(self->dev));
	/* Disabling MSI forgot what was sent: enabling it again sends. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, MGPU_MSI_CAP + PCI_MSI_FLAGS, 2,
				    PCI_MSI_FLAGS_ENABLE));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, FIRE_MS));
	EXPECT_FALSE(intx_status(self->dev));
	close(intx);
	close(msi);
}

TEST_F(mgpu, msi_gated_by_master)
{
	int intx, msi;

	if (_metadata->skip)
		return;
	intx = irq_eventfd(_metadata, self->dev, VFIO_PCI_INTX_IRQ_INDEX);
	msi = irq_eventfd(_metadata, self->dev, VFIO_PCI_MSI_IRQ_INDEX);
	msi_enable(_metadata, self->dev, false);
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x1));

	/* No bus mastering, no message: the cause stays pending... */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, 0));
	EXPECT_EQ(0, vfio_eventfd_wait(intx, 0));
	/* ...and goes out once when MASTER is set. */
	ASSERT_EQ(0, vfio_cfg_write(self->dev, PCI_COMMAND, 2,
				    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, 0));
	EXPECT_EQ(0, vfio_eventfd_wait(intx, 0));

	/* A cause raised with no MSI eventfd goes out when one is installed. */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_STATUS, 0x1));
	ASSERT_EQ(0, vfio_irq_disable(self->dev, VFIO_PCI_MSI_IRQ_INDEX));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(msi, 0));
	ASSERT_EQ(0, vfio_irq_set_eventfd(self->dev, VFIO_PCI_MSI_IRQ_INDEX, msi));
	EXPECT_EQ(1, vfio_eventfd_wait(msi, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(intx, 0));
	close(intx);
	close(msi);
}

struct remover {
	const char *uuid;
	int done;		/* an eventfd, signalled when the write returned */
	int ret;
};

static void *remove_thread(void *arg)
{
	struct remover *r = arg;
	__u64 one = 1;

	r->ret = mdev_remove(r->uuid);
	if (write(r->done, &one, sizeof(one)) != sizeof(one))
		r->ret = -EIO;
	return NULL;
}

TEST_F_TIMEOUT(mgpu, req_on_remove, 60)
{
	struct remover r = { .uuid = self->uuid };
	pthread_t thread;
	int req;

	if (_metadata->skip)
		return;
	req = irq_eventfd(_metadata, self->dev, VFIO_PCI_REQ_IRQ_INDEX);
	r.done = vfio_eventfd();
	ASSERT_LE(0, r.done);
	/* The loopback trigger, to see the eventfd is the right one. */
	ASSERT_EQ(0, vfio_irq_trigger(self->dev, VFIO_PCI_REQ_IRQ_INDEX));
	ASSERT_EQ(1, vfio_eventfd_wait(req, FIRE_MS));

	ASSERT_EQ(0, pthread_create(&thread, NULL, remove_thread, &r));
	/* The request comes at once; the removal waits for the close. */
	EXPECT_LE(1, vfio_eventfd_wait(req, 5000));
	EXPECT_EQ(0, vfio_eventfd_wait(r.done, 200));
	EXPECT_TRUE(mdev_exists(self->uuid));

	vfio_client_close(&self->v);
	EXPECT_EQ(1, vfio_eventfd_wait(r.done, 20000));
	pthread_join(thread, NULL);
	EXPECT_EQ(0, r.ret);
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_EQ(1, mgpu_available(variant->gpu, MGPU_FULL));
	close(req);
	close(r.done);
}

TEST_F(mgpu, set_irqs_bad)
{
	static const struct {
		unsigned int index;
		__u32 flags;
		__u32 start;
		__u32 count;
		char what[24];
	} bad[] = {
		{ VFIO_PCI_NUM_IRQS, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		  0, 0, "index 5" },
		{ ~0U, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		  0, 0, "index ~0" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 2, "INTx count 2" },
		{ VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 1, 1, "MSI start 1" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 1, 0, "INTx start 1" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
		  "two data types" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK, 0, 1,
		  "two actions" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE, 0, 1,
		  "no action" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
		  "no data type" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_TRIGGER | 1u << 6, 0, 1, "unknown flag" },
		{ VFIO_PCI_MSIX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, "MSI-X trigger" },
		{ VFIO_PCI_ERR_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, "ERR trigger" },
		{ VFIO_PCI_MSI_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_MASK, 0, 1, "MSI mask" },
		{ VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, "REQ unmask" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_NONE |
		  VFIO_IRQ_SET_ACTION_UNMASK, 0, 0, "INTx unmask count 0" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		  VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, "INTx unmask eventfd" },
		{ VFIO_PCI_INTX_IRQ_INDEX, VFIO_IRQ_SET_DATA_EVENTFD |
		  VFIO_IRQ_SET_ACTION_MASK, 0, 1, "INTx mask eventfd" },
	};
	__s32 data[2];
	unsigned int i;
	int efd;

	if (_metadata->skip)
		return;
	efd = vfio_eventfd();
	ASSERT_LE(0, efd);
	data[0] = efd;
	data[1] = efd;
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(-EINVAL, vfio_set_irqs(self->dev, bad[i].index,
						 bad[i].flags, bad[i].start,
						 bad[i].count, data,
						 sizeof(data), 0))
			TH_LOG("%s", bad[i].what);

	/* argsz short of the header, or of the data its count needs. */
	EXPECT_EQ(-EINVAL, vfio_set_irqs(self->dev, VFIO_PCI_INTX_IRQ_INDEX,
					 VFIO_IRQ_SET_DATA_NONE |
					 VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
					 NULL, 0, -1));
	EXPECT_EQ(-EINVAL, vfio_set_irqs(self->dev, VFIO_PCI_INTX_IRQ_INDEX,
					 VFIO_IRQ_SET_DATA_EVENTFD |
					 VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
					 data, sizeof(data[0]), -4));
	/* Not an eventfd, not a file, below -1. */
	EXPECT_EQ(-EINVAL, vfio_irq_set_eventfd(self->dev, VFIO_PCI_INTX_IRQ_INDEX,
						self->dev));
	EXPECT_EQ(-EBADF, vfio_irq_set_eventfd(self->dev, VFIO_PCI_INTX_IRQ_INDEX,
					       999));
	EXPECT_EQ(-EINVAL, vfio_irq_set_eventfd(self->dev, VFIO_PCI_MSI_IRQ_INDEX,
						-2));

	/* None of it installed anything: INTx is still silent... */
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_ENABLE, 0x1));
	ASSERT_EQ(0, mgpu_ctrl_set(self->dev, MGPU_CTRL_IRQ_RAISE, 0x1));
	EXPECT_EQ(0, vfio_eventfd_wait(efd, 0));
	/* ...and the good request still works. */
	ASSERT_EQ(0, vfio_irq_set_eventfd(self->dev, VFIO_PCI_INTX_IRQ_INDEX, efd));
	EXPECT_EQ(1, vfio_eventfd_wait(efd, FIRE_MS));
	close(efd);
}

/* ---- bad input sweep ------------------------------------------------------------ */

TEST_F(mgpu, bad_input)
{
	static const unsigned long bad_cmds[] = {
		_IO(VFIO_TYPE, VFIO_BASE + 30),
		_IO(VFIO_TYPE, VFIO_BASE + 99),
		_IO('X', 1),
		0,
		VFIO_GET_API_VERSION,
		VFIO_CHECK_EXTENSION,
		VFIO_SET_IOMMU,
		VFIO_GROUP_GET_STATUS,
		VFIO_IOMMU_MAP_DMA,
	};
	struct vfio_device_gfx_plane_info plane;
	struct vfio_region_info region;
	struct vfio_device_info info;
	struct vfio_irq_info irq;
	__u8 buf[64];
	unsigned int i;
	__u32 id;

	if (_metadata->skip)
		return;
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < ARRAY_SIZE(bad_cmds); i++)
		EXPECT_EQ(-ENOTTY, vfio_ioctl(self->dev, bad_cmds[i], buf))
			TH_LOG("ioctl %#lx", bad_cmds[i]);

	/* argsz too small. */
	memset(&info, 0, sizeof(info));
	info.argsz = 4;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_INFO, &info));
	memset(&region, 0, sizeof(region));
	region.argsz = 16;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO,
				      &region));
	memset(&irq, 0, sizeof(irq));
	irq.argsz = 12;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_IRQ_INFO, &irq));
	memset(&plane, 0, sizeof(plane));
	plane.argsz = 8;
	plane.flags = VFIO_GFX_PLANE_TYPE_REGION;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_QUERY_GFX_PLANE,
				      &plane));

	/* Unknown flags. */
	plane.argsz = sizeof(plane);
	plane.flags = 1u << 3;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_QUERY_GFX_PLANE,
				      &plane));
	plane.flags = VFIO_GFX_PLANE_TYPE_REGION | 1u << 3;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_QUERY_GFX_PLANE,
				      &plane));
	EXPECT_EQ(-EINVAL, vfio_set_irqs(self->dev, VFIO_PCI_INTX_IRQ_INDEX,
					 VFIO_IRQ_SET_DATA_NONE |
					 VFIO_IRQ_SET_ACTION_TRIGGER | 1u << 31,
					 0, 1, NULL, 0, 0));

	/* Bad indexes. */
	region.argsz = sizeof(region);
	region.index = VFIO_PCI_NUM_REGIONS;
	EXPECT_EQ(-EINVAL, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO,
				      &region));
	EXPECT_EQ(-EINVAL, vfio_irq_info(self->dev, VFIO_PCI_NUM_IRQS, &irq));
	EXPECT_EQ(-EINVAL, vfio_irq_mask(self->dev, VFIO_PCI_NUM_IRQS));

	/* Every region: at its end (0 for the empty ones) and far beyond. */
	for (i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		__u64 size = region_expected(self, i).size;

		EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, i, size, buf, 4))
			TH_LOG("read at the end of region %u", i);
		EXPECT_EQ(-EINVAL, vfio_region_write(self->dev, i, size, buf, 4))
			TH_LOG("write at the end of region %u", i);
		EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, i, 1ULL << 39, buf, 1))
			TH_LOG("read far into region %u", i);
	}
	EXPECT_EQ(-EINVAL, vfio_region_read(self->dev, VFIO_PCI_NUM_REGIONS, 0,
					    buf, 4));
	EXPECT_EQ(-EINVAL, vfio_region_write(self->dev, 0xff, 0, buf, 4));

	/* Mappings past BAR0, of other regions. */
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_VRAM, self->vram - PAGE,
				      2 * PAGE, MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_VRAM, self->vram, PAGE,
				      MAP_SHARED));
	EXPECT_EQ(-EINVAL, mmap_errno(self->dev, MGPU_MMIO, 0, PAGE, MAP_SHARED));

	/* Unknown plane ids, bad pointers. */
	id = 0;
	EXPECT_EQ(-ENOENT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &id));
	id = 12345;
	EXPECT_EQ(-ENOENT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_GFX_DMABUF, &id));
	EXPECT_EQ(-EFAULT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_INFO, (void *)8));
	EXPECT_EQ(-EFAULT, vfio_ioctl(self->dev, VFIO_DEVICE_GET_REGION_INFO,
				      (void *)8));
	EXPECT_EQ(-EFAULT, vfio_ioctl(self->dev, VFIO_DEVICE_SET_IRQS, (void *)8));
	EXPECT_EQ(-EFAULT, vfio_region_read(self->dev, MGPU_CFG, 0, (void *)8, 4));
	EXPECT_EQ(-EFAULT, vfio_region_write(self->dev, MGPU_VRAM, 0, (void *)8, 4));

	/* After all that, the device still works. */
	ASSERT_EQ(4, vfio_region_write(self->dev, MGPU_VRAM, 100, "ok!!", 4));
	ASSERT_EQ(4, vfio_region_read(self->dev, MGPU_VRAM, 100, buf, 4));
	EXPECT_EQ(0, memcmp(buf, "ok!!", 4));
	EXPECT_EQ(MGPU_DEVICE << 16 | MGPU_VENDOR,
		  vfio_cfg_get(self->dev, PCI_VENDOR_ID, 4));
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(self->dev, MGPU_CTRL_ID));
	ASSERT_EQ(0, vfio_device_info(self->dev, &info));
	EXPECT_EQ(9U, info.num_regions);
}

/* ---- single usage ------------------------------------------------------------------ */

enum { SU_A, SU_B, SU_F, SU_C, SU_N };

FIXTURE(single_usage) {
	char uuid[SU_N][UUID_STR_LEN];
	bool created[SU_N];
	struct vfio_client v[SU_N];
};

FIXTURE_SETUP(single_usage)
{
	unsigned int i;

	for (i = 0; i < SU_N; i++)
		vfio_client_init(&self->v[i]);
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	for (i = 0; i < SU_N; i++)
		uuid_gen(self->uuid[i]);
	ASSERT_EQ(1, mgpu_available(0, MGPU_FULL));
	ASSERT_EQ(1, mgpu_available(1, MGPU_FULL));
}

FIXTURE_TEARDOWN(single_usage)
{
	unsigned int i;

	for (i = 0; i < SU_N; i++)
		vfio_client_close(&self->v[i]);
	for (i = 0; i < SU_N; i++)
		if (self->created[i] && mdev_exists(self->uuid[i]))
			EXPECT_EQ(0, mgpu_remove(self->uuid[i], REMOVE_MS));
}

static int su_create(struct _test_data_single_usage *self, unsigned int which,
		     unsigned int gpu, unsigned int type)
{
	int ret = mgpu_create(gpu, type, self->uuid[which]);

	self->created[which] = !ret;
	return ret;
}

/*
 * Opens instance @which: 0 or -errno.  A refusal must come from the device
 * (VFIO_GROUP_GET_DEVICE_FD, where open_device runs), not from an earlier
 * step, or the test would pass for the wrong reason: -EIO then.
 */
static int su_open(struct _test_data_single_usage *self, unsigned int which)
{
	struct vfio_client *v = &self->v[which];
	int ret;

	vfio_client_close(v);		/* never leak an open device */
	ret = vfio_client_open(v, self->uuid[which]);

	if (ret && strcmp(v->failed_at, "VFIO_GROUP_GET_DEVICE_FD")) {
		fprintf(stderr, "# open failed at %s: %s\n", v->failed_at,
			strerror(-ret));
		return -EIO;
	}
	return ret;
}

/* What another process gets when it opens @uuid: 0 or -errno. */
static int open_in_child(const char *uuid)
{
	struct vfio_client v;
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		vfio_client_init(&v);
		_exit(-vfio_client_open(&v, uuid));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -ECHILD;
	return -WEXITSTATUS(status);
}

TEST(single_usage_types)
{
	char buf[8];
	unsigned int gpu, type;

	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	for (gpu = 0; gpu < MGPU_DEFAULT_GPUS; gpu++) {
		for (type = 0; type < MGPU_NR_TYPES; type++) {
			ASSERT_EQ(2, mgpu_type_read(gpu, type,
						    "single_usage_restriction",
						    buf, sizeof(buf)));
			EXPECT_STREQ(mgpu_profiles[type].single ? "Y\n" : "N\n",
				     buf);
		}
	}
}

TEST_F(single_usage, one_per_process)
{
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, su_create(self, SU_A, 0, MGPU_EIGHTH));
	ASSERT_EQ(0, su_create(self, SU_B, 0, MGPU_HALF));
	ASSERT_EQ(0, su_create(self, SU_F, 1, MGPU_FULL));

	ASSERT_EQ(0, su_open(self, SU_A));
	/* A second single-usage instance in this process: EBUSY. */
	EXPECT_EQ(-EBUSY, su_open(self, SU_B));
	/* Another process may open it. */
	EXPECT_EQ(0, open_in_child(self->uuid[SU_B]));
	/* A full GPU is not restricted and does not count. */
	EXPECT_EQ(0, su_open(self, SU_F));
	EXPECT_EQ(-EBUSY, su_open(self, SU_B));
	/* The refused open did not disturb the one that holds the claim. */
	EXPECT_EQ(MGPU_CTRL_ID_VALUE, mgpu_ctrl_get(self->v[SU_A].device,
						    MGPU_CTRL_ID));

	/* Closing the first drops the claim. */
	vfio_client_close(&self->v[SU_A]);
	EXPECT_EQ(0, su_open(self, SU_B));
	EXPECT_EQ(-EBUSY, su_open(self, SU_A));
	vfio_client_close(&self->v[SU_F]);

	/* Whatever the GPU: a quarter on mgpu1 is refused too. */
	ASSERT_EQ(0, mgpu_remove(self->uuid[SU_F], REMOVE_MS));
	ASSERT_EQ(0, su_create(self, SU_C, 1, MGPU_QUARTER));
	EXPECT_EQ(-EBUSY, su_open(self, SU_C));
	vfio_client_close(&self->v[SU_B]);
	EXPECT_EQ(0, su_open(self, SU_C));
}

/* Full instances: any number of them in one process. */
TEST_F(single_usage, full_unrestricted)
{
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, su_create(self, SU_A, 0, MGPU_FULL));
	ASSERT_EQ(0, su_create(self, SU_F, 1, MGPU_FULL));
	EXPECT_EQ(0, su_open(self, SU_A));
	EXPECT_EQ(0, su_open(self, SU_F));
}

int main(int argc, char **argv)
{
	mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	return test_harness_run(argc, argv);
}
