#include "data/image_decode.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include "engine/error.h"

namespace mfd {

std::vector<uint8_t> decode_image_chw(const std::string& path, int size) {
  int w = 0, h = 0, channels_in_file = 0;
  unsigned char* rgb = stbi_load(path.c_str(), &w, &h, &channels_in_file, 3);  // grey -> RGB
  MFD_CHECK(rgb, path, ": cannot decode the image (", stbi_failure_reason(), ")");
  std::vector<uint8_t> hwc(static_cast<size_t>(size) * size * 3);
  if (w == size && h == size) {
    std::copy(rgb, rgb + hwc.size(), hwc.begin());
  } else {
    const int ok = stbir_resize_uint8(rgb, w, h, 0, hwc.data(), size, size, 0, 3);
    stbi_image_free(rgb);
    MFD_CHECK(ok, path, ": cannot resize the image from ", w, "x", h, " to ", size, "x", size);
    rgb = nullptr;
  }
  if (rgb) stbi_image_free(rgb);
  std::vector<uint8_t> chw(hwc.size());
  const size_t plane = static_cast<size_t>(size) * size;
  for (size_t p = 0; p < plane; ++p)
    for (int c = 0; c < 3; ++c) chw[c * plane + p] = hwc[p * 3 + c];
  return chw;
}

}  // namespace mfd
