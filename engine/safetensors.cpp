#include "engine/safetensors.h"

#include "engine/json.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::ostringstream header;
  header << "{";
  if (!metadata.empty()) {
    header << "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header << (first ? "" : ",") << json_quote(k) << ":" << json_quote(v);
      first = false;
    }
    header << "}";
  }
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i].second;
    header << (i || !metadata.empty() ? "," : "") << json_quote(tensors[i].first) << ":{\"dtype\":\""
           << dtype_tag(t.dtype()) << "\",\"shape\":[";
    for (int d = 0; d < t.ndim(); ++d) header << (d ? "," : "") << t.size(d);
    header << "],\"data_offsets\":[" << offset << "," << offset + t.nbytes() << "]}";
    offset += t.nbytes();
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
  for (const auto& [name, t] : tensors) {
    if (!ok) break;
    Tensor host = t.to(Device::cpu);
    ok = std::fwrite(host.raw(), 1, host.nbytes(), f) == host.nbytes();
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

SafetensorsContents load_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  MFD_CHECK(f, path, ": file not found");
  const uint64_t size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  MFD_CHECK(size >= 8, path, ": truncated: ", size, " bytes, shorter than the 8-byte header length");
  unsigned char len[8];
  f.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= static_cast<uint64_t>(len[b]) << (8 * b);
  MFD_CHECK(n <= size - 8, path, ": truncated or corrupted: the header announces ", n, " bytes, the file has ",
            size - 8, " after the length");
  std::string text(n, '\0');
  f.read(text.data(), static_cast<std::streamsize>(n));
  const uint64_t data_start = 8 + n, data_size = size - data_start;

  SafetensorsContents out;
  const Json header = parse_json(text, path);
  MFD_CHECK(header.kind == Json::Kind::object, path, ": malformed safetensors header: not a JSON object");
  // Tensors in the order of their data, so that a truncated file names the first one cut off.
  std::vector<std::pair<double, std::string>> order;
  for (const auto& [name, entry] : header.fields) {
    MFD_CHECK(entry.kind == Json::Kind::object, path, ": malformed safetensors header: entry '", name,
              "' is not an object");
    if (name == "__metadata__") {
      for (const auto& [key, value] : entry.fields) out.metadata[key] = value.text;
      continue;
    }
    const std::vector<double> offsets = entry.has("data_offsets") ? entry.at("data_offsets").numbers() : std::vector<double>{};
    order.emplace_back(offsets.empty() ? 0.0 : offsets[0], name);
  }
  std::sort(order.begin(), order.end());
  for (const auto& [start, name] : order) {
    const Json& entry = header.at(name);
    for (const auto& [field, v] : entry.fields)
      MFD_CHECK(field == "dtype" || field == "shape" || field == "data_offsets", path,
                ": malformed safetensors header: unknown field '", field, "' of tensor '", name, "'");
    const DType t = parse_dtype(entry.has("dtype") ? entry.at("dtype").text : "", path, name);
    Shape s;
    for (double d : entry.has("shape") ? entry.at("shape").numbers() : std::vector<double>{}) s.push_back(static_cast<int64_t>(d));
    std::vector<int64_t> offsets;
    for (double d : entry.has("data_offsets") ? entry.at("data_offsets").numbers() : std::vector<double>{})
      offsets.push_back(static_cast<int64_t>(d));
    MFD_CHECK(offsets.size() == 2 && offsets[1] - offsets[0] == static_cast<int64_t>(s.numel() * dtype_size(t)),
              path, ": tensor '", name, "' has data_offsets that do not match its shape ", s.str());
    MFD_CHECK(static_cast<uint64_t>(offsets[1]) <= data_size, path, ": truncated: tensor '", name, "' ends at byte ",
              data_start + offsets[1], ", the file has ", size);
    Tensor host = Tensor::empty(s, t);
    f.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
    f.read(static_cast<char*>(host.raw()), static_cast<std::streamsize>(host.nbytes()));
    out.tensors[name] = host;
  }
  return out;
}

}  // namespace mfd
