// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev tests through VFIO: an instance opens like QEMU opens it (type1
 * container, group, device fd by UUID), answers VFIO_DEVICE_GET_INFO, counts
 * its opens, and a write to "remove" while it is open blocks, with the vendor
 * driver's request callback called, until the last fd is closed.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "common.h"

FIXTURE(vfio) {
	char uuid[UUID_STR_LEN];
	struct vfio_mdev v;
};

FIXTURE_SETUP(vfio)
{
	self->v.container = -1;
	self->v.group = -1;
	self->v.device = -1;
	ASSERT_EQ(0, test_module_reload(""));
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mdev_create(0, 1, self->uuid));
}

FIXTURE_TEARDOWN(vfio)
{
	vfio_mdev_close(&self->v);
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(vfio, get_info)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	ASSERT_EQ(0, ioctl(self->v.device, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_NE(0U, info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_EQ(0U, info.num_regions);
	EXPECT_EQ(0U, info.num_irqs);
}

TEST_F(vfio, open_count)
{
	EXPECT_EQ(0, mdev_read_long(self->uuid, "test_open_count"));
	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	EXPECT_EQ(1, mdev_read_long(self->uuid, "test_open_count"));
	/* close_device runs when the last device fd goes. */
	close(self->v.device);
	self->v.device = -1;
	EXPECT_EQ(0, mdev_read_long(self->uuid, "test_open_count"));

	self->v.device = ioctl(self->v.group, VFIO_GROUP_GET_DEVICE_FD,
			       self->uuid);
	ASSERT_LE(0, self->v.device);
	EXPECT_EQ(1, mdev_read_long(self->uuid, "test_open_count"));
	vfio_mdev_close(&self->v);
	EXPECT_EQ(0, mdev_read_long(self->uuid, "test_open_count"));
	EXPECT_EQ(0, type_requests(0, 1));
}

/* Only the instance's own name opens it. */
TEST_F(vfio, device_fd_by_name)
{
	char other[UUID_STR_LEN];
	int fd;

	uuid_gen(other);
	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	fd = ioctl(self->v.group, VFIO_GROUP_GET_DEVICE_FD, other);
	EXPECT_GT(0, fd);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(1, mdev_read_long(self->uuid, "test_open_count"));
}

/* Two instances of a shared-usage type (t1, "N") open in one process. */
TEST_F(vfio, two_instances_open)
{
	char uuid2[UUID_STR_LEN];
	struct vfio_mdev v2;

	uuid_gen(uuid2);
	ASSERT_EQ(0, mdev_create(0, 1, uuid2));
	ASSERT_NE(mdev_iommu_group(self->uuid), mdev_iommu_group(uuid2));
	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	ASSERT_EQ(0, vfio_mdev_open(uuid2, &v2));
	EXPECT_EQ(1, mdev_read_long(self->uuid, "test_open_count"));
	EXPECT_EQ(1, mdev_read_long(uuid2, "test_open_count"));
	vfio_mdev_close(&v2);
	EXPECT_EQ(0, mdev_read_long(uuid2, "test_open_count"));
	EXPECT_EQ(1, mdev_read_long(self->uuid, "test_open_count"));
	EXPECT_EQ(0, mdev_remove(uuid2));
}

struct remover {
	const char *uuid;
	int ret;
	int done;
};

static void *remove_thread(void *arg)
{
	struct remover *r = arg;

	r->ret = mdev_remove(r->uuid);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Whether a thread sets @flag within @timeout_ms. */
static bool wait_flag(int *flag, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;

	while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
		if (now_ms() > end)
			return false;
		usleep(10000);
	}
	return true;
}

/* Removing an open instance waits for its user to let go. */
TEST_F_TIMEOUT(vfio, remove_blocks_while_open, 90)
{
	struct remover r = { .uuid = self->uuid };
	pthread_t thread;

	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	ASSERT_EQ(1, mdev_read_long(self->uuid, "test_open_count"));
	ASSERT_EQ(0, type_requests(0, 1));
	ASSERT_EQ(0, pthread_create(&thread, NULL, remove_thread, &r));

	/*
	 * The request callback is called at once.  (The instance's own files
	 * are gone from here on: the driver core removes the driver's
	 * dev_groups before it calls the driver's remove, which waits.)
	 */
	EXPECT_TRUE(type_requested_since(0, 1, 0, 10000));

	/* The write stays blocked while the device is open. */
	usleep(1000000);
	EXPECT_FALSE(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST));
	EXPECT_TRUE(mdev_exists(self->uuid));
	EXPECT_LE(1, type_requests(0, 1));

	/* Closing the device lets the removal finish. */
	vfio_mdev_close(&self->v);
	EXPECT_TRUE(wait_flag(&r.done, 30000));
	pthread_join(thread, NULL);
	EXPECT_EQ(0, r.ret);
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(2, type_available(0, 1));
	EXPECT_LE(1, type_requests(0, 1));
	EXPECT_EQ(0, type_requests(0, 0));
	EXPECT_EQ(0, type_requests(1, 1));
}

/*
 * While a removal waits for the user, the UUID is still taken (EEXIST on any
 * type) and a second removal is refused at once rather than queued.
 */
TEST_F_TIMEOUT(vfio, uuid_busy_while_removing, 90)
{
	struct remover r = { .uuid = self->uuid };
	struct remover second = { .uuid = self->uuid };
	pthread_t thread, thread2;

	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	ASSERT_EQ(0, pthread_create(&thread, NULL, remove_thread, &r));
	ASSERT_TRUE(type_requested_since(0, 1, 0, 10000));

	EXPECT_EQ(-EEXIST, mdev_create(0, 1, self->uuid));
	EXPECT_EQ(-EEXIST, mdev_create(1, 0, self->uuid));

	/* A second remove: ENODEV, or ENOENT once the file is gone. */
	ASSERT_EQ(0, pthread_create(&thread2, NULL, remove_thread, &second));
	EXPECT_TRUE(wait_flag(&second.done, 5000));
	EXPECT_FALSE(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST));

	vfio_mdev_close(&self->v);
	EXPECT_TRUE(wait_flag(&r.done, 30000));
	EXPECT_TRUE(wait_flag(&second.done, 30000));
	pthread_join(thread, NULL);
	pthread_join(thread2, NULL);
	EXPECT_EQ(0, r.ret);
	EXPECT_TRUE(second.ret == -ENODEV || second.ret == -ENOENT)
		TH_LOG("second remove: %d", second.ret);

	/* Now the UUID is free again. */
	EXPECT_EQ(0, mdev_create(1, 0, self->uuid));
	EXPECT_TRUE(mdev_exists(self->uuid));
}

struct bystander {
	char uuid[UUID_STR_LEN];
	long avail_before;
	long avail_during;
	int create;
	int remove;
	int done;
};

/* What another user of the parent does while a removal waits. */
static void *bystander_thread(void *arg)
{
	struct bystander *b = arg;

	b->avail_before = type_available(0, 0);
	b->create = mdev_create(0, 0, b->uuid);
	b->avail_during = type_available(0, 0);
	b->remove = mdev_remove(b->uuid);
	__atomic_store_n(&b->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * A removal waiting for its user must not hold up the rest of the parent:
 * reading counts, creating and removing other instances all go on.
 */
TEST_F_TIMEOUT(vfio, parent_usable_while_removing, 90)
{
	struct remover r = { .uuid = self->uuid };
	struct bystander b = { .done = 0 };
	pthread_t thread, thread2;

	uuid_gen(b.uuid);
	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	ASSERT_EQ(0, pthread_create(&thread, NULL, remove_thread, &r));
	ASSERT_TRUE(type_requested_since(0, 1, 0, 10000));

	ASSERT_EQ(0, pthread_create(&thread2, NULL, bystander_thread, &b));
	EXPECT_TRUE(wait_flag(&b.done, 5000))
		TH_LOG("the parent is blocked by the pending removal");
	EXPECT_FALSE(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST));

	/* Let everything finish before looking at the results. */
	vfio_mdev_close(&self->v);
	EXPECT_TRUE(wait_flag(&r.done, 30000));
	pthread_join(thread, NULL);
	pthread_join(thread2, NULL);
	EXPECT_EQ(0, r.ret);
	EXPECT_EQ(4, b.avail_before);
	EXPECT_EQ(0, b.create);
	EXPECT_EQ(3, b.avail_during);
	EXPECT_EQ(0, b.remove);
	EXPECT_EQ(0, mdev_count());
}

/* Only the device fd matters: container and group may stay open. */
TEST_F_TIMEOUT(vfio, remove_after_device_fd_closed, 60)
{
	struct remover r = { .uuid = self->uuid };
	pthread_t thread;

	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	ASSERT_EQ(0, pthread_create(&thread, NULL, remove_thread, &r));
	usleep(200000);
	EXPECT_FALSE(__atomic_load_n(&r.done, __ATOMIC_SEQ_CST));
	close(self->v.device);
	self->v.device = -1;
	EXPECT_TRUE(wait_flag(&r.done, 30000));
	pthread_join(thread, NULL);
	EXPECT_EQ(0, r.ret);
	EXPECT_FALSE(mdev_exists(self->uuid));
}

/* Once closed, removal needs no request and returns at once. */
TEST_F(vfio, remove_after_close)
{
	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	vfio_mdev_close(&self->v);
	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_EQ(2, type_available(0, 1));
}

/* An instance that was never opened is removed without any request. */
TEST_F(vfio, never_opened_no_request)
{
	char uuid2[UUID_STR_LEN];

	uuid_gen(uuid2);
	ASSERT_EQ(0, mdev_create(1, 1, uuid2));
	ASSERT_EQ(0, vfio_mdev_open(self->uuid, &self->v));
	EXPECT_EQ(0, type_requests(1, 1));
	EXPECT_EQ(0, mdev_remove(uuid2));
	EXPECT_FALSE(mdev_exists(uuid2));
	EXPECT_EQ(0, type_requests(1, 1));
	EXPECT_EQ(0, type_requests(0, 1));
}

TEST_HARNESS_MAIN
