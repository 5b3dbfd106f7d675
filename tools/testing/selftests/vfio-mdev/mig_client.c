// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO migration v2 from user space (see mig_client.h): the device feature
 * ioctl, the device state, and reading and writing whole streams.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "mig_client.h"

int vfio_feature(int device, __u32 flags, void *data, size_t len)
{
	__u64 buf[8] = { 0 };
	struct vfio_device_feature *f = (void *)buf;
	int ret;

	if (sizeof(*f) + len > sizeof(buf))
		return -E2BIG;
	f->argsz = sizeof(*f) + len;
	f->flags = flags;
	memcpy(f->data, data, len);
	ret = ioctl(device, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
	memcpy(data, f->data, len);
	return ret;
}

int vfio_mig_get_state(int device)
{
	struct vfio_device_feature_mig_state mig = { .data_fd = -2 };
	int ret;

	ret = vfio_feature(device, VFIO_DEVICE_FEATURE_GET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			   &mig, sizeof(mig));
	return ret ? ret : (int)mig.device_state;
}

int vfio_mig_set_state(int device, __u32 state, int *data_fd)
{
	/* -2: tells "the kernel wrote nothing" apart from its -1 */
	struct vfio_device_feature_mig_state mig = {
		.device_state = state,
		.data_fd = -2,
	};
	int ret;

	ret = vfio_feature(device, VFIO_DEVICE_FEATURE_SET |
			   VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
			   &mig, sizeof(mig));
	if (data_fd)
		*data_fd = mig.data_fd;
	else if (!ret && mig.data_fd >= 0)
		close(mig.data_fd);
	return ret;
}

void vfio_mig_stream_free(struct vfio_mig_stream *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
	s->cap = 0;
}

/* Room for at least @chunk more bytes: 0 or -ENOMEM. */
static int stream_make_room(struct vfio_mig_stream *s, size_t chunk)
{
	size_t cap;
	__u8 *bigger;

	if (s->cap - s->len >= chunk)
		return 0;
	cap = s->cap * 2 + chunk;
	bigger = realloc(s->buf, cap);
	if (!bigger)
		return -ENOMEM;
	s->buf = bigger;
	s->cap = cap;
	return 0;
}

int vfio_mig_stream_reserve(struct vfio_mig_stream *s, size_t cap)
{
	__u8 *bigger;

	if (s->cap < cap) {
		bigger = realloc(s->buf, cap);
		if (!bigger)
			return -ENOMEM;
		s->buf = bigger;
		s->cap = cap;
	}
	memset(s->buf, 0, s->cap);
	return 0;
}

int vfio_mig_read_all(int fd, struct vfio_mig_stream *s, size_t chunk)
{
	ssize_t n;
	int ret;

	s->len = 0;
	for (;;) {
		ret = stream_make_room(s, chunk);
		if (ret)
			return ret;
		n = read(fd, s->buf + s->len, chunk);
		if (n < 0)
			return -errno;
		if (!n)
			return 0;
		s->len += n;
	}
}

int vfio_mig_write_all(int fd, const void *buf, size_t len, size_t chunk)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, (const __u8 *)buf + done,
			  len - done < chunk ? len - done : chunk);
		if (n < 0)
			return -errno;
		if (!n)
			return -EIO;
		done += n;
	}
	return 0;
}

int vfio_mig_save(int device, struct vfio_mig_stream *s, size_t chunk,
		  const char **step)
{
	const char *unused;
	int fd, ret;

	if (!step)
		step = &unused;
	*step = "STOP_COPY";
	ret = vfio_mig_set_state(device, VFIO_DEVICE_STATE_STOP_COPY, &fd);
	if (ret)
		return ret;
	if (fd < 0)
		return -EBADF;
	*step = "read";
	ret = vfio_mig_read_all(fd, s, chunk);
	close(fd);
	if (ret)
		return ret;
	*step = "STOP";
	return vfio_mig_set_state(device, VFIO_DEVICE_STATE_STOP, NULL);
}

/* ---- the mgpu stream ---------------------------------------------------- */

#define XXH_P1	0x9E3779B185EBCA87ULL
#define XXH_P2	0xC2B2AE3D27D4EB4FULL
#define XXH_P3	0x165667B19E3779F9ULL
#define XXH_P4	0x85EBCA77C2B2AE63ULL
#define XXH_P5	0x27D4EB2F165667C5ULL

static __u64 rotl64(__u64 x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

static __u64 xxh_round(__u64 acc, __u64 in)
{
	return rotl64(acc + in * XXH_P2, 31) * XXH_P1;
}

static __u64 xxh_merge(__u64 acc, __u64 val)
{
	return (acc ^ xxh_round(0, val)) * XXH_P1 + XXH_P4;
}

__u64 mig_xxh64(const void *buf, size_t len, __u64 seed)
{
	const __u8 *p = buf, *end = p + len;
	__u64 h;

	if (len >= 32) {
		__u64 v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2;
		__u64 v3 = seed, v4 = seed - XXH_P1;

		for (; p + 32 <= end; p += 32) {
			v1 = xxh_round(v1, mig_get_le(p, 8));
			v2 = xxh_round(v2, mig_get_le(p + 8, 8));
			v3 = xxh_round(v3, mig_get_le(p + 16, 8));
			v4 = xxh_round(v4, mig_get_le(p + 24, 8));
		}
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) +
		    rotl64(v4, 18);
		h = xxh_merge(h, v1);
		h = xxh_merge(h, v2);
		h = xxh_merge(h, v3);
		h = xxh_merge(h, v4);
	} else {
		h = seed + XXH_P5;
	}
	h += len;
	for (; p + 8 <= end; p += 8)
		h = rotl64(h ^ xxh_round(0, mig_get_le(p, 8)), 27) * XXH_P1 +
		    XXH_P4;
	if (p + 4 <= end) {
		h = rotl64(h ^ mig_get_le(p, 4) * XXH_P1, 23) * XXH_P2 + XXH_P3;
		p += 4;
	}
	for (; p < end; p++)
		h = rotl64(h ^ *p * XXH_P5, 11) * XXH_P1;
	h ^= h >> 33;
	h *= XXH_P2;
	h ^= h >> 29;
	h *= XXH_P3;
	h ^= h >> 32;
	return h;
}

void mig_put_le(__u8 *p, unsigned int size, __u64 val)
{
	unsigned int i;

	for (i = 0; i < size; i++)
		p[i] = val >> (8 * i);
}

__u64 mig_get_le(const __u8 *p, unsigned int size)
{
	__u64 val = 0;
	unsigned int i;

	for (i = 0; i < size; i++)
		val |= (__u64)p[i] << (8 * i);
	return val;
}

void mgpu_stream_fix_header(__u8 *buf)
{
	mig_put_le(buf + MGPU_ST_HDR_CHECK, 8,
		   mig_xxh64(buf, MGPU_ST_HDR_CHECK, 0));
}

void mgpu_run_check(const __u8 *payload, size_t len, __u8 check[16])
{
	__u64 sum = 0, sums = 0;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		sum += mig_get_le(payload + i, 8);
		sums += sum;
	}
	mig_put_le(check, 8, sum);
	mig_put_le(check + 8, 8, sums);
}

void mgpu_stream_fix_record(__u8 *buf, size_t len, size_t at)
{
	__u8 *rec = buf + at;
	size_t plen = mig_get_le(rec + MGPU_ST_REC_LENGTH, 4);
	__u32 type = mig_get_le(rec + MGPU_ST_REC_TYPE, 4);
	size_t room;

	if (at + MGPU_ST_REC_LEN > len)
		return;
	room = len - at - MGPU_ST_REC_LEN;
	if (type == MGPU_ST_VRAM) {
		if (plen <= room && MGPU_ST_RUN_CHECK_LEN <= room - plen)
			mgpu_run_check(rec + MGPU_ST_REC_LEN, plen,
				       rec + MGPU_ST_REC_LEN + plen);
	} else if (type != MGPU_ST_END) {
		mig_put_le(rec + MGPU_ST_REC_DATA_CHECK, 8,
			   mig_xxh64(rec + MGPU_ST_REC_LEN,
				     plen < room ? plen : room, 0));
	}
	mig_put_le(rec + MGPU_ST_REC_HEAD_CHECK, 4,
		   mig_xxh64(rec, MGPU_ST_REC_HEAD_CHECK, 0));
}

long mgpu_stream_record(const __u8 *buf, size_t len, unsigned int n)
{
	size_t at = MGPU_ST_HDR_LEN, size;

	for (;;) {
		if (at + MGPU_ST_REC_LEN > len)
			return -1;
		if (!n--)
			return at;
		size = MGPU_ST_REC_LEN +
		       mig_get_le(buf + at + MGPU_ST_REC_LENGTH, 4);
		if (mig_get_le(buf + at + MGPU_ST_REC_TYPE, 4) == MGPU_ST_VRAM)
			size += MGPU_ST_RUN_CHECK_LEN;
		at += size;
	}
}
