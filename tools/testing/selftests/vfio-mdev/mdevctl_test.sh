#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mdevctl_test.sh: mdevctl (the management tool libvirt and users drive)
# against the mdev core and test_mdev: types, start, list, stop, and its
# errors.  TAP output, one line per check.  Needs root, the core loaded and
# test_mdev not loaded; loads and unloads test_mdev itself.

set -u

dir=$(cd "$(dirname "$0")" && pwd -P)
module=${MDEV_TEST_MODULE:-$dir/test_mdev.ko}
sys_types=/sys/class/mdev_bus/mdev_test0/mdev_supported_types
num=0
failed=0

ok() {
	num=$((num + 1))
	echo "ok $num $1"
}

not_ok() {
	num=$((num + 1))
	failed=$((failed + 1))
	echo "not ok $num $1"
}

# check DESCRIPTION COMMAND...: one test case, passing when COMMAND succeeds.
check() {
	local desc=$1

	shift
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc"
	fi
}

skip() {
	num=$((num + 1))
	echo "ok $num # SKIP $1"
}

avail() {
	cat "$sys_types/$1/available_instances"
}

cleanup() {
	if [ -d /sys/module/test_mdev ]; then
		rmmod test_mdev 2>/dev/null
	fi
	rm -f "$out"
}

gen_uuid() {
	cat /proc/sys/kernel/random/uuid
}

# The type's block in "mdevctl types": from its name to the next type.
type_block() {
	awk -v t="$1" '$1 == t { on = 1; next } /^  [^ ]/ { on = 0 } on' "$out"
}

# Checks, each a function so that "check" runs it as one test case.
types_run() {
	mdevctl types >"$out"
}

types_parents() {
	grep -qx 'mdev_test0' "$out" && grep -qx 'mdev_test1' "$out"
}

types_all_types() {
	test "$(grep -cE '^  mdev_test-t[0-2]$' "$out")" -eq 6
}

types_counts() {
	type_block mdev_test-t0 | grep -q 'Available instances: 4' &&
		type_block mdev_test-t0 | grep -q 'Device API: vfio-pci' &&
		type_block mdev_test-t1 | grep -q 'Available instances: 2' &&
		type_block mdev_test-t2 | grep -q 'Available instances: 1'
}

types_names() {
	type_block mdev_test-t0 | grep -q 'Name: Test type 0' &&
		type_block mdev_test-t0 | grep -q 'Description: capacity=4 usage=Y'
}

started() {
	test -L "/sys/bus/mdev/devices/$1/mdev_type" &&
		test "$(readlink -f "/sys/bus/mdev/devices/$1/mdev_type")" = \
		     "$(readlink -f "$sys_types/$2")"
}

types_count_now() {
	mdevctl types -p mdev_test0 >"$out" &&
		type_block mdev_test-t0 | grep -q "Available instances: $1"
}

listed() {
	mdevctl list | grep -qE "^$1 +mdev_test0 +$2"
}

not_listed() {
	! mdevctl list | grep -q "$1"
}

fails() {
	! "$@" 2>/dev/null
}

nothing_new() {
	test "$(find /sys/bus/mdev/devices -mindepth 1 -maxdepth 1 | wc -l)" -eq "$1" &&
		test "$(cat /sys/class/mdev_bus/mdev_test1/mdev_supported_types/mdev_test-t0/available_instances)" = 4
}

gone() {
	test ! -e "/sys/bus/mdev/devices/$1" && test "$(avail "$2")" = "$3"
}

echo "TAP version 13"

if ! command -v mdevctl >/dev/null; then
	skip "mdevctl is not installed"
	echo "1..$num"
	exit 0
fi

out=$(mktemp)
trap cleanup EXIT

if [ -d /sys/module/test_mdev ]; then
	rmmod test_mdev
fi
check "insmod test_mdev" insmod "$module" parents=2 capacity=4,2,1
if [ "$failed" -ne 0 ]; then
	echo "1..$num"
	exit 1
fi

uuid=$(gen_uuid)
uuid2=$(gen_uuid)
uuid3=$(gen_uuid)

check "mdevctl types runs" types_run
check "types lists both parents" types_parents
check "types lists every type of both parents" types_all_types
check "types shows available instances and device API" types_counts
check "types shows name and description" types_names

check "start -u -p -t" mdevctl start -u "$uuid" -p mdev_test0 -t mdev_test-t0
check "started device is in sysfs with its type" started "$uuid" mdev_test-t0
check "available instances decremented" test "$(avail mdev_test-t0)" = 3
check "types shows the new count" types_count_now 3
check "list shows the device" listed "$uuid" mdev_test-t0

check "start with a UUID in use fails" \
	fails mdevctl start -u "$uuid" -p mdev_test1 -t mdev_test-t0
check "the failed start created nothing" nothing_new 1
check "start takes the last slot" \
	mdevctl start -u "$uuid2" -p mdev_test0 -t mdev_test-t2
check "start on a full type fails" \
	fails mdevctl start -u "$uuid3" -p mdev_test0 -t mdev_test-t2
check "the failed start created nothing" nothing_new 2

check "stop -u" mdevctl stop -u "$uuid"
check "stopped device is gone, count restored" gone "$uuid" mdev_test-t0 4
check "list no longer shows it" not_listed "$uuid"
check "list still shows the other" listed "$uuid2" mdev_test-t2
check "stop of an unknown UUID fails" fails mdevctl stop -u "$uuid3"
check "stop the other" mdevctl stop -u "$uuid2"
check "the other is gone, count restored" gone "$uuid2" mdev_test-t2 1
check "rmmod test_mdev" rmmod test_mdev

echo "1..$num"
[ "$failed" -eq 0 ]
