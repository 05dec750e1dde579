// Host memory for the CPU backend: 64-byte aligned blocks, and freed blocks kept by exact
// (rounded) size for reuse. A training step allocates the same sizes every time, and glibc hands
// blocks above its mmap threshold (at most 32 MiB) back to the system, so that each fresh large
// allocation would pay its page faults again.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "engine/error.h"

namespace mfd::cpu {

class HostBlockCache {
 public:
  static constexpr size_t kMaxCached = size_t(8) << 30;  // beyond this, blocks go back to the system

  void* allocate(size_t bytes) {
    const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    in_use_ += static_cast<int64_t>(rounded);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.find(rounded);
      if (it != free_.end()) {
        void* p = it->second;
        free_.erase(it);
        cached_ -= rounded;
        return p;
      }
    }
    ++fresh_;
    void* p = std::aligned_alloc(64, rounded);
    if (!p) {
      release_all();
      p = std::aligned_alloc(64, rounded);
    }
    if (!p)
      fail("out of host memory allocating ", bytes / (1024.0 * 1024.0),
           " MiB; lower --batch or the model --width");
    return p;
  }

  void deallocate(void* p, size_t bytes) {
    const size_t rounded = std::max<size_t>(64, (bytes + 63) / 64 * 64);
    in_use_ -= static_cast<int64_t>(rounded);
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + rounded > kMaxCached) {
      std::free(p);
      return;
    }
    free_.emplace(rounded, p);
    cached_ += rounded;
  }

  void release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [size, p] : free_) std::free(p);
    free_.clear();
    cached_ = 0;
  }

  ~HostBlockCache() { release_all(); }
  // Allocations the cache could not serve (a training step in its steady state makes none).
  int64_t fresh_allocations() const { return fresh_; }
  // Bytes handed out and not yet returned (64-byte rounded): what tensors hold right now.
  int64_t bytes_in_use() const { return in_use_; }

 private:
  std::mutex mutex_;
  std::unordered_multimap<size_t, void*> free_;
  size_t cached_ = 0;
  std::atomic<int64_t> fresh_{0}, in_use_{0};
};

}  // namespace mfd::cpu
