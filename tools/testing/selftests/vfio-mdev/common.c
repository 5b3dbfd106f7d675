// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers of the vfio-mdev selftests (see common.h): sysfs, module
 * loading, UUIDs, uevents and VFIO.  No harness code here.
 */

#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/module.h>
#include <linux/netlink.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "common.h"

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	nanosleep(&ts, NULL);
}

/* The directory of the running test binary, once. */
static const char *bin_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t len;

	if (dir[0])
		return dir;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len < 0)
		return ".";
	exe[len] = '\0';
	snprintf(dir, sizeof(dir), "%s", dirname(exe));
	return dir;
}

static const char *module_path(const char *env, const char *rel,
			       char *buf)
{
	const char *val = getenv(env);

	if (val && *val)
		return val;
	snprintf(buf, PATH_MAX, "%s/%s", bin_dir(), rel);
	return buf;
}

const char *test_module_path(void)
{
	static char buf[PATH_MAX];

	return module_path("MDEV_TEST_MODULE", "test_mdev.ko", buf);
}

const char *core_module_path(void)
{
	static char buf[PATH_MAX];

	return module_path("MDEV_CORE_MODULE",
			   "../../../../drivers/vfio/mdev/mdev.ko", buf);
}

/* The distribution's own mdev core, which must never load next to ours. */
const char *other_core_module_path(void)
{
	static char buf[PATH_MAX];
	const char *val = getenv("MDEV_OTHER_CORE_MODULE");
	struct utsname uts;

	if (val && *val)
		return val;
	static const char * const suffixes[] = { "", ".xz", ".zst", ".gz", NULL };
	unsigned int i;

	if (val && *val)
		return val;
	if (uname(&uts))
		return "";
	/* 6.1's Debian modules are plain .ko, 6.12's are .ko.xz. */
	for (i = 0; suffixes[i]; i++) {
		snprintf(buf, sizeof(buf),
			 "/lib/modules/%s/kernel/drivers/vfio/mdev/mdev.ko%s",
			 uts.release, suffixes[i]);
		if (!access(buf, F_OK))
			break;
	}
	return buf;
}

static bool is_compressed_module(const char *path)
{
	size_t len = strlen(path);

	return (len > 3 && (!strcmp(path + len - 3, ".xz") ||
			    !strcmp(path + len - 3, ".gz"))) ||
	       (len > 4 && !strcmp(path + len - 4, ".zst"));
}

int module_load(const char *path, const char *params)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/*
	 * A compressed module is the kernel's to decompress (5.17 and later,
	 * with CONFIG_MODULE_DECOMPRESS, as Debian's kernels have).
	 */
	ret = syscall(__NR_finit_module, fd, params ? params : "",
		      is_compressed_module(path) ?
		      MODULE_INIT_COMPRESSED_FILE : 0);
	ret = ret ? -errno : 0;
	close(fd);
	return ret;
}

int module_unload(const char *name)
{
	if (syscall(__NR_delete_module, name, O_NONBLOCK))
		return -errno;
	return 0;
}

bool module_loaded(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	return path_exists(path);
}

/*
 * Unload, retrying while the module is still in use (a file descriptor of a
 * process that just died may take a moment to be released).
 */
int module_unload_wait(const char *name, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	int ret;

	for (;;) {
		ret = module_unload(name);
		if (ret != -EAGAIN && ret != -EBUSY)
			return ret;
		if (now_ms() > end)
			return ret;
		sleep_ms(20);
	}
}

int test_module_load(const char *params)
{
	return module_load(test_module_path(), params);
}

int test_module_unload(void)
{
	return module_unload(TEST_MODULE_NAME);
}

int core_module_load(void)
{
	return module_load(core_module_path(), "");
}

/*
 * Bring the VM back to its starting point: no test_mdev, our core loaded.
 * A test that failed in its setup leaves its module behind: remove it here.
 */
int test_env_reset(void)
{
	int ret;

	if (module_loaded(TEST_MODULE_NAME)) {
		ret = module_unload_wait(TEST_MODULE_NAME, 10000);
		if (ret)
			return ret;
	}
	if (!module_loaded(CORE_MODULE_NAME))
		return core_module_load();
	return 0;
}

int test_module_reload(const char *params)
{
	int ret = test_env_reset();

	return ret ? ret : test_module_load(params);
}

/* A test's dead child processes may take a moment to let go of the module. */
#define TEST_UNLOAD_MS	10000

int test_module_unload_wait(void)
{
	return module_unload_wait(TEST_MODULE_NAME, TEST_UNLOAD_MS);
}

int sysfs_read(const char *path, char *buf, size_t size)
{
	ssize_t len;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, buf, size - 1);
	if (len < 0) {
		len = -errno;
		close(fd);
		return len;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

/* One write(2) of exactly @len bytes: the count written or -errno. */
int sysfs_write(const char *path, const void *data, size_t len)
{
	ssize_t ret;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write(fd, data, len);
	if (ret < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* A decimal integer and one newline, strictly; -errno otherwise. */
long sysfs_read_long(const char *path)
{
	char buf[64], *end;
	long val;
	int ret;

	ret = sysfs_read(path, buf, sizeof(buf));
	if (ret < 0)
		return ret;
	if (ret < 2 || buf[ret - 1] != '\n' || !isdigit(buf[0]))
		return -EBADMSG;
	errno = 0;
	val = strtol(buf, &end, 10);
	if (errno || *end != '\n')
		return -EBADMSG;
	return val;
}

/* The permission bits of @path (not following a last symlink), or -errno. */
int file_mode(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return -errno;
	return st.st_mode & 07777;
}

bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool is_symlink(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Entries in a directory, without "." and "..", or -errno. */
int dir_count(const char *path)
{
	struct dirent *de;
	int count = 0;
	DIR *dir;

	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			count++;
	}
	closedir(dir);
	return count;
}

/* Bounded polling for a path to appear or go away. */
bool wait_path(const char *path, bool present, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;

	for (;;) {
		if (path_exists(path) == present)
			return true;
		if (now_ms() > end)
			return false;
		sleep_ms(10);
	}
}

void chomp(char *s)
{
	size_t len = strlen(s);

	if (len && s[len - 1] == '\n')
		s[len - 1] = '\0';
}

char *parent_path(char *buf, unsigned int parent)
{
	snprintf(buf, PATH_MAX, MDEV_CLASS "/mdev_test%u", parent);
	return buf;
}

char *parent_dev_path(char *buf, unsigned int parent, const char *file)
{
	snprintf(buf, PATH_MAX, "/sys/devices/virtual/mdev_test/mdev_test%u/%s",
		 parent, file);
	return buf;
}

char *types_path(char *buf, unsigned int parent)
{
	snprintf(buf, PATH_MAX, MDEV_CLASS "/mdev_test%u/mdev_supported_types",
		 parent);
	return buf;
}

char *type_path(char *buf, unsigned int parent, unsigned int type,
		const char *file)
{
	int len = snprintf(buf, PATH_MAX, TYPE_DIR_FMT, parent, type);

	if (file)
		snprintf(buf + len, PATH_MAX - len, "/%s", file);
	return buf;
}

/* An instance's link in its type's devices/ directory. */
char *type_link_path(char *buf, unsigned int parent, unsigned int type,
		     const char *uuid)
{
	int len = snprintf(buf, PATH_MAX, TYPE_DIR_FMT, parent, type);

	snprintf(buf + len, PATH_MAX - len, "/devices/%s", uuid);
	return buf;
}

char *mdev_path(char *buf, const char *uuid, const char *file)
{
	int len = snprintf(buf, PATH_MAX, MDEV_BUS_DEVICES "/%s", uuid);

	if (file)
		snprintf(buf + len, PATH_MAX - len, "/%s", file);
	return buf;
}

int type_read(unsigned int parent, unsigned int type, const char *file,
	      char *buf, size_t size)
{
	char path[PATH_MAX];

	return sysfs_read(type_path(path, parent, type, file), buf, size);
}

long type_available(unsigned int parent, unsigned int type)
{
	char path[PATH_MAX];

	return sysfs_read_long(type_path(path, parent, type,
					 "available_instances"));
}

/*
 * test_mdev's count of VFIO requests to instances of a type, read through
 * the parent device: an unregistration waiting for an open instance has
 * already taken the mdev_bus link away.
 */
long type_requests(unsigned int parent, unsigned int type)
{
	char path[PATH_MAX], file[64];

	snprintf(file, sizeof(file),
		 "mdev_supported_types/mdev_test-t%u/test_requests", type);
	return sysfs_read_long(parent_dev_path(path, parent, file));
}

bool type_requested_since(unsigned int parent, unsigned int type,
			  long before, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;

	do {
		if (type_requests(parent, type) > before)
			return true;
		sleep_ms(10);
	} while (now_ms() < end);
	return false;
}

int type_devices(unsigned int parent, unsigned int type)
{
	char path[PATH_MAX];

	return dir_count(type_path(path, parent, type, "devices"));
}

/* Write @uuid (as given, no newline) to the type's create file. */
int mdev_create(unsigned int parent, unsigned int type, const char *uuid)
{
	char path[PATH_MAX];
	size_t len = strlen(uuid);
	int ret;

	ret = sysfs_write(type_path(path, parent, type, "create"), uuid, len);
	if (ret < 0)
		return ret;
	return (size_t)ret == len ? 0 : -EMSGSIZE;
}

int mdev_remove(const char *uuid)
{
	char path[PATH_MAX];
	int ret;

	ret = sysfs_write(mdev_path(path, uuid, "remove"), "1", 1);
	if (ret < 0)
		return ret;
	return ret == 1 ? 0 : -EMSGSIZE;
}

bool mdev_exists(const char *uuid)
{
	char path[PATH_MAX];

	return path_exists(mdev_path(path, uuid, NULL));
}

int mdev_count(void)
{
	return dir_count(MDEV_BUS_DEVICES);
}

long mdev_read_long(const char *uuid, const char *file)
{
	char path[PATH_MAX];

	return sysfs_read_long(mdev_path(path, uuid, file));
}

int test_param_write(const char *param, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	int ret;

	snprintf(path, sizeof(path), TEST_PARAMS_DIR "/%s", param);
	ret = sysfs_write(path, value, len);
	if (ret < 0)
		return ret;
	return (size_t)ret == len ? 0 : -EMSGSIZE;
}

/* A random (version 4) UUID in lowercase canonical form. */
void uuid_gen(char *uuid)
{
	unsigned char b[16];
	size_t got = 0;
	ssize_t ret;

	while (got < sizeof(b)) {
		ret = getrandom(b + got, sizeof(b) - got, 0);
		if (ret > 0)
			got += ret;
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(uuid, UUID_STR_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

void str_upper(char *s)
{
	for (; *s; s++)
		*s = toupper((unsigned char)*s);
}

int uevent_open(void)
{
	struct sockaddr_nl addr = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1,
	};
	int size = 4 << 20;
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		    NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	/* Best effort: a big buffer so that no event is dropped. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static void uevent_field(char *dst, size_t size, const char *val)
{
	snprintf(dst, size, "%s", val);
}

/*
 * Wait up to @timeout_ms for the next kernel uevent: 1 and @ev filled in, 0
 * on timeout, -errno on error (-ENOBUFS when events were lost).
 */
int uevent_recv(int fd, struct uevent *ev, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long end = now_ms() + timeout_ms;
	struct sockaddr_nl addr;
	char buf[8192];

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
		struct msghdr msg = {
			.msg_name = &addr,
			.msg_namelen = sizeof(addr),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		long long left = end - now_ms();
		ssize_t len;
		char *p;
		int ret;

		if (left < 0)
			left = 0;
		ret = poll(&pfd, 1, left);
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return 0;
		len = recvmsg(fd, &msg, 0);
		if (len < 0)
			return -errno;
		/* Only the kernel's messages, not those of a udev daemon. */
		if (addr.nl_pid != 0 || !memchr(buf, '@', len))
			continue;
		buf[len] = '\0';
		memset(ev, 0, sizeof(*ev));
		for (p = buf + strlen(buf) + 1; p < buf + len;
		     p += strlen(p) + 1) {
			if (!strncmp(p, "ACTION=", 7))
				uevent_field(ev->action, sizeof(ev->action), p + 7);
			else if (!strncmp(p, "DEVPATH=", 8))
				uevent_field(ev->devpath, sizeof(ev->devpath), p + 8);
			else if (!strncmp(p, "SUBSYSTEM=", 10))
				uevent_field(ev->subsystem, sizeof(ev->subsystem),
					     p + 10);
			else if (!strncmp(p, "MDEV_STATE=", 11))
				uevent_field(ev->mdev_state,
					     sizeof(ev->mdev_state), p + 11);
		}
		return 1;
	}
}

/* Whether @ev is @action on a device whose path ends in "/@devpath_suffix". */
bool uevent_is(const struct uevent *ev, const char *action,
	       const char *devpath_suffix)
{
	size_t len = strlen(ev->devpath), slen = strlen(devpath_suffix);

	if (strcmp(ev->action, action) || len <= slen)
		return false;
	return ev->devpath[len - slen - 1] == '/' &&
	       !strcmp(ev->devpath + len - slen, devpath_suffix);
}

/* The number of the instance's IOMMU group, from its iommu_group link. */
int mdev_iommu_group(const char *uuid)
{
	char path[PATH_MAX], target[PATH_MAX], *base;
	ssize_t len;

	len = readlink(mdev_path(path, uuid, "iommu_group"), target,
		       sizeof(target) - 1);
	if (len < 0)
		return -errno;
	target[len] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!isdigit(*base))
		return -EBADMSG;
	return atoi(base);
}

/*
 * Open an instance the way QEMU does: a type1 container, the instance's
 * group attached to it, then a device fd by name.
 */
int vfio_mdev_open(const char *uuid, struct vfio_mdev *v)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX];
	int group, ret;

	v->container = -1;
	v->group = -1;
	v->device = -1;
	group = mdev_iommu_group(uuid);
	if (group < 0)
		return group;
	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0)
		goto err;
	if (ioctl(v->container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
		errno = EPROTO;
		goto err;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0)
		goto err;
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &status))
		goto err;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		errno = EPERM;
		goto err;
	}
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container))
		goto err;
	if (ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) &&
	    ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU))
		goto err;
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (v->device < 0)
		goto err;
	return 0;
err:
	ret = -errno;
	vfio_mdev_close(v);
	return ret;
}

void vfio_mdev_close(struct vfio_mdev *v)
{
	if (v->device >= 0)
		close(v->device);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	v->device = -1;
	v->group = -1;
	v->container = -1;
}

int kmsg_open_tail(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

bool kmsg_find(int fd, const char *needle)
{
	char rec[1024];
	bool found = false;
	ssize_t n;

	/* one record per read; EPIPE when records were overwritten */
	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			return found;
		rec[n] = '\0';
		if (strstr(rec, needle))
			found = true;
	}
}

int dyndbg_query(const char *query)
{
	static const char * const controls[] = {
		"/proc/dynamic_debug/control",
		"/sys/kernel/debug/dynamic_debug/control",
		NULL,
	};
	const char * const *c;
	int ret = -ENOENT;

	for (c = controls; *c && ret == -ENOENT; c++)
		ret = sysfs_write(*c, query, strlen(query));
	return ret < 0 ? ret : 0;
}

int bg_write_start(struct bg_write *b, const char *path)
{
	int fds[2], ret;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	b->pid = fork();
	if (b->pid < 0) {
		ret = -errno;
		close(fds[0]);
		close(fds[1]);
		return ret;
	}
	if (b->pid == 0) {
		if (dup2(fds[1], 3) != 3)
			_exit(1);
		close_range(4, ~0U, 0);
		ret = sysfs_write(path, "1", 1);
		if (ret >= 0)
			ret = ret == 1 ? 0 : -EMSGSIZE;
		_exit(write(3, &ret, sizeof(ret)) == sizeof(ret) ? 0 : 1);
	}
	close(fds[1]);
	b->fd = fds[0];
	return 0;
}

int bg_remove_start(struct bg_write *b, const char *uuid)
{
	char path[PATH_MAX];

	return bg_write_start(b, mdev_path(path, uuid, "remove"));
}

int bg_write_wait(struct bg_write *b, int timeout_ms, int *ret)
{
	struct pollfd pfd = { .fd = b->fd, .events = POLLIN };
	int n;

	do {
		n = poll(&pfd, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	if (read(b->fd, ret, sizeof(*ret)) != sizeof(*ret))
		*ret = -ECHILD;
	waitpid(b->pid, NULL, 0);
	close(b->fd);
	b->fd = -1;
	b->pid = -1;
	return 1;
}

bool bg_write_blocked(const struct bg_write *b)
{
	char path[64], stat[512], *state;

	snprintf(path, sizeof(path), "/proc/%d/stat", b->pid);
	if (sysfs_read(path, stat, sizeof(stat)) < 0)
		return false;
	/* "pid (comm) S ...": comm may hold spaces and parentheses */
	state = strrchr(stat, ')');
	return state && state[1] == ' ' && state[2] == 'D';
}
