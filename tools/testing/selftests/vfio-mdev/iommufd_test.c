// SPDX-License-Identifier: GPL-2.0
/*
 * mgpu instances opened the way QEMU does with "-object iommufd": the
 * VFIO device cdev (/dev/vfio/devices/vfioN, found through the instance's
 * vfio-dev/ directory in sysfs) bound to an iommufd (/dev/iommu), attached
 * to an IOAS, with guest RAM mapped into the IOAS.  The engine's guest-RAM
 * copies then go through the iommufd access that vfio_dma_rw() uses, and
 * unmapping the IOVA range while commands use it reaches mgpu's .dma_unmap
 * through iommufd.
 *
 * Needs CONFIG_IOMMUFD and CONFIG_VFIO_DEVICE_CDEV (6.6 and later): every
 * case skips, with the reason, on a kernel without them (Debian's 6.1 and
 * 6.12; CI's 6.12 debug kernel has them, tools/testing/vm/README.rst).
 *
 * Also the single usage restriction's iommufd key: two processes that
 * share an iommufd are one application.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_engine_lib.h"
#include "mgpu_lib.h"
#include "vfio_client.h"

#define MiB		0x100000UL
#define IDLE_MS		20000
#define REMOVE_MS	10000
#define RING_BASE	0
#define RING_ENTRIES	1024
#define DATA		(1 * MiB)
#define IOVA		0x10000000ULL
#define RAM_LEN		(4 * MiB)

static bool mgpu_ready;
static char mgpu_why[256];

/* The instance's cdev, /dev/vfio/devices/vfioN: 0, or -errno. */
static int cdev_path(const char *uuid, char *buf, size_t len)
{
	char dir[256];
	struct dirent *de;
	DIR *d;
	int ret = -ENOENT;

	snprintf(dir, sizeof(dir), MDEV_BUS_DEVICES "/%s/vfio-dev", uuid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vfio", 4))
			continue;
		snprintf(buf, len, "/dev/vfio/devices/%.32s", de->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

static int bind_iommufd(int dev, int iommufd, __u32 flags, __u32 *devid)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind), .flags = flags, .iommufd = iommufd,
	};
	int ret = vfio_ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind);

	if (!ret && devid)
		*devid = bind.out_devid;
	return ret;
}

static int ioas_alloc(int iommufd, __u32 *ioas)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	int ret = vfio_ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc);

	if (!ret)
		*ioas = alloc.out_ioas_id;
	return ret;
}

static int attach_pt(int dev, __u32 pt)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach), .pt_id = pt,
	};

	return vfio_ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
}

static int detach_pt(int dev)
{
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};

	return vfio_ioctl(dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach);
}

static int ioas_map(int iommufd, __u32 ioas, void *buf, __u64 iova, __u64 len)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (__u64)(unsigned long)buf,
		.length = len,
		.iova = iova,
	};

	return vfio_ioctl(iommufd, IOMMU_IOAS_MAP, &map);
}

static int ioas_unmap(int iommufd, __u32 ioas, __u64 iova, __u64 len)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap), .ioas_id = ioas, .iova = iova,
		.length = len,
	};

	return vfio_ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap);
}

FIXTURE(iommufd) {
	char uuid[UUID_STR_LEN];
	bool created;
	int dev;
	int iommufd;
	__u32 ioas;
	void *ram;
	struct eng e;
};

FIXTURE_SETUP(iommufd)
{
	char path[256];

	self->dev = -1;
	self->iommufd = -1;
	self->ram = MAP_FAILED;
	if (!mgpu_ready)
		SKIP(return, "mgpu not available: %s", mgpu_why);
	if (!path_exists("/dev/iommu"))
		SKIP(return, "no /dev/iommu: the kernel has no CONFIG_IOMMUFD");

	uuid_gen(self->uuid);
	ASSERT_EQ(0, mgpu_create(0, MGPU_EIGHTH, self->uuid));
	self->created = true;
	if (cdev_path(self->uuid, path, sizeof(path)))
		SKIP(return, "no vfio-dev/ under the instance: %s",
		     "the kernel has no CONFIG_VFIO_DEVICE_CDEV");
	self->dev = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev) TH_LOG("%s: %s", path, strerror(errno));
	self->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->iommufd) TH_LOG("/dev/iommu: %s", strerror(errno));
	self->ram = mmap(NULL, RAM_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
}

FIXTURE_TEARDOWN(iommufd)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->iommufd >= 0)
		close(self->iommufd);
	if (self->ram != MAP_FAILED)
		munmap(self->ram, RAM_LEN);
	if (self->created && mdev_exists(self->uuid))
		EXPECT_EQ(0, mgpu_remove(self->uuid, REMOVE_MS));
}

/* Bind, a new IOAS, attach, the ring: what QEMU's iommufd backend does. */
static void open_attached(struct __test_metadata *_metadata,
			  struct _test_data_iommufd *self)
{
	ASSERT_EQ(0, bind_iommufd(self->dev, self->iommufd, 0, NULL));
	ASSERT_EQ(0, ioas_alloc(self->iommufd, &self->ioas));
	ASSERT_EQ(0, attach_pt(self->dev, self->ioas));
	ASSERT_EQ(0, eng_init(&self->e, self->dev, RING_BASE, RING_ENTRIES));
}

static long run1(struct _test_data_iommufd *self, struct mgpu_cmd cmd)
{
	int ret = eng_submit(&self->e, &cmd, 1);

	return ret ? ret : eng_wait_idle(&self->e, IDLE_MS);
}

static long vram_word(int dev, __u64 off)
{
	__u32 v = 0xdeadbeef;

	vfio_region_read(dev, MGPU_VRAM, off, &v, sizeof(v));
	return v;
}

/* Nothing works on the cdev before the bind; a bad bind changes nothing. */
TEST_F(iommufd, bind_checks)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	__u32 devid = 0;
	__u32 v;

	if (_metadata->skip)
		return;
	EXPECT_EQ(-EINVAL, vfio_device_info(self->dev, &info));
	EXPECT_EQ(-EINVAL, vfio_cfg_read(self->dev, 0, 4, &v));
	EXPECT_EQ(-EINVAL, bind_iommufd(self->dev, -1, 0, NULL));
	EXPECT_EQ(-EINVAL, bind_iommufd(self->dev, self->iommufd, 1, NULL));
	/* an fd that is not an iommufd */
	EXPECT_EQ(-EBADFD, bind_iommufd(self->dev, self->dev, 0, NULL));
	EXPECT_EQ(-EINVAL, vfio_device_info(self->dev, &info));

	ASSERT_EQ(0, bind_iommufd(self->dev, self->iommufd, 0, &devid));
	EXPECT_NE(0u, devid);
	EXPECT_EQ(-EINVAL, bind_iommufd(self->dev, self->iommufd, 0, NULL));
	ASSERT_EQ(0, vfio_device_info(self->dev, &info));
	EXPECT_TRUE(!!(info.flags & VFIO_DEVICE_FLAGS_PCI));
	/* mgpu's vendor ID, read through the bound cdev */
	ASSERT_EQ(0, vfio_cfg_read(self->dev, 0, 2, &v));
	EXPECT_EQ((__u32)MGPU_VENDOR, v);
	/* no such IOAS */
	EXPECT_EQ(-ENOENT, attach_pt(self->dev, 0xfffff));
}

/* While the cdev is bound, the group path refuses the device, and back. */
TEST_F(iommufd, group_blocked_while_bound)
{
	char path[64];
	int group_id, fd;

	if (_metadata->skip)
		return;
	group_id = mdev_iommu_group(self->uuid);
	ASSERT_LE(0, group_id);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_id);
	ASSERT_EQ(0, bind_iommufd(self->dev, self->iommufd, 0, NULL));
	fd = open(path, O_RDWR | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EBUSY, errno);
	if (fd >= 0)
		close(fd);
	/* Closing the cdev ends the bind: the group opens again. */
	close(self->dev);
	self->dev = -1;
	fd = open(path, O_RDWR | O_CLOEXEC);
	EXPECT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* The engine reads and writes guest RAM at IOVAs of the IOAS. */
TEST_F(iommufd, engine_dma_through_ioas)
{
	__u8 *ram;
	size_t i;

	if (_metadata->skip)
		return;
	open_attached(_metadata, self);
	ram = self->ram;
	for (i = 0; i < MiB; i++)
		ram[i] = (__u8)(i * 7 + (i >> 9));
	memset(ram + 2 * MiB, 0, MiB);
	ASSERT_EQ(0, ioas_map(self->iommufd, self->ioas, ram, IOVA, RAM_LEN));

	ASSERT_EQ(0, run1(self, cmd_from_ram(DATA, IOVA + 3, MiB - 3)));
	EXPECT_EQ(*(__u32 *)(ram + 3), vram_word(self->dev, DATA));
	EXPECT_EQ(*(__u32 *)(ram + 3 + 65536), vram_word(self->dev, DATA + 65536));
	ASSERT_EQ(0, run1(self, cmd_to_ram(IOVA + 2 * MiB, DATA, MiB - 3)));
	EXPECT_EQ(0, memcmp(ram + 2 * MiB, ram + 3, MiB - 3));
	/* Beyond the mapping: the command fails, nothing is written. */
	EXPECT_EQ(MGPU_ENG_ERR_IOVA,
		  run1(self, cmd_from_ram(DATA, IOVA + RAM_LEN - 4, 8)));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));

	/* Unmapped: the IOVA is gone for the engine as well. */
	ASSERT_EQ(0, ioas_unmap(self->iommufd, self->ioas, IOVA, RAM_LEN));
	EXPECT_EQ(MGPU_ENG_ERR_IOVA, run1(self, cmd_from_ram(DATA, IOVA, 4)));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	EXPECT_EQ(0, run1(self, cmd_fill(DATA, 4, 7)));
}

/*
 * IOMMU_IOAS_UNMAP while commands read the range: iommufd calls mgpu's
 * .dma_unmap, which stops the engine before the unmap returns.
 */
TEST_F(iommufd, unmap_during_work)
{
	struct mgpu_cmd cmds[256];
	long status, head;
	unsigned int i;

	if (_metadata->skip)
		return;
	open_attached(_metadata, self);
	memset(self->ram, 0x5c, RAM_LEN);
	ASSERT_EQ(0, ioas_map(self->iommufd, self->ioas, self->ram, IOVA, RAM_LEN));
	for (i = 0; i < 256; i++)
		cmds[i] = cmd_from_ram(DATA + (i % 8) * RAM_LEN, IOVA, RAM_LEN);
	ASSERT_EQ(0, eng_submit(&self->e, cmds, 256));
	usleep(20000);
	ASSERT_TRUE(eng_reg_get(self->dev, MGPU_ENG_STATUS) & MGPU_ENG_STATUS_BUSY)
		TH_LOG("the engine finished before the unmap: make the work bigger");
	ASSERT_EQ(0, ioas_unmap(self->iommufd, self->ioas, IOVA, RAM_LEN));
	/* The pages can go at once: nothing may touch them any more. */
	munmap(self->ram, RAM_LEN);
	self->ram = MAP_FAILED;
	status = eng_wait_idle(&self->e, IDLE_MS);
	head = eng_reg_get(self->dev, MGPU_ENG_RING_HEAD);
	EXPECT_EQ(MGPU_ENG_ERR_IOVA, status);
	EXPECT_LT(head, 256);
	EXPECT_EQ(head, eng_reg_get(self->dev, MGPU_ENG_ERROR_CMD));
	EXPECT_EQ(0x5c5c5c5c, vram_word(self->dev, DATA));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	EXPECT_EQ(0, run1(self, cmd_fill(DATA, 4, 1)));
}

/* Detached, the device reaches no guest RAM; attached again, it does. */
TEST_F(iommufd, detach_and_reattach)
{
	__u32 ioas2;

	if (_metadata->skip)
		return;
	open_attached(_metadata, self);
	memset(self->ram, 0xa5, RAM_LEN);
	ASSERT_EQ(0, ioas_map(self->iommufd, self->ioas, self->ram, IOVA, RAM_LEN));
	ASSERT_EQ(0, run1(self, cmd_from_ram(DATA, IOVA, 4)));
	EXPECT_EQ(0xa5a5a5a5, vram_word(self->dev, DATA));

	ASSERT_EQ(0, detach_pt(self->dev));
	EXPECT_EQ(MGPU_ENG_ERR_IOVA, run1(self, cmd_from_ram(DATA + 4, IOVA, 4)));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	EXPECT_EQ(0, vram_word(self->dev, DATA + 4));

	/* Another IOAS, with nothing mapped: still nothing to reach. */
	ASSERT_EQ(0, ioas_alloc(self->iommufd, &ioas2));
	ASSERT_EQ(0, attach_pt(self->dev, ioas2));
	EXPECT_EQ(MGPU_ENG_ERR_IOVA, run1(self, cmd_from_ram(DATA + 4, IOVA, 4)));
	ASSERT_EQ(0, eng_reg_set(self->dev, MGPU_ENG_CONTROL, MGPU_ENG_CTRL_RESET));
	/* The first one again (replacing the second): the RAM is back. */
	ASSERT_EQ(0, attach_pt(self->dev, self->ioas));
	ASSERT_EQ(0, run1(self, cmd_from_ram(DATA + 4, IOVA, 4)));
	EXPECT_EQ(0xa5a5a5a5, vram_word(self->dev, DATA + 4));
}

/*
 * The child's side of single_usage_per_iommufd: binds @uuid's cdev to the
 * parent's @iommufd (the same application: refused), then to one of its
 * own (another application: allowed).  0 when both went as they should.
 */
static int bind_other(const char *uuid, int iommufd)
{
	char path[256];
	int dev, own, ret;

	if (cdev_path(uuid, path, sizeof(path)))
		return 10;
	dev = open(path, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return 11;
	ret = bind_iommufd(dev, iommufd, 0, NULL);
	close(dev);
	if (ret != -EBUSY)
		return ret ? 12 : 13;
	dev = open(path, O_RDWR | O_CLOEXEC);
	own = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (dev < 0 || own < 0)
		return 14;
	ret = bind_iommufd(dev, own, 0, NULL);
	close(dev);
	close(own);
	return ret ? 15 : 0;
}

/*
 * The single usage restriction counts an iommufd as one application, as
 * it counts a VM: a forked child (another process, so not the mm key)
 * binding a second single-usage instance, on the other GPU, to the
 * parent's iommufd is refused, and binding it to an iommufd of its own is
 * not.
 */
TEST_F(iommufd, single_usage_per_iommufd)
{
	char other[UUID_STR_LEN];
	int status;
	pid_t pid;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, bind_iommufd(self->dev, self->iommufd, 0, NULL));
	uuid_gen(other);
	ASSERT_EQ(0, mgpu_create(1, MGPU_EIGHTH, other));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(bind_other(other, self->iommufd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child exit %d: %s", WEXITSTATUS(status),
		       WEXITSTATUS(status) == 13 ? "the shared iommufd was allowed" :
		       WEXITSTATUS(status) == 12 ?
		       "the shared iommufd failed, not with EBUSY" :
		       WEXITSTATUS(status) == 15 ? "its own iommufd was refused" :
		       "could not open the cdev or /dev/iommu");
	EXPECT_EQ(0, mgpu_remove(other, REMOVE_MS));
}

int main(int argc, char **argv)
{
	mgpu_ready = !mgpu_env_init(mgpu_why, sizeof(mgpu_why));
	return test_harness_run(argc, argv);
}
