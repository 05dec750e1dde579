#include "engine/json.h"

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace mfd {

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_number(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, x).ptr);
}

JsonObject& JsonObject::raw(const std::string& key, const std::string& json) {
  body_ += (body_.empty() ? "" : ", ") + json_quote(key) + ": " + json;
  return *this;
}

JsonObject& JsonObject::add(const std::string& key, const std::vector<double>& values) {
  std::string list;
  for (double v : values) list += (list.empty() ? "" : ", ") + json_number(v);
  return raw(key, "[" + list + "]");
}

JsonObject& JsonObject::add(const std::string& key, const std::map<std::string, std::string>& strings) {
  JsonObject inner;
  for (const auto& [k, v] : strings) inner.add(k, v);
  return raw(key, inner.str());
}

namespace {

class Parser {
 public:
  Parser(const std::string& s, const std::string& origin) : s_(s), origin_(origin) {}

  Json document() {
    Json v = value();
    space();
    if (i_ != s_.size()) bad("trailing characters");
    return v;
  }

 private:
  Json value() {
    space();
    if (i_ >= s_.size()) bad("unexpected end");
    Json v;
    const char c = s_[i_];
    if (c == '{') {
      v.kind = Json::Kind::object;
      ++i_;
      if (take('}')) return v;
      do {
        space();
        std::string key = string();
        if (!take(':')) bad("expected ':'");
        v.fields[key] = value();
      } while (take(','));
      if (!take('}')) bad("expected ',' or '}'");
    } else if (c == '[') {
      v.kind = Json::Kind::array;
      ++i_;
      if (take(']')) return v;
      do v.items.push_back(value());
      while (take(','));
      if (!take(']')) bad("expected ',' or ']'");
    } else if (c == '"') {
      v.kind = Json::Kind::string;
      v.text = string();
    } else if (word("true") || word("false")) {
      v.kind = Json::Kind::boolean;
      v.boolean = s_[i_ - 1] == 'e' && s_[i_ - 2] == 'u';
    } else if (word("null")) {
      v.kind = Json::Kind::null;
    } else {
      const char* begin = s_.c_str() + i_;
      char* end = nullptr;
      v.kind = Json::Kind::number;
      v.number = std::strtod(begin, &end);
      if (end == begin) bad("expected a value");
      i_ += static_cast<size_t>(end - begin);
    }
    return v;
  }
  std::string string() {
    if (!take('"')) bad("expected '\"'");
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
        const char e = s_[++i_];
        if (e == 'u' && i_ + 4 < s_.size()) {  // \uXXXX (a code point below 0x10000), as UTF-8
          const unsigned code = static_cast<unsigned>(std::strtoul(s_.substr(i_ + 1, 4).c_str(), nullptr, 16));
          i_ += 4;
          if (code < 0x80) {
            out += static_cast<char>(code);
          } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
          }
        } else {
          out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
        }
      } else {
        out += s_[i_];
      }
      ++i_;
    }
    if (!take('"')) bad("unterminated string");
    return out;
  }
  bool word(const char* w) {
    const size_t n = std::char_traits<char>::length(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool take(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  void space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  [[noreturn]] void bad(const char* what) { fail(origin_, ": malformed JSON at byte ", i_, ": ", what); }

  const std::string& s_;
  const std::string& origin_;
  size_t i_ = 0;
};

}  // namespace

const Json& Json::at(const std::string& key) const {
  auto it = fields.find(key);
  MFD_CHECK(it != fields.end(), "JSON object has no field '", key, "'");
  return it->second;
}

double Json::number_or(const std::string& key, double fallback) const {
  auto it = fields.find(key);
  if (it == fields.end()) return fallback;
  if (it->second.kind == Kind::null) return NAN;
  return it->second.kind == Kind::number ? it->second.number : fallback;
}

std::vector<double> Json::numbers() const {
  std::vector<double> out;
  for (const Json& v : items) out.push_back(v.kind == Kind::number ? v.number : NAN);
  return out;
}

Json parse_json(const std::string& text, const std::string& origin) { return Parser(text, origin).document(); }

Json read_json_file(const std::string& path) {
  std::ifstream in(path);
  MFD_CHECK(in, "cannot read ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json(ss.str(), path);
}

}  // namespace mfd
