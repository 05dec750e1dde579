# mfd: one entry point. `make` builds the library and every program into bin/ (objects under
# build/); `make test` builds and runs the GoogleTest suite; `make bench`; `make quickstart`;
# `make gpu-bundle` (the programs for a GPU machine, build/gpu-bundle/); `make clean`. CUDA=0
# forces a CPU-only build; SANITIZE=1 builds with ASan + UBSan (CPU only) under build/asan/.

CUDA_HOME ?= /usr/local/cuda
CUDA ?= auto
SANITIZE ?= 0
ARCH_FLAGS ?= -march=native
# BUNDLE=1 is what `make gpu-bundle` builds with (see there): CUDA for sm_90, any x86-64 with AVX2.
BUNDLE ?= 0
GPU_BUNDLE := build/gpu-bundle
ifeq ($(BUNDLE),1)
  CUDA := 1
  SANITIZE := 0
  ARCH_FLAGS := -march=x86-64-v3
  CUDA_ARCH := 90
  NVCC_EXTRA := -lineinfo
endif

OPENBLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
OPENBLAS_LIB := /usr/lib/x86_64-linux-gnu/openblas-openmp

ifeq ($(SANITIZE),1)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DMFD_SANITIZE
  CUDA := 0
else
  OPT := -O3 -g1 $(ARCH_FLAGS)
endif

# --- oneDNN detection: the CPU's windowed float32 convolutions (engine/cpu/conv2d_dnnl.h) --------
DNNL ?= auto
DNNL_FOUND := $(shell test -f /usr/include/oneapi/dnnl/dnnl.hpp && echo 1 || echo 0)
ifeq ($(BUNDLE),1)
  WITH_DNNL := 0  # the GPU machine has no libdnnl; its CPU reference is the im2col path
else ifeq ($(DNNL),0)
  WITH_DNNL := 0
else ifeq ($(DNNL),auto)
  WITH_DNNL := $(DNNL_FOUND)
else ifeq ($(DNNL_FOUND),1)
  WITH_DNNL := 1
else
  $(error DNNL=$(DNNL) asked for, but /usr/include/oneapi/dnnl/dnnl.hpp is missing: apt-get install libdnnl-dev, or use DNNL=0)
endif

# --- MPI detection: Open MPI's compiler wrapper (libopenmpi-dev), for data-parallel runs ----------
MPI ?= auto
MPICXX := $(shell command -v mpicxx 2>/dev/null)
MPI_FOUND := $(if $(MPICXX),1,0)
ifeq ($(BUNDLE),1)
  WITH_MPI := 0  # the GPU machine has no MPI: the bundle runs one process (NCCL's world of one)
else ifeq ($(MPI),0)
  WITH_MPI := 0
else ifeq ($(MPI),auto)
  WITH_MPI := $(MPI_FOUND)
else ifeq ($(MPI_FOUND),1)
  WITH_MPI := 1
else
  $(error MPI=$(MPI) asked for, but mpicxx is missing: apt-get install libopenmpi-dev openmpi-bin, or use MPI=0)
endif

# --- CUDA detection: nvcc and cudnn.h under CUDA_HOME -------------------------------------------
NVCC := $(CUDA_HOME)/bin/nvcc
CUDA_FOUND := $(shell test -x $(NVCC) && test -f $(CUDA_HOME)/include/cudnn.h && echo 1 || echo 0)
ifeq ($(CUDA),0)
  WITH_CUDA := 0
else ifeq ($(CUDA),auto)
  WITH_CUDA := $(CUDA_FOUND)
else ifeq ($(CUDA_FOUND),1)
  WITH_CUDA := 1
else
  $(error CUDA=$(CUDA) asked for, but $(NVCC) or $(CUDA_HOME)/include/cudnn.h is missing; set CUDA_HOME or use CUDA=0)
endif
# Objects of each configuration in their own folder, so that switching CUDA=0 on and off never
# mixes them; the sanitizer build also has its own bin/.
ifeq ($(SANITIZE),1)
  BUILD := build/asan
  BIN := build/asan/bin
else ifeq ($(BUNDLE),1)
  BUILD := build/gpu-bundle-obj
  BIN := $(BUILD)/bin
else
  BUILD := build/$(if $(filter 1,$(WITH_CUDA)),cuda,cpu)$(if $(filter 1,$(WITH_DNNL)),,-nodnnl)$(if $(filter 1,$(WITH_MPI)),,-nompi)
  BIN := bin
endif
# Relinks the programs in $(BIN) when the configuration behind them changes.
BIN_STAMP := build/$(subst /,-,$(BIN)).config
$(shell mkdir -p build && (echo $(BUILD) | cmp -s - $(BIN_STAMP) || echo $(BUILD) > $(BIN_STAMP)))

# The local GPU's architecture when one answers, else sm_90 (H100/H200) plus PTX for newer GPUs.
CUDA_ARCH ?= $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '.' | grep -E '^[0-9]+$$' || echo 90)
NVCCFLAGS := -std=c++17 -O3 -I. -Xcompiler -Wall,-Wextra -gencode arch=compute_$(CUDA_ARCH),code=[sm_$(CUDA_ARCH),compute_$(CUDA_ARCH)] $(NVCC_EXTRA)

# --- compilers and flags ---------------------------------------------------------------------------
CCACHE := $(shell command -v ccache 2>/dev/null)
CXX := $(CCACHE) g++
ifneq ($(CCACHE),)
  NVCC_CMD := $(CCACHE) $(NVCC)
else
  NVCC_CMD := $(NVCC)
endif
CPPFLAGS := -I. -isystem $(OPENBLAS_INC) -MMD -MP
CXXFLAGS := -std=c++17 $(OPT) -fopenmp -Wall -Wextra -Wno-unknown-pragmas
LDFLAGS := $(OPT) -fopenmp -L$(OPENBLAS_LIB) -Wl,-rpath,$(OPENBLAS_LIB)
LDLIBS := -lopenblas -lz -lpthread
ifeq ($(WITH_DNNL),1)
  CPPFLAGS += -DMFD_WITH_DNNL
  LDLIBS += -ldnnl
endif
ifeq ($(WITH_MPI),1)
  # MPI's C interface only (no C++ bindings): the include path and the library of the wrapper.
  CPPFLAGS += -DMFD_WITH_MPI -DOMPI_SKIP_MPICXX -DMPICH_SKIP_MPICXX $(patsubst -I%,-isystem %,$(shell $(MPICXX) --showme:compile))
  LDLIBS += $(filter-out -lmpi_cxx,$(shell $(MPICXX) --showme:link))
endif
ifeq ($(WITH_CUDA),1)
  CPPFLAGS += -DMFD_WITH_CUDA -isystem $(CUDA_HOME)/include
  LDFLAGS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64
  LDLIBS += -lcudnn -lcublas -lcudart
endif
# The bundle links everything but cuDNN and cuBLAS statically: OpenBLAS (OpenMP build) with the
# libgfortran and libquadmath it needs, libgomp (named as archives, so no -fopenmp at link time),
# zlib, GoogleTest (only an archive here anyway), the CUDA runtime, libstdc++ and libgcc. Google
# Benchmark exists here only as a shared library: it travels in lib/ beside bin/, found through
# the rpath $ORIGIN/../lib, and the bench_* programs use the system's libstdc++ as it does.
ifeq ($(BUNDLE),1)
  gcc_archive = $(shell g++ -print-file-name=$(1))
  BUNDLE_STATIC_CXX = -static-libstdc++ -static-libgcc
  LDFLAGS = $(OPT) $(BUNDLE_STATIC_CXX) -L$(CUDA_HOME)/lib64 -Wl,-rpath,'$$ORIGIN/../lib'
  LDLIBS := $(OPENBLAS_LIB)/libopenblas.a $(call gcc_archive,libgfortran.a) $(call gcc_archive,libquadmath.a) \
            $(call gcc_archive,libgomp.a) /usr/lib/x86_64-linux-gnu/libz.a -lcudnn -lcublas \
            $(CUDA_HOME)/lib64/libcudart_static.a -lpthread -ldl -lrt -lm
  $(BIN)/bench_%: BUNDLE_STATIC_CXX :=
endif

# --- sources ----------------------------------------------------------------------------------------
LIB_SRCS := $(wildcard engine/*.cpp engine/ops/*.cpp engine/cpu/*.cpp layers/*.cpp losses/*.cpp training/*.cpp \
                       models/*.cpp data/*.cpp)
CUDA_SRCS := $(if $(filter 1,$(WITH_CUDA)),$(wildcard engine/cuda/*.cu))
TOOL_SRCS := $(wildcard tools/*.cpp)
TEST_SRCS := $(wildcard test/*.cpp test/*/*.cpp)
BENCH_SRCS := $(wildcard bench/*.cpp)

LIB_OBJS := $(LIB_SRCS:%.cpp=$(BUILD)/%.o) $(CUDA_SRCS:%.cu=$(BUILD)/%.cu.o)
LIB := $(BUILD)/libmfd.a
TOOLS := $(TOOL_SRCS:tools/%.cpp=$(BIN)/%)
TEST_BIN := $(BIN)/mfd_tests
BENCHES := $(BENCH_SRCS:bench/%.cpp=$(BIN)/bench_%)
DEPS_STAMP := build/deps-ok

.PHONY: all test bench quickstart deps clean gpu-bundle
.SECONDARY:  # keep the objects of chained rules (tools, benches) so they are not rebuilt
.DEFAULT_GOAL := all

all: $(DEPS_STAMP) $(TOOLS)

# Installs what is missing (as root), or says exactly what to install, once per change of the script.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	@bash scripts/install-deps.sh
	@mkdir -p $(dir $@) && touch $@

$(BUILD)/%.o: %.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

# stb's JPEG code shifts negative values (well-defined on every compiler we use, undefined by the
# letter of C++): UBSan's shift check is off for that one third-party translation unit.
$(BUILD)/data/stb_impl.o: CXXFLAGS += $(if $(filter 1,$(SANITIZE)),-fno-sanitize=shift)

$(BUILD)/%.cu.o: %.cu | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(NVCC_CMD) $(NVCCFLAGS) -DMFD_WITH_CUDA -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/tools/%.o $(LIB) $(BIN_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

$(TEST_BIN): $(TEST_SRCS:%.cpp=$(BUILD)/%.o) $(LIB) $(BIN_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(filter %.o,$^) $(LIB) $(LDFLAGS) -lgtest $(LDLIBS) -o $@

$(BIN)/bench_%: $(BUILD)/bench/%.o $(LIB) $(BIN_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $< $(LIB) $(LDFLAGS) -lbenchmark $(LDLIBS) -o $@

# Runs every test; the last line reads "tests: N passed, N failed, N skipped".
test: $(DEPS_STAMP) $(TEST_BIN) $(TOOLS)
	MFD_BIN_DIR=$(BIN) $(TEST_BIN) $(TEST_ARGS)

bench: $(DEPS_STAMP) $(BENCHES)

# Trains a small CNN on the real Fashion-MNIST data on the CPU and prints the test accuracy.
quickstart: $(DEPS_STAMP) $(BIN)/quickstart
	$(BIN)/quickstart

# The programs a GPU machine without this project's build dependencies needs (scripts/gpu-check.sh
# runs them there), linked under build/gpu-bundle-obj/{bin,lib}, checked to need no shared library
# beyond the C library's, libstdc++ (bench_* only), cuDNN and cuBLAS, and packed into
# $(GPU_BUNDLE)/mfd-gpu-bundle.tar.xz: each program holds its own static OpenBLAS (every CPU's
# kernels, about 25 MiB), which xz -9's 64 MiB window stores once, so the archive is a fraction of
# the programs' size to copy to the GPU machine; gpu-check.sh unpacks it beside itself.
# The programs are listed in scripts/gpu-bundle.list, which gpu-check.sh reads too. CUDA code is
# built with -lineinfo, so that a compute-sanitizer report names the file and line.
GPU_BUNDLE_PROGRAMS := $(shell sed -n 's/^programs: *//p' scripts/gpu-bundle.list)
GPU_BUNDLE_ALLOWED_LIBS := libc libm libdl librt libpthread ld-linux-x86-64 libgcc_s libstdc\+\+ libcudnn libcublas libbenchmark
GPU_BUNDLE_STAGE := build/gpu-bundle-obj
gpu-bundle: $(DEPS_STAMP) scripts/gpu-bundle.list
	@test -x $(NVCC) && test -f $(CUDA_HOME)/include/cudnn.h || { echo "gpu-bundle: needs $(NVCC) and cudnn.h under CUDA_HOME=$(CUDA_HOME)" >&2; exit 1; }
	$(MAKE) BUNDLE=1 $(addprefix $(GPU_BUNDLE_STAGE)/bin/,$(GPU_BUNDLE_PROGRAMS))
	@mkdir -p $(GPU_BUNDLE_STAGE)/lib $(GPU_BUNDLE)
	cp -L /usr/lib/x86_64-linux-gnu/libbenchmark.so.1debian $(GPU_BUNDLE_STAGE)/lib/
	@for f in $(addprefix $(GPU_BUNDLE_STAGE)/bin/,$(GPU_BUNDLE_PROGRAMS)); do \
	  extra=$$(objdump -p $$f | awk '/NEEDED/ {print $$2}' | grep -vE '^($(subst $(eval) ,|,$(GPU_BUNDLE_ALLOWED_LIBS)))\.so' || true); \
	  if [ -n "$$extra" ]; then echo "gpu-bundle: $$f needs $$extra, which the GPU machine lacks" >&2; exit 1; fi; \
	  echo "$$f: $$(du -m $$f | cut -f1) MiB, needs $$(objdump -p $$f | awk '/NEEDED/ {printf "%s ", $$2}')"; \
	done
	rm -rf $(GPU_BUNDLE)/bin $(GPU_BUNDLE)/lib
	XZ_OPT='-9 -T1' tar -C $(GPU_BUNDLE_STAGE) -cJf $(GPU_BUNDLE)/mfd-gpu-bundle.tar.xz.part $(addprefix bin/,$(GPU_BUNDLE_PROGRAMS)) lib
	mv $(GPU_BUNDLE)/mfd-gpu-bundle.tar.xz.part $(GPU_BUNDLE)/mfd-gpu-bundle.tar.xz
	@printf '%s%s, built %s\n' "$$(git rev-parse --short HEAD 2>/dev/null || echo 'not a git checkout')" \
	  "$$(git diff --quiet HEAD 2>/dev/null || ! git rev-parse HEAD >/dev/null 2>&1 || echo ' with uncommitted changes')" \
	  "$$(date -u '+%Y-%m-%d %H:%M UTC')" > $(GPU_BUNDLE)/SOURCE
	@size=$$(du -sm $(GPU_BUNDLE) | cut -f1); echo "gpu-bundle: $(GPU_BUNDLE) is $$size MiB; copy it with the working tree to the GPU machine and run scripts/gpu-check.sh there"; \
	  if [ $$size -gt 48 ]; then echo "gpu-bundle: over 48 MiB: something heavy entered the bundle (see the sizes above)" >&2; exit 1; fi

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
