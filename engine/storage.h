// Storage: one reference-counted allocation on one device. Tensors share it (reshape is free).
#pragma once
#include <cstddef>

#include "engine/dtype.h"

namespace mfd {

class Storage {
 public:
  Storage(size_t bytes, Device device);  // memory from the device's backend (64-byte aligned on the CPU)
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

}  // namespace mfd
