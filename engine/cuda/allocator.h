// The caching allocator for device memory, and the counted copies between host and device.
//
// Requests are rounded up to a size class (512 B steps below 1 MiB, 2 MiB steps from there);
// freed blocks go to the free list of their class and are handed out again without cudaMalloc.
// Since every kernel runs on the one stream (context.h), a block freed after queueing the kernels
// that use it can be reused at once: the next user is queued behind them. On a cudaMalloc failure
// all cached blocks are released and the call is retried once; then an Error says what to lower.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/device_stats.h"

namespace mfd::cuda {

void* device_alloc(size_t bytes);            // never null (a 0-byte request gets a minimal block)
void device_free(void* ptr, size_t bytes);   // back to the cache, no cudaFree
void release_cached_blocks();                // cudaFree of every cached block
DeviceStats allocator_stats();
void reset_peak();

// Copies on the stream. Host to device goes through pinned staging blocks (the call returns
// before the copy ends); device to host waits for the stream; device to device is queued.
void copy_host_to_device(void* dst, const void* host_src, size_t bytes);
void copy_device_to_host(void* host_dst, const void* src, size_t bytes);
void copy_device_to_device(void* dst, const void* src, size_t bytes);
void count_d2d_copy();  // for copies made by other means (cudaMemcpy2DAsync in concat)

// Scratch device memory released (to the cache) when it goes out of scope.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : ptr_(bytes ? device_alloc(bytes) : nullptr), bytes_(bytes) {}  // 0: null
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; }
  void reset() {
    if (ptr_) device_free(ptr_, bytes_);
    ptr_ = nullptr;
  }
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace mfd::cuda
