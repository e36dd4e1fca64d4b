// Checked access to parsed YAML (yaml-cpp) for the cluster and workload readers: strict scalar
// conversions and key checks that turn into Errors with the file, the 1-based line and the field
// path ("nodes[1].gpus"). Nothing here throws. Private to libsaturn.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "saturn/error.h"

namespace saturn::formats {

// 1-based line of `node`, 0 when yaml-cpp has no position for it.
int yaml_line(const YAML::Node& node);

// Parses one YAML document. Syntax errors (and a second document) become Errors with the line.
Result<YAML::Node> parse_yaml_document(std::string_view text, std::string_view source);

class YamlChecker {
 public:
  explicit YamlChecker(std::string_view source) : source_(source) {}

  Error error(const YAML::Node& at, std::string field, std::string message) const;
  Error error_at_line(int line, std::string field, std::string message) const;

  // `node` must be a map whose keys are plain scalars, each in `allowed` and none repeated.
  Status check_map(const YAML::Node& node, const std::string& field,
                   const std::vector<std::string_view>& allowed) const;

  // Any scalar, as written (quoted or not). Null and collections are rejected.
  Result<std::string> get_string(const YAML::Node& node, const std::string& field,
                                 bool non_empty) const;
  // An unquoted decimal integer in [min, max].
  Result<std::int64_t> get_int(const YAML::Node& node, const std::string& field, std::int64_t min,
                               std::int64_t max) const;
  Result<std::uint64_t> get_uint64(const YAML::Node& node, const std::string& field) const;
  // An unquoted finite number, >= min (or > min when `exclusive`), and < max_exclusive.
  Result<double> get_number(const YAML::Node& node, const std::string& field, double min,
                            bool exclusive, double max_exclusive = HUGE_VAL) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

// How a node is written, for messages: "the string \"eight\"", "a list", "2.5", ...
std::string describe_yaml(const YAML::Node& node);

// Text of a key node, "" for non-scalar keys.
std::string yaml_key(const YAML::Node& key);

}  // namespace saturn::formats
