// SPDX-License-Identifier: GPL-2.0
/*
 * mgpu_engine_lib.c - the mgpu compute engine from user space: ring set-up,
 * command building and submission, waiting, guest RAM in the container,
 * and the instance's engine sysfs files (see mgpu_engine_lib.h).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vfio.h>

#include "common.h"
#include "mgpu_engine_lib.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

long eng_reg_get(int dev, __u32 off)
{
	return mgpu_mmio_get(dev, ENG_REG(off), 4);
}

int eng_reg_set(int dev, __u32 off, __u32 val)
{
	return mgpu_mmio_write(dev, ENG_REG(off), 4, val);
}

int eng_init(struct eng *e, int dev, __u32 base, __u32 entries)
{
	int ret;

	e->dev = dev;
	e->base = base;
	e->entries = entries;
	ret = eng_reg_set(dev, MGPU_ENG_RING_BASE, base);
	if (!ret)
		ret = eng_reg_set(dev, MGPU_ENG_RING_SIZE,
				  entries * MGPU_CMD_SIZE);
	return ret;
}

/* Commands go to their slots in at most two writes (the ring wraps). */
int eng_queue(struct eng *e, const struct mgpu_cmd *cmds, unsigned int n)
{
	long tail = eng_reg_get(e->dev, MGPU_ENG_RING_TAIL);
	unsigned int done = 0;

	if (tail < 0)
		return tail;
	while (done < n) {
		__u32 slot = ((__u32)tail + done) & (e->entries - 1);
		unsigned int len = e->entries - slot;
		ssize_t ret;

		if (len > n - done)
			len = n - done;
		ret = vfio_region_write(e->dev, MGPU_VRAM,
					e->base + (__u64)slot * MGPU_CMD_SIZE,
					cmds + done, len * sizeof(*cmds));
		if (ret < 0)
			return ret;
		if (ret != (ssize_t)(len * sizeof(*cmds)))
			return -EIO;
		done += len;
	}
	return eng_reg_set(e->dev, MGPU_ENG_RING_TAIL, (__u32)tail + n);
}

int eng_doorbell(struct eng *e)
{
	return eng_reg_set(e->dev, MGPU_ENG_DOORBELL, 1);
}

int eng_submit(struct eng *e, const struct mgpu_cmd *cmds, unsigned int n)
{
	int ret = eng_queue(e, cmds, n);

	return ret ? ret : eng_doorbell(e);
}

long eng_wait_idle(struct eng *e, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	long status;

	for (;;) {
		status = eng_reg_get(e->dev, MGPU_ENG_STATUS);
		if (status < 0 || !(status & MGPU_ENG_STATUS_BUSY))
			return status;
		if (now_ms() > end)
			return -ETIMEDOUT;
		usleep(1000);
	}
}

long eng_room(struct eng *e)
{
	long head = eng_reg_get(e->dev, MGPU_ENG_RING_HEAD);
	long tail = eng_reg_get(e->dev, MGPU_ENG_RING_TAIL);

	if (head < 0)
		return head;
	if (tail < 0)
		return tail;
	return e->entries - ((__u32)tail - (__u32)head);
}

struct mgpu_cmd cmd_nop(void)
{
	return (struct mgpu_cmd){ .opcode = MGPU_CMD_NOP };
}

struct mgpu_cmd cmd_fill(__u64 dst, __u64 size, __u32 value)
{
	return (struct mgpu_cmd){
		.opcode = MGPU_CMD_FILL, .dst = dst, .size = size,
		.value = value,
	};
}

struct mgpu_cmd cmd_copy(__u64 dst, __u64 src, __u64 size)
{
	return (struct mgpu_cmd){
		.opcode = MGPU_CMD_COPY, .dst = dst, .src = src, .size = size,
	};
}

struct mgpu_cmd cmd_blit(__u64 dst, __u32 dst_pitch, __u64 src,
			 __u32 src_pitch, __u32 width, __u32 height)
{
	return (struct mgpu_cmd){
		.opcode = MGPU_CMD_BLIT, .dst = dst, .src = src,
		.width = width, .height = height, .dst_pitch = dst_pitch,
		.src_pitch = src_pitch,
	};
}

struct mgpu_cmd cmd_from_ram(__u64 dst, __u64 iova, __u64 size)
{
	return (struct mgpu_cmd){
		.opcode = MGPU_CMD_COPY_FROM_RAM, .dst = dst, .src = iova,
		.size = size,
	};
}

struct mgpu_cmd cmd_to_ram(__u64 iova, __u64 src, __u64 size)
{
	return (struct mgpu_cmd){
		.opcode = MGPU_CMD_COPY_TO_RAM, .dst = iova, .src = src,
		.size = size,
	};
}

struct mgpu_cmd cmd_fence(__u32 seqno, __u32 flags, __u64 dst)
{
	return (struct mgpu_cmd){
		.opcode = MGPU_CMD_FENCE, .flags = flags, .dst = dst,
		.value = seqno,
	};
}

int guest_ram_map(struct guest_ram *r, int container, __u64 iova, size_t len)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.iova = iova,
		.size = len,
	};
	int ret;

	r->container = -1;
	r->buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->buf == MAP_FAILED)
		return -errno;
	r->iova = iova;
	r->len = len;
	map.vaddr = (__u64)(unsigned long)r->buf;
	ret = vfio_ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
	if (ret) {
		munmap(r->buf, len);
		r->buf = MAP_FAILED;
		return ret;
	}
	r->container = container;
	return 0;
}

int guest_ram_unmap_dma(struct guest_ram *r)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = r->iova,
		.size = r->len,
	};
	int ret;

	if (r->container < 0)
		return 0;
	ret = vfio_ioctl(r->container, VFIO_IOMMU_UNMAP_DMA, &unmap);
	r->container = -1;
	return ret;
}

void guest_ram_free(struct guest_ram *r)
{
	guest_ram_unmap_dma(r);
	if (r->buf && r->buf != MAP_FAILED)
		munmap(r->buf, r->len);
	r->buf = MAP_FAILED;
}

static void eng_attr_path(char *path, size_t len, const char *uuid,
			  const char *file)
{
	snprintf(path, len, MDEV_BUS_DEVICES "/%s/%s", uuid, file);
}

int eng_weight_set(const char *uuid, unsigned int weight)
{
	char path[256], buf[32];
	int n;

	eng_attr_path(path, sizeof(path), uuid, "weight");
	n = snprintf(buf, sizeof(buf), "%u\n", weight);
	n = sysfs_write(path, buf, n);
	return n < 0 ? n : 0;
}

static long long eng_attr_get(const char *uuid, const char *file)
{
	char path[256], buf[32];
	int ret;

	eng_attr_path(path, sizeof(path), uuid, file);
	ret = sysfs_read(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	return strtoll(buf, NULL, 10);
}

long eng_weight_get(const char *uuid)
{
	return eng_attr_get(uuid, "weight");
}

long long eng_time_ns(const char *uuid)
{
	return eng_attr_get(uuid, "engine_time_ns");
}
