// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-injection sweeps of module load, parent registration and module
 * removal (the instance-level sweeps are in fail_nth_test.c; both use
 * fail_nth_lib.h).  Each operation runs with its n-th fault point failing,
 * for n = 1, 2, ... until it completes with nothing injected:
 *
 *  - load of mdev.ko, test_mdev.ko (two parents of three types) and mgpu.ko
 *    (two virtual GPUs): a failed load returns an errno and leaves sysfs
 *    exactly as before it (no module, bus, class, parent or type, no IOMMU
 *    group); a load that absorbs a failure leaves sysfs exactly as a clean
 *    load does;
 *  - parent registration on a live module: binding a PCI function to mgpu,
 *    whose probe registers it as an mdev parent: the same, and the function
 *    is left unbound;
 *  - removal: unloading each module with instances on every parent, and
 *    unbinding a PCI GPU with an instance: neither can fail, so every
 *    injected failure must be absorbed, and sysfs must be exactly as before
 *    the module was loaded (or the GPU bound); only the unbind write can
 *    fail, before it starts (sysfs's buffer), and then changes nothing.
 *
 * Sysfs is compared as a listing: the modules, the mdev bus's drivers and
 * devices, the mdev_bus class with every parent's types and their files,
 * the mgpu and mdev_test classes, the PCI functions' drivers.  Memory leaks
 * show up in the runner's kmemleak scan, crashes and WARNs in its log scan.
 *
 * Modules are loaded with init_module(2) from an image read beforehand,
 * not with finit_module(2): that would read the file over the VM's 9p root
 * with the fault armed, and an injected failure inside 9p breaks the mount
 * for every later test.
 *
 * Without fault injection in the kernel every test is skipped.  At exit the
 * modules are put back as they were found (mdev.ko loaded if it was).
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "common.h"
#include "fail_nth_lib.h"
#include "mgpu_lib.h"

#define UNLOAD_MS	10000
#define SNAP_SIZE	65536
#define PCI_DRIVERS	"/sys/bus/pci/drivers"

static bool fi_ready;
static char fi_why[256];
static bool core_was_loaded;

/* ---- module images, loaded from memory ----------------------------------------- */

struct image {
	const char *name;	/* as in /sys/module */
	void *buf;
	size_t len;
};

static int image_read(struct image *im, const char *name, const char *path)
{
	struct stat st;
	ssize_t got;
	int fd, ret = 0;

	im->name = name;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	im->len = st.st_size;
	im->buf = malloc(im->len);
	if (!im->buf) {
		ret = -ENOMEM;
		goto out;
	}
	got = pread(fd, im->buf, im->len, 0);
	if (got != (ssize_t)im->len)
		ret = got < 0 ? -errno : -EIO;
out:
	close(fd);
	return ret;
}

static void image_free(struct image *im)
{
	free(im->buf);
	im->buf = NULL;
}

static int image_load(const struct image *im, const char *params)
{
	if (syscall(__NR_init_module, im->buf, im->len, params))
		return -errno;
	return 0;
}

/* ---- sysfs as a listing ------------------------------------------------------------ */

struct snap {
	char buf[SNAP_SIZE];
	size_t len;
	bool overflow;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

static void snap_line(struct snap *s, const char *fmt, const char *a,
		      const char *b)
{
	int len = snprintf(s->buf + s->len, sizeof(s->buf) - s->len, fmt, a, b);

	if (len < 0 || (size_t)len >= sizeof(s->buf) - s->len)
		s->overflow = true;
	else
		s->len += len;
}

/*
 * One line "<dir>/<name>" per entry of @dir, sorted (kernfs lists in hash
 * order), and for each entry @sub names the callback that descends into it.
 * A missing directory is a line of its own, so that its absence compares.
 */
static void snap_dir(struct snap *s, const char *dir,
		     void (*sub)(struct snap *s, const char *path))
{
	char *names[256], path[PATH_MAX];
	struct dirent *de;
	unsigned int n = 0, i;
	DIR *d = opendir(dir);

	if (!d) {
		snap_line(s, "%s: %s\n", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) && n < ARRAY_SIZE(names)) {
		if (de->d_name[0] == '.')
			continue;
		names[n++] = strdup(de->d_name);
	}
	if (de)
		s->overflow = true;
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		if (!names[i]) {
			s->overflow = true;
			continue;
		}
		snap_line(s, "%s/%s\n", dir, names[i]);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (sub)
			sub(s, path);
		free(names[i]);
	}
}

static void snap_type(struct snap *s, const char *type)
{
	snap_dir(s, type, NULL);
}

static void snap_parent(struct snap *s, const char *parent)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/mdev_supported_types", parent);
	snap_dir(s, path, snap_type);
}

/* Which driver each of the test VM's stand-in GPUs has, if any. */
static void snap_pci_functions(struct snap *s)
{
	char list[256], *rest = list, *fn, path[PATH_MAX], target[PATH_MAX];
	const char *env = getenv("MGPU_PCI_GPUS");
	ssize_t len;

	snprintf(list, sizeof(list), "%s", env && *env ? env : MGPU_PCI_DEFAULT);
	while ((fn = strsep(&rest, " ,"))) {
		if (!*fn)
			continue;
		snprintf(path, sizeof(path), PCI_DEVICES "/%s/driver", fn);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		snap_line(s, "%s driver %s\n", fn,
			  len > 0 ? strrchr(target, '/') + 1 : "-");
	}
}

static void snap_module(struct snap *s, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	snap_line(s, "module %s %s\n", name,
		  path_exists(path) ? "loaded" : "absent");
}

static void snap_take(struct snap *s)
{
	char groups[16];

	s->len = 0;
	s->overflow = false;
	s->buf[0] = '\0';
	snap_module(s, CORE_MODULE_NAME);
	snap_module(s, TEST_MODULE_NAME);
	snap_module(s, MGPU_MODULE_NAME);
	snap_dir(s, MDEV_BUS_DRIVERS, NULL);
	snap_dir(s, MDEV_BUS_DEVICES, NULL);
	snap_dir(s, MDEV_CLASS, snap_parent);
	snap_dir(s, "/sys/class/" MGPU_MODULE_NAME, NULL);
	snap_dir(s, "/sys/class/mdev_test", NULL);
	/*
	 * Not the PCI driver's directory: the driver core absorbs a failure
	 * to create its new_id and remove_id files.  Only which driver the
	 * stand-in GPUs have.
	 */
	snap_pci_functions(s);
	snprintf(groups, sizeof(groups), "%d", dir_count("/sys/kernel/iommu_groups"));
	snap_line(s, "%s iommu groups%s\n", groups, "");
}

/* NULL if equal, else the first line of @b that differs from @a's, in @why. */
static const char *snap_diff(const struct snap *a, const struct snap *b,
			     char *why, size_t len)
{
	const char *pa = a->buf, *pb = b->buf;
	size_t la, lb;

	if (a->overflow || b->overflow)
		return "the listing overflowed";
	while (*pa || *pb) {
		la = strcspn(pa, "\n");
		lb = strcspn(pb, "\n");
		if (la != lb || strncmp(pa, pb, la)) {
			snprintf(why, len, "\"%.*s\", expected \"%.*s\"",
				 (int)lb, pb, (int)la, pa);
			return why;
		}
		pa += la + !!pa[la];
		pb += lb + !!pb[lb];
	}
	return NULL;
}

/* ---- the modules: found, put back --------------------------------------------------- */

static int unload_if_loaded(const char *name)
{
	return module_loaded(name) ? module_unload_wait(name, UNLOAD_MS) : 0;
}

/* Only mdev.ko loaded (@core) or nothing at all. */
static int modules_bare(bool core)
{
	int ret;

	ret = unload_if_loaded(MGPU_MODULE_NAME);
	ret = ret ?: unload_if_loaded(TEST_MODULE_NAME);
	if (ret || core == module_loaded(CORE_MODULE_NAME))
		return ret;
	return core ? core_module_load() : module_unload_wait(CORE_MODULE_NAME,
							      UNLOAD_MS);
}

static void modules_put_back(void)
{
	modules_bare(core_was_loaded);
}

/* ---- what each module is loaded with, and populated with ----------------------------- */

struct subject {
	const char *name;
	const char *(*path)(void);
	bool needs_core;
	/* Instances on every parent, for the removal sweeps: 0 or -errno. */
	int (*populate)(void);
};

static int populate_none(void)
{
	return 0;
}

static int populate_test_mdev(void)
{
	char uuid[UUID_STR_LEN];
	unsigned int parent;
	int ret = 0;

	for (parent = 0; !ret && parent < 2; parent++) {
		uuid_gen(uuid);
		ret = mdev_create(parent, parent, uuid);
	}
	return ret;
}

static int populate_mgpu(void)
{
	char uuid[UUID_STR_LEN];
	unsigned int gpu;
	int ret = 0;

	for (gpu = 0; !ret && gpu < 2; gpu++) {
		uuid_gen(uuid);
		ret = mgpu_create(gpu, gpu ? MGPU_QUARTER : MGPU_EIGHTH, uuid);
	}
	return ret;
}

static const struct subject core_subject = {
	.name = CORE_MODULE_NAME, .path = core_module_path,
	.populate = populate_none,
};

static const struct subject test_subject = {
	.name = TEST_MODULE_NAME, .path = test_module_path, .needs_core = true,
	.populate = populate_test_mdev,
};

static const struct subject mgpu_subject = {
	.name = MGPU_MODULE_NAME, .path = mgpu_module_path, .needs_core = true,
	.populate = populate_mgpu,
};

/* ---- (a) module load and (b) removal, with instances on every parent ------------------ */

FIXTURE(kmod) {
	struct image image;
	struct snap before, after, now;
};

FIXTURE_VARIANT(kmod) {
	const struct subject *subject;
};

FIXTURE_VARIANT_ADD(kmod, core) {
	.subject = &core_subject,
};

FIXTURE_VARIANT_ADD(kmod, test_mdev) {
	.subject = &test_subject,
};

FIXTURE_VARIANT_ADD(kmod, mgpu) {
	.subject = &mgpu_subject,
};

FIXTURE_SETUP(kmod)
{
	const struct subject *sub = variant->subject;

	if (!fi_ready)
		SKIP(return, "%s", fi_why);
	ASSERT_EQ(0, image_read(&self->image, sub->name, sub->path()))
		TH_LOG("reading %s", sub->path());
	ASSERT_EQ(0, modules_bare(sub->needs_core));
}

FIXTURE_TEARDOWN(kmod)
{
	image_free(&self->image);
}

TEST_F_TIMEOUT(kmod, load, 1200)
{
	const char *name = variant->subject->name, *diff;
	char what[64], why[512];
	struct nth s;
	int ret, injected;

	/* The 6.1 harness runs the body even when the setup skipped. */
	if (_metadata->skip)
		return;
	snap_take(&self->before);
	/* The reference: what a clean load adds, and a clean unload removes. */
	ASSERT_EQ(0, image_load(&self->image, ""));
	snap_take(&self->after);
	ASSERT_NE(NULL, snap_diff(&self->before, &self->after, why, sizeof(why)));
	ASSERT_EQ(0, module_unload_wait(name, UNLOAD_MS));
	snap_take(&self->now);
	diff = snap_diff(&self->before, &self->now, why, sizeof(why));
	ASSERT_EQ(NULL, diff) TH_LOG("after a clean unload: %s", diff);

	snprintf(what, sizeof(what), "load of %s", name);
	ASSERT_EQ(0, nth_open(&s, what));
	/* The listing counts the IOMMU groups exactly. */
	s.groups = -1;
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		ASSERT_EQ(0, nth_arm(&s));
		ret = image_load(&self->image, "");
		injected = nth_disarm(&s);
		ASSERT_LE(0, injected);
		snap_take(&self->now);

		if (!ret) {
			diff = snap_diff(&self->after, &self->now, why, sizeof(why));
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: loaded, but %s", s.n, diff);
			ASSERT_EQ(0, module_unload_wait(name, UNLOAD_MS))
				TH_LOG("fail-nth %u: unloading", s.n);
			snap_take(&self->now);
			diff = snap_diff(&self->before, &self->now, why, sizeof(why));
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: loaded and unloaded, but %s",
				       s.n, diff);
			if (!injected)
				break;
			s.absorbed++;
			continue;
		}
		ASSERT_TRUE(injected)
			TH_LOG("load failed with %s, nothing injected",
			       strerror(-ret));
		nth_errno(&s, -ret);
		diff = snap_diff(&self->before, &self->now, why, sizeof(why));
		ASSERT_EQ(NULL, diff)
			TH_LOG("fail-nth %u: load failed with %s, but %s", s.n,
			       strerror(-ret), diff);
	}
	NTH_REPORT(&s);
}

TEST_F_TIMEOUT(kmod, unload, 1200)
{
	const struct subject *sub = variant->subject;
	const char *diff;
	char what[64], why[512];
	struct nth s;
	int ret, injected;

	if (_metadata->skip)
		return;
	snap_take(&self->before);
	snprintf(what, sizeof(what), "unload of %s", sub->name);
	ASSERT_EQ(0, nth_open(&s, what));
	/* The listing counts the IOMMU groups exactly. */
	s.groups = -1;
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		ASSERT_EQ(0, image_load(&self->image, ""));
		ASSERT_EQ(0, sub->populate());
		ASSERT_EQ(0, nth_arm(&s));
		ret = module_unload(sub->name);
		injected = nth_disarm(&s);
		ASSERT_LE(0, injected);
		/* An exit function cannot fail: every failure is absorbed. */
		ASSERT_EQ(0, ret)
			TH_LOG("fail-nth %u: unload failed with %s", s.n,
			       strerror(-ret));
		snap_take(&self->now);
		diff = snap_diff(&self->before, &self->now, why, sizeof(why));
		ASSERT_EQ(NULL, diff)
			TH_LOG("fail-nth %u: unloaded, but %s", s.n, diff);
		if (!injected)
			break;
		s.absorbed++;
	}
	NTH_REPORT(&s);
}

/* ---- (c) parent registration and removal: a PCI GPU bound to mgpu, unbound ------------ */

FIXTURE(pci) {
	char function[32];
	char path[PATH_MAX];	/* the function in sysfs */
	struct snap unbound, bound, now;
	bool overridden;
};

/* Writes @function to mgpu's bind or unbind file. */
static int pci_driver_write(const char *function, const char *how)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), PCI_DRIVERS "/" MGPU_MODULE_NAME "/%s", how);
	ret = sysfs_write(path, function, strlen(function));
	return ret < 0 ? ret : 0;
}

static bool pci_bound(const char *path)
{
	char link[PATH_MAX + 8];

	snprintf(link, sizeof(link), "%s/driver", path);
	return is_symlink(link);
}

FIXTURE_SETUP(pci)
{
	const char *env = getenv("MGPU_PCI_GPUS");

	if (!fi_ready)
		SKIP(return, "%s", fi_why);
	/* The first of the test VM's stand-in GPUs. */
	snprintf(self->function, sizeof(self->function), "%s",
		 env && *env ? env : MGPU_PCI_DEFAULT);
	self->function[strcspn(self->function, " ,")] = '\0';
	snprintf(self->path, sizeof(self->path), PCI_DEVICES "/%s",
		 self->function);
	if (!path_exists(self->path))
		SKIP(return, "no PCI function %s (tools/testing/vm/run --no-pci?)",
		     self->function);
	if (pci_bound(self->path))
		SKIP(return, "%s has a driver already", self->function);
	ASSERT_EQ(0, modules_bare(true));
	/* Two virtual GPUs too, so that the listing is not only this one. */
	ASSERT_EQ(0, module_load(mgpu_module_path(), ""));
	ASSERT_EQ(0, mgpu_pci_override(self->function, MGPU_MODULE_NAME));
	self->overridden = true;
}

FIXTURE_TEARDOWN(pci)
{
	if (self->overridden) {
		if (pci_bound(self->path))
			pci_driver_write(self->function, "unbind");
		mgpu_pci_override(self->function, "");
	}
	unload_if_loaded(MGPU_MODULE_NAME);
}

/* An instance on the PCI GPU, which unbinding must remove. */
static int pci_create_instance(const char *function)
{
	char uuid[UUID_STR_LEN], path[PATH_MAX];
	int ret;

	uuid_gen(uuid);
	snprintf(path, sizeof(path), MDEV_CLASS "/%s/mdev_supported_types/mgpu-%s/create",
		 function, mgpu_type_name(MGPU_EIGHTH));
	ret = sysfs_write(path, uuid, strlen(uuid));
	return ret < 0 ? ret : 0;
}

TEST_F_TIMEOUT(pci, bind, 1200)
{
	const char *diff;
	char why[512];
	struct nth s;
	int ret, injected;

	if (_metadata->skip)
		return;
	snap_take(&self->unbound);
	ASSERT_EQ(0, pci_driver_write(self->function, "bind"));
	ASSERT_TRUE(pci_bound(self->path));
	snap_take(&self->bound);
	ASSERT_NE(NULL, snap_diff(&self->unbound, &self->bound, why, sizeof(why)));
	ASSERT_EQ(0, pci_driver_write(self->function, "unbind"));

	ASSERT_EQ(0, nth_open(&s, "bind of a PCI GPU"));
	/* The listing counts the IOMMU groups exactly. */
	s.groups = -1;
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		ASSERT_EQ(0, nth_arm(&s));
		ret = pci_driver_write(self->function, "bind");
		injected = nth_disarm(&s);
		ASSERT_LE(0, injected);
		snap_take(&self->now);

		if (!ret) {
			diff = snap_diff(&self->bound, &self->now, why, sizeof(why));
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: bound, but %s", s.n, diff);
			ASSERT_EQ(0, pci_driver_write(self->function, "unbind"));
			if (!injected)
				break;
			s.absorbed++;
			continue;
		}
		ASSERT_TRUE(injected)
			TH_LOG("bind failed with %s, nothing injected",
			       strerror(-ret));
		nth_errno(&s, -ret);
		diff = snap_diff(&self->unbound, &self->now, why, sizeof(why));
		ASSERT_EQ(NULL, diff)
			TH_LOG("fail-nth %u: bind failed with %s, but %s", s.n,
			       strerror(-ret), diff);
	}
	NTH_REPORT(&s);
}

/*
 * Parent unregistration with an instance.  The removal itself cannot fail;
 * only the write can, before it does anything (sysfs allocates the
 * written buffer): then the GPU is still bound, its instance intact.
 */
TEST_F_TIMEOUT(pci, unbind, 1200)
{
	const char *diff;
	char why[512];
	struct nth s;
	int ret, injected;

	if (_metadata->skip)
		return;
	snap_take(&self->unbound);
	ASSERT_EQ(0, nth_open(&s, "unbind of a PCI GPU"));
	/* The listing counts the IOMMU groups exactly. */
	s.groups = -1;
	for (s.n = 1; ; s.n += s.stride) {
		ASSERT_GT(NTH_MAX, s.n);
		if (!pci_bound(self->path)) {
			ASSERT_EQ(0, pci_driver_write(self->function, "bind"));
			ASSERT_EQ(0, pci_create_instance(self->function));
		}
		snap_take(&self->bound);
		ASSERT_EQ(0, nth_arm(&s));
		ret = pci_driver_write(self->function, "unbind");
		injected = nth_disarm(&s);
		ASSERT_LE(0, injected);
		snap_take(&self->now);
		if (ret) {
			ASSERT_TRUE(injected)
				TH_LOG("unbind failed with %s, nothing injected",
				       strerror(-ret));
			nth_errno(&s, -ret);
			diff = snap_diff(&self->bound, &self->now, why, sizeof(why));
			ASSERT_EQ(NULL, diff)
				TH_LOG("fail-nth %u: unbind failed with %s, but %s",
				       s.n, strerror(-ret), diff);
			continue;
		}
		diff = snap_diff(&self->unbound, &self->now, why, sizeof(why));
		ASSERT_EQ(NULL, diff)
			TH_LOG("fail-nth %u: unbound, but %s", s.n, diff);
		if (!injected)
			break;
		s.absorbed++;
	}
	NTH_REPORT(&s);
}

int main(int argc, char **argv)
{
	fi_ready = fi_setup(fi_why, sizeof(fi_why));
	if (fi_ready) {
		/* test_harness_run() exits: put things back at exit. */
		core_was_loaded = module_loaded(CORE_MODULE_NAME);
		atexit(modules_put_back);
		atexit(fi_restore);
	}
	return test_harness_run(argc, argv);
}
