// Checked access to a parsed JSON document for the profile-table and plan readers: type and range
// checks that turn into Errors carrying the file, the line (found with json_locate) and the field
// path ("tasks[2].configs[0].runtime_s"). Private to libsaturn.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/json_locate.h"
#include "saturn/error.h"

namespace saturn::formats {

// A position in a JSON document: keys and array indices from the root.
class JsonPath {
 public:
  JsonPath() = default;
  JsonPath operator/(std::string_view key) const;
  JsonPath operator/(std::size_t index) const;

  // "tasks[2].configs[0].runtime_s"; empty for the root.
  std::string field() const;
  const json_locate::Path& segments() const { return segments_; }

 private:
  json_locate::Path segments_;
  std::vector<bool> is_index_;
};

// Parses `text` as JSON (no comments). Syntax errors and keys repeated within one object become
// Errors with the line; `source` names the input.
Result<nlohmann::json> parse_json_document(std::string_view text, std::string_view source);

class JsonChecker {
 public:
  JsonChecker(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  // An Error at `at`; the line is that of the value at `at`, or of its nearest present ancestor.
  Error error(const JsonPath& at, std::string message) const;

  // `value` must be an object whose keys are all in `allowed`.
  Status check_object(const nlohmann::json& value, const JsonPath& at,
                      std::initializer_list<std::string_view> allowed) const;
  // `object[key]` must be present.
  Status require(const nlohmann::json& object, const JsonPath& at, std::string_view key) const;

  Result<std::string> get_string(const nlohmann::json& value, const JsonPath& at,
                                 bool non_empty) const;
  // An integer (not a float) in [min, max].
  Result<long long> get_int(const nlohmann::json& value, const JsonPath& at, long long min,
                            long long max) const;
  // A finite number, >= min (or > min when `exclusive`).
  Result<double> get_number(const nlohmann::json& value, const JsonPath& at, double min,
                            bool exclusive) const;
  // An array (possibly empty when `non_empty` is false).
  Status check_array(const nlohmann::json& value, const JsonPath& at, bool non_empty) const;

  std::string_view source() const { return source_; }

 private:
  std::string_view text_;
  std::string source_;
};

// "an object", "a string", ... for messages.
std::string describe_json_type(const nlohmann::json& value);

}  // namespace saturn::formats
