// SPDX-License-Identifier: GPL-2.0
/*
 * fail_nth_lib.c: fault injection for the fail-nth sweeps (see
 * fail_nth_lib.h): debugfs configured and put back, one thread's fail-nth
 * armed and disarmed, what a sweep injected counted and summed up.
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
#include <sys/syscall.h>

#include "common.h"
#include "fail_nth_lib.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- debugfs: fault injection set up, and put back ------------------------ */

struct fi_knob {
	char path[PATH_MAX];
	char saved[32];
	bool changed;
};

#define FI_KNOBS	16
static struct fi_knob fi_knobs[FI_KNOBS];
static unsigned int fi_nr_knobs;

/* A value and a newline (printk_devkmsg takes nothing else). */
static int knob_write(const char *path, const char *value)
{
	char buf[40];
	int len = snprintf(buf, sizeof(buf), "%s\n", value);

	return sysfs_write(path, buf, len);
}

static int fi_set(const char *path, const char *value)
{
	struct fi_knob *k;
	int ret;

	if (fi_nr_knobs == FI_KNOBS)
		return -ENOSPC;
	k = &fi_knobs[fi_nr_knobs];
	snprintf(k->path, sizeof(k->path), "%s", path);
	ret = sysfs_read(k->path, k->saved, sizeof(k->saved));
	if (ret < 0)
		return ret;
	chomp(k->saved);
	ret = knob_write(k->path, value);
	if (ret < 0)
		return ret;
	k->changed = true;
	fi_nr_knobs++;
	return 0;
}

void fi_restore(void)
{
	while (fi_nr_knobs--) {
		struct fi_knob *k = &fi_knobs[fi_nr_knobs];

		if (k->changed)
			knob_write(k->path, k->saved);
	}
	fi_nr_knobs = 0;
}

/*
 * GFP_KERNEL allocations may fail (they are exempt by default), order-0
 * pages too, and nobody prints a stack trace for an injected failure (the
 * runner's log scan would report it).  User pages (highmem) stay exempt:
 * an injected failure there would only retry the page fault.
 */
bool fi_setup(char *why, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int ret;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	if (!path_exists(path)) {
		snprintf(why, len,
			 "no /proc/self/task/<tid>/fail-nth (CONFIG_FAULT_INJECTION)");
		return false;
	}
	if (!path_exists(DEBUGFS "/failslab")) {
		snprintf(why, len, "no %s/failslab (CONFIG_FAILSLAB, debugfs)",
			 DEBUGFS);
		return false;
	}
	ret = fi_set(DEBUGFS "/failslab/ignore-gfp-wait", "N");
	if (!ret && path_exists(DEBUGFS "/fail_page_alloc")) {
		ret = fi_set(DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N");
		ret = ret ?: fi_set(DEBUGFS "/fail_page_alloc/min-order", "0");
	}
	/*
	 * Best effort: the per-iteration markers in the kernel log, all of
	 * them (printk.devkmsg= on the command line locks this).
	 */
	if (!ret)
		fi_set("/proc/sys/kernel/printk_devkmsg", "on");
	dir = opendir(DEBUGFS);
	while (!ret && dir && (de = readdir(dir))) {
		if (strncmp(de->d_name, "fail", 4))
			continue;
		snprintf(path, sizeof(path), DEBUGFS "/%s/verbose", de->d_name);
		if (path_exists(path))
			ret = fi_set(path, "0");
	}
	if (dir)
		closedir(dir);
	if (ret) {
		snprintf(why, len, "configuring %s: %s", DEBUGFS,
			 strerror(-ret));
		fi_restore();
		return false;
	}
	return true;
}

/* ---- fail-nth ----------------------------------------------------------------- */

#define IOMMU_GROUPS	"/sys/kernel/iommu_groups"

int nth_open(struct nth *s, const char *what)
{
	char path[64];

	const char *stride = getenv("MDEV_FAIL_NTH_STRIDE");

	memset(s, 0, sizeof(*s));
	s->what = what;
	s->stride = stride ? strtoul(stride, NULL, 10) : 1;
	if (!s->stride)
		s->stride = 1;
	s->groups = dir_count(IOMMU_GROUPS);
	s->kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth",
		 (long)syscall(SYS_gettid));
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	return s->fd < 0 ? -errno : 0;
}

void nth_close(struct nth *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->kmsg >= 0)
		close(s->kmsg);
	s->fd = -1;
	s->kmsg = -1;
}

/*
 * Between iterations: every instance and open of the last one is gone, so
 * the IOMMU groups are as many as before the pass.  A group left behind
 * is counted once, and the sweep goes on.
 */
static void nth_check_groups(struct nth *s, unsigned int last)
{
	int groups;

	if (s->groups < 0)
		return;
	groups = dir_count(IOMMU_GROUPS);
	if (groups > s->groups && s->leaks++ < ARRAY_SIZE(s->leak_at))
		s->leak_at[s->leaks - 1] = last;
	s->groups = groups;
}

/*
 * From here on, the n-th fault point this thread passes fails.  The kernel
 * log gets a marker first, to tell which n a report comes from.
 */
int nth_arm(struct nth *s)
{
	char buf[96];
	int len;

	nth_check_groups(s, s->n - 1);
	if (s->kmsg >= 0) {
		len = snprintf(buf, sizeof(buf), "fail_nth_test: %s: fail-nth %u\n",
			       s->what, s->n);
		if (write(s->kmsg, buf, len) != len) {
			close(s->kmsg);
			s->kmsg = -1;
		}
	}
	len = snprintf(buf, sizeof(buf), "%u", s->n);
	return pwrite(s->fd, buf, len, 0) == len ? 0 : -errno;
}

/*
 * Disarms.  1 if the failure was injected (the counter ran down to 0), 0 if
 * the operation passed fewer fault points, -errno if fail-nth cannot be
 * written.  A failed read means that the read itself met the armed point:
 * the operation did not.
 */
int nth_disarm(struct nth *s)
{
	char buf[16];
	ssize_t len;
	int tries;

	len = pread(s->fd, buf, sizeof(buf) - 1, 0);
	for (tries = 0; pwrite(s->fd, "0", 1, 0) != 1; tries++)
		if (tries == 2)
			return -errno;
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	return strtoul(buf, NULL, 10) == 0;
}

void nth_errno(struct nth *s, int err)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(s->errs); i++) {
		if (!s->counts[i])
			s->errs[i] = err;
		if (s->errs[i] == err) {
			s->counts[i]++;
			return;
		}
	}
}

/* "what: 37 fault points; 35 failed with ENOMEM 34, EFAULT 1; 2 absorbed" */
void nth_summary(struct nth *s, char *buf, size_t len)
{
	char errs[200];
	unsigned int i, failed = 0;
	int at = 0;

	nth_check_groups(s, s->n);
	for (i = 0; i < ARRAY_SIZE(s->errs) && s->counts[i]; i++) {
		failed += s->counts[i];
		at += snprintf(errs + at, sizeof(errs) - at, "%s%s %u",
			       i ? ", " : "", strerrorname_np(s->errs[i]) ?:
			       "?", s->counts[i]);
		if (at >= (int)sizeof(errs))
			break;
	}
	if (!failed)
		snprintf(errs, sizeof(errs), "-");
	snprintf(buf, len, "%s: %u fault points%s; %u failed with %s; %u absorbed",
		 s->what, s->n - 1, s->stride > 1 ? " (a stride's sample)" : "",
		 failed, errs, s->absorbed);
}

/* " 12 40": the fail-nth values after which an IOMMU group was left. */
void nth_leak_list(const struct nth *s, char *buf, size_t len)
{
	unsigned int i;
	int at = 0;

	buf[0] = '\0';
	for (i = 0; i < s->leaks && i < ARRAY_SIZE(s->leak_at); i++)
		at += snprintf(buf + at, len - at, " %u", s->leak_at[i]);
}
