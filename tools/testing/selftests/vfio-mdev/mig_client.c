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
