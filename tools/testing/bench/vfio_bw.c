// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_bw.c - bandwidth of a VRAM BAR through a VFIO device fd, and the
 * same operations on plain memory as the reference.
 *
 *   vfio_bw region UUID [--bytes N] [--chunk N]
 *       pwrite the first N bytes of BAR0 in chunks twice, then pread them:
 *       pwrite_first_MiBps (the pages are allocated on this first pass),
 *       pwrite_MiBps, pread_MiBps
 *   vfio_bw mmap UUID [--bytes N]
 *       mmap the first N bytes of BAR0 (MAP_SHARED), write one byte to every
 *       page (first touch), then write the whole range with memset:
 *       touch_ms, touch_MiBps, mmap_write_MiBps
 *   vfio_bw anon [--bytes N] [--nohuge]
 *       the same on anonymous memory (MAP_PRIVATE | MAP_ANONYMOUS), with the
 *       system's transparent huge page setting or, with --nohuge, 4 KiB
 *       pages (MADV_NOHUGEPAGE): touch_ms, touch_MiBps, mmap_write_MiBps
 *   vfio_bw memcpy [--bytes N] [--chunk N]
 *       memcpy of N bytes between two touched buffers, in chunks:
 *       memcpy_MiBps
 *
 * Sizes take K, M and G suffixes; the defaults are 64M and 1M.  The region
 * is found with VFIO_DEVICE_GET_REGION_INFO, so any vfio-pci-like layout
 * works (mgpu's index << 40, mbochs's packed offsets).  Bulk passes are
 * repeated: PASSES times for memset and memcpy, PASSES - 1 times for
 * pread and pwrite after the first, allocating, pwrite pass.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "bench.h"

#define PASSES	3
#define PAGE		4096UL

struct opts {
	size_t bytes;
	size_t chunk;
	bool nohuge;
};

static double mibps(size_t bytes, double seconds)
{
	return bytes / (double)MiB / seconds;
}

/* A buffer filled with a pattern that depends on @seed. */
static unsigned char *pattern(size_t len, unsigned int seed)
{
	unsigned char *p = malloc(len);
	size_t i;

	if (!p)
		die("out of memory");
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 131 + seed);
	return p;
}

/* Opens @uuid and finds BAR0; dies unless it has at least @bytes. */
static void open_bar0(struct vfio_dev *v, const char *uuid, size_t bytes,
		      struct vfio_region_info *bar)
{
	int ret;

	ret = vfio_dev_open(v, uuid);
	if (ret)
		die("cannot open %s: %s", uuid, strerror(-ret));
	ret = vfio_region(v, VFIO_PCI_BAR0_REGION_INDEX, bar);
	if (ret)
		die("BAR0 region info: %s", strerror(-ret));
	if (bar->size < bytes)
		die("BAR0 has %llu bytes, fewer than %zu",
		    (unsigned long long)bar->size, bytes);
}

/* One pass of pread or pwrite over [0, bytes) of BAR0: its seconds. */
static double region_pass(int fd, const struct vfio_region_info *bar,
			  unsigned char *buf, const struct opts *o, bool write)
{
	double t0 = now_s();
	size_t done;
	ssize_t n;

	for (done = 0; done < o->bytes; done += o->chunk) {
		off_t at = bar->offset + done;

		n = write ? pwrite(fd, buf + done, o->chunk, at) :
			    pread(fd, buf + done, o->chunk, at);
		if (n != (ssize_t)o->chunk)
			die("%s at %zu: %s", write ? "pwrite" : "pread", done,
			    n < 0 ? strerror(errno) : "short transfer");
	}
	return now_s() - t0;
}

static void bench_region(const char *uuid, const struct opts *o)
{
	struct vfio_region_info bar;
	unsigned char *src, *dst;
	struct vfio_dev v;
	double t = 0;
	int i;

	if (o->bytes % o->chunk)
		die("--bytes must be a multiple of --chunk");
	open_bar0(&v, uuid, o->bytes, &bar);
	src = pattern(o->bytes, 7);
	dst = pattern(o->bytes, 0);	/* touched, so no page faults */

	result("pwrite_first_MiBps",
	       mibps(o->bytes, region_pass(v.device, &bar, src, o, true)),
	       "MiB/s");
	for (i = 0; i < PASSES - 1; i++)
		t += region_pass(v.device, &bar, src, o, true);
	result("pwrite_MiBps", mibps(o->bytes * (PASSES - 1), t),
	       "MiB/s");
	t = 0;
	for (i = 0; i < PASSES - 1; i++)
		t += region_pass(v.device, &bar, dst, o, false);
	result("pread_MiBps", mibps(o->bytes * (PASSES - 1), t),
	       "MiB/s");
	if (memcmp(src, dst, o->bytes))
		die("BAR0 did not read back what was written");

	free(src);
	free(dst);
	vfio_dev_close(&v);
}

/* First touch of every page of @p, then memset passes; prints results. */
static void touch_and_write(unsigned char *p, size_t bytes)
{
	double t0, t;
	size_t off;
	int i;

	t0 = now_s();
	for (off = 0; off < bytes; off += PAGE)
		p[off] = 1;
	/* the stores must happen here, not be merged into the memset below */
	asm volatile("" : : : "memory");
	t = now_s() - t0;
	result("touch_ms", t * 1e3, "ms");
	result("touch_MiBps", mibps(bytes, t), "MiB/s");

	t0 = now_s();
	for (i = 0; i < PASSES; i++)
		memset(p, i + 1, bytes);
	t = now_s() - t0;
	result("mmap_write_MiBps", mibps(bytes * PASSES, t), "MiB/s");
	if (p[bytes - 1] != PASSES)
		die("the mapping did not keep the last write");
}

static void bench_mmap(const char *uuid, const struct opts *o)
{
	struct vfio_region_info bar;
	struct vfio_dev v;
	void *p;

	open_bar0(&v, uuid, o->bytes, &bar);
	if (!(bar.flags & VFIO_REGION_INFO_FLAG_MMAP))
		die("BAR0 of %s cannot be mapped", uuid);
	p = mmap(NULL, o->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, v.device,
		 bar.offset);
	if (p == MAP_FAILED)
		die("mmap of BAR0: %s", strerror(errno));
	touch_and_write(p, o->bytes);
	munmap(p, o->bytes);
	vfio_dev_close(&v);
}

static void bench_anon(const struct opts *o)
{
	void *p;

	p = mmap(NULL, o->bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	if (o->nohuge && madvise(p, o->bytes, MADV_NOHUGEPAGE))
		die("madvise: %s", strerror(errno));
	touch_and_write(p, o->bytes);
	munmap(p, o->bytes);
}

static void bench_memcpy(const struct opts *o)
{
	unsigned char *src = pattern(o->bytes, 7), *dst = pattern(o->bytes, 0);
	double t0, t;
	size_t done;
	int i;

	t0 = now_s();
	for (i = 0; i < PASSES; i++)
		for (done = 0; done < o->bytes; done += o->chunk)
			memcpy(dst + done, src + done, o->chunk);
	t = now_s() - t0;
	if (memcmp(src, dst, o->bytes))
		die("memcpy went wrong");
	result("memcpy_MiBps", mibps(o->bytes * PASSES, t), "MiB/s");
	free(src);
	free(dst);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "nohuge", no_argument, NULL, 'H' },
		{ }
	};
	struct opts o = { .bytes = 64 * MiB, .chunk = MiB };
	const char *mode;
	int opt;

	while ((opt = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			o.bytes = parse_size(optarg);
			break;
		case 'c':
			o.chunk = parse_size(optarg);
			break;
		case 'H':
			o.nohuge = true;
			break;
		default:
			die("usage: vfio_bw region|mmap UUID | anon | memcpy %s",
			    "[--bytes N] [--chunk N] [--nohuge]");
		}
	}
	if (optind == argc)
		die("no mode given");
	mode = argv[optind];
	if (o.bytes % PAGE || o.bytes % o.chunk)
		die("--bytes must be a multiple of the page size and of --chunk");

	if (!strcmp(mode, "region") || !strcmp(mode, "mmap")) {
		if (optind + 2 != argc)
			die("%s needs a UUID", mode);
		if (!strcmp(mode, "region"))
			bench_region(argv[optind + 1], &o);
		else
			bench_mmap(argv[optind + 1], &o);
	} else if (!strcmp(mode, "anon")) {
		bench_anon(&o);
	} else if (!strcmp(mode, "memcpy")) {
		bench_memcpy(&o);
	} else {
		die("unknown mode '%s'", mode);
	}
	return 0;
}
