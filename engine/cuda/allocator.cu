// The caching allocator and the host <-> device copies (see allocator.h).
#include "engine/cuda/allocator.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace mfd::cuda {

namespace {

constexpr size_t kSmallLimit = size_t(1) << 20;  // below: 512 B classes
constexpr size_t kSmallStep = 512;
constexpr size_t kLargeStep = size_t(2) << 20;   // from 1 MiB: 2 MiB classes

size_t size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  const size_t step = bytes < kSmallLimit ? kSmallStep : kLargeStep;
  return (bytes + step - 1) / step * step;
}

double mib(size_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

struct Allocator {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_lists;  // by size class
  DeviceStats stats;

  void* allocate(size_t bytes) {
    const size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex);
    auto it = free_lists.find(cls);
    if (it != free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      stats.bytes_cached -= cls;
      in_use(cls);
      return p;
    }
    stream();  // the context (and this thread's device) exists before the first cudaMalloc
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, cls);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky, but clear it
      release_locked();
      status = cudaMalloc(&p, cls);
    }
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      size_t free_bytes = 0, total_bytes = 0;
      cudaMemGetInfo(&free_bytes, &total_bytes);
      cudaGetLastError();
      char buf[400];
      std::snprintf(buf, sizeof buf,
                    "CUDA out of memory: asked for %.1f MiB, %.1f MiB in use, %.1f MiB cached, GPU total %.0f MiB "
                    "(%.0f MiB free); lower --batch (or --width)",
                    mib(cls), mib(stats.bytes_in_use), mib(stats.bytes_cached), mib(total_bytes), mib(free_bytes));
      throw Error(buf);
    }
    MFD_CUDA_CHECK(status);
    ++stats.device_mallocs;
    in_use(cls);
    return p;
  }

  void deallocate(void* p, size_t bytes) {
    if (!p) return;
    const size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mutex);
    free_lists[cls].push_back(p);
    stats.bytes_in_use -= cls;
    stats.bytes_cached += cls;
  }

  void in_use(size_t cls) {
    stats.bytes_in_use += cls;
    stats.peak_bytes_in_use = std::max(stats.peak_bytes_in_use, stats.bytes_in_use);
  }

  // cudaFree synchronises the device, so no queued kernel still uses these blocks.
  void release_locked() {
    for (auto& entry : free_lists) {
      for (void* p : entry.second) {
        MFD_CUDA_CHECK(cudaFree(p));
        ++stats.device_frees;
        stats.bytes_cached -= entry.first;
      }
      entry.second.clear();
    }
  }
};

Allocator& allocator() {
  static Allocator* a = new Allocator;  // leaked on purpose: tensors may die during static destruction
  return *a;
}

std::atomic<int64_t> g_h2d{0}, g_d2h{0}, g_d2d{0};

// Pinned staging blocks for host-to-device copies. A block is reused once the copy that read it
// has finished (its event); when all are busy and the pool is at its cap, the oldest is waited for.
constexpr size_t kStagingBlock = size_t(4) << 20;
constexpr size_t kMaxStagingBlocks = 32;  // 128 MiB of pinned memory at most

struct StagingBlock {
  void* host = nullptr;
  cudaEvent_t done = nullptr;
};

struct Staging {
  std::mutex mutex;
  std::vector<StagingBlock> blocks;
  size_t next_wait = 0;  // round robin over the blocks when all are busy

  StagingBlock& acquire() {
    for (StagingBlock& b : blocks) {
      cudaError_t q = cudaEventQuery(b.done);
      if (q == cudaSuccess) return b;
      if (q != cudaErrorNotReady) MFD_CUDA_CHECK(q);
    }
    if (blocks.size() < kMaxStagingBlocks) {
      StagingBlock b;
      MFD_CUDA_CHECK(cudaHostAlloc(&b.host, kStagingBlock, cudaHostAllocDefault));
      MFD_CUDA_CHECK(cudaEventCreateWithFlags(&b.done, cudaEventDisableTiming));
      blocks.push_back(b);
      return blocks.back();
    }
    StagingBlock& b = blocks[next_wait++ % blocks.size()];
    MFD_CUDA_CHECK(cudaEventSynchronize(b.done));
    return b;
  }

  void copy(void* dst, const void* src, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex);
    cudaStream_t s = stream();
    for (size_t off = 0; off < bytes; off += kStagingBlock) {
      const size_t n = std::min(kStagingBlock, bytes - off);
      StagingBlock& b = acquire();
      std::memcpy(b.host, static_cast<const char*>(src) + off, n);
      MFD_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + off, b.host, n, cudaMemcpyHostToDevice, s));
      MFD_CUDA_CHECK(cudaEventRecord(b.done, s));
    }
  }
};

Staging& staging() {
  static Staging* s = new Staging;  // leaked on purpose, like the allocator
  return *s;
}

}  // namespace

void* device_alloc(size_t bytes) { return allocator().allocate(bytes); }
void device_free(void* ptr, size_t bytes) { allocator().deallocate(ptr, bytes); }

void release_cached_blocks() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  a.release_locked();
}

DeviceStats allocator_stats() {
  Allocator& a = allocator();
  DeviceStats s;
  {
    std::lock_guard<std::mutex> lock(a.mutex);
    s = a.stats;
  }
  s.h2d_copies = g_h2d.load();
  s.d2h_copies = g_d2h.load();
  s.d2d_copies = g_d2d.load();
  return s;
}

void reset_peak() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mutex);
  a.stats.peak_bytes_in_use = a.stats.bytes_in_use;
}

void copy_host_to_device(void* dst, const void* host_src, size_t bytes) {
  ++g_h2d;
  if (bytes == 0) return;
  staging().copy(dst, host_src, bytes);
}

void copy_device_to_host(void* host_dst, const void* src, size_t bytes) {
  ++g_d2h;
  if (bytes == 0) return;
  cudaStream_t s = stream();
  MFD_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, s));
  MFD_CUDA_CHECK(cudaStreamSynchronize(s));  // the caller reads host_dst next
  raise_label_error();                       // checks queued before this copy are done
}

void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  ++g_d2d;
  if (bytes == 0 || dst == src) return;
  MFD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void count_d2d_copy() { ++g_d2d; }

}  // namespace mfd::cuda

namespace mfd {

DeviceStats device_stats() { return cuda::allocator_stats(); }
void reset_device_peak() { cuda::reset_peak(); }

}  // namespace mfd
