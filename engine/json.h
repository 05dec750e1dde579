// The JSON the project reads and writes: run configurations, results and metrics logs, and
// safetensors headers. A small reader for whole documents (objects, arrays, strings, numbers,
// true/false/null), json_quote, and JsonObject, which writes an object field by field.
#pragma once
#include <map>
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

namespace mfd {

// s in double quotes, with quotes, backslashes and control characters escaped.
std::string json_quote(const std::string& s);
// The shortest text that reads back as the same double; "null" when not finite (our logs' NaN).
std::string json_number(double x);

// One JSON object, written field by field in the order given:
//   JsonObject().add("epoch", 3).add("train_mfd", losses).str()  ->  {"epoch": 3, "train_mfd": [...]}
class JsonObject {
 public:
  JsonObject& add(const std::string& key, double value) { return raw(key, json_number(value)); }
  JsonObject& add(const std::string& key, int value) { return raw(key, std::to_string(value)); }
  JsonObject& add(const std::string& key, int64_t value) { return raw(key, std::to_string(value)); }
  JsonObject& add(const std::string& key, bool value) { return raw(key, value ? "true" : "false"); }
  JsonObject& add(const std::string& key, const std::string& value) { return raw(key, json_quote(value)); }
  JsonObject& add(const std::string& key, const char* value) { return raw(key, json_quote(value)); }
  JsonObject& add(const std::string& key, const std::vector<double>& values);
  JsonObject& add(const std::string& key, const std::map<std::string, std::string>& strings);
  JsonObject& raw(const std::string& key, const std::string& json);  // a value already in JSON
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

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
