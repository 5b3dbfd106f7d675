// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-mdev input validation tests: tables of well-formed and malformed
 * strings written to a type's "create" and "version" files and to an
 * instance's "remove" file, each checked against the errno the ABI document
 * gives and against the state afterwards (nothing created, nothing removed,
 * nothing changed).
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "common.h"

/* A string literal that may hold NULs, with its exact length. */
#define IN(s)	.data = (s), .len = sizeof(s) - 1

#define U	"83b8f4f2-509f-382f-3c1e-e6bfe0fa1001"
#define VER	"00021b36-mtest-1"

/* @data, then @fill_len times @fill, then @suffix. */
struct input {
	const char *data;
	size_t len;
	char fill;
	size_t fill_len;
	const char *suffix;
	/* A zero-length write never reaches the file's store method. */
	bool empty;
};

static size_t build_input(const struct input *in, char **out)
{
	size_t slen = in->suffix ? strlen(in->suffix) : 0;
	size_t len = in->len + in->fill_len + slen;
	char *buf = malloc(len + 1);

	if (!buf)
		return 0;
	memcpy(buf, in->data, in->len);
	memset(buf + in->len, in->fill, in->fill_len);
	memcpy(buf + in->len + in->fill_len, in->suffix ?: "", slen);
	buf[len] = '\0';
	*out = buf;
	return len;
}

/* Writes of an empty string return 0 before the store method is called. */
static bool rejected(const struct input *in, int ret, int err)
{
	return ret == err || (in->empty && ret == 0);
}

/* Malformed UUIDs written to "create": EINVAL, nothing created. */
FIXTURE(create_input) {
	char *buf;
	size_t len;
};

FIXTURE_VARIANT(create_input) {
	struct input in;
};

FIXTURE_VARIANT_ADD(create_input, one_short) {
	.in = { IN("83b8f4f2-509f-382f-3c1e-e6bfe0fa100") },
};

FIXTURE_VARIANT_ADD(create_input, one_short_newline) {
	.in = { IN("83b8f4f2-509f-382f-3c1e-e6bfe0fa100\n") },
};

FIXTURE_VARIANT_ADD(create_input, one_hex_too_many) {
	.in = { IN(U "1") },
};

FIXTURE_VARIANT_ADD(create_input, trailing_letter) {
	.in = { IN(U "x") },
};

FIXTURE_VARIANT_ADD(create_input, trailing_letter_newline) {
	.in = { IN(U "x\n") },
};

FIXTURE_VARIANT_ADD(create_input, non_hex_first) {
	.in = { IN("g3b8f4f2-509f-382f-3c1e-e6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, non_hex_uppercase_last) {
	.in = { IN("83B8F4F2-509F-382F-3C1E-E6BFE0FA100G") },
};

FIXTURE_VARIANT_ADD(create_input, non_hex_middle) {
	.in = { IN("83b8f4f2-509f-382z-3c1e-e6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, dash_shifted_left) {
	.in = { IN("83b8f4f-2509f-382f-3c1e-e6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, dash_shifted_right) {
	.in = { IN("83b8f4f2-509f-382f-3c1ee-6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, no_dashes) {
	.in = { IN("83b8f4f2509f382f3c1ee6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, no_dashes_36_hex) {
	.in = { IN("83b8f4f2509f382f3c1ee6bfe0fa10010000") },
};

FIXTURE_VARIANT_ADD(create_input, colons) {
	.in = { IN("83b8f4f2:509f:382f:3c1e:e6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, underscores) {
	.in = { IN("83b8f4f2_509f_382f_3c1e_e6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, leading_dash) {
	.in = { IN("-83b8f4f2-509f-382f-3c1e-e6bfe0fa100") },
};

FIXTURE_VARIANT_ADD(create_input, trailing_dash) {
	.in = { IN(U "-") },
};

FIXTURE_VARIANT_ADD(create_input, all_dashes) {
	.in = { IN("------------------------------------") },
};

FIXTURE_VARIANT_ADD(create_input, nul_inside) {
	.in = { IN("83b8f4f2-509f-\00082f-3c1e-e6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, nul_after) {
	.in = { IN(U "\0") },
};

FIXTURE_VARIANT_ADD(create_input, nul_before_newline) {
	.in = { IN(U "\0\n") },
};

FIXTURE_VARIANT_ADD(create_input, nul_after_newline) {
	.in = { IN(U "\n\0") },
};

FIXTURE_VARIANT_ADD(create_input, leading_space) {
	.in = { IN(" " U) },
};

FIXTURE_VARIANT_ADD(create_input, trailing_space) {
	.in = { IN(U " ") },
};

FIXTURE_VARIANT_ADD(create_input, trailing_space_newline) {
	.in = { IN(U "\x20\n") },
};

FIXTURE_VARIANT_ADD(create_input, space_for_dash) {
	.in = { IN("83b8f4f2 509f-382f-3c1e-e6bfe0fa1001") },
};

FIXTURE_VARIANT_ADD(create_input, two_newlines) {
	.in = { IN(U "\n\n") },
};

FIXTURE_VARIANT_ADD(create_input, leading_newline) {
	.in = { IN("\n" U) },
};

FIXTURE_VARIANT_ADD(create_input, crlf) {
	.in = { IN(U "\r\n") },
};

FIXTURE_VARIANT_ADD(create_input, trailing_tab) {
	.in = { IN(U "\t") },
};

FIXTURE_VARIANT_ADD(create_input, braces) {
	.in = { IN("{" U "}") },
};

FIXTURE_VARIANT_ADD(create_input, braces_newline) {
	.in = { IN("{" U "}\n") },
};

FIXTURE_VARIANT_ADD(create_input, urn_prefix) {
	.in = { IN("urn:uuid:" U) },
};

FIXTURE_VARIANT_ADD(create_input, hex_prefix) {
	.in = { IN("0x" U) },
};

FIXTURE_VARIANT_ADD(create_input, plus_sign) {
	.in = { IN("+83b8f4f2-509f-382f-3c1e-e6bfe0fa100") },
};

FIXTURE_VARIANT_ADD(create_input, two_uuids) {
	.in = { IN(U " " U) },
};

FIXTURE_VARIANT_ADD(create_input, two_uuids_lines) {
	.in = { IN(U "\n" U "\n") },
};

FIXTURE_VARIANT_ADD(create_input, non_ascii) {
	.in = { IN("83b8f4f2-509f-382f-3c1e-e6bfe0fa10\xc3\xa9") },
};

FIXTURE_VARIANT_ADD(create_input, only_newline) {
	.in = { IN("\n") },
};

FIXTURE_VARIANT_ADD(create_input, empty) {
	.in = { IN(""), .empty = true },
};

FIXTURE_VARIANT_ADD(create_input, page_of_hex) {
	.in = { IN(""), .fill = 'a', .fill_len = 4096 },
};

FIXTURE_VARIANT_ADD(create_input, uuid_then_page) {
	.in = { IN(U), .fill = '\n', .fill_len = 6000 },
};

FIXTURE_SETUP(create_input)
{
	ASSERT_EQ(0, test_module_reload(""));
	self->len = build_input(&variant->in, &self->buf);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(create_input)
{
	free(self->buf);
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(create_input, rejected)
{
	char path[PATH_MAX];
	unsigned int p, t;
	int ret;

	for (p = 0; p < 2; p++) {
		for (t = 0; t < 3; t++) {
			ret = sysfs_write(type_path(path, p, t, "create"),
					  self->buf, self->len);
			EXPECT_TRUE(rejected(&variant->in, ret, -EINVAL))
				TH_LOG("mdev_test%u/t%u: %d", p, t, ret);
			EXPECT_EQ(0, mdev_count());
			EXPECT_EQ(0, type_devices(p, t));
		}
	}
	EXPECT_FALSE(mdev_exists(U));
	EXPECT_EQ(4, type_available(0, 0));
	EXPECT_EQ(2, type_available(0, 1));
	EXPECT_EQ(1, type_available(1, 2));

	/* The type still works after the bad writes. */
	EXPECT_EQ(0, mdev_create(0, 2, U));
	EXPECT_TRUE(mdev_exists(U));
	EXPECT_EQ(0, type_available(0, 2));
}

/* Well-formed UUIDs in every accepted spelling. */
FIXTURE(create_valid) {
};

FIXTURE_VARIANT(create_valid) {
	struct input in;
	const char *name;
};

FIXTURE_VARIANT_ADD(create_valid, lowercase) {
	.in = { IN("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001") },
	.name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
};

FIXTURE_VARIANT_ADD(create_valid, lowercase_newline) {
	.in = { IN("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n") },
	.name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
};

FIXTURE_VARIANT_ADD(create_valid, uppercase) {
	.in = { IN("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001") },
	.name = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001",
};

FIXTURE_VARIANT_ADD(create_valid, uppercase_newline) {
	.in = { IN("ABCDEF01-2345-6789-ABCD-EF0123456789\n") },
	.name = "abcdef01-2345-6789-abcd-ef0123456789",
};

FIXTURE_VARIANT_ADD(create_valid, mixed_case) {
	.in = { IN("aBcDeF01-2345-6789-AbCd-eF0123456789") },
	.name = "abcdef01-2345-6789-abcd-ef0123456789",
};

FIXTURE_VARIANT_ADD(create_valid, nil_uuid) {
	.in = { IN("00000000-0000-0000-0000-000000000000\n") },
	.name = "00000000-0000-0000-0000-000000000000",
};

FIXTURE_VARIANT_ADD(create_valid, all_f) {
	.in = { IN("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF") },
	.name = "ffffffff-ffff-ffff-ffff-ffffffffffff",
};

FIXTURE_SETUP(create_valid)
{
	ASSERT_EQ(0, test_module_reload(""));
}

FIXTURE_TEARDOWN(create_valid)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(create_valid, accepted)
{
	char path[PATH_MAX], upper[UUID_STR_LEN];

	ASSERT_EQ((int)variant->in.len,
		  sysfs_write(type_path(path, 0, 0, "create"),
			      variant->in.data, variant->in.len));
	EXPECT_TRUE(mdev_exists(variant->name));
	EXPECT_EQ(1, mdev_count());
	EXPECT_EQ(1, type_devices(0, 0));
	EXPECT_TRUE(is_symlink(type_link_path(path, 0, 0, variant->name)));
	EXPECT_EQ(3, type_available(0, 0));

	/* The name is the lowercase form only. */
	snprintf(upper, sizeof(upper), "%s", variant->name);
	str_upper(upper);
	if (strcmp(upper, variant->name))
		EXPECT_FALSE(mdev_exists(upper));

	EXPECT_EQ(0, mdev_remove(variant->name));
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(4, type_available(0, 0));
}

/* Non-integers written to "remove": EINVAL, the instance stays. */
FIXTURE(remove_input) {
	char uuid[UUID_STR_LEN];
	char *buf;
	size_t len;
};

FIXTURE_VARIANT(remove_input) {
	struct input in;
};

FIXTURE_VARIANT_ADD(remove_input, word) {
	.in = { IN("yes") },
};

FIXTURE_VARIANT_ADD(remove_input, letters) {
	.in = { IN("abc\n") },
};

FIXTURE_VARIANT_ADD(remove_input, trailing_letter) {
	.in = { IN("1a") },
};

FIXTURE_VARIANT_ADD(remove_input, only_newline) {
	.in = { IN("\n") },
};

FIXTURE_VARIANT_ADD(remove_input, leading_space) {
	.in = { IN(" 1") },
};

FIXTURE_VARIANT_ADD(remove_input, trailing_space) {
	.in = { IN("1 ") },
};

FIXTURE_VARIANT_ADD(remove_input, decimal_point) {
	.in = { IN("1.0") },
};

FIXTURE_VARIANT_ADD(remove_input, two_newlines) {
	.in = { IN("1\n\n") },
};

FIXTURE_VARIANT_ADD(remove_input, hex_prefix_only) {
	.in = { IN("0x") },
};

FIXTURE_VARIANT_ADD(remove_input, two_numbers) {
	.in = { IN("1 1") },
};

FIXTURE_VARIANT_ADD(remove_input, trailing_comma) {
	.in = { IN("1,") },
};

FIXTURE_VARIANT_ADD(remove_input, trailing_tab) {
	.in = { IN("1\t") },
};

FIXTURE_VARIANT_ADD(remove_input, minus_only) {
	.in = { IN("-") },
};

FIXTURE_VARIANT_ADD(remove_input, uuid) {
	.in = { IN(U) },
};

FIXTURE_VARIANT_ADD(remove_input, empty) {
	.in = { IN(""), .empty = true },
};

FIXTURE_SETUP(remove_input)
{
	ASSERT_EQ(0, test_module_reload(""));
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mdev_create(0, 1, self->uuid));
	self->len = build_input(&variant->in, &self->buf);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(remove_input)
{
	free(self->buf);
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(remove_input, rejected)
{
	char path[PATH_MAX];
	int ret;

	ret = sysfs_write(mdev_path(path, self->uuid, "remove"), self->buf,
			  self->len);
	EXPECT_TRUE(rejected(&variant->in, ret, -EINVAL))
		TH_LOG("write returned %d", ret);
	EXPECT_TRUE(mdev_exists(self->uuid));
	EXPECT_EQ(1, mdev_count());
	EXPECT_EQ(1, type_available(0, 1));

	/* Still removable. */
	EXPECT_EQ(0, mdev_remove(self->uuid));
	EXPECT_FALSE(mdev_exists(self->uuid));
	EXPECT_EQ(2, type_available(0, 1));
}

/* Integers written to "remove": non-zero removes, zero does nothing. */
FIXTURE(remove_value) {
	char uuid[UUID_STR_LEN];
};

FIXTURE_VARIANT(remove_value) {
	struct input in;
	bool removes;
};

FIXTURE_VARIANT_ADD(remove_value, one) {
	.in = { IN("1") },
	.removes = true,
};

FIXTURE_VARIANT_ADD(remove_value, one_newline) {
	.in = { IN("1\n") },
	.removes = true,
};

FIXTURE_VARIANT_ADD(remove_value, two) {
	.in = { IN("2") },
	.removes = true,
};

FIXTURE_VARIANT_ADD(remove_value, forty_two_newline) {
	.in = { IN("42\n") },
	.removes = true,
};

FIXTURE_VARIANT_ADD(remove_value, zero) {
	.in = { IN("0") },
	.removes = false,
};

FIXTURE_VARIANT_ADD(remove_value, zero_newline) {
	.in = { IN("0\n") },
	.removes = false,
};

FIXTURE_SETUP(remove_value)
{
	ASSERT_EQ(0, test_module_reload(""));
	uuid_gen(self->uuid);
	ASSERT_EQ(0, mdev_create(1, 0, self->uuid));
}

FIXTURE_TEARDOWN(remove_value)
{
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(remove_value, written)
{
	char path[PATH_MAX];

	EXPECT_EQ((int)variant->in.len,
		  sysfs_write(mdev_path(path, self->uuid, "remove"),
			      variant->in.data, variant->in.len));
	/* The write returns once the instance is gone: no waiting. */
	EXPECT_EQ(!variant->removes, mdev_exists(self->uuid));
	EXPECT_EQ(!variant->removes, mdev_count());
	EXPECT_EQ(!variant->removes, type_devices(1, 0));
	EXPECT_EQ(variant->removes ? 4 : 3, type_available(1, 0));
	if (variant->removes)
		EXPECT_FALSE(path_exists(path));
}

/* Strings written to a type's "version": a count, EINVAL or EPROTO. */
FIXTURE(version_input) {
	char *buf;
	size_t len;
};

FIXTURE_VARIANT(version_input) {
	struct input in;
	int err;	/* 0: compatible */
};

FIXTURE_VARIANT_ADD(version_input, own) {
	.in = { IN(VER) },
};

FIXTURE_VARIANT_ADD(version_input, own_newline) {
	.in = { IN(VER "\n") },
};

FIXTURE_VARIANT_ADD(version_input, own_uppercase_hex) {
	.in = { IN("00021B36-mtest-1") },
};

FIXTURE_VARIANT_ADD(version_input, own_uppercase_hex_newline) {
	.in = { IN("00021B36-mtest-1\n") },
};

FIXTURE_VARIANT_ADD(version_input, accepted) {
	.in = { IN("00021b36-mtest-0") },
};

FIXTURE_VARIANT_ADD(version_input, accepted_newline) {
	.in = { IN("00021b36-mtest-0\n") },
};

FIXTURE_VARIANT_ADD(version_input, other_vendor_id) {
	.in = { IN("00021b37-mtest-1") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, other_device_api) {
	.in = { IN("00041b36-mtest-1") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, ccw_device_api) {
	.in = { IN("00101b36-mtest-1\n") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, zero_common) {
	.in = { IN("00000000-mtest-1") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, other_vendor_part) {
	.in = { IN("00021b36-mtest-2") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, vendor_part_prefix) {
	.in = { IN("00021b36-mtest-") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, vendor_part_longer) {
	.in = { IN("00021b36-mtest-10") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, vendor_part_case) {
	.in = { IN("00021b36-MTEST-1") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, accept_list_itself) {
	.in = { IN("00021b36-mtest-1,mtest-0") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, one_char_vendor) {
	.in = { IN("00021b36-x") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, dash_vendor) {
	.in = { IN("00021b36--") },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, longest_vendor) {
	.in = { IN("00021b36-"), .fill = 'a', .fill_len = 119 },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, longest_vendor_newline) {
	.in = { IN("00021b36-"), .fill = 'a', .fill_len = 119, .suffix = "\n" },
	.err = -EPROTO,
};

FIXTURE_VARIANT_ADD(version_input, vendor_too_long) {
	.in = { IN("00021b36-"), .fill = 'a', .fill_len = 120 },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, page_long) {
	.in = { IN(VER), .fill = 'a', .fill_len = 4080 },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, only_newline) {
	.in = { IN("\n") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, empty) {
	.in = { IN(""), .empty = true },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, seven_digits) {
	.in = { IN("0021b36-mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, nine_digits) {
	.in = { IN("000021b36-mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, no_dash) {
	.in = { IN("00021b36mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, colon) {
	.in = { IN("00021b36:mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, no_vendor) {
	.in = { IN("00021b36-") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, no_vendor_newline) {
	.in = { IN("00021b36-\n") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, common_only) {
	.in = { IN("00021b36") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, non_hex_common) {
	.in = { IN("0002zb36-mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, hex_prefix) {
	.in = { IN("0x021b36-mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, minus_common) {
	.in = { IN("-0021b36-mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, space_in_common) {
	.in = { IN(" 0021b36-mtest-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, leading_space) {
	.in = { IN(" " VER) },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, space_in_vendor) {
	.in = { IN("00021b36-mtest 1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, trailing_space) {
	.in = { IN(VER " ") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, two_newlines) {
	.in = { IN(VER "\n\n") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, crlf) {
	.in = { IN(VER "\r\n") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, trailing_tab) {
	.in = { IN(VER "\t") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, trailing_nul) {
	.in = { IN(VER "\0") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, nul_inside) {
	.in = { IN("00021b36-mt\0est-1") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, del_char) {
	.in = { IN("00021b36-mtest-\x7f") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, non_ascii) {
	.in = { IN("00021b36-mt\xc3\xa9st") },
	.err = -EINVAL,
};

FIXTURE_VARIANT_ADD(version_input, newline_inside) {
	.in = { IN("00021b36-mtest\n-1") },
	.err = -EINVAL,
};

FIXTURE_SETUP(version_input)
{
	ASSERT_EQ(0, test_module_reload("version_mask=0x1"));
	self->len = build_input(&variant->in, &self->buf);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(version_input)
{
	free(self->buf);
	EXPECT_EQ(0, test_module_unload_wait());
}

TEST_F(version_input, written)
{
	char path[PATH_MAX], buf[256];
	int ret;

	ret = sysfs_write(type_path(path, 0, 0, "version"), self->buf,
			  self->len);
	if (variant->err) {
		EXPECT_TRUE(rejected(&variant->in, ret, variant->err))
			TH_LOG("expected %d, got %d", variant->err, ret);
	} else {
		EXPECT_EQ((int)self->len, ret);
	}

	/* A write changes nothing. */
	EXPECT_EQ((int)strlen(VER "\n"), sysfs_read(path, buf, sizeof(buf)));
	EXPECT_STREQ(VER "\n", buf);
	EXPECT_EQ(4, type_available(0, 0));
	EXPECT_EQ(0, mdev_count());
	EXPECT_EQ(0644, file_mode(path));
}

TEST_HARNESS_MAIN
