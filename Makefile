# sync_manager — top-level entry points.  CMake + Ninja do the real work.
#   make            build (installs missing build packages first)
#   make check      build, run every test, then the unit and fast system tests
#                   again under AddressSanitizer + UBSan
#   make check-tsan the unit tests and the system tests that start sync_managerd
#                   under ThreadSanitizer (not part of make check; about 15 min)
#   make coverage   unit and system tests in a gcov build; line coverage of src/
#                   per directory (not part of make check)
#   make demo       the main demo (libvirt + QEMU guests; needs root)
#   make demo-processes  the same scenario with plain processes (no libvirt needed)
#   make torture    long mutual-exclusion torture run (minutes)
#   make bench      benchmarks, side by side with sanlock
#   make bench-scale scale (issue 19): many hosts on one volume, lockspaces and
#                   clients per daemon, side by side with sanlock, d = 10 s,
#                   one table (SCALE_HOSTS="16 64 128" by default, ~15 min)
#   make lab        QEMU guests on a shared iSCSI LUN: fault scenarios, one table (docs/lab.md)
#   make fuzz       run every libFuzzer target FUZZ_SECONDS (60) each
#   make install    install (DESTDIR and PREFIX honoured)
#   make deb        Debian packages (debhelper) into $(BUILD)/deb, checked by lintian
#   make deb-test   make deb, then the packages installed, run and purged in a
#                   clean Debian root (tests/deb/install.sh; not part of make check)

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
COV_BUILD  ?= build-cov
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc)
CTEST      := ctest --output-on-failure --no-tests=error

.PHONY: all build deps deb deb-test check check-asan check-tsan coverage demo demo-processes torture bench bench-scale lab install clean fuzz

all: build

deps:
	@scripts/deps build

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)

# A build dir configured before libvirt-dev was installed (make demo and
# make check install it) is configured again, so the libvirt parts get built.
build: deps $(BUILD)/build.ninja
	@if pkg-config --exists libvirt 2>/dev/null && ! grep -q '^LIBVIRT_FOUND:INTERNAL=1' $(BUILD)/CMakeCache.txt; then \
		echo "libvirt-dev is installed: configuring $(BUILD) again to build the libvirt parts"; \
		cmake $(BUILD) >/dev/null; \
	fi
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSM_SANITIZE=ON

# Packages first, then the build: the libvirt parts are built only when
# libvirt-dev is there at configure time.
check:
	@scripts/deps test
	@scripts/deps libvirt || echo "libvirt/QEMU packages unavailable: the libvirt tests will be skipped"
	@scripts/deps lab $(BUILD)/lab-cache || echo "lab packages unavailable: the lab smoke test will be skipped"
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && $(CTEST) -j$(JOBS) -LE 'torture-long|deb'
	$(MAKE) --no-print-directory check-asan

check-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(CTEST) -j$(JOBS) -L 'unit|asan'

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSM_SANITIZE=thread

# Every process (daemons killed by a signal too, which never exit 66) writes
# its reports to $(TSAN_BUILD)/tsan/report.PID: any such file fails the run.
# allocator_may_return_null: malloc fails with NULL as libc's does, instead of
# TSan aborting the process (system/daemon_oom runs the daemon out of memory
# on purpose and checks that it copes).
TSAN_DIR = $(abspath $(TSAN_BUILD))/tsan
check-tsan: deps $(TSAN_BUILD)/build.ninja
	@scripts/deps test
	ninja -C $(TSAN_BUILD)
	rm -rf $(TSAN_DIR) && mkdir -p $(TSAN_DIR)
	cd $(TSAN_BUILD) && TSAN_OPTIONS="log_path=$(TSAN_DIR)/report halt_on_error=0 second_deadlock_stack=1 allocator_may_return_null=1" \
		$(CTEST) -j$(JOBS) -L 'unit|tsan'; status=$$?; \
	if ls $(TSAN_DIR)/report.* >/dev/null 2>&1; then \
		cat $(TSAN_DIR)/report.*; \
		echo "make check-tsan: ThreadSanitizer reports in $(TSAN_DIR) (above)" >&2; exit 1; \
	fi; \
	[ $$status -eq 0 ] && echo "make check-tsan: no ThreadSanitizer report"; exit $$status

$(COV_BUILD)/build.ninja:
	cmake -S . -B $(COV_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSM_COVERAGE=ON

# The unit and system tests (not the demos, lab, libvirt, torture or model
# runs) in a gcov build, then line coverage of src/ per directory; an HTML
# report per file goes to $(COV_BUILD)/coverage.  Counts of earlier runs are
# dropped first.
coverage: deps $(COV_BUILD)/build.ninja
	@scripts/deps test coverage
	ninja -C $(COV_BUILD)
	find $(COV_BUILD) -name '*.gcda' -delete
	cd $(COV_BUILD) && $(CTEST) -j$(JOBS) -L 'unit|system' -LE demo; status=$$?; \
	cd $(CURDIR) && scripts/coverage $(COV_BUILD) --html $(COV_BUILD)/coverage || exit $$?; \
	[ $$status -eq 0 ] || echo "make coverage: some tests failed (above): the figures miss what they did not run" >&2; \
	exit $$status

demo:
	@scripts/deps libvirt || echo "make demo: could not install libvirt and QEMU (see above)"
	@$(MAKE) --no-print-directory build
	@scripts/demo

demo-processes: build
	@scripts/demo --processes

torture: build
	@scripts/deps test
	cd $(BUILD) && $(CTEST) -L torture-long -V

bench: build
	@scripts/deps bench
	@bench/run $(BUILD)

# SCALE_HOSTS, SCALE_LOCKSPACES, SCALE_SLOTS_VARIANT, SCALE_SIDES, ...: see bench/scale.sh
bench-scale: build
	@scripts/deps bench
	@bench/scale.sh $(BUILD)

# LAB_ARGS: e.g. --scenarios 1,2 --guests 2 --soak-seconds 60 --keep (lab/run --help)
# LAB_FENCE_ARGS: the second run, fenced by reservation on LIO (pr-freeze,
# pr-crash, pr-false-suspicion; about 47 s per freeze and 35-50 s per crash at
# d = 1 s): the default gives the issue's 20 freezes longer than H (about 20 min)
LAB_FENCE_ARGS ?= --io-timeout 1 --freezes 20 --crashes 5
# LAB_LIBVIRT_ARGS: the third run, pr-libvirt (libvirtd and QEMU with the lock
# plugin inside the guests, fenced by reservation; about 2.5 min)
LAB_LIBVIRT_ARGS ?= --io-timeout 1
# LAB_CAWB_ARGS: the fourth run, caw-bench on LIO (issue 14's table: leases by
# COMPARE AND WRITE, Disk Paxos and Debian's sanlock on one LUN; about 1.5 min)
LAB_CAWB_ARGS ?=
# LAB_CAW_ARGS: the fifth run, scenarios 1, 2, 3 on a lease volume formatted
# --lease-io caw on LIO (leases and delta leases by COMPARE AND WRITE; about 3 min)
LAB_CAW_ARGS ?=
lab: build
	@scripts/deps lab $(BUILD)/lab-cache
	@lab/run --build $(BUILD) --no-deps $(LAB_ARGS)
	@lab/run --build $(BUILD) --no-deps --fence pr $(LAB_FENCE_ARGS)
	@scripts/deps libvirt
	@lab/run --build $(BUILD) --no-deps --scenarios pr-libvirt $(LAB_LIBVIRT_ARGS)
	@scripts/deps bench
	@lab/run --build $(BUILD) --no-deps --target lio --scenarios caw-bench $(LAB_CAWB_ARGS)
	@lab/run --build $(BUILD) --no-deps --lease-io caw $(LAB_CAW_ARGS)

FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/deps test
	CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSM_FUZZ=ON
	ninja -C $(FUZZ_BUILD)
	@scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS)

install: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	ninja -C $(BUILD)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# dpkg-buildpackage runs in a copy of the tree under $(BUILD)/deb/src
# (scripts/deb), so the packages land in $(BUILD)/deb, not in ..
deb:
	@scripts/deps deb
	@scripts/deb $(BUILD)/deb

deb-test: deb
	@scripts/deps test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && SM_DEB_DIR=$(abspath $(BUILD))/deb $(CTEST) -L '^deb$$'

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(COV_BUILD) $(FUZZ_BUILD)
