// SPDX-License-Identifier: GPL-2.0
/*
 * usage_test: the core's single usage restriction (mdev_usage_claim()) as
 * test_mdev enforces it.  Who is one application: one process, whatever the
 * types and parents; one KVM VM, whatever the processes that serve it (a
 * forked child, a second process handed the VM's fds); and the claim stays
 * with the open device when its fd is passed to another process.  The VM
 * cases need /dev/kvm: the test VM has it (TCG emulates SVM), the debug
 * kernel has no KVM and skips them.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"
#include "vfio_client.h"

/* test_mdev's types here: two single-usage, one shared, one undeclared. */
#define USAGE_PARAMS	"usage=YYN- capacity=2,2,2,2"
enum { TYPE_Y0, TYPE_Y1, TYPE_N, TYPE_UNDECLARED };

/* The instances every case gets: (parent, type). */
enum { Y_A, Y_B, Y_C, Y_D, N_A, N_B, U_A, U_B, NR_INST };
static const unsigned int inst_parent[NR_INST] = { 0, 1, 0, 1, 0, 1, 0, 1 };
static const unsigned int inst_type[NR_INST] = {
	TYPE_Y0, TYPE_Y1, TYPE_Y0, TYPE_Y1, TYPE_N, TYPE_N,
	TYPE_UNDECLARED, TYPE_UNDECLARED,
};

/* A KVM VM with its KVM VFIO device, as QEMU with KVM creates them. */
struct kvm_vm {
	int sys;
	int vm;
	int vfio;
};

static void kvm_vm_init(struct kvm_vm *k)
{
	k->sys = -1;
	k->vm = -1;
	k->vfio = -1;
}

static void kvm_vm_close(struct kvm_vm *k)
{
	if (k->vfio >= 0)
		close(k->vfio);
	if (k->vm >= 0)
		close(k->vm);
	if (k->sys >= 0)
		close(k->sys);
	kvm_vm_init(k);
}

static int kvm_vm_create(struct kvm_vm *k)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_VFIO };
	int ret;

	kvm_vm_init(k);
	k->sys = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys < 0)
		return -errno;
	k->vm = ioctl(k->sys, KVM_CREATE_VM, 0);
	if (k->vm < 0 || ioctl(k->vm, KVM_CREATE_DEVICE, &dev)) {
		ret = -errno;
		kvm_vm_close(k);
		return ret;
	}
	k->vfio = dev.fd;
	return 0;
}

static bool kvm_usable(char *why, size_t len)
{
	struct kvm_vm k;
	int ret = kvm_vm_create(&k);

	kvm_vm_close(&k);
	if (ret)
		snprintf(why, len, "no KVM VM with a VFIO device: %s",
			 strerror(-ret));
	return !ret;
}

/* What QEMU does before it asks for the device: the group joins the VM. */
static int kvm_vm_add_group(int kvm_vfio, int group)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_GROUP,
		.attr = KVM_DEV_VFIO_GROUP_ADD,
		.addr = (__u64)(unsigned long)&group,
	};

	return ioctl(kvm_vfio, KVM_SET_DEVICE_ATTR, &attr) ? -errno : 0;
}

/*
 * Opens @uuid with a new container (@container -1) or that one, in the VM
 * of @kvm_vfio (-1: none).  A refusal must come from the device
 * (VFIO_GROUP_GET_DEVICE_FD, where open_device runs), or the case would
 * pass for the wrong reason: -EIO then.
 */
static int open_as(struct vfio_client *c, const char *uuid, int container,
		   int kvm_vfio)
{
	int group = mdev_iommu_group(uuid);
	int ret;

	vfio_client_init(c);
	if (group < 0)
		return -EIO;
	ret = vfio_client_attach(c, group, container);
	if (!ret && kvm_vfio >= 0) {
		ret = kvm_vm_add_group(kvm_vfio, c->group);
		if (ret)
			c->failed_at = "KVM_DEV_VFIO_GROUP_ADD";
	}
	if (!ret)
		return vfio_client_get_device(c, uuid);
	fprintf(stderr, "# open of %s failed at %s: %s\n", uuid, c->failed_at,
		strerror(-ret));
	vfio_client_close(c);
	return -EIO;
}

/* Sends @n fds (and nothing else) over the socket @sock. */
static int send_fds(int sock, const int *fds, unsigned int n)
{
	char control[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	if (n > 4)
		return -EINVAL;
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, n * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

static int recv_fds(int sock, int *fds, unsigned int n)
{
	char control[CMSG_SPACE(4 * sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg;

	if (n > 4 || recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EIO;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -EIO;
	memcpy(fds, CMSG_DATA(cmsg), n * sizeof(int));
	return 0;
}

/* The results of a child's opens, written to the parent in order. */
static void report(int sock, int result)
{
	if (write(sock, &result, sizeof(result)) != sizeof(result))
		_exit(2);
}

static int result_of(int sock)
{
	int result;

	return read(sock, &result, sizeof(result)) == sizeof(result) ?
	       result : -EPIPE;
}

static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -ECHILD;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -ECHILD;
}

/*
 * fork() for a case's helper process: it dies with the case and keeps only
 * its own end of the socket, so that neither side can wait for ever.
 */
static pid_t fork_helper(int parent_end)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(parent_end);
		alarm(60);
	}
	return pid;
}

FIXTURE(usage) {
	char uuid[NR_INST][UUID_STR_LEN];
	struct vfio_client v[NR_INST];
	struct kvm_vm vm;
	int sock[2];
	bool have_kvm;
	char kvm_why[128];
};

FIXTURE_SETUP(usage)
{
	unsigned int i;

	kvm_vm_init(&self->vm);
	for (i = 0; i < NR_INST; i++)
		vfio_client_init(&self->v[i]);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sock));
	self->have_kvm = kvm_usable(self->kvm_why, sizeof(self->kvm_why));
	ASSERT_EQ(0, test_module_reload(USAGE_PARAMS));
	for (i = 0; i < NR_INST; i++) {
		uuid_gen(self->uuid[i]);
		ASSERT_EQ(0, mdev_create(inst_parent[i], inst_type[i],
					 self->uuid[i]));
	}
}

FIXTURE_TEARDOWN(usage)
{
	unsigned int i;

	for (i = 0; i < NR_INST; i++)
		vfio_client_close(&self->v[i]);
	kvm_vm_close(&self->vm);
	close(self->sock[0]);
	close(self->sock[1]);
	EXPECT_EQ(0, test_module_unload_wait());
}

static long open_count(struct _test_data_usage *self, unsigned int i)
{
	return mdev_read_long(self->uuid[i], "test_open_count");
}

/* One process: one single-usage instance, whatever its type and parent. */
TEST_F(usage, one_per_process)
{
	char buf[8];

	ASSERT_EQ(2, type_read(0, TYPE_Y1, "single_usage_restriction", buf,
			       sizeof(buf)));
	ASSERT_STREQ("Y\n", buf);

	ASSERT_EQ(0, open_as(&self->v[Y_A], self->uuid[Y_A], -1, -1));
	/* Another "Y" type on another parent, and the same type. */
	EXPECT_EQ(-EBUSY, open_as(&self->v[Y_B], self->uuid[Y_B], -1, -1));
	EXPECT_EQ(-EBUSY, open_as(&self->v[Y_C], self->uuid[Y_C], -1, -1));
	/* The refused opens reached no driver open and left no claim. */
	EXPECT_EQ(0, open_count(self, Y_B));
	EXPECT_EQ(0, open_count(self, Y_C));
	EXPECT_EQ(1, open_count(self, Y_A));

	/* Shared and undeclared types neither count nor are refused. */
	EXPECT_EQ(0, open_as(&self->v[N_A], self->uuid[N_A], -1, -1));
	EXPECT_EQ(0, open_as(&self->v[N_B], self->uuid[N_B], -1, -1));
	EXPECT_EQ(0, open_as(&self->v[U_A], self->uuid[U_A], -1, -1));
	EXPECT_EQ(0, open_as(&self->v[U_B], self->uuid[U_B], -1, -1));
	EXPECT_EQ(-EBUSY, open_as(&self->v[Y_B], self->uuid[Y_B], -1, -1));

	/* The last close of the device (the group stays open) ends the claim. */
	vfio_client_close_device(&self->v[Y_A]);
	EXPECT_EQ(0, open_as(&self->v[Y_B], self->uuid[Y_B], -1, -1));
	EXPECT_EQ(-EBUSY, open_as(&self->v[Y_C], self->uuid[Y_C], -1, -1));
}

/*
 * Without a VM a forked child is another application, even when it
 * attaches its group to the parent's container: VFIO does not show a
 * driver the container (the documented limit of the rule).
 */
TEST_F(usage, fork_without_vm)
{
	pid_t pid;

	ASSERT_EQ(0, open_as(&self->v[Y_A], self->uuid[Y_A], -1, -1));
	pid = fork_helper(self->sock[0]);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vfio_client c;

		report(self->sock[1], open_as(&c, self->uuid[Y_B], -1, -1));
		vfio_client_close(&c);
		report(self->sock[1], open_as(&c, self->uuid[Y_B],
					      self->v[Y_A].container, -1));
		_exit(0);
	}
	EXPECT_EQ(0, result_of(self->sock[0]));
	EXPECT_EQ(0, result_of(self->sock[0]));
	EXPECT_EQ(0, reap(pid));
	/* The child's claims went with its exit; the parent's stays. */
	EXPECT_EQ(-EBUSY, open_as(&self->v[Y_B], self->uuid[Y_B], -1, -1));
}

/*
 * Attaches @uuid's group to a container (as for open_as()) and adds it to
 * the VM of @kvm_vfio, without opening the device: what a VM's owner hands
 * to a helper process.  KVM takes ioctls on a VM only from the process
 * that created it, so another process can only be handed such a group.
 */
static int prepare_in_vm(struct vfio_client *c, const char *uuid,
			 int container, int kvm_vfio)
{
	int group = mdev_iommu_group(uuid);

	if (group < 0 || vfio_client_attach(c, group, container))
		return -EIO;
	if (kvm_vfio >= 0 && kvm_vm_add_group(kvm_vfio, c->group)) {
		vfio_client_close(c);
		return -EIO;
	}
	return 0;
}

/* VFIO_GROUP_GET_DEVICE_FD on a group fd: 0 (the device closed again) or -errno. */
static int open_device_of(int group, const char *uuid)
{
	int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, uuid);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * A VM is one application: a forked child that opens a device of a group
 * in the parent's VM is refused; in a VM of its own it is not.
 */
TEST_F(usage, fork_same_vm)
{
	struct kvm_vm other;
	pid_t pid;

	if (!self->have_kvm)
		SKIP(return, "%s", self->kvm_why);
	ASSERT_EQ(0, kvm_vm_create(&self->vm));
	ASSERT_EQ(0, open_as(&self->v[Y_A], self->uuid[Y_A], -1,
			     self->vm.vfio));
	ASSERT_EQ(0, prepare_in_vm(&self->v[Y_B], self->uuid[Y_B], -1,
				   self->vm.vfio));
	pid = fork_helper(self->sock[0]);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vfio_client c;
		struct kvm_vm vm;

		report(self->sock[1], open_device_of(self->v[Y_B].group,
						     self->uuid[Y_B]));
		if (kvm_vm_create(&vm))
			_exit(3);
		report(self->sock[1], open_as(&c, self->uuid[Y_C], -1,
					      vm.vfio));
		vfio_client_close(&c);
		kvm_vm_close(&vm);
		report(self->sock[1], open_as(&c, self->uuid[Y_C], -1, -1));
		_exit(0);
	}
	EXPECT_EQ(-EBUSY, result_of(self->sock[0]));
	EXPECT_EQ(0, result_of(self->sock[0]));
	EXPECT_EQ(0, result_of(self->sock[0]));
	EXPECT_EQ(0, reap(pid));

	/* One process running a second VM is still one application. */
	ASSERT_EQ(0, kvm_vm_create(&other));
	EXPECT_EQ(-EBUSY, open_as(&self->v[Y_C], self->uuid[Y_C], -1,
				  other.vfio));
	kvm_vm_close(&other);
}

/*
 * A second process, started before the VM existed, handed a group of the
 * VM over a socket: refused, whether the group is in the first process's
 * container or in a container of its own.  Handed a group in the first
 * process's container but in no VM, it is another application: VFIO does
 * not show a driver the container.
 */
TEST_F(usage, second_process_same_vm)
{
	/* Prepared here, opened there; the fixture closes them. */
	struct vfio_client *shared = &self->v[Y_B], *own = &self->v[Y_C];
	struct vfio_client *novm = &self->v[Y_D];
	int fds[2];
	pid_t pid;

	if (!self->have_kvm)
		SKIP(return, "%s", self->kvm_why);
	pid = fork_helper(self->sock[0]);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ret;

		/* Each group fd is closed before its result goes back. */
		if (recv_fds(self->sock[1], fds, 2))
			_exit(3);
		ret = open_device_of(fds[0], self->uuid[Y_B]);
		close(fds[0]);
		report(self->sock[1], ret);
		ret = open_device_of(fds[1], self->uuid[Y_C]);
		close(fds[1]);
		report(self->sock[1], ret);
		if (recv_fds(self->sock[1], fds, 1))
			_exit(3);
		report(self->sock[1], open_device_of(fds[0], self->uuid[Y_D]));
		_exit(0);
	}
	ASSERT_EQ(0, kvm_vm_create(&self->vm));
	ASSERT_EQ(0, open_as(&self->v[Y_A], self->uuid[Y_A], -1,
			     self->vm.vfio));
	ASSERT_EQ(0, prepare_in_vm(shared, self->uuid[Y_B],
				   self->v[Y_A].container, self->vm.vfio));
	ASSERT_EQ(0, prepare_in_vm(own, self->uuid[Y_C], -1, self->vm.vfio));
	fds[0] = shared->group;
	fds[1] = own->group;
	ASSERT_EQ(0, send_fds(self->sock[0], fds, 2));
	EXPECT_EQ(-EBUSY, result_of(self->sock[0]));
	EXPECT_EQ(-EBUSY, result_of(self->sock[0]));
	/* Then a group in the first process's container but in no VM. */
	ASSERT_EQ(0, prepare_in_vm(novm, self->uuid[Y_D],
				   self->v[Y_A].container, -1));
	ASSERT_EQ(0, send_fds(self->sock[0], &novm->group, 1));
	EXPECT_EQ(0, result_of(self->sock[0]));
	EXPECT_EQ(0, reap(pid));
}

/*
 * The claim belongs to the open device, not to the process that opened
 * it: the VM's owner passes its open instance to another process and
 * closes its own fds of it; the VM still may not open a second one until
 * the other process closes the passed fd.
 */
TEST_F(usage, claim_follows_passed_fd)
{
	struct vfio_client c;
	int token = 1;
	pid_t pid;

	if (!self->have_kvm)
		SKIP(return, "%s", self->kvm_why);
	pid = fork_helper(self->sock[0]);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct kvm_vm vm;

		if (kvm_vm_create(&vm) ||
		    open_as(&c, self->uuid[Y_A], -1, vm.vfio) ||
		    send_fds(self->sock[1], &c.device, 1))
			_exit(3);
		vfio_client_close(&c);
		report(self->sock[1], open_as(&c, self->uuid[Y_B], -1,
					      vm.vfio));
		if (result_of(self->sock[1]) != token)
			_exit(4);
		report(self->sock[1], open_as(&c, self->uuid[Y_C], -1,
					      vm.vfio));
		_exit(0);
	}
	ASSERT_EQ(0, recv_fds(self->sock[0], &self->v[Y_A].device, 1));
	EXPECT_EQ(-EBUSY, result_of(self->sock[0]));
	EXPECT_EQ(1, open_count(self, Y_A));
	/* This process, in no VM, is another application. */
	EXPECT_EQ(0, open_as(&c, self->uuid[Y_D], -1, -1));
	vfio_client_close(&c);

	/* The last close, here, ends the VM's claim. */
	vfio_client_close_device(&self->v[Y_A]);
	EXPECT_EQ(0, open_count(self, Y_A));
	ASSERT_EQ((ssize_t)sizeof(token),
		  write(self->sock[0], &token, sizeof(token)));
	EXPECT_EQ(0, result_of(self->sock[0]));
	EXPECT_EQ(0, reap(pid));
}

/*
 * The VM's fds closed while its device is open: the claim keeps the VM
 * alive, so a VM created next (which could otherwise get the freed one's
 * address) is another application.
 */
TEST_F(usage, vm_closed_while_open)
{
	pid_t pid;

	if (!self->have_kvm)
		SKIP(return, "%s", self->kvm_why);
	ASSERT_EQ(0, kvm_vm_create(&self->vm));
	ASSERT_EQ(0, open_as(&self->v[Y_A], self->uuid[Y_A], -1,
			     self->vm.vfio));
	kvm_vm_close(&self->vm);
	pid = fork_helper(self->sock[0]);
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct vfio_client c;
		struct kvm_vm vm;

		if (kvm_vm_create(&vm))
			_exit(3);
		report(self->sock[1], open_as(&c, self->uuid[Y_B], -1,
					      vm.vfio));
		_exit(0);
	}
	EXPECT_EQ(0, result_of(self->sock[0]));
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(1, open_count(self, Y_A));
	/* Its last close puts the VM, which is then destroyed. */
	vfio_client_close_device(&self->v[Y_A]);
	EXPECT_EQ(0, open_count(self, Y_A));
}

TEST_HARNESS_MAIN
