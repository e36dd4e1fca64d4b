// The JSON position scanner behind located profile and plan errors.
#include "formats/json_locate.h"

#include <gtest/gtest.h>

namespace saturn::json_locate {
namespace {

const char* kDoc = R"({
  "a": [10,
        {"b\"}": "x{[\n\"]",
         "c": {"d/e": 1,
               "f": [[], [
                 true]]}}],
  "g": null
}
)";

TEST(JsonLocate, LineOfPaths) {
  EXPECT_EQ(line_of(kDoc, ""), 1);
  EXPECT_EQ(line_of(kDoc, "a"), 2);
  EXPECT_EQ(line_of(kDoc, "a/0"), 2);
  EXPECT_EQ(line_of(kDoc, "/a/1"), 3);
  EXPECT_EQ(line_of(kDoc, Path{"a", "1", "b\"}"}), 3);
  EXPECT_EQ(line_of(kDoc, "a/1/c"), 4);
  EXPECT_EQ(line_of(kDoc, "a/1/c/d~1e"), 4);
  EXPECT_EQ(line_of(kDoc, "a/1/c/f/0"), 5);
  EXPECT_EQ(line_of(kDoc, "a/1/c/f/1/0"), 6);
  EXPECT_EQ(line_of(kDoc, "g"), 7);
  EXPECT_EQ(line_of(kDoc, "missing"), 0);
  EXPECT_EQ(line_of(kDoc, "a/7"), 0);
  EXPECT_EQ(line_of(kDoc, "g/x"), 0);
}

TEST(JsonLocate, DecodesEscapedKeys) {
  EXPECT_EQ(line_of("{\n\"\\u00e9t\\u00e9\": 1}", Path{"\xc3\xa9t\xc3\xa9"}), 2);
  EXPECT_EQ(
      line_of("{\"x\":\n \"\\ud83d\\ude00\", \"\\ud83d\\ude00\":\n 2}", Path{"\xf0\x9f\x98\x80"}),
      3);
}

TEST(JsonLocate, MalformedTextYieldsNotFound) {
  EXPECT_EQ(line_of("{\"a\": [1, 2", "a/5"), 0);
  EXPECT_EQ(line_of("{\"a\" 1}", "a"), 0);
  EXPECT_EQ(line_of("", ""), 0);
  EXPECT_EQ(line_of(std::string(100000, '['), "0/0"), 1);
  EXPECT_FALSE(find_duplicate_key(std::string(100000, '[')).has_value());
}

TEST(JsonLocate, FindsDuplicateKeys) {
  EXPECT_FALSE(find_duplicate_key(kDoc).has_value());
  EXPECT_FALSE(find_duplicate_key(R"({"a": {"x": 1}, "b": {"x": 2}})").has_value());
  auto dup = find_duplicate_key("{\"t\": [{}, {\"k\": 1,\n \"k\": 2}]}");
  ASSERT_TRUE(dup.has_value());
  EXPECT_EQ(dup->path, (Path{"t", "1", "k"}));
  EXPECT_EQ(dup->field, "t[1].k");
  EXPECT_EQ(dup->line, 2);
  EXPECT_EQ(dup->first_line, 1);
  // Escapes are decoded before comparing.
  EXPECT_TRUE(find_duplicate_key(R"({"a": 1, "\u0061": 2})").has_value());
}

TEST(JsonLocate, LineAtOffset) {
  EXPECT_EQ(line_at_offset("a\nb\nc", 0), 1);
  EXPECT_EQ(line_at_offset("a\nb\nc", 1), 1);
  EXPECT_EQ(line_at_offset("a\nb\nc", 2), 2);
  EXPECT_EQ(line_at_offset("a\nb\nc", 99), 3);
}

}  // namespace
}  // namespace saturn::json_locate
