// What non-CUDA code (tests, benchmarks, the trainer) may ask of the CUDA device without
// including any CUDA header. In a build without CUDA (CUDA=0) these are harmless: the counters
// are zero, set_cuda_math and synchronize_device do nothing, select_cuda_device fails clearly.
#pragma once
#include <cstdint>

namespace mfd {

// Counters of the CUDA caching allocator and of the copies between host and device.
struct DeviceStats {
  int64_t device_mallocs = 0;      // cudaMalloc calls (cache misses)
  int64_t device_frees = 0;        // cudaFree calls (cache releases after an out-of-memory)
  int64_t bytes_in_use = 0;        // handed out to tensors and scratch, in size classes
  int64_t peak_bytes_in_use = 0;   // since the start or the last reset_device_peak()
  int64_t bytes_cached = 0;        // held in the free lists
  int64_t h2d_copies = 0;          // copy_from_host calls
  int64_t d2h_copies = 0;          // copy_to_host calls
  int64_t d2d_copies = 0;          // copy calls and concatenation copies
};

DeviceStats device_stats();  // all zero in a CPU-only build

// The same rule's counters on the host: reads of tensor values by the host (to_vector, item; on
// CUDA each is a copy that waits for the device) and allocations the CPU backend's block cache
// could not serve. A training step that prints nothing makes neither (test/training/steady_state_test.cpp).
struct HostStats {
  int64_t reads = 0;
  int64_t fresh_allocations = 0;
  int64_t bytes_in_use = 0;  // held by CPU tensors now (64-byte rounded)
};
HostStats host_stats();
void reset_device_peak();    // peak_bytes_in_use = bytes_in_use

// TF32 tensor-core math in cuBLAS and cuDNN (on by default, as PyTorch's convolutions), and
// deterministic convolution algorithms only. Takes effect for the next call.
void set_cuda_math(bool allow_tf32, bool deterministic);
// The GPU that CUDA tensors live on (default 0); must be chosen before the first CUDA tensor.
void select_cuda_device(int index);
// Waits for everything queued on the CUDA stream (for timing); no-op without CUDA.
void synchronize_device();

}  // namespace mfd
