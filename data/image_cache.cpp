#include "data/image_cache.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "data/image_decode.h"
#include "engine/error.h"

namespace mfd {

namespace {
constexpr char kMagic[8] = {'M', 'F', 'D', 'I', 'M', 'G', '0', '1'};

struct CacheHeader {
  char magic[8];
  uint64_t fingerprint;
  int64_t n, c, h, w, num_classes;
};

uint64_t mix(uint64_t h, uint64_t v) {  // FNV-1a over the 8 bytes of v
  for (int i = 0; i < 8; ++i) h = (h ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  return h;
}
}  // namespace

uint64_t files_fingerprint(const std::vector<std::string>& paths) {
  uint64_t h = 1469598103934665603ull;
  for (const std::string& p : paths) {
    for (char ch : p) h = mix(h, static_cast<unsigned char>(ch));
    struct stat st;
    if (stat(p.c_str(), &st) == 0) {
      h = mix(h, static_cast<uint64_t>(st.st_size));
      h = mix(h, static_cast<uint64_t>(st.st_mtime));
    }
  }
  return h;
}

bool load_image_cache(const std::string& path, uint64_t fingerprint, ImageDataset& ds) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return false;
  const int64_t size = static_cast<int64_t>(f.tellg());
  f.seekg(0);
  CacheHeader h;
  if (size < static_cast<int64_t>(sizeof h) || !f.read(reinterpret_cast<char*>(&h), sizeof h)) return false;
  if (std::string(h.magic, 8) != std::string(kMagic, 8) || h.fingerprint != fingerprint) return false;
  const int64_t expected = static_cast<int64_t>(sizeof h) + h.n * 4 + h.n * h.c * h.h * h.w;
  if (h.n < 0 || size != expected) return false;
  ds.n = h.n;
  ds.c = h.c;
  ds.h = h.h;
  ds.w = h.w;
  ds.num_classes = static_cast<int>(h.num_classes);
  ds.labels.resize(h.n);
  ds.pixels.resize(h.n * h.c * h.h * h.w);
  f.read(reinterpret_cast<char*>(ds.labels.data()), h.n * 4);
  f.read(reinterpret_cast<char*>(ds.pixels.data()), static_cast<std::streamsize>(ds.pixels.size()));
  return static_cast<bool>(f);
}

bool save_image_cache(const std::string& path, uint64_t fingerprint, const ImageDataset& ds) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) return false;
    CacheHeader h{};
    std::copy(kMagic, kMagic + 8, h.magic);
    h.fingerprint = fingerprint;
    h.n = ds.n;
    h.c = ds.c;
    h.h = ds.h;
    h.w = ds.w;
    h.num_classes = ds.num_classes;
    f.write(reinterpret_cast<const char*>(&h), sizeof h);
    f.write(reinterpret_cast<const char*>(ds.labels.data()), ds.n * 4);
    f.write(reinterpret_cast<const char*>(ds.pixels.data()), static_cast<std::streamsize>(ds.pixels.size()));
    if (!f) {
      std::remove(tmp.c_str());
      return false;
    }
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

ImageDataset cached_image_dataset(const std::vector<std::string>& paths, const std::vector<int32_t>& labels,
                                  int num_classes, int size, const std::string& cache) {
  ImageDataset ds;
  const uint64_t fingerprint = files_fingerprint(paths) ^ static_cast<uint64_t>(num_classes);
  if (load_image_cache(cache, fingerprint, ds) && ds.labels == labels) return ds;
  ds.n = static_cast<int64_t>(paths.size());
  ds.c = 3;
  ds.h = ds.w = size;
  ds.num_classes = num_classes;
  ds.labels = labels;
  ds.pixels.assign(ds.n * ds.image_size(), 0);
  std::vector<std::string> errors(paths.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < ds.n; ++i) {
    try {
      std::vector<uint8_t> chw = decode_image_chw(paths[i], size);
      std::copy(chw.begin(), chw.end(), ds.pixels.begin() + i * ds.image_size());
    } catch (const Error& e) {
      errors[i] = e.what();  // exceptions must not leave the parallel region
    }
  }
  for (const std::string& e : errors) MFD_CHECK(e.empty(), e);
  if (!save_image_cache(cache, fingerprint, ds))
    std::fprintf(stderr, "note: could not write the cache %s; decoding again next time\n", cache.c_str());
  return ds;
}

}  // namespace mfd
