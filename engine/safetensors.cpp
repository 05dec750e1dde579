#include "engine/safetensors.h"

#include "engine/json.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mfd {

namespace {

const char* dtype_tag(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

DType parse_dtype(const std::string& tag, const std::string& path, const std::string& name) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64})
    if (tag == dtype_tag(t)) return t;
  fail(path, ": tensor '", name, "' has dtype ", tag, ", which mfd does not read (F32, F64, I32, I64)");
}

// Checksums (CRC-32, zlib's) in the metadata: one per tensor over its bytes, and one over the
// header's content, so that a flipped byte anywhere is found. Other readers ignore them.
const std::string kTensorCrc = "mfd.crc32/", kHeaderCrc = "mfd.crc32.header";

uint32_t crc32_of(const void* data, size_t n) {
  return static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), static_cast<const Bytef*>(data), n));
}

std::string hex(uint32_t crc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

struct HeaderEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// The header's content in one canonical text (tensors and metadata sorted by name, the header
// checksum itself left out), whatever the JSON's spacing or order.
uint32_t header_crc(std::vector<HeaderEntry> entries, const std::map<std::string, std::string>& metadata) {
  std::sort(entries.begin(), entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) { return a.name < b.name; });
  std::string text;
  for (const HeaderEntry& e : entries)
    text += json_quote(e.name) + " " + dtype_tag(e.dtype) + " " + e.shape.str() + " " + std::to_string(e.begin) + " " +
            std::to_string(e.end) + "\n";
  for (const auto& [k, v] : metadata)
    if (k != kHeaderCrc) text += json_quote(k) + "=" + json_quote(v) + "\n";
  return crc32_of(text.data(), text.size());
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> host;
  std::vector<HeaderEntry> entries;
  std::map<std::string, std::string> meta = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    host.push_back(t.to(Device::cpu));
    entries.push_back({name, t.dtype(), t.shape(), offset, offset + t.nbytes()});
    offset += t.nbytes();
    meta[kTensorCrc + name] = hex(crc32_of(host.back().raw(), host.back().nbytes()));
  }
  meta[kHeaderCrc] = hex(header_crc(entries, meta));
  std::ostringstream header;
  header << "{\"__metadata__\":{";
  bool first = true;
  for (const auto& [k, v] : meta) {
    header << (first ? "" : ",") << json_quote(k) << ":" << json_quote(v);
    first = false;
  }
  header << "}";
  for (const HeaderEntry& e : entries) {
    header << "," << json_quote(e.name) << ":{\"dtype\":\"" << dtype_tag(e.dtype) << "\",\"shape\":[";
    for (int d = 0; d < e.shape.ndim(); ++d) header << (d ? "," : "") << e.shape[d];
    header << "],\"data_offsets\":[" << e.begin << "," << e.end << "]}";
  }
  header << "}";
  std::string text = header.str();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned

  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  MFD_CHECK(f, "cannot write ", tmp, ": ", std::strerror(errno));
  uint64_t n = text.size();
  unsigned char len[8];
  for (int b = 0; b < 8; ++b) len[b] = static_cast<unsigned char>(n >> (8 * b));  // little-endian
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, n, f) == n;
  // Test hook: MFD_TEST_SIGKILL_IN_SAVE=N kills the process during the N-th save, the temporary
  // file half written (the resume tests).
  static int saves = 0;
  if (const char* hook = std::getenv("MFD_TEST_SIGKILL_IN_SAVE"); hook && ++saves == std::atoi(hook)) {
    std::fflush(f);
    std::raise(SIGKILL);
  }
  for (const Tensor& t : host) {
    if (!ok) break;
    ok = std::fwrite(t.raw(), 1, t.nbytes(), f) == t.nbytes();
  }
  ok = ok && std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    fail("writing ", tmp, " failed: ", std::strerror(errno), " (disk full?); ", path, " is unchanged");
  }
  MFD_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path, ": ",
            std::strerror(errno));
}

namespace {

struct Header {
  std::vector<HeaderEntry> entries;  // in the order of their data
  std::map<std::string, std::string> metadata;  // with the checksums
  uint64_t data_start = 0, size = 0;
};

// Reads and checks the header: its JSON, every entry's fields, its checksum when it has one, and
// that every tensor lies within the file (naming the first one cut off by a truncation).
Header read_header(const std::string& path, std::ifstream& f) {
  MFD_CHECK(f, path, ": file not found");
  Header h;
  f.seekg(0, std::ios::end);
  h.size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  MFD_CHECK(h.size >= 8, path, ": truncated: ", h.size, " bytes, shorter than the 8-byte header length");
  unsigned char len[8];
  f.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= static_cast<uint64_t>(len[b]) << (8 * b);
  MFD_CHECK(n <= h.size - 8, path, ": truncated or corrupted: the header announces ", n, " bytes, the file has ",
            h.size - 8, " after the length");
  std::string text(n, '\0');
  f.read(text.data(), static_cast<std::streamsize>(n));
  h.data_start = 8 + n;

  const Json header = parse_json(text, path);
  MFD_CHECK(header.kind == Json::Kind::object, path, ": malformed safetensors header: not a JSON object");
  for (const auto& [name, entry] : header.fields) {
    MFD_CHECK(entry.kind == Json::Kind::object, path, ": malformed safetensors header: entry '", name,
              "' is not an object");
    if (name == "__metadata__") {
      for (const auto& [key, value] : entry.fields) h.metadata[key] = value.text;
      continue;
    }
    for (const auto& [field, v] : entry.fields)
      MFD_CHECK(field == "dtype" || field == "shape" || field == "data_offsets", path,
                ": malformed safetensors header: unknown field '", field, "' of tensor '", name, "'");
    const DType t = parse_dtype(entry.has("dtype") ? entry.at("dtype").text : "", path, name);
    Shape s;
    for (double d : entry.has("shape") ? entry.at("shape").numbers() : std::vector<double>{}) s.push_back(static_cast<int64_t>(d));
    std::vector<double> offsets = entry.has("data_offsets") ? entry.at("data_offsets").numbers() : std::vector<double>{};
    MFD_CHECK(offsets.size() == 2 && offsets[0] >= 0 &&
                  offsets[1] - offsets[0] == static_cast<double>(s.numel() * dtype_size(t)),
              path, ": tensor '", name, "' has data_offsets that do not match its shape ", s.str());
    h.entries.push_back({name, t, s, static_cast<uint64_t>(offsets[0]), static_cast<uint64_t>(offsets[1])});
  }
  if (h.metadata.count(kHeaderCrc))
    MFD_CHECK(h.metadata.at(kHeaderCrc) == hex(header_crc(h.entries, h.metadata)), path,
              ": the header is damaged: its names, shapes, offsets or metadata do not match the checksum written "
              "with them; use another copy of the file or another checkpoint");
  else
    for (const auto& [k, v] : h.metadata)
      MFD_CHECK(k.rfind(kTensorCrc, 0) != 0, path, ": the header is damaged: tensor checksums without the header's");
  std::sort(h.entries.begin(), h.entries.end(), [](const HeaderEntry& a, const HeaderEntry& b) { return a.begin < b.begin; });
  for (const HeaderEntry& e : h.entries)
    MFD_CHECK(e.end <= h.size - h.data_start, path, ": truncated: tensor '", e.name, "' ends at byte ", h.data_start + e.end,
              ", the file has ", h.size);
  return h;
}

// The metadata without the checksums, which belong to the format.
std::map<std::string, std::string> user_metadata(std::map<std::string, std::string> metadata) {
  for (auto it = metadata.begin(); it != metadata.end();)
    it = it->first.rfind("mfd.crc32", 0) == 0 ? metadata.erase(it) : std::next(it);
  return metadata;
}

}  // namespace

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return user_metadata(read_header(path, f).metadata);
}

SafetensorsContents load_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  const Header h = read_header(path, f);
  const bool checked = h.metadata.count(kHeaderCrc) > 0;
  SafetensorsContents out;
  for (const HeaderEntry& e : h.entries) {
    Tensor host = Tensor::empty(e.shape, e.dtype);
    f.seekg(static_cast<std::streamoff>(h.data_start + e.begin));
    f.read(static_cast<char*>(host.raw()), static_cast<std::streamsize>(host.nbytes()));
    if (checked) {
      auto crc = h.metadata.find(kTensorCrc + e.name);
      MFD_CHECK(crc != h.metadata.end(), path, ": the header is damaged: tensor '", e.name, "' has no checksum");
      MFD_CHECK(crc->second == hex(crc32_of(host.raw(), host.nbytes())), path, ": tensor '", e.name,
                "' is damaged: its bytes do not match the checksum written with them (a disk or copy error); "
                "use another copy of the file or another checkpoint");
    }
    out.tensors[e.name] = host;
  }
  out.metadata = user_metadata(h.metadata);
  return out;
}

}  // namespace mfd
