// IDX files (the MNIST format: big-endian magic 0x0000TTNN with type TT and NN dimensions, NN
// big-endian u32 sizes, then the data), plain or gzipped. Only unsigned bytes (TT = 0x08).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mfd {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Fails with an Error naming the file for a missing file, a bad magic number, or a file shorter
// (after decompression) than its header announces, with the size found and the size expected.
IdxArray read_idx(const std::string& path);

}  // namespace mfd
