// safetensors files: a little-endian u64 header length, a JSON header mapping each tensor name to
// {"dtype", "shape", "data_offsets"} (plus a "__metadata__" string map), then the raw
// little-endian data. Readable by safetensors.torch.load_file. The files written here also hold,
// in the metadata, a CRC-32 of every tensor's bytes ("mfd.crc32/<name>") and of the header's
// content ("mfd.crc32.header"); reading verifies them when present (files from other writers have
// none) and returns the metadata without them.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace mfd {

struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;  // on the CPU
  std::map<std::string, std::string> metadata;
};

// Writes atomically: a temporary file beside `path`, fsync, rename. Tensors may be on any device.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Fails with an Error naming the file (and the tensor) for a missing or truncated file, a
// malformed header, an unknown dtype, offsets that do not match the shape, or bytes that do not
// match their checksum (a damaged tensor is named).
SafetensorsContents load_safetensors(const std::string& path);
// The metadata alone (the header is read and checked, the tensors are not).
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

}  // namespace mfd
