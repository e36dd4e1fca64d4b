// Checked access to parsed JSON with located errors. See json_fields.h.
#include "formats/json_fields.h"

#include <cmath>
#include <exception>

#include "formats/common.h"

namespace saturn::formats {

JsonPath JsonPath::operator/(std::string_view key) const {
  JsonPath out = *this;
  out.segments_.emplace_back(key);
  out.is_index_.push_back(false);
  return out;
}

JsonPath JsonPath::operator/(std::size_t index) const {
  JsonPath out = *this;
  out.segments_.push_back(std::to_string(index));
  out.is_index_.push_back(true);
  return out;
}

std::string JsonPath::field() const {
  std::string out;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    if (is_index_[i]) {
      out += "[" + segments_[i] + "]";
    } else {
      if (!out.empty()) out += '.';
      out += segments_[i];
    }
  }
  return out;
}

namespace {
// The part of a nlohmann message after "[json.exception.parse_error.101] parse error at line 3,
// column 5: " — the location is reported separately.
std::string strip_nlohmann_prefix(const std::string& what) {
  std::string out = what;
  if (const auto close = out.find("] ");
      !out.empty() && out.front() == '[' && close != std::string::npos) {
    out = out.substr(close + 2);
  }
  if (out.rfind("parse error", 0) == 0) {
    if (const auto colon = out.find(": "); colon != std::string::npos) out = out.substr(colon + 2);
  }
  return out;
}

std::string quote_list(std::initializer_list<std::string_view> keys) {
  std::string out;
  for (std::string_view key : keys) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}
}  // namespace

Result<nlohmann::json> parse_json_document(std::string_view text, std::string_view source) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end(), nullptr, true, false);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte counts the characters read, so the offending one is at e.byte - 1.
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    return Error{std::string(source), json_locate::line_at_offset(text, offset), "",
                 "invalid JSON: " + strip_nlohmann_prefix(e.what())};
  } catch (const nlohmann::json::out_of_range& e) {
    // "number overflow parsing '1e999'": no position is given, so find the number's text.
    const std::string what = strip_nlohmann_prefix(e.what());
    int line = 0;
    if (const auto open = what.find(" '"); open != std::string::npos && what.back() == '\'') {
      const std::string token = what.substr(open + 2, what.size() - open - 3);
      if (const auto at = text.find(token); !token.empty() && at != std::string_view::npos) {
        line = json_locate::line_at_offset(text, at);
      }
    }
    return Error{std::string(source), line, "", "invalid JSON: " + what};
  } catch (const std::exception& e) {
    return Error{std::string(source), 0, "", std::string("invalid JSON: ") + e.what()};
  }
  if (auto dup = json_locate::find_duplicate_key(text)) {
    return Error{std::string(source), dup->line, dup->field,
                 "key \"" + dup->path.back() + "\" appears twice in one object (first on line " +
                     std::to_string(dup->first_line) + ")"};
  }
  return doc;
}

Error JsonChecker::error(const JsonPath& at, std::string message) const {
  json_locate::Path path = at.segments();
  int line = 0;
  while (true) {
    line = json_locate::line_of(text_, path);
    if (line > 0 || path.empty()) break;
    path.pop_back();
  }
  return Error{source_, line, at.field(), std::move(message)};
}

std::string describe_json_type(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "an array";
    case nlohmann::json::value_t::string:
      return "the string " + value.dump();
    case nlohmann::json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::null:
      return "null";
    case nlohmann::json::value_t::number_float:
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return "the number " + value.dump();
    default:
      return "an unsupported value";
  }
}

Status JsonChecker::check_object(const nlohmann::json& value, const JsonPath& at,
                                 std::initializer_list<std::string_view> allowed) const {
  if (!value.is_object()) {
    return error(at, "expected an object, got " + describe_json_type(value));
  }
  for (const auto& [key, unused] : value.items()) {
    bool known = false;
    for (std::string_view k : allowed) known = known || k == key;
    if (!known) {
      return error(at / key, "unknown key \"" + key + "\" (allowed: " + quote_list(allowed) + ")");
    }
  }
  return Status::Ok();
}

Status JsonChecker::require(const nlohmann::json& object, const JsonPath& at,
                            std::string_view key) const {
  if (object.contains(key)) return Status::Ok();
  return error(at / key, "missing required key \"" + std::string(key) + "\"");
}

Result<std::string> JsonChecker::get_string(const nlohmann::json& value, const JsonPath& at,
                                            bool non_empty) const {
  if (!value.is_string()) return error(at, "expected a string, got " + describe_json_type(value));
  std::string out = value.get<std::string>();
  if (non_empty && out.empty()) return error(at, "must not be empty");
  return out;
}

Result<long long> JsonChecker::get_int(const nlohmann::json& value, const JsonPath& at,
                                       long long min, long long max) const {
  const std::string range =
      "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!value.is_number_integer()) {
    return error(at, "expected " + range + ", got " + describe_json_type(value));
  }
  if (value.is_number_unsigned()) {
    const auto u = value.get<unsigned long long>();
    if (u > static_cast<unsigned long long>(max) ||
        (min > 0 && u < static_cast<unsigned long long>(min))) {
      return error(at, "expected " + range + ", got " + value.dump());
    }
    return static_cast<long long>(u);
  }
  const auto v = value.get<long long>();
  if (v < min || v > max) return error(at, "expected " + range + ", got " + value.dump());
  return v;
}

Result<double> JsonChecker::get_number(const nlohmann::json& value, const JsonPath& at, double min,
                                       bool exclusive) const {
  if (!value.is_number()) {
    return error(at, "expected a number, got " + describe_json_type(value));
  }
  const double v = value.get<double>();
  if (!std::isfinite(v)) return error(at, "must be a finite number");
  if (exclusive ? !(v > min) : !(v >= min)) {
    const std::string bound = format_number(min);
    return error(
        at, std::string("must be ") + (exclusive ? "> " : ">= ") + bound + ", got " + value.dump());
  }
  return v;
}

Status JsonChecker::check_array(const nlohmann::json& value, const JsonPath& at,
                                bool non_empty) const {
  if (!value.is_array()) return error(at, "expected an array, got " + describe_json_type(value));
  if (non_empty && value.empty()) return error(at, "must not be empty");
  return Status::Ok();
}

}  // namespace saturn::formats
