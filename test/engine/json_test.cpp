// The JSON reader: every kind of value, nesting, empty containers, escapes, and errors that name
// the origin and the byte.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/json.h"
#include "test/test_util.h"

namespace mfd::test {
namespace {

TEST(Json, ReadsEveryKindOfValue) {
  const Json j = parse_json(
      R"({"a": 1.5, "b": "x \"q\" \\ y", "c": [], "d": {}, "e": [1, -2e3, null], "f": true, "g": false, "h": null,
          "i": {"j": [[]]}})",
      "t.json");
  ASSERT_EQ(j.kind, Json::Kind::object);
  EXPECT_EQ(j.at("a").number, 1.5);
  EXPECT_EQ(j.at("b").text, "x \"q\" \\ y");
  EXPECT_TRUE(j.at("c").items.empty());
  EXPECT_EQ(j.at("c").kind, Json::Kind::array);
  EXPECT_TRUE(j.at("d").fields.empty());
  const std::vector<double> e = j.at("e").numbers();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[1], -2000.0);
  EXPECT_TRUE(std::isnan(e[2]));
  EXPECT_TRUE(j.at("f").boolean);
  EXPECT_FALSE(j.at("g").boolean);
  EXPECT_EQ(j.at("h").kind, Json::Kind::null);
  EXPECT_TRUE(std::isnan(j.number_or("h", 7.0)));
  EXPECT_EQ(j.number_or("absent", 7.0), 7.0);
  EXPECT_EQ(j.at("i").at("j").items.size(), 1u);
  EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(parse_json(json_quote("a\"b\\c"), "t").text, "a\"b\\c");
}

TEST(Json, ErrorsNameTheOriginAndTheByte) {
  EXPECT_NE(error_message([] { parse_json("{\"a\": [1, 2}", "m.json"); }).find("m.json: malformed JSON at byte 11"),
            std::string::npos);
  EXPECT_NE(error_message([] { parse_json("{} x", "m.json"); }).find("trailing characters"), std::string::npos);
  EXPECT_NE(error_message([] { parse_json("{\"a\": }", "m.json"); }).find("expected a value"), std::string::npos);
  EXPECT_NE(error_message([] { parse_json("", "m.json"); }).find("unexpected end"), std::string::npos);
  EXPECT_NE(error_message([] { parse_json("{}", "m.json").at("k"); }).find("no field 'k'"), std::string::npos);
  EXPECT_NE(error_message([] { read_json_file("/nonexistent/x.json"); }).find("cannot read /nonexistent/x.json"),
            std::string::npos);
}

}  // namespace
}  // namespace mfd::test
