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

#define PAGE	4096UL

struct stream {
	unsigned char *buf;
	size_t len;
	size_t cap;
};

/* VFIO_DEVICE_FEATURE with a payload of @len bytes: 0 or -errno. */
static int feature(int dev, __u32 flags, void *data, size_t len)
{
	__u64 buf[8] = { 0 };
	struct vfio_device_feature *f = (void *)buf;
	int ret;

	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	memcpy(f->data, data, len);
	ret = ioctl(dev, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
	memcpy(data, f->data, len);
	return ret;
}

static bool supports_stop_copy(int dev)
{
	struct vfio_device_feature_migration mig = { 0 };

	return !feature(dev, VFIO_DEVICE_FEATURE_GET |
			VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof(mig)) &&
	       (mig.flags & VFIO_MIGRATION_STOP_COPY);
}

/* Moves @dev to @state; returns the data fd (or -1 if none); dies on error. */
static int mig_set(int dev, __u32 state)
{
	struct vfio_device_feature_mig_state mig = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret;

	ret = feature(dev, VFIO_DEVICE_FEATURE_SET |
		      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &mig, sizeof(mig));
	if (ret)
		die("migration state %u: %s", state, strerror(-ret));
	return mig.data_fd;
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

static void vram_write(const struct vfio_dev *v, const unsigned char *buf,
		       size_t bytes, size_t chunk)
{
	__u64 base = bar0(v, bytes);
	size_t done;

	for (done = 0; done < bytes; done += chunk)
		if (pwrite(v->device, buf + done, chunk, base + done) !=
		    (ssize_t)chunk)
			die("pwrite of BAR0: %s", strerror(errno));
}

/* Saves @dev (RUNNING -> STOP_COPY -> STOP) into @s; its seconds. */
static double save(int dev, struct stream *s, size_t chunk)
{
	double t0 = now_s();
	ssize_t n;
	int fd;

	fd = mig_set(dev, VFIO_DEVICE_STATE_STOP_COPY);
	if (fd < 0)
		die("STOP_COPY gave no data fd");
	s->len = 0;
	for (;;) {
		if (s->cap - s->len < chunk) {
			s->cap = s->cap * 2 + chunk;
			s->buf = realloc(s->buf, s->cap);
			if (!s->buf)
				die("out of memory");
		}
		n = read(fd, s->buf + s->len, chunk);
		if (n < 0)
			die("read of the saving fd: %s", strerror(errno));
		if (!n)
			break;
		s->len += n;
	}
	close(fd);
	mig_set(dev, VFIO_DEVICE_STATE_STOP);
	return now_s() - t0;
}

/* Resumes @dev (RUNNING -> RESUMING -> STOP) from @s; its seconds. */
static double resume(int dev, const struct stream *s, size_t chunk)
{
	double t0 = now_s();
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = mig_set(dev, VFIO_DEVICE_STATE_RESUMING);
	if (fd < 0)
		die("RESUMING gave no data fd");
	while (done < s->len) {
		n = write(fd, s->buf + done,
			  s->len - done < chunk ? s->len - done : chunk);
		if (n <= 0)
			die("write of the resuming fd: %s",
			    n ? strerror(errno) : "no progress");
		done += n;
	}
	close(fd);
	mig_set(dev, VFIO_DEVICE_STATE_STOP);
	return now_s() - t0;
}

static void bench(char **uuids, size_t bytes, size_t chunk)
{
	unsigned char *vram = malloc(bytes), *back = malloc(bytes);
	struct stream s = { 0 };
	struct vfio_dev v;
	size_t i;
	double t;

	if (!vram || !back)
		die("out of memory");
	for (i = 0; i < bytes; i++)
		vram[i] = (unsigned char)(i * 197 + 3);

	/* the source: touched VRAM, saved */
	open_dev(&v, uuids[0]);
	vram_write(&v, vram, bytes, chunk);
	t = save(v.device, &s, chunk);
	result("save_MiBps", bytes / (double)MiB / t, "MiB/s");
	result("stream_bytes", s.len, "B");
	vfio_dev_close(&v);

	/* the target: resumed, and its VRAM checked */
	open_dev(&v, uuids[1]);
	t = resume(v.device, &s, chunk);
	result("resume_MiBps", bytes / (double)MiB / t, "MiB/s");
	if (pread(v.device, back, bytes, bar0(&v, bytes)) != (ssize_t)bytes ||
	    memcmp(vram, back, bytes))
		die("the resumed VRAM differs from the saved one");
	vfio_dev_close(&v);

	/* an idle instance: one page written */
	open_dev(&v, uuids[2]);
	vram_write(&v, vram, PAGE, PAGE);
	save(v.device, &s, chunk);
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
