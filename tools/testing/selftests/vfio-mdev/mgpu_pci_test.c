// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests of mgpu as a PCI vendor driver, against the stand-in GPUs of
 * the test VM (tools/testing/vm/run): 0000:00:10.0 and 0000:00:11.0,
 * ivshmem with a 512 MiB RAM BAR; 0000:00:12.0, ivshmem with a 32 MiB BAR
 * (too small); 0000:00:13.0, pci-testdev (no prefetchable BAR).  Binding
 * through driver_override and the "ids" parameter, the refused probes and
 * their messages, unbinding with an open instance, VRAM carved out of the
 * BAR (zeros on first touch whatever the BAR held), and migration from a
 * virtual GPU to a PCI one.  The rest of the mgpu suite runs on PCI GPUs
 * too (run.sh, MGPU_PARENTS=pci).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "common.h"
#include "mgpu_lib.h"
#include "mig_client.h"
#include "vfio_client.h"

#define PAGE		4096UL
#define MIB		(1024UL * 1024)
#define REMOVE_MS	10000
#define FIRE_MS		5000

static const char * const gpu_fn[] = { "0000:00:10.0", "0000:00:11.0" };
static const char small_fn[] = "0000:00:12.0";
static const char nobar_fn[] = "0000:00:13.0";
static const long empty_gpu[MGPU_NR_TYPES] = { 8, 4, 2, 1 };

/* ---- helpers -------------------------------------------------------------- */

static char *fn_path(char *buf, const char *fn, const char *file)
{
	snprintf(buf, PATH_MAX, PCI_DEVICES "/%s%s%s", fn, file ? "/" : "",
		 file ? file : "");
	return buf;
}

/* The PCI ID of @fn as "vvvv:dddd", or "" if it is not there. */
static void fn_id(const char *fn, char *id, size_t len)
{
	char path[PATH_MAX], vendor[8] = "", device[8] = "";

	id[0] = '\0';
	if (sysfs_read(fn_path(path, fn, "vendor"), vendor, sizeof(vendor)) < 0 ||
	    sysfs_read(fn_path(path, fn, "device"), device, sizeof(device)) < 0)
		return;
	chomp(vendor);
	chomp(device);
	snprintf(id, len, "%s:%s", vendor + 2, device + 2);
}

/* The name of the driver @fn is bound to, or "" when it is unbound. */
static void fn_driver(const char *fn, char *name, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n = readlink(fn_path(path, fn, "driver"), target,
			     sizeof(target) - 1);

	name[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	snprintf(name, len, "%s", basename(target));
}

static bool fn_bound_to_mgpu(const char *fn)
{
	char name[64];

	fn_driver(fn, name, sizeof(name));
	return !strcmp(name, MGPU_MODULE_NAME);
}

/* An mdev parent: in /sys/class/mdev_bus, with mdev_supported_types. */
static bool fn_is_parent(const char *fn)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), MDEV_CLASS "/%s", fn);
	return path_exists(path) &&
	       path_exists(fn_path(path, fn, "mdev_supported_types"));
}

static int write_str(const char *path, const char *s)
{
	int ret = sysfs_write(path, s, strlen(s));

	return ret < 0 ? ret : 0;
}

/* driver_override, then drivers_probe: what an administrator does. */
static int fn_give_to_mgpu(const char *fn)
{
	int ret = mgpu_pci_override(fn, MGPU_MODULE_NAME);

	if (ret)
		return ret;
	return write_str("/sys/bus/pci/drivers_probe", fn);
}

static char *type_file(char *buf, const char *fn, unsigned int type,
		       const char *file)
{
	snprintf(buf, PATH_MAX, MDEV_CLASS "/%s/mdev_supported_types/mgpu-%s/%s",
		 fn, mgpu_profiles[type].name, file);
	return buf;
}

static long fn_available(const char *fn, unsigned int type)
{
	char path[PATH_MAX];

	return sysfs_read_long(type_file(path, fn, type, "available_instances"));
}

static int fn_create(const char *fn, unsigned int type, const char *uuid)
{
	char path[PATH_MAX];

	return write_str(type_file(path, fn, type, "create"), uuid);
}

/*
 * The kernel log from the moment kmsg_open() was called: /dev/kmsg read
 * without blocking.  True if a record holds @needle.
 */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static bool kmsg_has(int fd, const char *needle)
{
	char rec[2048];
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* overwritten records: go on */
		if (n <= 0)
			return false;
		rec[n] = '\0';
		if (strstr(rec, needle))
			return true;
	}
}

/* ---- the fixture: mgpu with no virtual GPU, no function given to it ------- */

FIXTURE(pci) {
	char uuid[2][UUID_STR_LEN];
	struct vfio_client v;
	int kmsg;
};

static void forget_overrides(void)
{
	const char * const all[] = { gpu_fn[0], gpu_fn[1], small_fn, nobar_fn };
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(all); i++)
		if (path_exists(fn_path(path, all[i], NULL)))
			mgpu_pci_override(all[i], "");
}

FIXTURE_SETUP(pci)
{
	char id[32];
	unsigned int i;

	vfio_client_init(&self->v);
	self->kmsg = -1;
	for (i = 0; i < 2; i++)
		self->uuid[i][0] = '\0';
	fn_id(gpu_fn[0], id, sizeof(id));
	if (strcmp(id, "1af4:1110"))
		SKIP(return, "no stand-in GPU at %s (the test VM adds it)",
		     gpu_fn[0]);
	if (!module_loaded(CORE_MODULE_NAME))
		ASSERT_EQ(0, core_module_load());
	if (module_loaded(MGPU_MODULE_NAME))
		ASSERT_EQ(0, module_unload_wait(MGPU_MODULE_NAME, REMOVE_MS));
	forget_overrides();
	ASSERT_EQ(0, module_load(mgpu_module_path(), "gpus=0"));
	self->kmsg = kmsg_open();
	ASSERT_LE(0, self->kmsg);
}

FIXTURE_TEARDOWN(pci)
{
	unsigned int i;

	vfio_client_close(&self->v);
	for (i = 0; i < 2; i++)
		if (self->uuid[i][0] && mdev_exists(self->uuid[i]))
			EXPECT_EQ(0, mgpu_remove(self->uuid[i], REMOVE_MS));
	if (module_loaded(MGPU_MODULE_NAME))
		EXPECT_EQ(0, module_unload_wait(MGPU_MODULE_NAME, REMOVE_MS));
	forget_overrides();
	if (self->kmsg >= 0)
		close(self->kmsg);
}

/* Every type of a fresh 512 MiB PCI GPU, as for a virtual one. */
static void expect_fresh_gpu(struct __test_metadata *_metadata, const char *fn)
{
	char path[PATH_MAX], buf[256], want[256];
	unsigned int t;

	for (t = 0; t < MGPU_NR_TYPES; t++) {
		const struct mgpu_profile *p = &mgpu_profiles[t];
		unsigned int vram_mb = MGPU_DEFAULT_VRAM_MB / MGPU_SLICES * p->slices;

		EXPECT_EQ(empty_gpu[t], fn_available(fn, t)) TH_LOG("%s", p->name);
		ASSERT_LT(0, sysfs_read(type_file(path, fn, t, "name"), buf, sizeof(buf)));
		snprintf(want, sizeof(want), "%s\n", p->pretty_name);
		EXPECT_STREQ(want, buf);
		ASSERT_LT(0, sysfs_read(type_file(path, fn, t, "device_api"), buf, sizeof(buf)));
		EXPECT_STREQ("vfio-pci\n", buf);
		ASSERT_LT(0, sysfs_read(type_file(path, fn, t, "version"), buf, sizeof(buf)));
		snprintf(want, sizeof(want), "00021234-mgpu-%s-%uM-s1\n", p->name,
			 vram_mb);
		EXPECT_STREQ(want, buf);
		ASSERT_LT(0, sysfs_read(type_file(path, fn, t, "description"), buf, sizeof(buf)));
		snprintf(want, sizeof(want),
			 "vram=%uM heads=%u max_resolution=%ux%u gpu_share=%u/8\n",
			 vram_mb, p->heads, p->max_width, p->max_height, p->slices);
		EXPECT_STREQ(want, buf);
	}
}

/* ---- binding ------------------------------------------------------------- */

/* The empty ID table: loading mgpu takes no PCI function. */
TEST_F(pci, nothing_taken_unasked)
{
	if (_metadata->skip)
		return;
	EXPECT_FALSE(fn_bound_to_mgpu(gpu_fn[0]));
	EXPECT_FALSE(fn_bound_to_mgpu(gpu_fn[1]));
	EXPECT_FALSE(fn_is_parent(gpu_fn[0]));
	EXPECT_TRUE(path_exists(MGPU_PCI_DRIVER));
}

TEST_F(pci, bind_by_driver_override)
{
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, fn_give_to_mgpu(gpu_fn[0]));
	EXPECT_TRUE(fn_bound_to_mgpu(gpu_fn[0]));
	ASSERT_TRUE(fn_is_parent(gpu_fn[0]));
	expect_fresh_gpu(_metadata, gpu_fn[0]);
	/* Only the function given to it. */
	EXPECT_FALSE(fn_bound_to_mgpu(gpu_fn[1]));
	EXPECT_TRUE(kmsg_has(self->kmsg, "512 MiB of BAR2"));
}

TEST_F(pci, bind_by_ids)
{
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, module_unload_wait(MGPU_MODULE_NAME, REMOVE_MS));
	ASSERT_EQ(0, module_load(mgpu_module_path(), "gpus=0 ids=1af4:1110"));
	EXPECT_TRUE(fn_is_parent(gpu_fn[0]));
	EXPECT_TRUE(fn_is_parent(gpu_fn[1]));
	expect_fresh_gpu(_metadata, gpu_fn[1]);
	/* The 32 MiB one has the ID too, and is refused. */
	EXPECT_FALSE(fn_bound_to_mgpu(small_fn));
	EXPECT_FALSE(fn_is_parent(small_fn));
	/* pci-testdev has another ID: not even tried. */
	EXPECT_FALSE(fn_bound_to_mgpu(nobar_fn));
}

/* Bad input: a BAR too small for any type registers no parent, and says so. */
TEST_F(pci, bar_too_small)
{
	char path[PATH_MAX];

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, fn_give_to_mgpu(small_fn));
	EXPECT_FALSE(fn_bound_to_mgpu(small_fn));
	EXPECT_FALSE(fn_is_parent(small_fn));
	EXPECT_FALSE(path_exists(fn_path(path, small_fn, "mdev_supported_types")));
	EXPECT_TRUE(kmsg_has(self->kmsg,
			     "BAR2 has 32768 KiB: too small for any type, a GPU needs 64 MiB"));
}

TEST_F(pci, no_prefetchable_bar)
{
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, fn_give_to_mgpu(nobar_fn));
	EXPECT_FALSE(fn_bound_to_mgpu(nobar_fn));
	EXPECT_FALSE(fn_is_parent(nobar_fn));
	EXPECT_TRUE(kmsg_has(self->kmsg, "no prefetchable memory BAR to carve VRAM from"));
}

/* Unbind with instances, rebind, several times: each time a fresh GPU. */
TEST_F(pci, unbind_removes_instances)
{
	unsigned int round;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, fn_give_to_mgpu(gpu_fn[0]));
	for (round = 0; round < 3; round++) {
		uuid_gen(self->uuid[0]);
		uuid_gen(self->uuid[1]);
		ASSERT_EQ(0, fn_create(gpu_fn[0], MGPU_HALF, self->uuid[0]));
		ASSERT_EQ(0, fn_create(gpu_fn[0], MGPU_EIGHTH, self->uuid[1]));
		EXPECT_EQ(0, fn_available(gpu_fn[0], MGPU_HALF));
		EXPECT_EQ(3, fn_available(gpu_fn[0], MGPU_EIGHTH));

		ASSERT_EQ(0, write_str(MGPU_PCI_DRIVER "/unbind", gpu_fn[0]));
		EXPECT_FALSE(mdev_exists(self->uuid[0]));
		EXPECT_FALSE(mdev_exists(self->uuid[1]));
		EXPECT_FALSE(fn_is_parent(gpu_fn[0]));
		EXPECT_FALSE(fn_bound_to_mgpu(gpu_fn[0]));

		ASSERT_EQ(0, write_str(MGPU_PCI_DRIVER "/bind", gpu_fn[0]));
		ASSERT_TRUE(fn_is_parent(gpu_fn[0]));
		expect_fresh_gpu(_metadata, gpu_fn[0]);
	}
}

struct unbinder {
	const char *fn;
	int done;		/* an eventfd, signalled when the write returned */
	int ret;
};

static void *unbind_thread(void *arg)
{
	struct unbinder *u = arg;
	__u64 one = 1;

	u->ret = write_str(MGPU_PCI_DRIVER "/unbind", u->fn);
	if (write(u->done, &one, sizeof(one)) != sizeof(one))
		u->ret = -EIO;
	return NULL;
}

/* An open instance: the unbind asks its user (REQ) and waits for the close. */
TEST_F_TIMEOUT(pci, unbind_while_open, 60)
{
	struct unbinder u = { .fn = gpu_fn[0] };
	pthread_t thread;
	__u32 word = 0;
	int req;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, fn_give_to_mgpu(gpu_fn[0]));
	uuid_gen(self->uuid[0]);
	ASSERT_EQ(0, fn_create(gpu_fn[0], MGPU_QUARTER, self->uuid[0]));
	ASSERT_EQ(0, vfio_client_open(&self->v, self->uuid[0]));
	req = vfio_eventfd();
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfio_irq_set_eventfd(self->v.device, VFIO_PCI_REQ_IRQ_INDEX, req));
	ASSERT_EQ(0, mgpu_vram_fill(self->v.device, 0, PAGE, 7));
	u.done = vfio_eventfd();
	ASSERT_LE(0, u.done);

	ASSERT_EQ(0, pthread_create(&thread, NULL, unbind_thread, &u));
	EXPECT_LE(1, vfio_eventfd_wait(req, FIRE_MS));
	EXPECT_EQ(0, vfio_eventfd_wait(u.done, 200));
	EXPECT_TRUE(mdev_exists(self->uuid[0]));
	/* The user still has its device, BAR-backed VRAM and all. */
	ASSERT_EQ(4, vfio_region_read(self->v.device, MGPU_VRAM, 0, &word, 4));
	EXPECT_EQ(7 * 2654435761U | 1, word);

	vfio_client_close(&self->v);
	EXPECT_EQ(1, vfio_eventfd_wait(u.done, 20000));
	pthread_join(thread, NULL);
	EXPECT_EQ(0, u.ret);
	EXPECT_FALSE(mdev_exists(self->uuid[0]));
	EXPECT_FALSE(fn_is_parent(gpu_fn[0]));
	close(req);
	close(u.done);
}

/* ---- VRAM in the BAR ------------------------------------------------------ */

static bool all_zero(const __u8 *buf, size_t len)
{
	return !len || (!buf[0] && !memcmp(buf, buf + 1, len - 1));
}

/*
 * The BAR keeps what an instance wrote after it is gone; the next instance
 * on those slices, of another type, must still read zeros, through
 * read/write and mmap, and then see its own writes.
 */
TEST_F(pci, vram_zeroed_across_instances)
{
	const __u64 eighth = MGPU_DEFAULT_VRAM_MB / MGPU_SLICES * MIB;
	__u8 back[64], *m;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, fn_give_to_mgpu(gpu_fn[0]));
	/* Two eighths: the second one holds slice 1. */
	uuid_gen(self->uuid[0]);
	uuid_gen(self->uuid[1]);
	ASSERT_EQ(0, fn_create(gpu_fn[0], MGPU_EIGHTH, self->uuid[0]));
	ASSERT_EQ(0, fn_create(gpu_fn[0], MGPU_EIGHTH, self->uuid[1]));
	ASSERT_EQ(0, vfio_client_open(&self->v, self->uuid[1]));
	ASSERT_EQ(0, mgpu_vram_fill(self->v.device, 0, 2 * PAGE, 99));
	m = vfio_region_mmap(self->v.device, MGPU_VRAM, 4 * PAGE, PAGE,
			     PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, m);
	memset(m, 0xa5, PAGE);
	munmap(m, PAGE);
	vfio_client_close(&self->v);
	ASSERT_EQ(0, mgpu_remove(self->uuid[0], REMOVE_MS));
	ASSERT_EQ(0, mgpu_remove(self->uuid[1], REMOVE_MS));

	/* A quarter takes slices 0-1: slice 1 is at 64 MiB in it. */
	ASSERT_EQ(0, fn_create(gpu_fn[0], MGPU_QUARTER, self->uuid[0]));
	ASSERT_EQ(0, vfio_client_open(&self->v, self->uuid[0]));
	ASSERT_EQ(64, vfio_region_read(self->v.device, MGPU_VRAM, eighth, back, 64));
	EXPECT_TRUE(all_zero(back, 64));
	ASSERT_EQ(64, vfio_region_read(self->v.device, MGPU_VRAM, eighth + 4 * PAGE,
				       back, 64));
	EXPECT_TRUE(all_zero(back, 64));
	m = vfio_region_mmap(self->v.device, MGPU_VRAM, eighth, 8 * PAGE,
			     PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, m);
	EXPECT_TRUE(all_zero(m, 8 * PAGE));
	/* A first touch through the mapping zeroes the rest of the page. */
	memcpy(m + PAGE + 8, "own data", 8);
	ASSERT_EQ(64, vfio_region_read(self->v.device, MGPU_VRAM, eighth + PAGE,
				       back, 64));
	EXPECT_EQ(0, memcmp(back + 8, "own data", 8));
	EXPECT_TRUE(all_zero(back, 8));
	EXPECT_TRUE(all_zero(back + 16, 48));
	munmap(m, 8 * PAGE);
}

/* ---- migration between a virtual and a PCI GPU ---------------------------- */

/*
 * The version rule ignores where VRAM lives: a full instance of a 512 MiB
 * virtual GPU and one of a 512 MiB PCI GPU are the same type, and the state
 * moves from one to the other.
 */
TEST_F_TIMEOUT(pci, migrate_virtual_to_pci, 60)
{
	struct vfio_client dst;
	struct vfio_mig_stream s = { 0 };
	char path[PATH_MAX], version[128];
	__u8 *want, *got;
	int fd;

	if (_metadata->skip)
		return;
	ASSERT_EQ(0, module_unload_wait(MGPU_MODULE_NAME, REMOVE_MS));
	ASSERT_EQ(0, mgpu_pci_override(gpu_fn[0], MGPU_MODULE_NAME));
	ASSERT_EQ(0, module_load(mgpu_module_path(), "gpus=1"));
	ASSERT_TRUE(fn_is_parent(gpu_fn[0]));

	/* The management check: the source's version, written to the target. */
	snprintf(path, sizeof(path), MDEV_CLASS
		 "/mgpu0/mdev_supported_types/mgpu-full/version");
	ASSERT_LT(0, sysfs_read(path, version, sizeof(version)));
	EXPECT_EQ(0, write_str(type_file(path, gpu_fn[0], MGPU_FULL, "version"),
			       version));
	/* Another size is refused. */
	EXPECT_EQ(-EPROTO, write_str(type_file(path, gpu_fn[0], MGPU_HALF,
					       "version"), version));

	uuid_gen(self->uuid[0]);
	uuid_gen(self->uuid[1]);
	snprintf(path, sizeof(path), MDEV_CLASS
		 "/mgpu0/mdev_supported_types/mgpu-full/create");
	ASSERT_EQ(0, write_str(path, self->uuid[0]));
	ASSERT_EQ(0, fn_create(gpu_fn[0], MGPU_FULL, self->uuid[1]));
	ASSERT_EQ(0, vfio_client_open(&self->v, self->uuid[0]));
	vfio_client_init(&dst);
	ASSERT_EQ(0, vfio_client_open(&dst, self->uuid[1]));

	ASSERT_EQ(0, mgpu_vram_fill(self->v.device, 0, 16 * PAGE, 5));
	ASSERT_EQ(0, mgpu_vram_fill(self->v.device, 511 * MIB, 4 * PAGE, 6));
	ASSERT_EQ(0, mgpu_ctrl_set(self->v.device, MGPU_CTRL_SCRATCH, 0x5ca1ab1e));
	ASSERT_EQ(0, vfio_mig_save(self->v.device, &s, 1 << 20, NULL));

	ASSERT_EQ(0, vfio_mig_set_state(dst.device, VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, vfio_mig_write_all(fd, s.buf, s.len, 1 << 20));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(dst.device, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, vfio_mig_set_state(dst.device, VFIO_DEVICE_STATE_RUNNING, NULL));

	EXPECT_EQ(0x5ca1ab1e, mgpu_ctrl_get(dst.device, MGPU_CTRL_SCRATCH));
	want = malloc(16 * PAGE);
	got = malloc(16 * PAGE);
	ASSERT_TRUE(want && got);
	ASSERT_EQ((ssize_t)(16 * PAGE),
		  vfio_region_read(self->v.device, MGPU_VRAM, 0, want, 16 * PAGE));
	ASSERT_EQ((ssize_t)(16 * PAGE),
		  vfio_region_read(dst.device, MGPU_VRAM, 0, got, 16 * PAGE));
	EXPECT_EQ(0, memcmp(want, got, 16 * PAGE));
	ASSERT_EQ((ssize_t)(4 * PAGE),
		  vfio_region_read(self->v.device, MGPU_VRAM, 511 * MIB, want, 4 * PAGE));
	ASSERT_EQ((ssize_t)(4 * PAGE),
		  vfio_region_read(dst.device, MGPU_VRAM, 511 * MIB, got, 4 * PAGE));
	EXPECT_EQ(0, memcmp(want, got, 4 * PAGE));
	/* What the source never touched is zeros on the target. */
	ASSERT_EQ((ssize_t)PAGE,
		  vfio_region_read(dst.device, MGPU_VRAM, 100 * MIB, got, PAGE));
	EXPECT_TRUE(all_zero(got, PAGE));
	free(want);
	free(got);
	vfio_mig_stream_free(&s);
	vfio_client_close(&dst);
}

TEST_HARNESS_MAIN
