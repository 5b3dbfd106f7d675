// SPDX-License-Identifier: GPL-2.0
/*
 * bench.c - the helpers of bench.h shared by the make-bench programs:
 * clock, result lines, sysfs writes, instance UUIDs, kernel memory
 * counters and a minimal VFIO client.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "bench.h"

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void result(const char *metric, double value, const char *unit)
{
	printf("%s %.10g %s\n", metric, value, unit);
	fflush(stdout);
}

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

size_t parse_size(const char *s)
{
	unsigned long long v, unit = 1;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || !v)
		die("bad size '%s'", s);
	if (*end == 'K')
		unit = 1024;
	else if (*end == 'M')
		unit = MiB;
	else if (*end == 'G')
		unit = 1024 * MiB;
	if (unit > 1)
		end++;
	if (*end)
		die("bad size '%s'", s);
	return v * unit;
}

int sysfs_write(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

void bench_uuid(char buf[UUID_LEN], unsigned int n)
{
	snprintf(buf, UUID_LEN, "be7c4000-0000-4000-8000-%012x", n);
}

int mdev_create(const char *type_dir, const char *uuid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/create", type_dir);
	return sysfs_write(path, uuid);
}

int mdev_remove(const char *uuid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", uuid);
	return sysfs_write(path, "1");
}

/* Slab + VmallocUsed of /proc/meminfo in bytes, or -errno. */
static long long meminfo_kernel(void)
{
	long long slab = -1, vmalloc = -1, kb;
	char line[256];
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Slab: %lld kB", &kb) == 1)
			slab = kb;
		else if (sscanf(line, "VmallocUsed: %lld kB", &kb) == 1)
			vmalloc = kb;
	}
	fclose(f);
	if (slab < 0 || vmalloc < 0)
		return -EINVAL;
	return (slab + vmalloc) * 1024;
}

/* Readings closer than this are "settled"; at most this many tries. */
#define SETTLED_BYTES	(16 * 1024)
#define SETTLE_TRIES	15

long long kernel_mem_bytes(void)
{
	long long prev = -1, cur = -1;
	int i;

	/*
	 * Drop the reclaimable slab (dentries and inodes), so that sysfs
	 * lookups do not count, and wait until deferred frees (RCU, the
	 * teardown of a previous measurement) have stopped moving the total.
	 */
	for (i = 0; i < SETTLE_TRIES; i++) {
		sysfs_write("/proc/sys/vm/drop_caches", "2");
		usleep(200 * 1000);
		cur = meminfo_kernel();
		if (cur < 0)
			return cur;
		if (prev >= 0 && llabs(cur - prev) <= SETTLED_BYTES)
			break;
		prev = cur;
	}
	return cur;
}

int vfio_dev_open(struct vfio_dev *v, const char *uuid)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX], link[PATH_MAX];
	const char *group;
	ssize_t n;
	int group_id, ret;

	v->container = -1;
	v->group = -1;
	v->device = -1;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	group = strrchr(link, '/');
	group_id = atoi(group ? group + 1 : link);

	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0)
		goto err;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_id);
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0)
		goto err;
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &status))
		goto err;
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container))
		goto err;
	if (ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err;
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (v->device < 0)
		goto err;
	return 0;
err:
	ret = -errno;
	vfio_dev_close(v);
	return ret;
}

void vfio_dev_close(struct vfio_dev *v)
{
	if (v->device >= 0)
		close(v->device);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	v->container = -1;
	v->group = -1;
	v->device = -1;
}

int vfio_region(const struct vfio_dev *v, unsigned int index,
		struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, info) ? -errno : 0;
}
