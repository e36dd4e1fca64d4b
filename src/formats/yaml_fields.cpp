// Checked access to parsed YAML with located errors. See yaml_fields.h.
#include "formats/yaml_fields.h"

#include <cmath>
#include <exception>
#include <map>
#include <string_view>

#include "formats/common.h"

namespace saturn::formats {

int yaml_line(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0) return 0;
  return mark.line + 1;
}

namespace {
// 1-based line of a second document's "---" marker (or of content after a "..." end marker), 0
// when the text holds one document. yaml-cpp's LoadAll can loop forever on some malformed
// inputs, so documents are counted on the raw text instead.
int second_document_line(std::string_view text) {
  bool content = false;
  bool ended = false;
  int line = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(start, end - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    ++line;
    start = end + 1;
    const auto marker = [&](std::string_view m) {
      return l.substr(0, 3) == m && (l.size() == 3 || l[3] == ' ' || l[3] == '\t');
    };
    const std::size_t first = l.find_first_not_of(" \t");
    const bool blank = first == std::string_view::npos || l[first] == '#';
    if (marker("---")) {
      if (content || ended) return line;
      continue;
    }
    if (marker("...")) {
      ended = true;
      continue;
    }
    if (blank) continue;
    if (ended) return line;
    if (l[0] != '%') content = true;  // directives belong to the next document
  }
  return 0;
}
}  // namespace

Result<YAML::Node> parse_yaml_document(std::string_view text, std::string_view source) {
  try {
    YAML::Node doc = YAML::Load(std::string(text));
    if (const int line = second_document_line(text); line > 0) {
      return Error{std::string(source), line, "", "expected one YAML document, found more"};
    }
    return doc;
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    return Error{std::string(source), line, "", "invalid YAML: " + e.msg};
  } catch (const std::exception& e) {
    return Error{std::string(source), 0, "", std::string("invalid YAML: ") + e.what()};
  }
}

std::string describe_yaml(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing (null)";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  if (node.Tag() == "!") return "the string \"" + node.Scalar() + "\"";
  return node.Scalar();
}

std::string yaml_key(const YAML::Node& key) {
  return key.IsScalar() ? key.Scalar() : "";
}

Error YamlChecker::error(const YAML::Node& at, std::string field, std::string message) const {
  return Error{source_, yaml_line(at), std::move(field), std::move(message)};
}

Error YamlChecker::error_at_line(int line, std::string field, std::string message) const {
  return Error{source_, line, std::move(field), std::move(message)};
}

Status YamlChecker::check_map(const YAML::Node& node, const std::string& field,
                              const std::vector<std::string_view>& allowed) const {
  if (!node.IsMap()) return error(node, field, "expected a map, got " + describe_yaml(node));
  std::map<std::string, int> seen;  // key -> line
  for (const auto& kv : node) {
    const std::string key = yaml_key(kv.first);
    const std::string key_field = field.empty() ? key : field + "." + key;
    if (!kv.first.IsScalar()) return error(kv.first, field, "map keys must be plain names");
    bool known = false;
    for (std::string_view k : allowed) known = known || k == key;
    if (!known) {
      std::string list;
      for (std::string_view k : allowed) list += (list.empty() ? "" : ", ") + std::string(k);
      return error(kv.first, key_field, "unknown key \"" + key + "\" (allowed: " + list + ")");
    }
    if (kv.second.IsNull()) {
      // yaml-cpp places an empty value at the next token, so report the key's line.
      return error(kv.first, key_field, "\"" + key + "\" has no value");
    }
    const auto [it, inserted] = seen.emplace(key, yaml_line(kv.first));
    if (!inserted) {
      return error(
          kv.first, key_field,
          "key \"" + key + "\" appears twice (first on line " + std::to_string(it->second) + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> YamlChecker::get_string(const YAML::Node& node, const std::string& field,
                                            bool non_empty) const {
  if (!node.IsDefined()) return error(node, field, "missing value");
  if (!node.IsScalar()) return error(node, field, "expected a string, got " + describe_yaml(node));
  const std::string& text = node.Scalar();
  if (non_empty && text.empty()) return error(node, field, "must not be empty");
  return text;
}

Result<std::int64_t> YamlChecker::get_int(const YAML::Node& node, const std::string& field,
                                          std::int64_t min, std::int64_t max) const {
  if (!node.IsDefined()) return error(node, field, "missing value");
  const std::string want = min == 1   ? "a positive integer"
                           : min == 0 ? "a non-negative integer"
                                      : "an integer";
  if (!node.IsScalar() || node.Tag() == "!") {
    return error(node, field, "expected " + want + ", got " + describe_yaml(node));
  }
  const auto value = parse_int64(node.Scalar());
  if (!value) return error(node, field, "expected " + want + ", got " + describe_yaml(node));
  if (*value < min || *value > max) {
    return error(node, field,
                 "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " +
                     node.Scalar());
  }
  return *value;
}

Result<std::uint64_t> YamlChecker::get_uint64(const YAML::Node& node,
                                              const std::string& field) const {
  if (!node.IsDefined()) return error(node, field, "missing value");
  if (!node.IsScalar() || node.Tag() == "!") {
    return error(node, field, "expected a non-negative integer, got " + describe_yaml(node));
  }
  const auto value = parse_uint64(node.Scalar());
  if (!value) {
    return error(node, field, "expected a non-negative integer, got " + describe_yaml(node));
  }
  return *value;
}

Result<double> YamlChecker::get_number(const YAML::Node& node, const std::string& field, double min,
                                       bool exclusive, double max_exclusive) const {
  if (!node.IsDefined()) return error(node, field, "missing value");
  if (!node.IsScalar() || node.Tag() == "!") {
    return error(node, field, "expected a number, got " + describe_yaml(node));
  }
  const auto value = parse_double(node.Scalar());
  if (!value) return error(node, field, "expected a number, got " + describe_yaml(node));
  if (!std::isfinite(*value)) return error(node, field, "must be a finite number");
  if (exclusive ? !(*value > min) : !(*value >= min)) {
    return error(node, field,
                 std::string("must be ") + (exclusive ? "> " : ">= ") + format_number(min) +
                     ", got " + node.Scalar());
  }
  if (!(*value < max_exclusive)) {
    return error(node, field,
                 "must be < " + format_number(max_exclusive) + ", got " + node.Scalar());
  }
  return *value;
}

}  // namespace saturn::formats
