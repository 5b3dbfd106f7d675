/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the vfio-mdev selftests: sysfs access that reports the
 * errno of a failed write, UUID generation, loading and unloading the mdev
 * core and the test vendor module (test_mdev.ko) with finit_module(2) and
 * delete_module(2), bounded waits, kobject uevents and opening an instance
 * through VFIO.
 *
 * Every helper returns 0 (or a count) on success and a negative errno on
 * failure; none of them uses the harness, so common.c is its own
 * translation unit.
 */

#ifndef VFIO_MDEV_SELFTEST_COMMON_H
#define VFIO_MDEV_SELFTEST_COMMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MDEV_BUS_DEVICES	"/sys/bus/mdev/devices"
#define MDEV_BUS_DRIVERS	"/sys/bus/mdev/drivers"
#define MDEV_CLASS		"/sys/class/mdev_bus"
#define TEST_PARENT_DIR		"/sys/devices/virtual/mdev_test"
#define TEST_PARAMS_DIR		"/sys/module/test_mdev/parameters"
#define TEST_MODULE_NAME	"test_mdev"
#define TEST_DRIVER_NAME	"test_mdev"
#define CORE_MODULE_NAME	"mdev"

/* A canonical UUID string: 36 characters and the NUL. */
#define UUID_STR_LEN		37

/* Type t of a test parent is named "mdev_test-t<t>". */
#define TYPE_DIR_FMT		MDEV_CLASS "/mdev_test%u/mdev_supported_types/mdev_test-t%u"

/* Where the modules are: environment first, then next to the test binary. */
const char *test_module_path(void);
const char *core_module_path(void);
const char *other_core_module_path(void);

/* Raw module syscalls. */
int module_load(const char *path, const char *params);
int module_unload(const char *name);
int module_unload_wait(const char *name, int timeout_ms);
bool module_loaded(const char *name);

/* Convenience: test_mdev with parameters, the core. */
int test_module_load(const char *params);
int test_module_unload(void);
int core_module_load(void);
int test_env_reset(void);
/*
 * What a test_mdev fixture starts and ends with: test_env_reset() and a
 * fresh test_mdev loaded with @params; test_mdev unloaded again, waiting
 * for the users a test left behind to go.
 */
int test_module_reload(const char *params);
int test_module_unload_wait(void);

/* sysfs files. */
int sysfs_read(const char *path, char *buf, size_t size);
int sysfs_write(const char *path, const void *data, size_t len);
long sysfs_read_long(const char *path);
int file_mode(const char *path);
bool path_exists(const char *path);
bool is_symlink(const char *path);
int dir_count(const char *path);
bool wait_path(const char *path, bool present, int timeout_ms);
void chomp(char *s);

/* Paths of the test module's parents, types and instances. */
char *type_path(char *buf, unsigned int parent, unsigned int type,
		const char *file);
char *mdev_path(char *buf, const char *uuid, const char *file);
char *parent_path(char *buf, unsigned int parent);
/*
 * @file of test_mdev's parent device itself, which outlives its mdev_bus
 * link (the link goes as soon as the parent's unregistration starts).
 */
char *parent_dev_path(char *buf, unsigned int parent, const char *file);
char *types_path(char *buf, unsigned int parent);
char *type_link_path(char *buf, unsigned int parent, unsigned int type,
		     const char *uuid);

/* Instances and types. */
int type_read(unsigned int parent, unsigned int type, const char *file,
	      char *buf, size_t size);
long type_available(unsigned int parent, unsigned int type);
long type_requests(unsigned int parent, unsigned int type);
/*
 * Bounded polling (@timeout_ms) until type_requests() exceeds @before:
 * whether it did.
 */
bool type_requested_since(unsigned int parent, unsigned int type,
			  long before, int timeout_ms);
int type_devices(unsigned int parent, unsigned int type);
int mdev_create(unsigned int parent, unsigned int type, const char *uuid);
int mdev_remove(const char *uuid);
bool mdev_exists(const char *uuid);
int mdev_count(void);
long mdev_read_long(const char *uuid, const char *file);
int test_param_write(const char *param, const char *value);

/* UUIDs. */
void uuid_gen(char *uuid);
void str_upper(char *s);

/* Kobject uevents from the kernel (NETLINK_KOBJECT_UEVENT). */
struct uevent {
	char action[16];
	char devpath[256];
	char subsystem[64];
	char mdev_state[32];
};

int uevent_open(void);
int uevent_recv(int fd, struct uevent *ev, int timeout_ms);
bool uevent_is(const struct uevent *ev, const char *action,
	       const char *devpath_suffix);

/* An instance opened through VFIO. */
struct vfio_mdev {
	int container;
	int group;
	int device;
};

int mdev_iommu_group(const char *uuid);
int vfio_mdev_open(const char *uuid, struct vfio_mdev *v);
void vfio_mdev_close(struct vfio_mdev *v);

/*
 * A write of "1" to a sysfs file (an instance's remove, a parent's
 * unregistration) from a child process, as it may wait for a long time: a
 * removal waits until every fd of the device is closed, so a process that
 * removed an instance it had open itself would wait on itself (a thread
 * would too, even past the process's exit: it shares the fds).  The child
 * closes every fd it inherited, so the write completes once this process
 * closes the device or exits.
 */
struct bg_write {
	pid_t pid;
	int fd;
};

/* Starts the write in a child: 0 or -errno. */
int bg_write_start(struct bg_write *b, const char *path);
/* The same for @uuid's remove file. */
int bg_remove_start(struct bg_write *b, const char *uuid);
/*
 * 1 and the write's result (0 if taken whole, or -errno) in *@ret when it
 * is done; 0 when it is not done within @timeout_ms (0: just look), the
 * child still waiting.
 */
int bg_write_wait(struct bg_write *b, int timeout_ms, int *ret);
/* Whether the child sleeps uninterruptibly (in a lock, say) right now. */
bool bg_write_blocked(const struct bg_write *b);

/* Milliseconds from a monotonic clock. */
long long now_ms(void);

/*
 * The kernel log: a /dev/kmsg reader that starts at the end, and whether
 * a record since then (or the last call) contains @needle.  Dynamic debug:
 * a query such as "module mdev +p"; -ENOENT without CONFIG_DYNAMIC_DEBUG.
 */
int kmsg_open_tail(void);
bool kmsg_find(int fd, const char *needle);
int dyndbg_query(const char *query);

#endif /* VFIO_MDEV_SELFTEST_COMMON_H */
