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

#endif /* VFIO_MDEV_SELFTEST_MIG_CLIENT_H */
