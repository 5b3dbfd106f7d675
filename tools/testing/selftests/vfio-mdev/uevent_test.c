// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev uevent tests, read from a NETLINK_KOBJECT_UEVENT socket: the
 * parent's CHANGE events with MDEV_STATE=registered/unregistered, an
 * instance's ADD sent only once its directory is complete (checked the moment
 * the event arrives), BIND after ADD, a removal written on ADD that
 * succeeds, UNBIND then REMOVE on removal, and no event at all for a
 * creation that fails.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

/* Generous: TCG is slow, and nothing here waits for this long on success. */
#define EVENT_TIMEOUT_MS	10000
#define ADD_ROUNDS		20

FIXTURE(uevent) {
	int fd;
	char uuid[UUID_STR_LEN];
};

FIXTURE_SETUP(uevent)
{
	ASSERT_EQ(0, test_env_reset());
	self->fd = uevent_open();
	ASSERT_LE(0, self->fd);
	uuid_gen(self->uuid);
}

FIXTURE_TEARDOWN(uevent)
{
	close(self->fd);
	if (module_loaded(TEST_MODULE_NAME))
		EXPECT_EQ(0, module_unload_wait(TEST_MODULE_NAME, 10000));
}

/* Milliseconds left until @end, at least 0. */
static int left_ms(long long end)
{
	long long left = end - now_ms();

	return left > 0 ? left : 0;
}

/*
 * Read events until @action on @suffix with MDEV_STATE=@state, or time out:
 * 1, 0 or -errno.
 */
static int wait_event(int fd, const char *action, const char *suffix,
		      const char *state)
{
	long long end = now_ms() + EVENT_TIMEOUT_MS;
	struct uevent ev;
	int ret;

	for (;;) {
		ret = uevent_recv(fd, &ev, left_ms(end));
		if (ret <= 0)
			return ret;
		if (uevent_is(&ev, action, suffix) &&
		    !strcmp(ev.mdev_state, state))
			return 1;
	}
}

/* Discard whatever is queued now. */
static void drain(int fd)
{
	struct uevent ev;

	while (uevent_recv(fd, &ev, 0) > 0)
		;
}

TEST_F(uevent, parent_registered)
{
	bool seen[2] = { false, false };
	char path[PATH_MAX], name[16];
	long long end;
	struct uevent ev;
	unsigned int p;
	int ret;

	ASSERT_EQ(0, test_module_load("parents=2"));
	end = now_ms() + EVENT_TIMEOUT_MS;
	while (!seen[0] || !seen[1]) {
		ret = uevent_recv(self->fd, &ev, left_ms(end));
		ASSERT_EQ(1, ret)
			TH_LOG("registered events missing: %d %d", seen[0],
			       seen[1]);
		for (p = 0; p < 2; p++) {
			snprintf(name, sizeof(name), "mdev_test%u", p);
			if (!uevent_is(&ev, "change", name) ||
			    strcmp(ev.mdev_state, "registered"))
				continue;
			/* The types exist when the event is sent. */
			EXPECT_TRUE(path_exists(type_path(path, p, 0, "create")));
			EXPECT_TRUE(path_exists(type_path(path, p, 2,
							  "available_instances")));
			EXPECT_FALSE(seen[p]);
			seen[p] = true;
		}
	}
}

TEST_F(uevent, parent_unregistered_after_instances)
{
	int parent_at[2] = { -1, -1 }, inst_at[2] = { -1, -1 };
	char uuid2[UUID_STR_LEN], path[PATH_MAX], name[16];
	const char *uuids[2] = { self->uuid, uuid2 };
	struct uevent ev;
	long long end;
	unsigned int p;
	int n = 0;

	uuid_gen(uuid2);
	ASSERT_EQ(0, test_module_load("parents=2"));
	ASSERT_EQ(0, mdev_create(0, 0, self->uuid));
	ASSERT_EQ(0, mdev_create(1, 1, uuid2));
	drain(self->fd);

	ASSERT_EQ(0, test_module_unload());
	end = now_ms() + EVENT_TIMEOUT_MS;
	while (parent_at[0] < 0 || parent_at[1] < 0) {
		ASSERT_EQ(1, uevent_recv(self->fd, &ev, left_ms(end)))
			TH_LOG("unregistered events missing");
		n++;
		for (p = 0; p < 2; p++) {
			snprintf(name, sizeof(name), "mdev_test%u", p);
			if (uevent_is(&ev, "remove", uuids[p]))
				inst_at[p] = n;
			if (!uevent_is(&ev, "change", name) ||
			    strcmp(ev.mdev_state, "unregistered"))
				continue;
			snprintf(path, sizeof(path), TEST_PARENT_DIR
				 "/mdev_test%u/mdev_supported_types", p);
			EXPECT_FALSE(path_exists(path));
			parent_at[p] = n;
		}
	}
	for (p = 0; p < 2; p++) {
		EXPECT_LT(0, inst_at[p]);
		EXPECT_LT(inst_at[p], parent_at[p]);
	}
}

struct creator {
	const char *uuid;
	unsigned int parent;
	unsigned int type;
	int ret;
};

static void *create_thread(void *arg)
{
	struct creator *c = arg;

	c->ret = mdev_create(c->parent, c->type, c->uuid);
	return NULL;
}

/*
 * The ADD event of an instance is sent when its directory is complete.  The
 * creation runs in another thread while this one sleeps in recvmsg(): the
 * links must be there the moment the event arrives, not merely by the time
 * the write returns.
 */
TEST_F(uevent, add_after_complete)
{
	char path[PATH_MAX];
	struct creator c;
	pthread_t thread;
	struct uevent ev;
	unsigned int round;
	bool added, bound;
	long long end;

	ASSERT_EQ(0, test_module_load(""));
	for (round = 0; round < ADD_ROUNDS; round++) {
		uuid_gen(self->uuid);
		c.uuid = self->uuid;
		c.parent = round % 2;
		c.type = round % 3;
		drain(self->fd);
		ASSERT_EQ(0, pthread_create(&thread, NULL, create_thread, &c));

		added = false;
		bound = false;
		end = now_ms() + EVENT_TIMEOUT_MS;
		while (!bound) {
			ASSERT_EQ(1, uevent_recv(self->fd, &ev,
						 left_ms(end)))
				TH_LOG("round %u: add %d bind %d", round, added,
				       bound);
			if (uevent_is(&ev, "add", self->uuid)) {
				EXPECT_TRUE(is_symlink(mdev_path(path, self->uuid,
								 "mdev_type")));
				EXPECT_TRUE(is_symlink(mdev_path(path, self->uuid,
								 "driver")));
				EXPECT_TRUE(path_exists(mdev_path(path, self->uuid,
								  "test_open_count")));
				EXPECT_TRUE(path_exists(mdev_path(path, self->uuid,
								  "remove")));
				EXPECT_STREQ("mdev", ev.subsystem);
				EXPECT_FALSE(added);
				added = true;
			} else if (uevent_is(&ev, "bind", self->uuid)) {
				EXPECT_TRUE(added)
					TH_LOG("bind before add");
				bound = true;
			}
		}
		pthread_join(thread, NULL);
		ASSERT_EQ(0, c.ret);
		ASSERT_EQ(0, mdev_remove(self->uuid));
		if (_metadata->passed == 0)
			break;
	}
}

/*
 * ADD means the instance is usable (the ABI), so a udev rule that removes
 * an instance as soon as it is added must succeed: no EBUSY from an
 * instance still being created.  The removal is written the moment the
 * ADD event arrives, while the creating thread may still be in the core.
 */
TEST_F(uevent, remove_on_add)
{
	unsigned int round, busy = 0;
	struct creator c;
	pthread_t thread;
	int ret;

	ASSERT_EQ(0, test_module_load(""));
	for (round = 0; round < 10 * ADD_ROUNDS; round++) {
		uuid_gen(self->uuid);
		c.uuid = self->uuid;
		c.parent = round % 2;
		c.type = round % 3;
		drain(self->fd);
		ASSERT_EQ(0, pthread_create(&thread, NULL, create_thread, &c));
		ret = wait_event(self->fd, "add", self->uuid, "");
		EXPECT_EQ(1, ret)
			TH_LOG("round %u: no ADD event", round);
		ret = ret == 1 ? mdev_remove(self->uuid) : -ETIMEDOUT;
		pthread_join(thread, NULL);
		ASSERT_EQ(0, c.ret);
		if (ret == -EBUSY)
			busy++;
		else
			EXPECT_EQ(0, ret)
				TH_LOG("round %u: remove on ADD: %s", round,
				       strerror(-ret));
		if (mdev_exists(self->uuid))
			ASSERT_EQ(0, mdev_remove(self->uuid));
	}
	EXPECT_EQ(0U, busy)
		TH_LOG("%u of %u removals on ADD found the instance still being created",
		       busy, round);
}

TEST_F(uevent, unbind_then_remove)
{
	struct uevent ev;
	bool unbound = false, removed = false;
	long long end;

	ASSERT_EQ(0, test_module_load(""));
	ASSERT_EQ(0, mdev_create(1, 0, self->uuid));
	drain(self->fd);
	ASSERT_EQ(0, mdev_remove(self->uuid));

	end = now_ms() + EVENT_TIMEOUT_MS;
	while (!removed) {
		ASSERT_EQ(1, uevent_recv(self->fd, &ev, left_ms(end)))
			TH_LOG("unbind %d remove %d", unbound, removed);
		if (uevent_is(&ev, "unbind", self->uuid)) {
			EXPECT_FALSE(unbound);
			unbound = true;
		} else if (uevent_is(&ev, "remove", self->uuid)) {
			EXPECT_TRUE(unbound)
				TH_LOG("remove before unbind");
			EXPECT_STREQ("mdev", ev.subsystem);
			removed = true;
		} else {
			EXPECT_FALSE(uevent_is(&ev, "add", self->uuid));
		}
	}
}

/*
 * Failed creations send nothing.  A successful creation afterwards is the
 * fence: the kernel queues events in order, so anything the failures sent
 * arrives before its ADD.
 */
TEST_F(uevent, nothing_for_failed_creates)
{
	char good[UUID_STR_LEN], full[UUID_STR_LEN], path[PATH_MAX];
	char bad[] = "83b8f4f2-509f-382f-3c1e-e6bfe0fa100x";
	struct uevent ev;
	long long end;

	uuid_gen(good);
	uuid_gen(full);
	ASSERT_EQ(0, test_module_load(""));
	ASSERT_EQ(0, mdev_create(0, 2, self->uuid));
	drain(self->fd);

	ASSERT_EQ(0, test_param_write("fail_probe", "12"));
	EXPECT_EQ(-ENOMEM, mdev_create(0, 0, full));
	ASSERT_EQ(0, test_param_write("fail_probe", "0"));
	EXPECT_EQ(-EUSERS, mdev_create(0, 2, full));
	EXPECT_EQ(-EEXIST, mdev_create(1, 0, self->uuid));
	EXPECT_EQ(-EINVAL, sysfs_write(type_path(path, 0, 0, "create"), bad,
				       strlen(bad)));
	ASSERT_EQ(0, mdev_create(1, 1, good));

	end = now_ms() + EVENT_TIMEOUT_MS;
	for (;;) {
		ASSERT_EQ(1, uevent_recv(self->fd, &ev, left_ms(end)));
		EXPECT_EQ(NULL, strstr(ev.devpath, full))
			TH_LOG("%s %s", ev.action, ev.devpath);
		EXPECT_EQ(NULL, strstr(ev.devpath, self->uuid))
			TH_LOG("%s %s", ev.action, ev.devpath);
		if (uevent_is(&ev, "add", good))
			break;
	}
}

/* Every parent announces itself again after a reload. */
TEST_F(uevent, registered_again_after_reload)
{
	ASSERT_EQ(0, test_module_load("parents=1"));
	ASSERT_EQ(1, wait_event(self->fd, "change", "mdev_test0", "registered"));
	ASSERT_EQ(0, test_module_unload());
	ASSERT_EQ(1, wait_event(self->fd, "change", "mdev_test0",
				"unregistered"));
	drain(self->fd);
	ASSERT_EQ(0, test_module_load("parents=1"));
	ASSERT_EQ(1, wait_event(self->fd, "change", "mdev_test0", "registered"));
}

TEST_HARNESS_MAIN
