# SPDX-License-Identifier: GPL-2.0-only
#
# Makefile: the project's entry points.  Builds the modules out of tree with
# kbuild, lints them, and runs the tests and the demo in a QEMU VM (the host
# never loads a module).
#
#   make            build every module against $(KDIR)
#   make lint       checkpatch --strict, sparse, a W=1 -Werror build, kernel-doc
#   make lint-all   make lint against every installed kernel (6.1 and 6.12)
#   make check      build + lint + every kselftest in the VM
#   make check-debug  every kselftest in the VM on the debug kernel (KASAN, lockdep ...)
#   make check-dkms dkms build of the modules for every installed kernel
#   make dkms-src   the sources dkms needs, in build/dkms/src (README.md)
#   make demo       the demo, in the VM
#   make bench      performance side by side with the upstream mdev core and
#                   samples, in one VM boot (Documentation/bench.rst)
#   make vm         an interactive shell in the VM
#   make clean

# The kernel to build against and boot: the one Debian's linux-headers-amd64
# metapackage points at (the distribution's default kernel: 6.1 on
# bookworm), else the running kernel when it has a build directory, else
# the newest installed linux-headers-*-amd64.  Never a hard-coded version,
# so that a Debian point release does not break CI, and never "the newest"
# first, so that installing a second kernel (6.12) changes nothing until
# KVER=... asks for it.
DEFAULT_KVER := $(shell dpkg-query -W -f='$${Depends}' linux-headers-amd64 2>/dev/null | \
	sed -n 's/^linux-headers-\([^ ,]*\).*/\1/p' | grep . || \
	if [ -d /lib/modules/$$(uname -r)/build ]; then uname -r; \
	else ls -v /usr/src 2>/dev/null | \
	sed -n 's/^linux-headers-\(.*-amd64\)$$/\1/p' | tail -n 1; fi)
ifeq ($(origin KVER),undefined)
KVER := $(DEFAULT_KVER)
endif
KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build) /usr/src/linux-headers-$(KVER))
export KVER

# Every installed kernel the VM can boot and the modules can build for (a
# /boot/vmlinuz and a build directory), oldest first: what lint-all,
# check-dkms and CI go through.  "make kvers" prints them.
KVERS := $(shell ls -v /lib/modules 2>/dev/null | while read -r v; do \
	[ -r /boot/vmlinuz-$$v ] && [ -d /lib/modules/$$v/build ] && echo $$v; done)

# The kernel source package: checkpatch, sparse helpers, kernel-doc and the
# kselftest harness come from it.  Unpacked once into build/.
BUILD := $(CURDIR)/build
# The source of the same series as KVER (6.1.0-57-amd64 -> linux-source-6.1).
KSERIES := $(shell echo $(KVER) | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
SRC_TARBALL ?= $(wildcard /usr/src/linux-source-$(KSERIES).tar.xz)
KSRC ?= $(BUILD)/linux-source-$(KSERIES)
KSRC_STAMP := $(KSRC)/.unpacked

# The selftests are user space: one build serves every kernel.  They use the
# kselftest harness of the default kernel's series (they read its
# _metadata->passed and ->skip, which 6.12's harness no longer has) and the
# uAPI headers of the newest installed source (bookworm's linux-libc-dev has
# neither iommufd nor the VFIO device cdev), so the same binaries run on 6.1,
# skipping what it lacks, and on 6.12.
HARNESS_SERIES := $(shell echo $(DEFAULT_KVER) | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
HARNESS_KSRC := $(BUILD)/linux-source-$(HARNESS_SERIES)
UAPI_TARBALL := $(lastword $(shell ls -v /usr/src/linux-source-*.tar.xz 2>/dev/null))
UAPI_KSRC := $(BUILD)/$(basename $(basename $(notdir $(UAPI_TARBALL))))
UAPI := $(BUILD)/uapi

# Our Kconfig symbols, switched on for the out-of-tree build.
KCONFIG_OPTS := CONFIG_VFIO_MDEV=m CONFIG_SAMPLE_VFIO_MDEV_MGPU=m \
		CONFIG_TEST_VFIO_MDEV=m
KBUILD := $(MAKE) -C $(KDIR) M=$(CURDIR) $(KCONFIG_OPTS)

SELFTESTS := tools/testing/selftests/vfio-mdev
VM := tools/testing/vm/run

# Every C source and header of the project; the kernel-side ones (modules
# and include/) also go through kernel-doc.
SOURCES = $(shell git ls-files -co --exclude-standard -- '*.[ch]' 2>/dev/null)
KERNEL_SOURCES = $(filter drivers/% samples/% include/% \
	$(SELFTESTS)/test_%.c,$(SOURCES))

.PHONY: all modules selftests lint lint-all checkpatch sparse werror kerneldoc kvers \
	deps check demo bench vm clean source debug-kernel debug-modules kver \
	check-debug dkms-src check-dkms

all: modules selftests

modules:
	$(KBUILD) modules

# Any linux-source-X.Y, unpacked once into build/linux-source-X.Y.
$(BUILD)/linux-source-%/.unpacked:
	@test -r /usr/src/linux-source-$*.tar.xz || { echo "/usr/src/linux-source-$*.tar.xz missing: apt-get install linux-source-$*" >&2; exit 1; }
	mkdir -p $(BUILD)
	tar -C $(BUILD) -xJf /usr/src/linux-source-$*.tar.xz
	touch $@

source: $(KSRC_STAMP)

# Out of the source tree (O=): build-debug-kernel builds from the same source
# and kbuild refuses an O= build of a tree that was built in.
$(UAPI)/.installed: $(UAPI_KSRC)/.unpacked
	$(MAKE) -s -C $(UAPI_KSRC) O=$(BUILD)/uapi-obj headers_install \
		INSTALL_HDR_PATH=$(UAPI)
	echo $(UAPI_KSRC) > $@

selftests: $(HARNESS_KSRC)/.unpacked $(UAPI)/.installed
	$(MAKE) -C $(SELFTESTS) KSFT_DIR=$(HARNESS_KSRC)/tools/testing/selftests \
		KHDR_INCLUDES="-isystem $(UAPI)/include"

kvers:
	@echo $(KVERS)

kver:
	@echo $(KVER)

lint: checkpatch sparse werror kerneldoc

# make lint against every installed kernel (KVERS), then the modules again
# for KVER, so that the repo's .ko files stay the ones the VM boots with.
lint-all:
	set -e; for v in $(KVERS); do $(MAKE) KVER=$$v lint; done
	+$(MAKE) modules

# The one header that compares kernel versions (include/linux/mdev_compat.h)
# is exempt from the checks against doing so, and from CONST_STRUCT for the
# bus type that may only be const on newer kernels; nothing else is.
COMPAT_HEADER := include/linux/mdev_compat.h
CHECKPATCH = $(KSRC)/scripts/checkpatch.pl --strict --no-tree --quiet \
	--show-types

checkpatch: $(KSRC_STAMP)
	$(CHECKPATCH) --ignore FILE_PATH_CHANGES \
		-f $(filter-out $(COMPAT_HEADER),$(SOURCES))
	$(CHECKPATCH) --ignore FILE_PATH_CHANGES,LINUX_VERSION_CODE \
		--ignore CONSTANT_COMPARISON,CONST_STRUCT -f $(COMPAT_HEADER)

# sparse checks every file (C=2), rebuilt or not; any line it prints about
# our sources fails.  Neither check runs "clean": kbuild's clean of an
# external module deletes every .ko under the repo, build/ included (the
# cached debug kernel's modules and build/debug-modules), and kbuild
# recompiles by itself when W=1 or KCFLAGS change a command line.
sparse:
	$(KBUILD) C=2 modules 2>&1 | tee $(BUILD)/sparse.log
	@! grep -E '^$(CURDIR)/.*: (warning|error):' $(BUILD)/sparse.log

werror:
	$(KBUILD) W=1 KCFLAGS=-Werror modules

# kernel-doc must parse every comment without a warning, and every exported
# symbol must have one.
kerneldoc: $(KSRC_STAMP)
	$(KSRC)/scripts/kernel-doc -Werror -none $(KERNEL_SOURCES)
	@tools/testing/check-exports-documented $(KERNEL_SOURCES)

# check and demo work on a fresh machine: they install the Debian packages
# first, then start a new make that sees the kernel headers just installed.
deps:
	tools/testing/install-deps

check: deps
	+$(MAKE) lint
	+$(MAKE) all
	tools/testing/run-checks

# The debug kernel (tools/testing/vm/README.rst) and our modules built against it in
# a copy, build/debug-modules, so that the repo's .ko files for the Debian kernel stay.
# It is built from the newest installed linux-source (6.12, whose fragment
# adds IOMMUFD and the VFIO device cdev); DEBUG_KSERIES=6.1 for the other.
DEBUG_KSERIES ?= $(shell ls -v /usr/src 2>/dev/null | \
	sed -n 's/^linux-source-\([0-9]*\.[0-9]*\)\.tar\.xz$$/\1/p' | tail -n 1)
DEBUG_KDIR := $(BUILD)/debug-kernel/build
DEBUG_MODULES := $(BUILD)/debug-modules

debug-kernel:
	tools/testing/vm/build-debug-kernel --series $(DEBUG_KSERIES)

debug-modules: debug-kernel
	mkdir -p $(DEBUG_MODULES)
	git ls-files -co --exclude-standard -- Kbuild drivers samples include \
		$(SELFTESTS)/Kbuild '$(SELFTESTS)/test_*.c' | \
		while read -r f; do [ ! -f "$$f" ] || echo "$$f"; done | \
		cpio -pdmu --quiet $(DEBUG_MODULES)
	$(MAKE) -C $(DEBUG_KDIR) M=$(DEBUG_MODULES) $(KCONFIG_OPTS) KCFLAGS=-g modules

check-debug: deps
	+$(MAKE) debug-modules selftests
	MDEV_CHECK_LOG=build/check-debug.log \
		tools/testing/run-checks --kernel debug --modules-tree $(DEBUG_MODULES)

# DKMS (dkms.conf): the sources it needs, staged in build/dkms/src, and a
# build for every installed kernel in a private dkms tree (nothing goes to
# /usr/src, /var/lib/dkms or /lib/modules).
DKMS_NAME := $(shell sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' dkms.conf)
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC := $(BUILD)/dkms/src/$(DKMS_NAME)-$(DKMS_VERSION)
DKMS_TREE := $(BUILD)/dkms/tree
DKMS_PRIVATE := --dkmstree $(DKMS_TREE) --sourcetree $(BUILD)/dkms/src

dkms-src:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	git ls-files -co --exclude-standard -- dkms.conf LICENSE Kbuild \
		drivers samples/vfio-mdev include $(SELFTESTS)/Kbuild | \
		while read -r f; do [ ! -f "$$f" ] || echo "$$f"; done | \
		cpio -pdmu --quiet $(DKMS_SRC)

check-dkms: dkms-src
	rm -rf $(DKMS_TREE)
	mkdir -p $(DKMS_TREE)
	dkms add -m $(DKMS_NAME) -v $(DKMS_VERSION) $(DKMS_PRIVATE)
	set -e; for v in $(KVERS); do \
		dkms build -m $(DKMS_NAME) -v $(DKMS_VERSION) -k $$v $(DKMS_PRIVATE); \
		for m in mdev mgpu; do \
			ko=$$(find $(DKMS_TREE)/$(DKMS_NAME)/$(DKMS_VERSION)/$$v -name "$$m.ko*" | head -n 1); \
			test -n "$$ko" || { echo "check-dkms: no $$m.ko for $$v" >&2; exit 1; }; \
			modinfo -F vermagic "$$ko" | grep -q "^$$v " || \
				{ echo "check-dkms: $$ko is not for $$v" >&2; exit 1; }; \
		done; \
		echo "check-dkms: $(DKMS_NAME)/$(DKMS_VERSION) builds for $$v"; \
	done

demo: deps
	+$(MAKE) modules
	tools/testing/demo

# The peer modules are built from the kernel source at bench time, never kept.
bench: deps
	+$(MAKE) modules source
	KDIR=$(KDIR) KSRC=$(KSRC) tools/testing/bench/run

vm: modules
	$(VM) --interactive

# kbuild's clean deletes every .ko under the repo, the cached debug kernel's
# modules too: forget that cache, so that check-debug builds it again.
clean:
	$(KBUILD) clean
	rm -f $(BUILD)/debug-kernel/config-hash
	-$(MAKE) -C $(SELFTESTS) KSFT_DIR=$(KSRC)/tools/testing/selftests clean
