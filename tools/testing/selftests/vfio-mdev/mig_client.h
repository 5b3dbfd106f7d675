/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user-space side of VFIO migration v2 for the vfio-mdev selftests and
 * the bench: VFIO_DEVICE_FEATURE, the device state (MIG_DEVICE_STATE), and
 * a whole save (STOP_COPY, the data fd read to EOF, STOP) or the writing of
 * a stream into a resuming data fd.
 *
 * Self-contained (libc and <linux/vfio.h> only), so that the bench can link
 * it without the rest of the selftests.  Every helper returns 0 (or a
 * count) on success and a negative errno on failure.
 */

#ifndef VFIO_MDEV_SELFTEST_MIG_CLIENT_H
#define VFIO_MDEV_SELFTEST_MIG_CLIENT_H

#include <stddef.h>
#include <linux/types.h>
#include <linux/vfio.h>

/* VFIO_DEVICE_FEATURE with @len bytes of payload, copied back after. */
int vfio_feature(int device, __u32 flags, void *data, size_t len);

/* The device state (enum vfio_device_mig_state), or -errno. */
int vfio_mig_get_state(int device);

/*
 * Asks for @state: 0 or -errno.  With @data_fd, *@data_fd gets what the
 * kernel wrote back: the new session's fd, or -1 when there is none (the
 * kernel writes -1 on failure too); -2 if it wrote nothing.  Without it, a
 * returned fd is closed.
 */
int vfio_mig_set_state(int device, __u32 state, int *data_fd);

/*
 * A stream in memory.  Start it zeroed, or with a buffer of @cap bytes
 * from malloc() that is big enough, so that reading into it never
 * allocates (what a fault-injection pass needs).
 */
struct vfio_mig_stream {
	__u8 *buf;
	size_t len;
	size_t cap;
};

void vfio_mig_stream_free(struct vfio_mig_stream *s);

/*
 * Makes @s hold at least @cap bytes, every page of them touched, so that a
 * timed read into it costs what the device costs, not page faults and the
 * copies of a growing buffer: 0 or -ENOMEM.
 */
int vfio_mig_stream_reserve(struct vfio_mig_stream *s, size_t cap);

/*
 * Reads @fd to EOF in reads of @chunk bytes into @s (replacing what it
 * held), growing the buffer when it is full: 0 or -errno.
 */
int vfio_mig_read_all(int fd, struct vfio_mig_stream *s, size_t chunk);

/* Writes @len bytes to @fd in writes of at most @chunk: 0, -errno, -EIO. */
int vfio_mig_write_all(int fd, const void *buf, size_t len, size_t chunk);

/*
 * Saves @device from any state: STOP_COPY, the data fd read to EOF with
 * vfio_mig_read_all(), then STOP.  0 or -errno; when @step is given, it
 * names the step that failed ("STOP_COPY", "read" or "STOP").
 */
int vfio_mig_save(int device, struct vfio_mig_stream *s, size_t chunk,
		  const char **step);

/*
 * The mgpu stream (samples/vfio-mdev/mgpu/mgpu_stream.h), as a client that
 * checks or damages one needs it: a 64-byte header, then records of a
 * 32-byte header and a payload; a VRAM payload is followed by its 16-byte
 * run check.  All fields little-endian.
 */
#define MGPU_ST_HDR_LEN		64
#define MGPU_ST_HDR_FORMAT	8
#define MGPU_ST_HDR_VERSION	12
#define MGPU_ST_HDR_SLICES	16
#define MGPU_ST_HDR_RESERVED0	20
#define MGPU_ST_HDR_VRAM	24
#define MGPU_ST_HDR_RESERVED	32
#define MGPU_ST_HDR_CHECK	56
#define MGPU_ST_FORMAT		3

#define MGPU_ST_REC_LEN		32
#define MGPU_ST_REC_TYPE	0
#define MGPU_ST_REC_LENGTH	4
#define MGPU_ST_REC_OFFSET	8
#define MGPU_ST_REC_DATA_CHECK	16
#define MGPU_ST_REC_SEQ		24
#define MGPU_ST_REC_HEAD_CHECK	28

enum {
	MGPU_ST_CONFIG = 1,
	MGPU_ST_REGS,
	MGPU_ST_IRQ,
	MGPU_ST_DISPLAY,
	MGPU_ST_ENGINE,
	MGPU_ST_VRAM,
	MGPU_ST_END,
};

#define MGPU_ST_RUN_MAX		(256 * 1024)
/* After a VRAM payload: the sum of its 64-bit words, and of the running sums. */
#define MGPU_ST_RUN_CHECK_LEN	16

/* The run check of @len bytes (a multiple of 8), as the kernel takes it. */
void mgpu_run_check(const __u8 *payload, size_t len, __u8 check[16]);

/* xxh64 with @seed, as lib/xxhash.c computes it. */
__u64 mig_xxh64(const void *buf, size_t len, __u64 seed);

/* Little-endian loads and stores of 1, 2, 4 or 8 bytes. */
void mig_put_le(__u8 *p, unsigned int size, __u64 val);
__u64 mig_get_le(const __u8 *p, unsigned int size);

/* Recomputes the header's check. */
void mgpu_stream_fix_header(__u8 *buf);

/*
 * Recomputes the data check (over the payload that follows, as far as
 * @len bytes of stream reach; for VRAM the run check after the payload,
 * if the stream holds it) and the head check of the record at @at.
 */
void mgpu_stream_fix_record(__u8 *buf, size_t len, size_t at);

/*
 * The offset of record @n (0: the first after the header) when walking
 * the records' lengths (and the run checks), or -1 when the stream ends
 * before it.
 */
long mgpu_stream_record(const __u8 *buf, size_t len, unsigned int n);

#endif /* VFIO_MDEV_SELFTEST_MIG_CLIENT_H */
