// The JSON the project reads and writes: run configurations, results and metrics logs, and
// safetensors headers. A small reader for whole documents (objects, arrays, strings, numbers,
// true/false/null) and the one writing helper, json_quote.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

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

struct Json {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  bool boolean = false;
  double number = 0.0;
  std::string text;                    // string
  std::vector<Json> items;             // array
  std::map<std::string, Json> fields;  // object

  bool has(const std::string& key) const { return fields.count(key) > 0; }
  // The field `key` of an object; fails (naming the key) when absent.
  const Json& at(const std::string& key) const;
  // A number field, or `fallback` when absent or not a number (null stands for NaN in our logs).
  double number_or(const std::string& key, double fallback) const;
  std::vector<double> numbers() const;  // an array of numbers (null -> NaN)
};

// Parses one JSON document; a syntax error names `origin` (a file name) and the byte offset.
Json parse_json(const std::string& text, const std::string& origin);
// The whole file parsed; a missing or malformed file fails naming it.
Json read_json_file(const std::string& path);

}  // namespace mfd
