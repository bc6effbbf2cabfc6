# h5cl: GNU make.  `make demo` and `make test` each set up a fresh Debian
# machine (through `make deps`), build and run.

PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC ?= cc
PKG_CONFIG ?= pkg-config
PYTHON ?= python3
B := build

VERSION := $(shell sed -n 's/^\#define H5CL_VERSION_STRING "\(.*\)"/\1/p' include/h5cl.h)
SOMAJOR := 0

# Debian's hdf5.pc may describe the MPI build: prefer hdf5-serial.
HDF5_PC := $(shell $(PKG_CONFIG) --exists hdf5-serial 2>/dev/null && echo hdf5-serial || echo hdf5)
OPENCL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags OpenCL 2>/dev/null)
OPENCL_LIBS ?= $(shell $(PKG_CONFIG) --libs OpenCL 2>/dev/null || echo -lOpenCL)
HDF5_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags $(HDF5_PC) 2>/dev/null)
HDF5_LIBS ?= $(shell $(PKG_CONFIG) --libs $(HDF5_PC) 2>/dev/null || echo -lhdf5)
CHECK_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS ?= $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DCL_TARGET_OPENCL_VERSION=120 \
	-DCL_USE_DEPRECATED_OPENCL_1_2_APIS $(WARN) $(CFLAGS) -Iinclude -Ilib -I$(B)/gen \
	$(OPENCL_CFLAGS) $(HDF5_CFLAGS) -MMD -MP
CLBLAST_LIBS ?= -lclblast
LAPACKE_LIBS ?= -llapacke
DEFLATE_LIBS ?= -ldeflate
# CLBlast and LAPACKE are dlopen'd on first use (lib/linalg_load.c), by the
# sonames of the libraries found here; only the bench links CLBlast itself.
CLBLAST_SONAME ?= $(shell objdump -p $$($(CC) -print-file-name=libclblast.so) 2>/dev/null | sed -n 's/^ *SONAME *//p')
LAPACKE_SONAME ?= $(shell objdump -p $$($(CC) -print-file-name=liblapacke.so) 2>/dev/null | sed -n 's/^ *SONAME *//p')
ALL_CFLAGS += $(if $(CLBLAST_SONAME),-DH5CL_CLBLAST_SONAME='"$(CLBLAST_SONAME)"') \
	$(if $(LAPACKE_SONAME),-DH5CL_LAPACKE_SONAME='"$(LAPACKE_SONAME)"')
LIB_LIBS := $(HDF5_LIBS) $(DEFLATE_LIBS) $(OPENCL_LIBS) -ldl -lpthread -lm
# A relocatable build for the GPU bundle: binaries in bin/ and libh5cl.so
# in lib/ find the bundled libraries through $ORIGIN.  DT_RPATH (not
# RUNPATH) so that it also serves the libraries' own dependencies.
ifdef BUNDLE_RPATH
LDFLAGS += -Wl,-rpath,'$$ORIGIN/../lib:$$ORIGIN' -Wl,--disable-new-dtags
endif

LIB_SRC := $(wildcard lib/*.c)
KERNELS := $(wildcard kernels/*.cl)
LIB_OBJ := $(patsubst lib/%.c,$(B)/obj/%.o,$(LIB_SRC)) $(B)/obj/kernels_gen.o
TEST_SRC := $(wildcard tests/check_*.c)
TEST_OBJ := $(patsubst tests/%.c,$(B)/obj/%.o,$(TEST_SRC))
TOOL_SRC := $(wildcard tools/*.c)
TOOL_OBJ := $(patsubst tools/%.c,$(B)/obj/tools_%.o,$(TOOL_SRC))

SO := $(B)/libh5cl.so
SONAME := libh5cl.so.$(SOMAJOR)
SOFULL := libh5cl.so.$(VERSION)

.PHONY: all deps demo test check memcheck bench bench-compare install uninstall clean format kernels-check gpu-bundle
all: $(B)/libh5cl.a $(SO) $(B)/h5cl $(B)/h5cl-bench $(B)/h5cl.pc $(B)/h5cl-reader

$(B)/gen/kernels_gen.c: $(KERNELS) kernels/embed.sh
	@mkdir -p $(@D)
	sh kernels/embed.sh $(KERNELS) > $@.tmp && mv $@.tmp $@

$(B)/obj/kernels_gen.o: $(B)/gen/kernels_gen.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -DH5CL_BUILDING -c $< -o $@

$(B)/obj/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -DH5CL_BUILDING -c $< -o $@

$(B)/obj/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(B)/obj/tools_%.o: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/obj/bench_%.o: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libh5cl.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/$(SOFULL): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(SO): $(B)/$(SOFULL)
	ln -sf $(SOFULL) $(B)/$(SONAME)
	ln -sf $(SOFULL) $@

$(B)/h5cl: $(TOOL_OBJ) $(B)/libh5cl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(B)/h5cl-bench: $(patsubst bench/%.c,$(B)/obj/bench_%.o,$(wildcard bench/*.c)) $(B)/libh5cl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS) $(CLBLAST_LIBS)

# The mapping probe quoted in bench/RESULTS.md (lib/mapping.h's choice);
# -O3 so that its plain loop is vectorised like the kernels it stands for.
$(B)/mmap-probe: bench/probes/mmap_probe.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O3 -pthread -o $@ $<

$(B)/h5cl-tests: $(TEST_OBJ) $(B)/libh5cl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIB_LIBS)

# Isolated mode's child process (lib/isolate.c): found next to libh5cl.so
# or the program, else where `make install` puts it.
LIBEXECDIR ?= $(PREFIX)/libexec
$(B)/obj/isolate.o: ALL_CFLAGS += -DH5CL_READER_INSTALLED='"$(LIBEXECDIR)/h5cl/h5cl-reader"'
$(B)/obj/helper_%.o: tools/helper/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# --as-needed: the child loads HDF5 and what reading needs, not CLBlast
$(B)/h5cl-reader: $(B)/obj/helper_h5cl_reader.o $(B)/libh5cl.a
	$(CC) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LIB_LIBS)
# the isolate suite runs the helper found next to the test binary
$(B)/h5cl-tests: | $(B)/h5cl-reader

$(B)/h5cl.pc: h5cl.pc.in include/h5cl.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@HDF5_PC@|$(HDF5_PC)|' $< > $@

# The public header must stand alone in strict C99.
$(B)/header-check.o: include/h5cl.h
	@mkdir -p $(B)
	$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -x c -c include/h5cl.h -o $@

# Compile every kernel for the default device, for each element type.
kernels-check: $(B)/h5cl
	$(B)/h5cl devices --build-programs

deps:
	@sh tools/deps.sh

# Binaries plus their shared libraries, for a bare GPU machine.
gpu-bundle:
	$(MAKE) --no-print-directory B=$(B)/rpath BUNDLE_RPATH=1 \
	    $(B)/rpath/h5cl $(B)/rpath/h5cl-bench $(B)/rpath/h5cl-tests $(B)/rpath/libh5cl.so \
	    $(B)/rpath/h5cl-reader
	LAZY_LIBS="$(CLBLAST_SONAME) $(LAPACKE_SONAME)" \
	    sh tools/gpu-bundle.sh $(B)/rpath $(B)/rpath/h5cl $(B)/rpath/h5cl-bench $(B)/rpath/h5cl-tests \
	    $(B)/rpath/h5cl-reader

test: deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory test-reliability
	@$(MAKE) --no-print-directory asan-test
	@$(MAKE) --no-print-directory memcheck-host

check: all $(B)/h5cl-tests $(B)/header-check.o
	H5CL_CACHE_DIR=$(CURDIR)/$(B)/test-cache $(B)/h5cl-tests
	@echo "== again with the GPU code paths (interleaved kernels, pinned uploads)"
	H5CL_CACHE_DIR=$(CURDIR)/$(B)/test-cache H5CL_PATTERN=interleaved H5CL_ZERO_COPY=0 \
	    $(B)/h5cl-tests
	H5CL_CACHE_DIR=$(CURDIR)/$(B)/test-cache sh tools/cli-check.sh $(B)/h5cl
	H5CL_CACHE_DIR=$(CURDIR)/$(B)/test-cache PYTHON=$(PYTHON) sh bench/smoke.sh $(B)/h5cl-bench
	cd python-bindings && H5CL_LIBRARY=$(CURDIR)/$(SO) $(PYTHON) -m pytest -q -p no:cacheprovider tests
	@$(MAKE) --no-print-directory scale-check

# Hostile inputs, mutants and faults (tests/reliability/*, one figures
# table; README "Reliability").
.PHONY: test-reliability
test-reliability: all
	H5CL_CACHE_DIR=$(CURDIR)/$(B)/test-cache sh tests/reliability/run.sh $(B)

memcheck: all $(B)/h5cl-tests
	H5CL_CACHE_DIR=$(CURDIR)/$(B)/test-cache CK_FORK=no \
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	    --suppressions=tests/valgrind.supp $(B)/h5cl-tests

DEMO_FILE ?= $(B)/demo.h5
demo: deps
	@$(MAKE) --no-print-directory all
	@test -f $(DEMO_FILE) || $(B)/h5cl-bench --make-sample $(DEMO_FILE) --size 384M
	$(B)/h5cl devices
	$(B)/h5cl info $(DEMO_FILE)
	$(B)/h5cl stats $(DEMO_FILE) /data

bench: all
	$(B)/h5cl-bench

# h5cl against numpy+h5py, Dask and PyOpenCL on the same file (bench/baselines).
# Quick check: make bench-compare COMPARE_SIZE=256M COMPARE_REPS=2
COMPARE_SIZE ?= 1G
COMPARE_REPS ?= 5
COMPARE_ARGS ?=
bench-compare: all
	$(PYTHON) bench/baselines/compare.py --bench $(B)/h5cl-bench --dir $(B)/bench-data \
	    --size $(COMPARE_SIZE) --reps $(COMPARE_REPS) $(COMPARE_ARGS)

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/h5cl.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(B)/libh5cl.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(B)/$(SOFULL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SOFULL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SOFULL) $(DESTDIR)$(LIBDIR)/libh5cl.so
	install -m 755 $(B)/h5cl $(B)/h5cl-bench $(DESTDIR)$(BINDIR)/
	install -m 644 $(B)/h5cl.pc $(DESTDIR)$(PKGCONFIGDIR)/
	install -d $(DESTDIR)$(LIBEXECDIR)/h5cl
	install -m 755 $(B)/h5cl-reader $(DESTDIR)$(LIBEXECDIR)/h5cl/

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/h5cl.h $(DESTDIR)$(LIBDIR)/libh5cl.a \
	    $(DESTDIR)$(LIBDIR)/$(SOFULL) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libh5cl.so $(DESTDIR)$(BINDIR)/h5cl \
	    $(DESTDIR)$(BINDIR)/h5cl-bench $(DESTDIR)$(PKGCONFIGDIR)/h5cl.pc
	rm -f $(DESTDIR)$(LIBEXECDIR)/h5cl/h5cl-reader
	-rmdir $(DESTDIR)$(LIBEXECDIR)/h5cl 2>/dev/null

clean:
	rm -rf $(B)

format:
	clang-format -i include/*.h lib/*.c lib/*.h tools/*.c bench/*.c tests/*.c

# MPI (make MPI=1, Debian's OpenMPI): h5cl-mpi, one process per rank.  The
# default build stays free of MPI; `make check` builds and runs it (through
# scale-check) when mpicc is present.
MPICC ?= mpicc
ifdef MPI
all: $(B)/h5cl-mpi
endif

$(B)/obj/mpi_%.o: mpi/%.c
	@mkdir -p $(@D)
	$(MPICC) $(ALL_CFLAGS) -Itools -c $< -o $@

$(B)/h5cl-mpi: $(B)/obj/mpi_h5cl_mpi.o $(B)/obj/tools_cli_util.o $(B)/obj/tools_cli_json.o $(B)/libh5cl.a
	$(MPICC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# Several devices (two PoCL devices), MPI ranks (when mpicc is present)
# and the single run on the same files: tools/scale-check.sh.
.PHONY: scale-check
scale-check: all
	@if command -v $(MPICC) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory MPI=1 $(B)/h5cl-mpi; fi
	H5CL_CACHE_DIR=$(CURDIR)/$(B)/test-cache PYTHON=$(PYTHON) sh tools/scale-check.sh $(B)
# ---- fuzzing and sanitizers (README: "Fuzzing and sanitizers") ----
# The library rebuilt by clang with ASan+UBSan in a build directory of its
# own (make re-invoked with B, CC and CFLAGS), for the libFuzzer targets
# in tests/fuzz and for the Check suite (asan-test).
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_TARGETS := fuzz_expr fuzz_open
.PHONY: fuzz fuzz-replay asan-test memcheck-host

fuzz:
	@$(MAKE) --no-print-directory B=$(B)/fuzz CC=clang \
	    CFLAGS="-O1 -g $(SAN_FLAGS) -fsanitize=fuzzer-no-link" \
	    $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))

.PRECIOUS: $(B)/obj/fuzz_%.o
$(B)/obj/fuzz_%.o: tests/fuzz/fuzz_%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/fuzz_%: $(B)/obj/fuzz_%.o $(B)/libh5cl.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIB_LIBS)

# The targets with a plain main instead of libFuzzer (memcheck-host).
$(B)/replay_%: $(B)/obj/%.o $(B)/obj/fuzz_main.o $(B)/libh5cl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIB_LIBS)

# Seed corpora in regression mode, then a bounded fuzz of each target
# (FUZZ_SECONDS each, default 40); the script builds the targets.
fuzz-replay:
	sh tests/reliability/fuzz_replay.sh $(B)

# The Check suite under ASan+UBSan against the OpenCL runtime (PoCL on CI);
# ASAN_SUITES=all for every suite (tests/asan-test.sh says which run by
# default and why).
asan-test:
	@$(MAKE) --no-print-directory B=$(B)/asan CC=clang CFLAGS="-O1 -g $(SAN_FLAGS)" \
	    LDFLAGS="$(SAN_FLAGS)" $(B)/asan/h5cl-tests
	sh tests/asan-test.sh $(B)/asan/h5cl-tests

# valgrind memcheck over the parts that need no OpenCL device (CI-sized;
# `make memcheck` is the whole suite).
memcheck-host: $(B)/h5cl-tests $(B)/replay_fuzz_expr $(B)/replay_fuzz_open
	sh tests/memcheck-host.sh $(B)

-include $(wildcard $(B)/obj/*.d)

# Fault injection for tests/reliability (never installed): an OpenCL
# loader layer (OPENCL_LAYERS), the driver that runs an op twice on one
# context, and an LD_PRELOAD shim failing writes.
.PHONY: faults
FAULT_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden
faults: $(B)/faults/libh5cl_fault_layer.so $(B)/faults/cl_fault_driver \
	$(B)/faults/libh5cl_write_shim.so $(B)/h5cl

$(B)/faults/libh5cl_fault_layer.so: tests/faults/cl_fault_layer.c
	@mkdir -p $(@D)
	$(CC) $(FAULT_CFLAGS) $(OPENCL_CFLAGS) -shared -o $@ $<

$(B)/faults/libh5cl_write_shim.so: tests/faults/write_shim.c
	@mkdir -p $(@D)
	$(CC) $(FAULT_CFLAGS) -shared -o $@ $< -ldl

$(B)/faults/cl_fault_driver: tests/faults/cl_fault_driver.c $(B)/libh5cl.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libh5cl.a $(LIB_LIBS)
