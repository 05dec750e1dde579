// The one JSON helper the project needs: a string as a JSON string literal (safetensors headers,
// run configurations).
#pragma once
#include <string>

namespace mfd {

// s in double quotes, with its quotes and backslashes escaped.
inline std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace mfd
