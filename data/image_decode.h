// Image files to pixels: JPEG/PNG/... decoded by stb_image, grey images expanded to RGB, resized
// (stb_image_resize) to size x size when they differ, returned as uint8 (3, size, size).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mfd {

// Fails with an Error naming the file when it cannot be read or decoded.
std::vector<uint8_t> decode_image_chw(const std::string& path, int size);

}  // namespace mfd
