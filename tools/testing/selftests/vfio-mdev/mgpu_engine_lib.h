/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mgpu compute engine from user space, for the engine selftests, the
 * bench and the demo: a ring in the instance's VRAM, commands built and
 * submitted through the device fd (pwrite into BAR0, the registers in
 * BAR2), waiting for the engine, and guest RAM mapped into the container
 * for the guest-RAM copies.  The ABI is the driver's uapi-style
 * mgpu_engine_abi.h.  No harness code: 0 or a count, or a negative errno.
 */

#ifndef VFIO_MDEV_SELFTEST_MGPU_ENGINE_LIB_H
#define VFIO_MDEV_SELFTEST_MGPU_ENGINE_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "../../../../samples/vfio-mdev/mgpu/mgpu_engine_abi.h"

/* An engine as a client drives it. */
struct eng {
	int dev;
	__u32 base;		/* VRAM offset of the ring */
	__u32 entries;		/* commands the ring holds */
};

#define ENG_REG(off)		(MGPU_MMIO_ENGINE + (off))

long eng_reg_get(int dev, __u32 off);
int eng_reg_set(int dev, __u32 off, __u32 val);

/* Programs a ring of @entries commands at @base (a power of two). */
int eng_init(struct eng *e, int dev, __u32 base, __u32 entries);
/* Writes @n commands at TAIL, advances TAIL and rings: 0 or -errno. */
int eng_submit(struct eng *e, const struct mgpu_cmd *cmds, unsigned int n);
/* Writes @n commands at TAIL and advances TAIL, without the doorbell. */
int eng_queue(struct eng *e, const struct mgpu_cmd *cmds, unsigned int n);
int eng_doorbell(struct eng *e);
/* Polls until nothing waits: STATUS (>= 0), or -ETIMEDOUT / -errno. */
long eng_wait_idle(struct eng *e, int timeout_ms);
/* Commands that can be queued now without overflowing the ring. */
long eng_room(struct eng *e);

struct mgpu_cmd cmd_nop(void);
struct mgpu_cmd cmd_fill(__u64 dst, __u64 size, __u32 value);
struct mgpu_cmd cmd_copy(__u64 dst, __u64 src, __u64 size);
struct mgpu_cmd cmd_blit(__u64 dst, __u32 dst_pitch, __u64 src,
			 __u32 src_pitch, __u32 width, __u32 height);
struct mgpu_cmd cmd_from_ram(__u64 dst, __u64 iova, __u64 size);
struct mgpu_cmd cmd_to_ram(__u64 iova, __u64 src, __u64 size);
struct mgpu_cmd cmd_fence(__u32 seqno, __u32 flags, __u64 dst);

/* Guest RAM: @len bytes of anonymous memory mapped at @iova. */
struct guest_ram {
	int container;
	void *buf;
	__u64 iova;
	size_t len;
};

int guest_ram_map(struct guest_ram *r, int container, __u64 iova, size_t len);
/* Unmaps from the container (once) and frees the buffer. */
int guest_ram_unmap_dma(struct guest_ram *r);
void guest_ram_free(struct guest_ram *r);

/* The instance's weight and engine time in sysfs. */
int eng_weight_set(const char *uuid, unsigned int weight);
long eng_weight_get(const char *uuid);
long long eng_time_ns(const char *uuid);

#endif /* VFIO_MDEV_SELFTEST_MGPU_ENGINE_LIB_H */
