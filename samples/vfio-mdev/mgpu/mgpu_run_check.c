// SPDX-License-Identifier: GPL-2.0-only
/*
 * mgpu_run_check.c - the check of a migration stream's VRAM run, taken
 * while the run's pages are copied to or from user space.
 *
 * The check (struct mgpu_stream_run_check) is two sums over the payload's
 * 64-bit little-endian words, mod 2^64: of the words, and of the running
 * sums after each word.  A changed word changes the first; two words that
 * trade places change the second, by their difference times their
 * distance (unless that is a multiple of 2^64).  It costs two additions a
 * word, so it is taken in the same pass as the copy: each word is loaded
 * once, added and stored, and the payload is read only once.  A hash such
 * as xxh64 in a pass of its own cost more than the copy itself (under TCG
 * it bounded save and resume at 0.2x of memcpy).  It guards against
 * damage, as the header checks do; an attacker can forge any check, which
 * is why every field of a stream is validated on its own.
 *
 * The copies work on whole pages: a read or write that splits a page copies
 * it with copy_to_user()/copy_from_user() instead, and the page is added to
 * the check from the VRAM once its last byte has gone.
 */

#include <linux/compiler.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

#include "mgpu_stream.h"

#define MGPU_PAGE_WORDS	(PAGE_SIZE / sizeof(__le64))
static_assert(MGPU_PAGE_WORDS % 4 == 0);

/*
 * One word into the two sums.  The copies take four words a round: under
 * TCG every round trip of the loop costs about as much as a word's copy.
 */
static __always_inline void mgpu_run_add(u64 *sum, u64 *sums, __le64 w)
{
	*sum += le64_to_cpu(w);
	*sums += *sum;
}

/**
 * mgpu_run_check_page() - add a page of payload to a run's check
 * @check: the run's check so far
 * @page: the page's bytes, in the kernel
 */
void mgpu_run_check_page(struct mgpu_run_check *check, const void *page)
{
	const __le64 *word = page;
	u64 sum = check->sum, sums = check->sums;
	unsigned int i;

	for (i = 0; i < MGPU_PAGE_WORDS; i++)
		mgpu_run_add(&sum, &sums, word[i]);
	check->sum = sum;
	check->sums = sums;
}

/**
 * mgpu_run_copy_page_to_user() - copy a page of payload out and check it
 * @check: the run's check so far; only updated if the whole page went
 * @ubuf: where the page goes
 * @page: the page's bytes, in the kernel
 *
 * Return: 0, or -EFAULT with @check as it was (some bytes may have gone).
 */
int mgpu_run_copy_page_to_user(struct mgpu_run_check *check,
			       void __user *ubuf, const void *page)
{
	__le64 __user *dst = ubuf;
	const __le64 *word = page;
	u64 sum = check->sum, sums = check->sums;
	unsigned int i;

	if (!user_access_begin(dst, PAGE_SIZE))
		return -EFAULT;
	for (i = 0; i < MGPU_PAGE_WORDS; i += 4) {
		__le64 w0 = word[i], w1 = word[i + 1];
		__le64 w2 = word[i + 2], w3 = word[i + 3];

		unsafe_put_user(w0, dst + i, fault);
		unsafe_put_user(w1, dst + i + 1, fault);
		unsafe_put_user(w2, dst + i + 2, fault);
		unsafe_put_user(w3, dst + i + 3, fault);
		mgpu_run_add(&sum, &sums, w0);
		mgpu_run_add(&sum, &sums, w1);
		mgpu_run_add(&sum, &sums, w2);
		mgpu_run_add(&sum, &sums, w3);
	}
	user_access_end();
	check->sum = sum;
	check->sums = sums;
	return 0;
fault:
	user_access_end();
	return -EFAULT;
}

/**
 * mgpu_run_copy_page_from_user() - copy a page of payload in and check it
 * @check: the run's check so far; only updated if the whole page came
 * @page: where the page goes, in the kernel
 * @ubuf: the page's bytes, in user space
 *
 * Return: 0, or -EFAULT with @check as it was (some bytes may have come).
 */
int mgpu_run_copy_page_from_user(struct mgpu_run_check *check, void *page,
				 const void __user *ubuf)
{
	const __le64 __user *src = ubuf;
	u64 sum = check->sum, sums = check->sums;
	__le64 *word = page;
	unsigned int i;

	if (!user_read_access_begin(src, PAGE_SIZE))
		return -EFAULT;
	for (i = 0; i < MGPU_PAGE_WORDS; i += 4) {
		__le64 w0, w1, w2, w3;

		unsafe_get_user(w0, src + i, fault);
		unsafe_get_user(w1, src + i + 1, fault);
		unsafe_get_user(w2, src + i + 2, fault);
		unsafe_get_user(w3, src + i + 3, fault);
		word[i] = w0;
		word[i + 1] = w1;
		word[i + 2] = w2;
		word[i + 3] = w3;
		mgpu_run_add(&sum, &sums, w0);
		mgpu_run_add(&sum, &sums, w1);
		mgpu_run_add(&sum, &sums, w2);
		mgpu_run_add(&sum, &sums, w3);
	}
	user_read_access_end();
	check->sum = sum;
	check->sums = sums;
	return 0;
fault:
	user_read_access_end();
	return -EFAULT;
}
