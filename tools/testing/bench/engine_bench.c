// SPDX-License-Identifier: GPL-2.0-only
/*
 * engine_bench.c - the mgpu compute engine in "make bench": its FILL, COPY
 * and guest-RAM copy throughput next to memset and memcpy of the same
 * sizes in this process (same boot, seconds apart), and a flooder that
 * keeps one instance's ring full for the fairness measurement (vm-bench
 * reads the instances' engine_time_ns around it).
 *
 * Usage: engine_bench throughput UUID
 *        engine_bench flood UUID FILL_BYTES SECONDS
 * Prints "metric value unit" lines.
 */

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include "common.h"
#include "mgpu_engine_lib.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

#define CHUNK		(8UL << 20)
#define BATCH		16
#define MIN_SECONDS	1.0
#define RING_ENTRIES	1024
#define IOVA		0x100000ULL

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void result(const char *metric, double value, const char *unit)
{
	printf("%s %.10g %s\n", metric, value, unit);
	fflush(stdout);
}

/* Runs batches of @cmd until MIN_SECONDS passed: MB/s of @bytes each. */
static double engine_rate(struct eng *e, struct mgpu_cmd cmd, size_t bytes)
{
	struct mgpu_cmd cmds[BATCH];
	double start, t;
	long n = 0;
	int i;

	for (i = 0; i < BATCH; i++)
		cmds[i] = cmd;
	/* once first: VRAM pages are allocated at their first touch */
	if (eng_submit(e, cmds, 1) || eng_wait_idle(e, 60000))
		return -1;
	start = seconds();
	do {
		if (eng_submit(e, cmds, BATCH) || eng_wait_idle(e, 60000))
			return -1;
		n += BATCH;
		t = seconds() - start;
	} while (t < MIN_SECONDS);
	return n * (double)bytes / t / 1e6;
}

/* The CPU doing the same in this process: memset, or memcpy if @src. */
static double cpu_rate(void *dst, const void *src, size_t bytes)
{
	double start = seconds(), t;
	long n = 0;

	do {
		if (src)
			memcpy(dst, src, bytes);
		else
			memset(dst, (int)n, bytes);
		n++;
		t = seconds() - start;
	} while (t < MIN_SECONDS);
	return n * (double)bytes / t / 1e6;
}

static int open_engine(struct vfio_client *v, struct eng *e, const char *uuid)
{
	struct vfio_region_info *bar0;
	__u64 vram;

	vfio_client_init(v);
	if (vfio_client_open(v, uuid) || vfio_region_info(v->device, MGPU_VRAM,
							  &bar0))
		return -1;
	vram = bar0->size;
	free(bar0);
	return eng_init(e, v->device, vram - RING_ENTRIES * MGPU_CMD_SIZE,
			RING_ENTRIES);
}

static int throughput(const char *uuid)
{
	struct guest_ram ram;
	struct vfio_client v;
	void *a, *b;
	struct eng e;

	if (open_engine(&v, &e, uuid) ||
	    guest_ram_map(&ram, v.container, IOVA, CHUNK))
		return 1;
	memset(ram.buf, 1, CHUNK);
	result("engine_fill", engine_rate(&e, cmd_fill(0, CHUNK, 7), CHUNK),
	       "MB/s");
	result("engine_copy", engine_rate(&e, cmd_copy(CHUNK, 0, CHUNK), CHUNK),
	       "MB/s");
	result("engine_from_ram",
	       engine_rate(&e, cmd_from_ram(0, IOVA, CHUNK), CHUNK), "MB/s");
	result("engine_to_ram",
	       engine_rate(&e, cmd_to_ram(IOVA, 0, CHUNK), CHUNK), "MB/s");
	guest_ram_free(&ram);
	vfio_client_close(&v);

	a = malloc(CHUNK);
	b = malloc(CHUNK);
	if (!a || !b)
		return 1;
	memset(a, 1, CHUNK);
	memset(b, 2, CHUNK);
	result("cpu_memset", cpu_rate(a, NULL, CHUNK), "MB/s");
	result("cpu_memcpy", cpu_rate(a, b, CHUNK), "MB/s");
	free(a);
	free(b);
	return 0;
}

static int flood(const char *uuid, size_t fill, double secs)
{
	static struct mgpu_cmd cmds[RING_ENTRIES];
	struct vfio_client v;
	double end = seconds() + secs;
	struct eng e;
	int i;

	if (open_engine(&v, &e, uuid))
		return 1;
	for (i = 0; i < RING_ENTRIES; i++)
		cmds[i] = cmd_fill(0, fill, i);
	while (seconds() < end) {
		long room = eng_room(&e);

		if (room < 0 || (room > 0 && eng_submit(&e, cmds, room)))
			return 1;
		usleep(5000);
	}
	eng_reg_set(v.device, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET);
	vfio_client_close(&v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "throughput"))
		return throughput(argv[2]);
	if (argc == 5 && !strcmp(argv[1], "flood"))
		return flood(argv[2], strtoul(argv[3], NULL, 0), atof(argv[4]));
	fprintf(stderr, "usage: %s throughput UUID | flood UUID BYTES SECONDS\n",
		argv[0]);
	return 2;
}
