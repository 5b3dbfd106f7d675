/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mgpu.h - definitions shared by the files of the mgpu sample, a mediated
 * GPU: emulated physical GPUs (mdev parents) partitioned into instances
 * (mdev devices) that VFIO serves to guests as PCI display devices.
 *
 * Files and their jobs:
 *   mgpu_main.c     module parameters, virtual GPUs, what every GPU shares
 *                   (its mdev parent, partition profiles as types, VRAM
 *                   placement, the version rule)
 *   mgpu_pci.c      the PCI driver: a bound PCI function as a GPU whose VRAM
 *                   is carved out of its largest prefetchable BAR
 *   mgpu_config.c   emulated PCI config space
 *   mgpu_regs.c     the MMIO register BAR: bochs dispi display block, VGA
 *                   ports, QEMU extended registers, the mgpu control block
 *   mgpu_vram.c     VRAM: bulk region access, mmap, and the system-RAM
 *                   backend (pages on first touch)
 *   mgpu_vram_bar.c the VRAM backend of PCI GPUs: a slice of a PCI BAR
 *   mgpu_irq.c      INTx, MSI and REQ interrupts through eventfds
 *   mgpu_display.c  display planes: REGION and DMABUF, the dma-buf exporter
 *   mgpu_vfio.c     the vfio_device_ops glue and the mdev driver
 *   mgpu_migration.c  VFIO migration v2: the state machine, the saving and
 *                   resuming files (the stream's layout is mgpu_stream.h)
 *   mgpu_engine.c   the compute engine: its registers, command decode,
 *                   validation and execution (the ABI: mgpu_engine_abi.h)
 *   mgpu_sched.c    the per-GPU engine scheduler: weighted fair sharing of
 *                   engine time between instances, and its sysfs files
 *
 * Documentation/driver-api/mgpu.rst describes the device as a guest sees it.
 *
 * Conventions: mgpu_config_*(), mgpu_mmio_rw(), mgpu_regs_reset() and
 * mgpu_irq_*() are called with mgpu_device.lock held and work on kernel
 * buffers; mgpu_vram_*() take user buffers and do not need the lock.
 * mgpu_set_irqs() and mgpu_request() take the lock themselves (the first
 * copies user data before it), and mgpu_irq_info() needs none.
 * mgpu_migration.lock, which orders state transitions, is taken before
 * mgpu_device.lock, never while holding it.
 */

#ifndef MGPU_H
#define MGPU_H

#include <linux/eventfd.h>
#include <linux/list.h>
#include <linux/mdev.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/pci_regs.h>
#include <linux/sizes.h>
#include <linux/vfio.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "mgpu_engine_abi.h"

#define MGPU_NAME		"mgpu"
#define MGPU_MAX_GPUS		8
#define MGPU_NR_PROFILES	4
/* A GPU's VRAM: a power of two in this range (a PCI BAR is rounded down). */
#define MGPU_VRAM_MIN		SZ_64M
#define MGPU_VRAM_MAX		SZ_2G
/* A GPU's VRAM is cut into this many equal slices; types take 1, 2, 4 or 8. */
#define MGPU_SLICES		8

/* ---- PCI identity (what bochs-drm and QEMU's stdvga use) ---------------- */
#define MGPU_PCI_VENDOR		0x1234
#define MGPU_PCI_DEVICE		0x1111
#define MGPU_PCI_SUBVENDOR	0x1b36
/* subsystem device ID: the profile's number of slices (1, 2, 4 or 8) */
#define MGPU_PCI_CLASS		0x038000	/* display, other: no legacy VGA */
#define MGPU_PCI_REVISION	0x02		/* >= 2: QEMU extended regs exist */

/* ---- BARs ---------------------------------------------------------------- */
/*
 * BAR0: VRAM, 32-bit prefetchable memory, the instance's whole VRAM (a power
 *       of two), mmap-able; pages are allocated on first touch.
 * BAR2: MMIO registers, 32-bit non-prefetchable memory, MGPU_MMIO_SIZE bytes,
 *       accessed through read/write only (not mmap-able).
 * Other BARs, the ROM BAR and VGA regions are size 0.
 */
#define MGPU_VRAM_BAR		VFIO_PCI_BAR0_REGION_INDEX
#define MGPU_MMIO_BAR		VFIO_PCI_BAR2_REGION_INDEX
#define MGPU_MMIO_SIZE		0x1000

/*
 * Region offsets in the device fd, as vfio-pci lays them out: region index
 * in the bits from MGPU_REGION_SHIFT up, offset in the region below them.
 * User space should take them from VFIO_DEVICE_GET_REGION_INFO.
 */
#define MGPU_REGION_SHIFT	40
#define MGPU_REGION_OFFSET(index)	((u64)(index) << MGPU_REGION_SHIFT)
#define MGPU_REGION_OFFSET_MASK	(MGPU_REGION_OFFSET(1) - 1)

/* ---- BAR2 layout (the same as QEMU's stdvga MMIO BAR, plus mgpu's block) -- */
#define MGPU_MMIO_EDID		0x000	/* 0x400 bytes, EDID blob, read-only */
#define MGPU_MMIO_EDID_SIZE	0x400
#define MGPU_EDID_LENGTH	128	/* one EDID 1.4 block, the rest reads 0 */
#define MGPU_MMIO_VGA		0x400	/* VGA ioports 0x3c0-0x3df, bytes */
#define MGPU_MMIO_VGA_SIZE	0x20
#define MGPU_MMIO_DISPI		0x500	/* bochs dispi registers, 16 bit each */
#define MGPU_MMIO_QEXT		0x600	/* QEMU extended registers */
#define MGPU_MMIO_QEXT_SIZE	0x8
#define MGPU_MMIO_CTRL		0x800	/* mgpu control block, 32 bit each */

/* bochs dispi registers: offset MGPU_MMIO_DISPI + (index << 1) */
enum mgpu_dispi_index {
	MGPU_DISPI_ID = 0x0,		/* reads 0xb0c5 */
	MGPU_DISPI_XRES = 0x1,
	MGPU_DISPI_YRES = 0x2,
	MGPU_DISPI_BPP = 0x3,		/* 16 or 32 are scanned out */
	MGPU_DISPI_ENABLE = 0x4,	/* bit 0: enabled */
	MGPU_DISPI_BANK = 0x5,
	MGPU_DISPI_VIRT_WIDTH = 0x6,
	MGPU_DISPI_VIRT_HEIGHT = 0x7,
	MGPU_DISPI_X_OFFSET = 0x8,
	MGPU_DISPI_Y_OFFSET = 0x9,
	MGPU_DISPI_VIDEO_MEMORY_64K = 0xa,	/* read-only: VRAM / 64 KiB */
	MGPU_DISPI_REGS
};

#define MGPU_DISPI_ID5		0xb0c5
#define MGPU_DISPI_ENABLED	0x01

/* QEMU extended registers: offset from MGPU_MMIO_QEXT */
#define MGPU_QEXT_SIZE		0x0	/* read-only: MGPU_MMIO_QEXT_SIZE */
#define MGPU_QEXT_ENDIAN	0x4	/* 0x1e1e1e1e little, 0xbebebebe big */
#define MGPU_QEXT_LITTLE	0x1e1e1e1e
#define MGPU_QEXT_BIG		0xbebebebe

/* mgpu control block: offset from MGPU_MMIO_CTRL, 32-bit accesses */
#define MGPU_CTRL_ID		0x00	/* read-only: MGPU_CTRL_ID_VALUE */
#define MGPU_CTRL_ID_VALUE	0x5550474d	/* "MGPU" */
#define MGPU_CTRL_SLICES	0x04	/* read-only: slices of the profile */
#define MGPU_CTRL_IRQ_STATUS	0x08	/* pending causes; write 1 to clear */
#define MGPU_CTRL_IRQ_ENABLE	0x0c	/* causes that interrupt, rw */
#define MGPU_CTRL_IRQ_RAISE	0x10	/* write: set these status bits */
#define MGPU_CTRL_SCRATCH	0x14	/* rw, no effect */
#define MGPU_CTRL_SIZE		0x18

/*
 * An interrupt is asserted while (IRQ_STATUS & IRQ_ENABLE) != 0.  It is
 * delivered as MSI vector 0 when MSI is enabled in config space, else as
 * INTx unless PCI_COMMAND_INTX_DISABLE is set.  INTx is level-triggered and
 * automasked (VFIO semantics): it is signalled once, masked, and signalled
 * again on unmask if still asserted.  An MSI is edge-triggered: one message
 * for causes newly asserted, sent only while PCI_COMMAND_MASTER is set and
 * an MSI eventfd is installed; until then the causes stay pending and go
 * out when both are.  With no eventfd configured an interrupt only sets
 * status bits (and PCI_STATUS_INTERRUPT): never a crash.
 */

/* ---- Config space --------------------------------------------------------- */
#define MGPU_CFG_MSI_CAP	0x50	/* the only capability: 64-bit MSI */

/* ---- Profiles (types) ------------------------------------------------------ */

/**
 * struct mgpu_profile - a partition profile, one mdev type per GPU
 * @sysfs_name: type name suffix: "eighth", "quarter", "half" or "full"
 * @name: human name for the type's "name" file
 * @slices: VRAM slices (of MGPU_SLICES) the profile takes
 * @heads: display heads
 * @max_width: largest horizontal resolution accepted
 * @max_height: largest vertical resolution accepted
 * @usage: single usage restriction: fractional profiles are single-usage
 */
struct mgpu_profile {
	const char *sysfs_name;
	const char *name;
	unsigned int slices;
	unsigned int heads;
	unsigned int max_width;
	unsigned int max_height;
	enum mdev_usage_restriction usage;
};

extern const struct mgpu_profile mgpu_profiles[];
extern const unsigned int mgpu_nr_profiles;

/**
 * struct mgpu_type - one profile offered by one GPU
 * @type: the mdev type
 * @profile: the profile
 */
struct mgpu_type {
	struct mdev_type type;
	const struct mgpu_profile *profile;
};

struct mgpu_device;
struct mgpu_engine;
struct vm_fault;
struct vm_area_struct;

/**
 * struct mgpu_vram_ops - where a GPU's VRAM lives (mgpu_vram.c calls these)
 * @init: set up an instance's @mgpu_device.vram, untouched; may fail; runs
 *	before the instance is placed (@first_slice is not known yet)
 * @free: release it when the instance goes away
 * @scrub: forget every page's contents: from now on the VRAM reads as zeros
 *	and a page is zeroed again at its next first touch; the instance is
 *	closed and nothing maps its VRAM
 * @next_present: the first touched page at or after @from, or the number of
 *	pages of the instance's VRAM when there is none
 * @map: the kernel address of a touched page (unmapped with @unmap), or
 *	NULL if the page is untouched
 * @unmap: undo @map
 * @touch: make a page present, zeroed on its first touch; 0 or -ENOMEM
 * @mmap_prepare: set the flags and protection of a new user mapping
 * @fault_insert: map a touched page at @vmf->address
 * @page: the struct page of a touched page, or NULL if VRAM has none (only
 *	system RAM has: dma-bufs need it)
 *
 * Two backends: mgpu_vram_ram_ops, pages of system RAM allocated on first
 * touch (virtual GPUs), and mgpu_vram_bar_ops, the instance's slices of a
 * PCI BAR (PCI GPUs).  Both give the same semantics: untouched VRAM reads
 * as zeros, and first touches race safely with readers and each other.
 */
struct mgpu_vram_ops {
	int (*init)(struct mgpu_device *mgpu);
	void (*free)(struct mgpu_device *mgpu);
	void (*scrub)(struct mgpu_device *mgpu);
	pgoff_t (*next_present)(struct mgpu_device *mgpu, pgoff_t from);
	void *(*map)(struct mgpu_device *mgpu, pgoff_t index);
	void (*unmap)(void *vaddr);
	int (*touch)(struct mgpu_device *mgpu, pgoff_t index);
	void (*mmap_prepare)(struct vm_area_struct *vma);
	vm_fault_t (*fault_insert)(struct mgpu_device *mgpu,
				   struct vm_fault *vmf);
	struct page *(*page)(struct mgpu_device *mgpu, pgoff_t index);
};

extern const struct mgpu_vram_ops mgpu_vram_ram_ops;
extern const struct mgpu_vram_ops mgpu_vram_bar_ops;

/**
 * struct mgpu_sched - the engine scheduler of one GPU (mgpu_sched.c)
 * @lock: protects @runnable, @vclock and every engine's scheduling fields
 *	(struct mgpu_engine: @run_node, @vtime, @stop_count, @weight)
 * @runnable: engines with commands waiting, by mgpu_engine.run_node
 * @vclock: the virtual time of the engine picked last: an engine that
 *	becomes runnable starts no earlier, so idling earns no credit
 * @exec_lock: held by the executor for each slice, from the pick to the
 *	accounting; taking it waits for the slice in flight to end
 * @work: the executor
 */
struct mgpu_sched {
	spinlock_t lock;	/* protects runnable, vclock, engines' fields */
	struct list_head runnable;
	u64 vclock;
	struct mutex exec_lock;	/* held for each slice */
	struct work_struct work;
};

/**
 * struct mgpu_gpu - a physical GPU, registered as an mdev parent
 * @dev: the parent device: a class "mgpu" device mgpu<N> for a virtual GPU,
 *	the PCI function for a PCI GPU
 * @parent: the mdev parent
 * @vram_size: bytes of VRAM, a power of two, MGPU_VRAM_MIN to MGPU_VRAM_MAX
 * @vram_ops: the VRAM backend
 * @vram_base: PCI GPUs: the VRAM part of the BAR, memremap()ed
 *	write-combining; NULL for virtual GPUs
 * @vram_phys: PCI GPUs: its physical address
 * @stream_version: version of the migration stream this GPU's firmware
 *	speaks (module parameter); part of every type's version string
 * @types: one per profile
 * @type_ptrs: the array given to mdev_register_parent()
 * @lock: protects @slices_used
 * @slices_used: bitmap of VRAM slices held by instances
 * @sched: the engine scheduler shared by the GPU's instances
 */
struct mgpu_gpu {
	struct device *dev;
	struct mdev_parent parent;
	u64 vram_size;
	const struct mgpu_vram_ops *vram_ops;
	void *vram_base;
	phys_addr_t vram_phys;
	unsigned int stream_version;
	struct mgpu_type types[MGPU_NR_PROFILES];
	struct mdev_type *type_ptrs[MGPU_NR_PROFILES];
	struct mutex lock;	/* protects slices_used */
	unsigned long slices_used;
	struct mgpu_sched sched;
};

/**
 * struct mgpu_irq_state - interrupt delivery of one instance
 * @intx: eventfd of VFIO_PCI_INTX_IRQ_INDEX, or NULL
 * @msi: eventfd of MSI vector 0, or NULL
 * @req: eventfd of VFIO_PCI_REQ_IRQ_INDEX, or NULL
 * @intx_masked: INTx masked (by user space, or automasked after firing)
 * @stopped: the device is not RUNNING (migration): nothing is signalled,
 *	causes stay pending and go out when mgpu_irq_update() runs after it
 *	is RUNNING again (mgpu_migration.c sets and clears it)
 * @msi_sent: asserted causes already signalled as MSI: a message is
 *	edge-triggered, it goes out for causes not signalled yet, not while
 *	they stay asserted; a cause that could not be signalled (no MSI
 *	eventfd, bus mastering off) is not in it and stays pending
 */
struct mgpu_irq_state {
	struct eventfd_ctx *intx;
	struct eventfd_ctx *msi;
	struct eventfd_ctx *req;
	bool intx_masked;
	bool stopped;
	u32 msi_sent;
};

/**
 * struct mgpu_regs - the MMIO register file of one instance
 * @dispi: bochs dispi registers
 * @vga: VGA ioport bytes (only stored, no VGA emulation)
 * @endian: QEMU extended endianness register
 * @irq_status: MGPU_CTRL_IRQ_STATUS
 * @irq_enable: MGPU_CTRL_IRQ_ENABLE
 * @scratch: MGPU_CTRL_SCRATCH
 * @edid: the EDID block at MGPU_MMIO_EDID, built by mgpu_regs_reset()
 */
struct mgpu_regs {
	u16 dispi[MGPU_DISPI_REGS];
	u8 vga[MGPU_MMIO_VGA_SIZE];
	u32 endian;
	u32 irq_status;
	u32 irq_enable;
	u32 scratch;
	u8 edid[MGPU_EDID_LENGTH];
};

struct mgpu_mig_file;

/**
 * struct mgpu_vram - the VRAM of one instance, as its backend keeps it
 * @pages: system RAM backend: the pages by index, allocated on first touch;
 *	the xarray's lock orders first touches
 * @touched: PCI BAR backend: bitmap of the pages touched since the instance
 *	was created or scrubbed; an untouched page reads as zeros whatever the
 *	BAR holds, and is zeroed before its bit is set
 * @touch_lock: PCI BAR backend: orders first touches
 */
struct mgpu_vram {
	struct xarray pages;
	unsigned long *touched;
	struct mutex touch_lock;	/* orders first touches of @touched */
};

/**
 * struct mgpu_migration - the VFIO migration state of one instance
 * @lock: serializes state transitions and protects the fields below; taken
 *	before mgpu_device.lock
 * @state: the current enum vfio_device_mig_state
 * @save: the saving session while in STOP_COPY, else NULL
 * @resume: the resuming session while in RESUMING, else NULL
 */
struct mgpu_migration {
	struct mutex lock;	/* serializes transitions, protects below */
	enum vfio_device_mig_state state;
	struct mgpu_mig_file *save;
	struct mgpu_mig_file *resume;
};

/**
 * struct mgpu_engine - the compute engine of one instance (mgpu_engine.c)
 * @ring_base: MGPU_ENG_RING_BASE
 * @ring_size: MGPU_ENG_RING_SIZE
 * @head: MGPU_ENG_RING_HEAD, commands consumed
 * @tail: MGPU_ENG_RING_TAIL, commands written by the guest
 * @submitted: the TAIL of the last doorbell: the engine runs up to it
 * @error: the MGPU_ENG_ERR_* the engine stopped on, 0 while it runs
 * @error_cmd: MGPU_ENG_ERROR_CMD
 * @fence: MGPU_ENG_FENCE
 * @completed: MGPU_ENG_COMPLETED
 * @epoch: counts resets: a command that ran across one is not recorded
 * @dma_iova: the first IOVA of guest RAM the command in flight accesses
 * @dma_len: its length; 0 when no command in flight accesses guest RAM
 * @run_node: entry in mgpu_sched.runnable (under its lock)
 * @vtime: engine time used divided by @weight, scaled (under sched lock)
 * @weight: the share of engine time it gets (under sched lock)
 * @stop_count: mgpu_sched_stop() calls not undone yet: the engine takes
 *	slices only at 0 (under sched lock)
 * @used_ns: engine time used since the instance was created
 *
 * The registers (@ring_base to @completed), @epoch, @dma_iova and @dma_len are
 * protected by mgpu_device.lock.
 */
struct mgpu_engine {
	u32 ring_base;
	u32 ring_size;
	u32 head;
	u32 tail;
	u32 submitted;
	u32 error;
	u32 error_cmd;
	u32 fence;
	u32 completed;
	u32 epoch;
	u64 dma_iova;
	u64 dma_len;

	struct list_head run_node;
	u64 vtime;
	unsigned int weight;
	unsigned int stop_count;
	atomic64_t used_ns;
};

/**
 * struct mgpu_engine_state - the engine state a migration carries
 * @ring_base: MGPU_ENG_RING_BASE
 * @ring_size: MGPU_ENG_RING_SIZE
 * @head: MGPU_ENG_RING_HEAD
 * @tail: MGPU_ENG_RING_TAIL
 * @submitted: TAIL at the last doorbell: commands up to it run on the target
 * @error: the error code the engine stopped on, or 0
 * @error_cmd: MGPU_ENG_ERROR_CMD
 * @fence: MGPU_ENG_FENCE
 * @completed: MGPU_ENG_COMPLETED
 * @weight: the instance's scheduling weight
 * @reserved: 0
 *
 * Little-endian and of a fixed size, so that it can be a section of the
 * migration stream as it is.  Commands are never cut in the middle: a
 * quiesced engine is between two commands, and the target resumes at @head.
 */
struct mgpu_engine_state {
	__le32 ring_base;
	__le32 ring_size;
	__le32 head;
	__le32 tail;
	__le32 submitted;
	__le32 error;
	__le32 error_cmd;
	__le32 fence;
	__le32 completed;
	__le32 weight;
	__le32 reserved[2];
};

/**
 * struct mgpu_device - one instance: a mediated GPU partition
 * @vdev: the VFIO device
 * @mdev: the mdev it serves
 * @gpu: the GPU it is carved from
 * @profile: its profile
 * @first_slice: the first VRAM slice it holds
 * @vram_size: bytes of VRAM (BAR0 size)
 * @lock: protects @config, @bar, @regs, @irq, @dmabufs, @next_dmabuf_id and
 *	the registers of @engine
 * @config: config space as the guest sees it
 * @bar: BAR values as written (before masking with the size)
 * @regs: the register BAR's state
 * @irq: interrupt eventfds, INTx mask and MSI edge state
 * @dmabufs: exported display dma-bufs (struct mgpu_dmabuf)
 * @next_dmabuf_id: the last plane id handed out; ids start at 1, 0 means
 *	no plane (mgpu_display_init() zeroes it)
 * @vram: the VRAM backend's state; its own locking makes the fault and bulk
 *	paths independent of @lock
 * @mig: the migration state machine (mgpu_migration.c)
 * @engine: the compute engine (mgpu_engine.c, scheduled by mgpu_sched.c)
 */
struct mgpu_device {
	struct vfio_device vdev;
	struct mdev_device *mdev;
	struct mgpu_gpu *gpu;
	const struct mgpu_profile *profile;
	unsigned int first_slice;
	u64 vram_size;

	struct mutex lock;	/* protects the fields below up to @vram */
	u8 config[PCI_CFG_SPACE_SIZE];
	u32 bar[PCI_STD_NUM_BARS];
	struct mgpu_regs regs;
	struct mgpu_irq_state irq;
	struct list_head dmabufs;
	u32 next_dmabuf_id;

	struct mgpu_vram vram;
	struct mgpu_migration mig;
	struct mgpu_engine engine;
};

static inline struct mgpu_device *vdev_to_mgpu(struct vfio_device *vdev)
{
	return container_of(vdev, struct mgpu_device, vdev);
}

static inline struct mgpu_gpu *mdev_type_to_gpu(struct mdev_type *mtype)
{
	return container_of(mtype->parent, struct mgpu_gpu, parent);
}

static inline const struct mgpu_profile *
mdev_type_to_profile(struct mdev_type *mtype)
{
	return container_of(mtype, struct mgpu_type, type)->profile;
}

/**
 * struct mgpu_compat - what decides whether an instance can take a state
 * @profile: the source's profile, NULL if it names none
 * @vram_size: the source's VRAM (its BAR0 size) in bytes
 * @stream_version: the stream version of the source's GPU
 *
 * A version string (written to a type's version file) and a migration
 * stream header both come down to this, and mgpu_type_accepts() alone
 * judges it, so that the version file and resuming can never disagree.
 */
struct mgpu_compat {
	const struct mgpu_profile *profile;
	u64 vram_size;
	unsigned int stream_version;
};

/* mgpu_main.c: the types' callbacks of mgpu_mdev_driver */
unsigned int mgpu_get_available(struct mdev_type *mtype);
ssize_t mgpu_show_description(struct mdev_type *mtype, char *buf);
int mgpu_get_version(struct mdev_type *mtype, struct mdev_version *version);
bool mgpu_version_compatible(struct mdev_type *mtype,
			     const struct mdev_version *src);
bool mgpu_type_accepts(struct mdev_type *mtype,
		       const struct mgpu_compat *src);

/* mgpu_main.c: placement */
int mgpu_place(struct mgpu_gpu *gpu, const struct mgpu_profile *profile,
	       unsigned int *first_slice);
void mgpu_unplace(struct mgpu_gpu *gpu, const struct mgpu_profile *profile,
		  unsigned int first_slice);
unsigned int mgpu_free_places(struct mgpu_gpu *gpu,
			      const struct mgpu_profile *profile);

/* mgpu_config.c */
void mgpu_config_reset(struct mgpu_device *mgpu);
ssize_t mgpu_config_rw(struct mgpu_device *mgpu, void *buf, size_t count,
		       loff_t pos, bool write);
bool mgpu_config_msi_enabled(struct mgpu_device *mgpu);
bool mgpu_config_bus_master(struct mgpu_device *mgpu);
bool mgpu_config_intx_disabled(struct mgpu_device *mgpu);
void mgpu_config_set_intx_status(struct mgpu_device *mgpu, bool asserted);

/*
 * mgpu_regs.c: @pos is the offset in BAR2.  mgpu_mmio_rw() performs exactly
 * one access of @count 1, 2 or 4 bytes, naturally aligned (the glue passes a
 * user access of these sizes whole, whatever its alignment, and splits other
 * sizes the way vfio_pci_rdwr.c does); it returns @count, or -EINVAL
 * for a width or alignment the addressed block does not take, or an access
 * that crosses a block's end.  @buf holds the bytes little-endian, as on PCI.
 * mgpu_regs_reset() clears the interrupt causes without calling
 * mgpu_irq_update(): it is one step of a whole-device reset, which resets
 * config space and interrupt delivery too.
 */
void mgpu_regs_reset(struct mgpu_device *mgpu);
ssize_t mgpu_mmio_rw(struct mgpu_device *mgpu, void *buf, size_t count,
		     loff_t pos, bool write);

/* mgpu_irq.c */
void mgpu_irq_update(struct mgpu_device *mgpu);
void mgpu_irq_reset(struct mgpu_device *mgpu);
int mgpu_irq_info(struct mgpu_device *mgpu, struct vfio_irq_info *info);
int mgpu_set_irqs(struct mgpu_device *mgpu, struct vfio_irq_set *hdr,
		  void __user *data);
void mgpu_irq_disable_all(struct mgpu_device *mgpu);
void mgpu_request(struct vfio_device *vdev, unsigned int count);

/*
 * mgpu_vram.c: @pos and vma->vm_pgoff are relative to the start of BAR0 (the
 * glue strips the region index from both, and sets vma->vm_pgoff before it
 * calls mgpu_vram_mmap()).  mgpu_vram_rw() clips an access that runs past the
 * end of BAR0 and returns the short count; @pos at or after the end is
 * -EINVAL.  mgpu_vram_mmap() wants MAP_SHARED.  mgpu_vram_init() at init_dev,
 * mgpu_vram_free() at release; mgpu_vram_scrub() when the device is closed:
 * VRAM survives resets, not a hand-over to the next opener.  The page-level
 * calls (next_present, map, touch, page) are the backend's, see struct
 * mgpu_vram_ops; mgpu_vram_page() returns a page that stays valid until the
 * instance's VRAM is scrubbed or freed, without taking a reference, or NULL.
 */
int mgpu_vram_init(struct mgpu_device *mgpu);
void mgpu_vram_free(struct mgpu_device *mgpu);
void mgpu_vram_scrub(struct mgpu_device *mgpu);
pgoff_t mgpu_vram_pages(const struct mgpu_device *mgpu);
pgoff_t mgpu_vram_next_present(struct mgpu_device *mgpu, pgoff_t from);
void *mgpu_vram_map(struct mgpu_device *mgpu, pgoff_t index);
void mgpu_vram_unmap(struct mgpu_device *mgpu, void *vaddr);
int mgpu_vram_touch(struct mgpu_device *mgpu, pgoff_t index);
bool mgpu_vram_has_pages(const struct mgpu_device *mgpu);
struct page *mgpu_vram_page(struct mgpu_device *mgpu, pgoff_t index);
ssize_t mgpu_vram_rw(struct mgpu_device *mgpu, char __user *ubuf,
		     size_t count, loff_t pos, bool write);
int mgpu_vram_mmap(struct mgpu_device *mgpu, struct vm_area_struct *vma);

/* mgpu_main.c: what virtual and PCI GPUs share */
int mgpu_gpu_init(struct mgpu_gpu *gpu, struct device *dev, u64 vram_size,
		  unsigned int stream_version);
int mgpu_gpu_register(struct mgpu_gpu *gpu);
void mgpu_gpu_unregister(struct mgpu_gpu *gpu);
void mgpu_gpu_fini(struct mgpu_gpu *gpu);

/* mgpu_pci.c */
int mgpu_pci_register(void);
void mgpu_pci_unregister(void);

/* mgpu_vfio.c */
extern struct mdev_driver mgpu_mdev_driver;
u64 mgpu_region_size(const struct mgpu_device *mgpu, unsigned int index);

/*
 * mgpu_display.c: the two ioctls take @arg as the ioctl's user pointer and
 * take mgpu->lock themselves (call them without it).  mgpu_display_init() at
 * probe, before the device can be opened; mgpu_display_release() from
 * close_device (lock held or not: it needs none).  Exported dma-bufs hold
 * their own page references and never touch mgpu_device, so they may outlive
 * close and removal.  MODULE_IMPORT_NS(DMA_BUF) is in mgpu_display.c.
 */
void mgpu_display_init(struct mgpu_device *mgpu);
int mgpu_query_gfx_plane(struct mgpu_device *mgpu, unsigned long arg);
int mgpu_get_gfx_dmabuf(struct mgpu_device *mgpu, unsigned long arg);
void mgpu_display_release(struct mgpu_device *mgpu);

/*
 * mgpu_migration.c: mgpu_migration_init() at init_dev, before the device is
 * registered (it sets vdev.mig_ops); mgpu_migration_release() at release.
 * mgpu_migration_reset() ends any session and goes back to RUNNING, for
 * VFIO_DEVICE_RESET and close_device; it takes the migration lock and
 * mgpu->lock itself, and leaves clearing the interrupt causes to the device
 * reset that must follow it.
 */
void mgpu_migration_init(struct mgpu_device *mgpu);
void mgpu_migration_release(struct mgpu_device *mgpu);
void mgpu_migration_reset(struct mgpu_device *mgpu);

/*
 * mgpu_engine.c: the engine's register block in BAR2, under mgpu->lock like
 * every register.  mgpu_engine_init() at init_dev, mgpu_engine_fini() at
 * remove (after the last close, before the instance is freed): it takes the
 * engine off the GPU's scheduler for good.  mgpu_engine_quiesce()
 * stops the engine between two commands and waits for the one in flight;
 * mgpu_engine_resume() lets it run again (both without mgpu->lock, in
 * pairs); mgpu_engine_reset() puts its registers in the power-on state, on
 * a quiesced engine, with mgpu->lock held.  mgpu_engine_save() and
 * mgpu_engine_restore() take and give the migration state of a quiesced
 * engine.  mgpu_engine_run() is the scheduler's: one slice of commands.
 * mgpu_engine_dma_unmap() is the vfio_device_ops callback.
 */
void mgpu_engine_init(struct mgpu_device *mgpu);
void mgpu_engine_fini(struct mgpu_device *mgpu);
u32 mgpu_engine_reg_read(struct mgpu_device *mgpu, u32 off);
void mgpu_engine_reg_write(struct mgpu_device *mgpu, u32 off, u32 val);
void mgpu_engine_quiesce(struct mgpu_device *mgpu);
void mgpu_engine_resume(struct mgpu_device *mgpu);
void mgpu_engine_reset(struct mgpu_device *mgpu);
void mgpu_engine_save(struct mgpu_device *mgpu,
		      struct mgpu_engine_state *state);
int mgpu_engine_restore(struct mgpu_device *mgpu,
			const struct mgpu_engine_state *state);
bool mgpu_engine_run(struct mgpu_device *mgpu, u64 budget_ns);
void mgpu_engine_dma_unmap(struct vfio_device *vdev, u64 iova, u64 length);

/*
 * mgpu_regs.c: mgpu_regs_raise() sets interrupt causes in IRQ_STATUS, as a
 * write to IRQ_RAISE does; mgpu->lock held.
 */
void mgpu_regs_raise(struct mgpu_device *mgpu, u32 causes);

/*
 * mgpu_sched.c: mgpu_sched_init() and mgpu_sched_fini() with the GPU (no
 * instance left at fini); mgpu_sched_engine_init() and
 * mgpu_sched_engine_fini() with an instance.  mgpu_sched_kick() makes an
 * engine runnable if it is not stopped (any context that may take a
 * spinlock, mgpu->lock held or not).  mgpu_sched_stop() takes an engine
 * off the GPU and waits for its slice in flight; mgpu_sched_start() undoes
 * one stop (stops nest); mgpu_sched_sync() only waits for the slice in
 * flight (none of the three with mgpu->lock held).  mgpu_engine_groups
 * are the files of an instance.
 */
#define MGPU_WEIGHT_DEFAULT	1
#define MGPU_WEIGHT_MAX		1000
void mgpu_sched_init(struct mgpu_sched *sched);
void mgpu_sched_fini(struct mgpu_sched *sched);
void mgpu_sched_engine_init(struct mgpu_device *mgpu);
void mgpu_sched_engine_fini(struct mgpu_device *mgpu);
void mgpu_sched_kick(struct mgpu_device *mgpu);
void mgpu_sched_stop(struct mgpu_device *mgpu);
void mgpu_sched_start(struct mgpu_device *mgpu);
void mgpu_sched_sync(struct mgpu_device *mgpu);
unsigned int mgpu_sched_weight(struct mgpu_device *mgpu);
int mgpu_sched_set_weight(struct mgpu_device *mgpu, unsigned int weight);
extern const struct attribute_group *mgpu_engine_groups[];

#endif /* MGPU_H */
