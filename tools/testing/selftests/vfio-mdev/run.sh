#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh: runs every vfio-mdev selftest in turn, inside the test VM
# (tools/testing/vm/run -- tools/testing/selftests/vfio-mdev/run.sh), and
# counts the individual TAP results of all of them.  The last line is exactly
# "N passed, N failed", with ", N skipped" appended when tests were skipped;
# the exit status is non-zero when anything failed.
#
# Usage: run.sh [test ...]   (default: all of them, in the order below)
#
# "<program>@pci" runs <program> with MGPU_PARENTS=pci: the mgpu tests then
# use the test VM's PCI functions as GPUs instead of virtual GPUs (see
# mgpu_lib.h), so the whole mgpu suite runs against both kinds of parent.
#
# Each program's output goes to $RESULTS/vfio-mdev/<test>.log when RESULTS is
# set.  A program that dies before reporting all the cases of its plan counts
# the missing ones as failed.

set -u

dir=$(cd "$(dirname "$0")" && pwd -P)

# The modules next to the binaries, unless the caller says otherwise.  The
# mgpu_* tests load mgpu.ko ($MGPU_MODULE, default samples/vfio-mdev/mgpu/
# in this tree) themselves when the VM runner did not, and unload it again.
export MDEV_TEST_MODULE=${MDEV_TEST_MODULE:-$dir/test_mdev.ko}
export MDEV_CORE_MODULE=${MDEV_CORE_MODULE:-$(cd "$dir/../../../.." && pwd -P)/drivers/vfio/mdev/mdev.ko}

all_tests="sysfs_test input_test uuid_test capacity_test race_test uevent_test
	vfio_test usage_test lifecycle_test mdevctl_test.sh
	mgpu_test mgpu_placement_test mgpu_display_test mgpu_migration_test
	mgpu_pci_test mgpu_engine_test iommufd_test mgpu_test@pci mgpu_engine_test@pci mgpu_placement_test@pci
	mgpu_display_test@pci mgpu_migration_test@pci
	fail_nth_test fail_nth_module_test stress_test
	qemu/qemu_e2e_test.py qemu/migration_test.py qemu/libvirt_test.py
	qemu/guest_boot_test.py"
# MDEV_PCI_REPEATS=0 leaves the <program>@pci repeats out of the default list
# and MDEV_SKIP_TESTS the programs it names (CI's debug-kernel run, for time:
# the @pci repeats run mgpu tests again on PCI parents, which every other run
# covers, and mgpu_pci_test still runs).
all_tests=$(for t in $all_tests; do
	case $t in *@pci) [ "${MDEV_PCI_REPEATS:-1}" != 0 ] || continue ;; esac
	case " ${MDEV_SKIP_TESTS:-} " in *" $t "*) continue ;; esac
	echo "$t"
done)
tests=${*:-$all_tests}
# Per program: the harness has its own per-case timeouts; this is a backstop.
prog_timeout=${MDEV_TEST_TIMEOUT:-1200}

if [ -n "${RESULTS:-}" ] && mkdir -p "$RESULTS/vfio-mdev" 2>/dev/null; then
	logdir=$RESULTS/vfio-mdev
else
	logdir=$(mktemp -d)
fi

# The QEMU end-to-end tests use mgpu instances but, unlike the C mgpu tests,
# do not load the module themselves.
mgpu_module=${MGPU_MODULE:-$(cd "$dir/../../../.." && pwd -P)/samples/vfio-mdev/mgpu/mgpu.ko}

needs_mgpu_loaded() {
	case $1 in qemu/*) [ ! -d /sys/module/mgpu ] ;; *) false ;; esac
}

# The QEMU and libvirt tests also use PCI GPUs when the VM has the stand-in
# functions (tools/testing/vm/run adds them): mgpu gets them through
# driver_override, and gives them back when it is unloaded.
pci_gpus="/sys/bus/pci/devices/0000:00:10.0 /sys/bus/pci/devices/0000:00:11.0"

give_pci_gpu() {
	local fn

	for fn in $pci_gpus; do
		[ -e "$fn/driver_override" ] || continue
		echo mgpu > "$fn/driver_override" &&
			echo "${fn##*/}" > /sys/bus/pci/drivers_probe
	done
}

take_back_pci_gpu() {
	local fn

	for fn in $pci_gpus; do
		[ -e "$fn/driver_override" ] && echo > "$fn/driver_override"
	done
}

passed=0
failed=0
skipped=0

for t in $tests; do
	log=$logdir/${t//\//_}.log
	prog=${t%@pci}
	parents=virtual
	[ "$prog" = "$t" ] || parents=pci
	loaded_mgpu=
	if needs_mgpu_loaded "$t"; then
		insmod "$mgpu_module" && loaded_mgpu=1
		give_pci_gpu
	fi
	echo "# ===== $t"
	if [ ! -x "$dir/$prog" ]; then
		echo "# $t: not built (make selftests)"
		failed=$((failed + 1))
		continue
	fi
	start=$(date +%s)
	MGPU_PARENTS=$parents timeout "$prog_timeout" "$dir/$prog" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	echo "# $t: took $(($(date +%s) - start)) s"

	p=$(grep -cE '^ok [0-9]+' "$log")
	# "ok 3 # SKIP why" (the C harness), "ok 3 - name # SKIP why" (Python)
	s=$(grep -cE '^ok [0-9]+( .*)? # SKIP' "$log")
	f=$(grep -cE '^not ok [0-9]+' "$log")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
	p=$((p - s))
	missing=0
	if [ -n "$plan" ] && [ "$plan" -gt $((p + s + f)) ]; then
		missing=$((plan - p - s - f))
		echo "# $t: $missing of $plan planned cases did not report (exit $rc)"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Failed without a failing case: crashed before its plan, timed out.
		missing=1
		echo "# $t: exit status $rc without a failed case"
	fi
	echo "# $t: $p passed, $((f + missing)) failed, $s skipped"
	passed=$((passed + p))
	failed=$((failed + f + missing))
	skipped=$((skipped + s))
	if [ -n "$loaded_mgpu" ]; then
		rmmod mgpu
		take_back_pci_gpu
	fi
done

summary="$passed passed, $failed failed"
if [ "$skipped" -gt 0 ]; then
	summary="$summary, $skipped skipped"
fi
echo "$summary"
[ "$failed" -eq 0 ]
