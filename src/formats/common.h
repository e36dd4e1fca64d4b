// Helpers shared by the format readers in src/formats/: reading files, number parsing from text,
// name checks, and the GPU-type lookup used by both cluster YAML and profile JSON. Private to
// libsaturn (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "saturn/error.h"

namespace saturn::formats {

// Most bytes an input file may have unless its reader says otherwise (a profile table of 50,000
// jobs on 512 nodes is 68 MB).
inline constexpr std::size_t kMaxInputFileBytes = std::size_t{1} << 30;
// Most bytes of a YAML input (workload, cluster, calibration, manifest): a workload of 100,000
// jobs written out one by one fits; YAML's parser holds many times the text in memory.
inline constexpr std::size_t kMaxYamlFileBytes = std::size_t{64} << 20;

// Reads a whole regular file of at most `max_bytes`. Errors name the file: missing, a directory,
// not a regular file (a device such as /dev/zero, a FIFO), too large, unreadable.
Result<std::string> read_text_file(const std::string& path,
                                   std::size_t max_bytes = kMaxInputFileBytes);

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

// Seconds as "h:mm:ss" (hours unbounded, rounded to the nearest second, "-" before a negative
// one); "n/a" when not finite; beyond a million hours, in seconds ("3.2e+18 s").
std::string hms(double seconds);

// Longest name a job may have: room, within a file name's 255 bytes, for what the run directory
// adds to it ("trial-NAME-TECHNIQUE-N.log", saturn/run_layout.h).
inline constexpr std::size_t kMaxNameLength = 128;
// True when `name` can be a file name of its own, never a path elsewhere: 1 to kMaxNameLength
// characters of [A-Za-z0-9._-], the first a letter or digit (so not ".", "..", a hidden file or
// something that reads as an option).
bool is_safe_name(std::string_view name);
// What a safe name is, for error messages ("... may only ...").
inline constexpr const char* kSafeNameRule =
    "must start with a letter or digit and use only letters, digits, '.', '_' and '-' (at most "
    "128 characters)";
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
