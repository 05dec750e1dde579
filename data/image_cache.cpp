#include "data/image_cache.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

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

}  // namespace mfd
