#include "data/idx.h"

#include <zlib.h>

#include <algorithm>

#include <sys/stat.h>

#include "engine/error.h"

namespace mfd {

namespace {

// gzread reads gzipped and plain files alike.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f_) gzclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  // Reads up to n bytes; returns how many were read.
  size_t read(void* dst, size_t n) {
    size_t done = 0;
    while (done < n) {
      unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      int got = gzread(f_, static_cast<char*>(dst) + done, chunk);
      if (got <= 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

 private:
  gzFile f_;
};

uint32_t big_endian_u32(const uint8_t* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  struct stat st;
  MFD_CHECK(stat(path.c_str(), &st) == 0, path, ": file not found");
  GzFile f(path);
  MFD_CHECK(f.ok(), path, ": cannot open");
  uint8_t magic[4];
  MFD_CHECK(f.read(magic, 4) == 4, path, ": truncated: shorter than the 4-byte IDX magic number");
  MFD_CHECK(magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && magic[3] >= 1 && magic[3] <= 4,
            path, ": not an unsigned-byte IDX file (magic bytes ", int(magic[0]), " ", int(magic[1]),
            " ", int(magic[2]), " ", int(magic[3]), ", expected 0 0 8 <dims>)");
  IdxArray out;
  size_t header = 4 + 4 * magic[3], count = 1;
  for (int i = 0; i < magic[3]; ++i) {
    uint8_t b[4];
    MFD_CHECK(f.read(b, 4) == 4, path, ": truncated inside the header (", header, " bytes expected)");
    out.dims.push_back(big_endian_u32(b));
    count *= out.dims.back();
  }
  out.data.resize(count);
  size_t got = f.read(out.data.data(), count);
  MFD_CHECK(got == count, path, ": truncated: ", header + got, " bytes (decompressed), expected ",
            header + count, " for dimensions of ", count, " values");
  uint8_t extra;
  MFD_CHECK(f.read(&extra, 1) == 0, path, ": longer than its header announces (", header + count,
            " bytes expected)");
  return out;
}

}  // namespace mfd
