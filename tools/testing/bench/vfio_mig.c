// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_mig.c - throughput of VFIO migration v2 (STOP_COPY and RESUMING)
 * of an instance whose VRAM is touched, and the stream size of one that is
 * almost untouched.
 *
 *   vfio_mig probe UUID
 *       exit status 0 if the device supports STOP_COPY migration, 3 if not
 *   vfio_mig SRC DST IDLE [--bytes N] [--chunk N]
 *       writes the first N bytes of SRC's BAR0, saves SRC (RUNNING ->
 *       STOP_COPY, the data fd read to EOF in chunks, -> STOP), resumes DST
 *       from the stream (-> RESUMING, the stream written in chunks, -> STOP,
 *       which applies it) and checks DST's VRAM; then saves IDLE, a fresh
 *       instance with one page written:
 *       save_MiBps, resume_MiBps   N bytes of VRAM per second of the whole
 *                                  save or resume, state changes included
 *       save_kmem_KiB, resume_kmem_KiB
 *                                  kernel memory a session holds: Slab +
 *                                  VmallocUsed of /proc/meminfo with the
 *                                  whole stream moved but the session not
 *                                  yet ended, less the same just before it
 *                                  began (DST's VRAM is written all over
 *                                  first, so that resuming allocates no VRAM
 *                                  page and only the session counts)
 *       vram_MiB                   the BAR0 size of SRC
 *       stream_bytes               the stream of SRC
 *       idle_stream_bytes          the stream of IDLE
 *
 * The instances are opened one after the other, so that a driver whose
 * types allow one open instance per process (mgpu's single usage) works.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "bench.h"
#include "mig_client.h"

#define PAGE	4096UL

/*
 * Slab + VmallocUsed of /proc/meminfo, in KiB: the kernel memory that a
 * driver's kmalloc(), kvmalloc() and vmalloc() take.
 */
static long kmem_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long sum = 0, v;

	if (!f)
		die("/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &v) == 1 ||
		    sscanf(line, "VmallocUsed: %ld kB", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

static bool supports_stop_copy(int dev)
{
	struct vfio_device_feature_migration mig = { 0 };

	return !vfio_feature(dev, VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig)) &&
	       (mig.flags & VFIO_MIGRATION_STOP_COPY);
}

/* Moves @dev to @state; returns the data fd (or -1 if none); dies on error. */
static int mig_set(int dev, __u32 state)
{
	int fd, ret;

	ret = vfio_mig_set_state(dev, state, &fd);
	if (ret)
		die("migration state %u: %s", state, strerror(-ret));
	return fd;
}

static void open_dev(struct vfio_dev *v, const char *uuid)
{
	int ret = vfio_dev_open(v, uuid);

	if (ret)
		die("cannot open %s: %s", uuid, strerror(-ret));
}

/* BAR0's offset in the device fd; dies unless BAR0 has @bytes. */
static __u64 bar0(const struct vfio_dev *v, size_t bytes)
{
	struct vfio_region_info info;
	int ret = vfio_region(v, VFIO_PCI_BAR0_REGION_INDEX, &info);

	if (ret)
		die("BAR0 region info: %s", strerror(-ret));
	if (info.size < bytes)
		die("BAR0 is smaller than %zu bytes", bytes);
	return info.offset;
}

/* BAR0's size. */
static __u64 bar0_size(const struct vfio_dev *v)
{
	struct vfio_region_info info;
	int ret = vfio_region(v, VFIO_PCI_BAR0_REGION_INDEX, &info);

	if (ret)
		die("BAR0 region info: %s", strerror(-ret));
	return info.size;
}

/* Writes @bytes of @buf at @at in BAR0 (at most to its end). */
static void vram_write_at(const struct vfio_dev *v, const unsigned char *buf,
			  size_t at, size_t bytes, size_t chunk)
{
	__u64 base = bar0(v, 0), size = bar0_size(v);
	size_t done;

	for (done = 0; done < bytes && at + done < size; done += chunk)
		if (pwrite(v->device, buf + done, chunk, base + at + done) !=
		    (ssize_t)chunk)
			die("pwrite of BAR0: %s", strerror(errno));
}

static void vram_write(const struct vfio_dev *v, const unsigned char *buf,
		       size_t bytes, size_t chunk)
{
	bar0(v, bytes);
	vram_write_at(v, buf, 0, bytes, chunk);
}

/*
 * Saves @dev (RUNNING -> STOP_COPY, read to EOF, -> STOP) into @s; its
 * seconds.  *@kmem: the kernel memory the session held at its end.
 */
static double save(int dev, struct vfio_mig_stream *s, size_t chunk,
		   long *kmem)
{
	long before = kmem_kib();
	double t0 = now_s();
	int fd, ret;

	fd = mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY);
	if (fd < 0)
		die("STOP_COPY gave no data fd");
	ret = vfio_mig_read_all(fd, s, chunk);
	if (ret)
		die("read of the saving fd: %s", strerror(-ret));
	*kmem = kmem_kib() - before;
	close(fd);
	mig_set(dev, VFIO_DEVICE_STATE_STOP);
	t0 = now_s() - t0;
	mig_set(dev, VFIO_DEVICE_STATE_RUNNING);
	return t0;
}

/*
 * Resumes @dev (RUNNING -> RESUMING -> STOP) from @s; its seconds.  *@kmem:
 * the kernel memory the session held with the whole stream written.
 */
static double resume(int dev, const struct vfio_mig_stream *s, size_t chunk,
		     long *kmem)
{
	long before = kmem_kib();
	double t0 = now_s();
	int fd, ret;

	fd = mig_set(dev, VFIO_DEVICE_STATE_RESUMING);
	if (fd < 0)
		die("RESUMING gave no data fd");
	ret = vfio_mig_write_all(fd, s->buf, s->len, chunk);
	if (ret)
		die("write of the resuming fd: %s", strerror(-ret));
	*kmem = kmem_kib() - before;
	close(fd);
	mig_set(dev, VFIO_DEVICE_STATE_STOP);
	return now_s() - t0;
}

static void bench(char **uuids, size_t bytes, size_t chunk)
{
	unsigned char *vram = malloc(bytes), *back = malloc(bytes);
	struct vfio_mig_stream s = { 0 };
	struct vfio_dev v;
	long kmem;
	size_t i;
	double t;

	if (!vram || !back)
		die("out of memory");
	for (i = 0; i < bytes; i++)
		vram[i] = (unsigned char)(i * 197 + 3);

	/* the source: touched VRAM, saved */
	open_dev(&v, uuids[0]);
	bar0(&v, bytes);
	result("vram_MiB", bar0_size(&v) / (double)MiB, "MiB");
	vram_write(&v, vram, bytes, chunk);
	/*
	 * A client such as QEMU reads the stream into one buffer it reuses;
	 * this one keeps the whole stream for the target, so it is made big
	 * enough beforehand and faulted in, as a reused buffer would be.
	 */
	if (vfio_mig_stream_reserve(&s, bytes + 2 * chunk + MiB))
		die("out of memory");
	t = save(v.device, &s, chunk, &kmem);
	result("save_MiBps", bytes / (double)MiB / t, "MiB/s");
	result("save_kmem_KiB", kmem, "KiB");
	result("stream_bytes", s.len, "B");
	vfio_dev_close(&v);

	/*
	 * the target: all its VRAM written first (so resuming allocates no
	 * page, and must overwrite or zero every byte), resumed, checked
	 */
	open_dev(&v, uuids[1]);
	memset(back, 0x5a, bytes);
	for (i = 0; i < bar0_size(&v); i += bytes)
		vram_write_at(&v, back, i, bytes, chunk);
	t = resume(v.device, &s, chunk, &kmem);
	result("resume_MiBps", bytes / (double)MiB / t, "MiB/s");
	result("resume_kmem_KiB", kmem, "KiB");
	if (pread(v.device, back, bytes, bar0(&v, bytes)) != (ssize_t)bytes ||
	    memcmp(vram, back, bytes))
		die("the resumed VRAM differs from the saved one");
	vfio_dev_close(&v);

	/* an idle instance: one page written */
	open_dev(&v, uuids[2]);
	vram_write(&v, vram, PAGE, PAGE);
	save(v.device, &s, chunk, &kmem);
	result("idle_stream_bytes", s.len, "B");
	vfio_dev_close(&v);

	free(s.buf);
	free(vram);
	free(back);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "chunk", required_argument, NULL, 'c' },
		{ }
	};
	size_t bytes = 64 * MiB, chunk = MiB;
	struct vfio_dev v;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			bytes = parse_size(optarg);
			break;
		case 'c':
			chunk = parse_size(optarg);
			break;
		default:
			die("usage: vfio_mig probe UUID | SRC DST IDLE [--bytes N] [--chunk N]");
		}
	}
	if (argc - optind == 2 && !strcmp(argv[optind], "probe")) {
		open_dev(&v, argv[optind + 1]);
		opt = supports_stop_copy(v.device) ? 0 : 3;
		vfio_dev_close(&v);
		return opt;
	}
	if (argc - optind != 3)
		die("need SRC, DST and IDLE instances");
	if (bytes % chunk || bytes % PAGE)
		die("--bytes must be a multiple of --chunk and of the page size");
	bench(argv + optind, bytes, chunk);
	return 0;
}
