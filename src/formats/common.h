// Helpers shared by the format readers in src/formats/: reading files, number parsing from text,
// name checks, and the GPU-type lookup used by both cluster YAML and profile JSON. Private to
// libsaturn (not installed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "saturn/error.h"

namespace saturn::formats {

// Reads a whole file. Errors name the file: missing, a directory, unreadable.
Result<std::string> read_text_file(const std::string& path);

// Directory part of `path` ("." when it has none), for paths relative to an input file.
std::string directory_of(const std::string& path);

// Decimal integer written in full (optional sign, digits only); nullopt otherwise or out of range.
std::optional<std::int64_t> parse_int64(std::string_view text);
std::optional<std::uint64_t> parse_uint64(std::string_view text);
// A number written in full (integer or floating point, optional sign, exponent). May return a
// non-finite value for "inf"/"nan"/".inf"; callers check finiteness with their own message.
std::optional<double> parse_double(std::string_view text);

// Shortest text that reads back as `value` ("0", "1e-05", "40").
std::string format_number(double value);

// True when `name` is non-empty and every character is in [A-Za-z0-9._-].
bool is_safe_name(std::string_view name);
// `text` with every character outside [A-Za-z0-9._-] replaced by '_'.
std::string sanitize_name(std::string_view text);

// "a100-40gb, a100-80gb, ..." — the catalogue's names, for error messages.
std::string known_gpu_types();

// Case-insensitive ASCII equality (GPU type names).
bool iequals(std::string_view a, std::string_view b);

// Upper bounds that keep a malformed input from exhausting memory. Real clusters are far below.
inline constexpr int kMaxNodes = 10000;
inline constexpr int kMaxGpusPerNode = 1024;

}  // namespace saturn::formats
