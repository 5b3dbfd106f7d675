/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fail_nth_lib.h: fault injection for the fail-nth sweeps (fail_nth_test,
 * fail_nth_module_test): debugfs set up and put back, and one thread's
 * /proc/self/task/<tid>/fail-nth armed, disarmed and accounted.
 *
 * A sweep runs its operation with fault point n failing for n = 1, 2, ...
 * until the operation passes fewer than n points (nth_disarm() returns 0):
 *
 *	nth_open(&s, "what");
 *	for (s.n = 1; ; s.n += s.stride) {
 *		nth_arm(&s);
 *		ret = operation();
 *		injected = nth_disarm(&s);
 *		... check, nth_errno(&s, -ret) or s.absorbed++ ...
 *		if (!injected) break;
 *	}
 *	NTH_REPORT(&s);
 *
 * MDEV_FAIL_NTH_STRIDE=k in the environment tries only every k-th fault
 * point (1, 1 + k, ...), for a shorter run (CI's); the default, 1, tries
 * every one.
 */
#ifndef FAIL_NTH_LIB_H
#define FAIL_NTH_LIB_H

#include <stdbool.h>
#include <stddef.h>

/* Far more than any path here has: reaching it fails the pass. */
#define NTH_MAX		2000U
#define DEBUGFS		"/sys/kernel/debug"
#define NTH_LEAK_AT	8

struct nth {
	int fd;			/* this thread's fail-nth */
	int kmsg;		/* /dev/kmsg for markers, or -1 */
	const char *what;	/* the pass, in markers */
	unsigned int n;		/* the fault point that fails */
	unsigned int stride;	/* n's step: $MDEV_FAIL_NTH_STRIDE, default 1 */
	unsigned int absorbed;	/* injected, yet the operation succeeded */
	int errs[16];		/* the errnos returned, and how often */
	unsigned int counts[16];
	int groups;		/* IOMMU groups between iterations; < 0: not checked */
	unsigned int leaks;	/* iterations after which there were more */
	unsigned int leak_at[NTH_LEAK_AT];
};

/*
 * Makes GFP_KERNEL allocations and order-0 pages fail too, and silences
 * the injected failures' stack traces.  False, with why in @why, when the
 * kernel has no fault injection.  fi_restore() puts debugfs back.
 */
bool fi_setup(char *why, size_t len);
void fi_restore(void);

int nth_open(struct nth *s, const char *what);
void nth_close(struct nth *s);
int nth_arm(struct nth *s);
int nth_disarm(struct nth *s);
void nth_errno(struct nth *s, int err);
void nth_summary(struct nth *s, char *buf, size_t len);
void nth_leak_list(const struct nth *s, char *buf, size_t len);

/*
 * Logs "what: 37 fault points; 35 failed with ENOMEM 34, EFAULT 1; 2
 * absorbed", and fails the test if IOMMU groups were left behind.  Call it
 * once the last iteration has cleaned up.  A macro: TH_LOG and EXPECT_EQ
 * (and the _metadata they use) belong to the test's own translation unit.
 */
#define NTH_REPORT(s) do {						\
	struct nth *__nth = (s);					\
	char __nth_buf[256];						\
									\
	nth_summary(__nth, __nth_buf, sizeof(__nth_buf));		\
	TH_LOG("%s", __nth_buf);					\
	nth_leak_list(__nth, __nth_buf, sizeof(__nth_buf));		\
	EXPECT_EQ(0U, __nth->leaks)					\
		TH_LOG("%s: an IOMMU group left behind %u times, at fail-nth%s", \
		       __nth->what, __nth->leaks, __nth_buf);		\
	nth_close(__nth);						\
} while (0)

#endif /* FAIL_NTH_LIB_H */
