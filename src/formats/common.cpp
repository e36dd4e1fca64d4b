// Helpers shared by the format readers: file reading, strict number parsing, names.
#include "formats/common.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "saturn/gpu_catalog.h"

namespace saturn::formats {

Result<std::string> read_text_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return Error{path, 0, "", "cannot open file: no such file"};
  }
  if (std::filesystem::is_directory(status)) {
    return Error{path, 0, "", "cannot open file: it is a directory"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path, 0, "", "cannot open file for reading"};
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Error{path, 0, "", "error while reading the file"};
  return buffer.str();
}

std::string directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? std::string(".") : dir;
}

namespace {
// Strips one leading '+', which std::from_chars does not accept.
std::string_view strip_plus(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  return text;
}
}  // namespace

std::optional<std::int64_t> parse_int64(std::string_view text) {
  text = strip_plus(text);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> parse_uint64(std::string_view text) {
  text = strip_plus(text);
  if (text.empty() || text.front() == '-') return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  // YAML spells infinities and NaN with a leading dot; report them as non-finite numbers.
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (iequals(body, ".inf")) return negative ? -HUGE_VAL : HUGE_VAL;
  if (iequals(body, ".nan")) return std::nan("");
  text = strip_plus(text);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) return negative ? -HUGE_VAL : HUGE_VAL;
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string format_number(double value) {
  return fmt::format("{}", value);
}

bool is_safe_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string sanitize_name(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::string known_gpu_types() {
  std::string out;
  for (const GpuSpec& spec : gpu_catalog()) {
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace saturn::formats
