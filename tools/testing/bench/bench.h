/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - what the make-bench programs share: a clock, result lines,
 * sysfs writes, instance UUIDs, memory counters from /proc/meminfo, and a
 * minimal VFIO client (container, group, device fd, region info).
 *
 * Every program prints its measurements on stdout as result lines,
 *
 *   <metric> <value> <unit>
 *
 * one per line; tools/testing/bench/vm-bench adds the round, the side and
 * the driver, and tools/testing/bench/report.py computes the statistics.
 * Diagnostics go to stderr.  A helper that fails returns a negative errno.
 */

#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

#define MiB		(1024UL * 1024UL)
#define UUID_LEN	37	/* 36 characters and the NUL */

/* Seconds on CLOCK_MONOTONIC. */
double now_s(void);

/* Prints one result line. */
void result(const char *metric, double value, const char *unit);

/* Prints "prog: message" on stderr and exits with status 1. */
void die(const char *fmt, ...);

/* Parses a positive size with an optional K/M/G suffix; dies on garbage. */
size_t parse_size(const char *s);

/* Writes @s (no newline added) to the file @path: 0 or -errno. */
int sysfs_write(const char *path, const char *s);

/*
 * The UUID of instance @n of a run: a fixed prefix and @n, so that
 * instances left behind by a crashed run are easy to recognise.
 */
void bench_uuid(char buf[UUID_LEN], unsigned int n);

/* Creates instance @uuid of the type whose sysfs directory is @type_dir. */
int mdev_create(const char *type_dir, const char *uuid);
/* Removes instance @uuid through /sys/bus/mdev/devices/<uuid>/remove. */
int mdev_remove(const char *uuid);

/*
 * The kernel's own memory in bytes, Slab + VmallocUsed of /proc/meminfo,
 * once the reclaimable slab (dentries and inodes) is dropped and the total
 * has settled (two readings 0.2 s apart within 16 KiB, at most 3 s).
 */
long long kernel_mem_bytes(void);

/* A VFIO device opened the way QEMU opens one; fds are -1 when closed. */
struct vfio_dev {
	int container;
	int group;
	int device;
};

int vfio_dev_open(struct vfio_dev *v, const char *uuid);
void vfio_dev_close(struct vfio_dev *v);
/* VFIO_DEVICE_GET_REGION_INFO of region @index (no capabilities). */
int vfio_region(const struct vfio_dev *v, unsigned int index,
		struct vfio_region_info *info);

#endif /* BENCH_H */
