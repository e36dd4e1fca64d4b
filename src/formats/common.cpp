// Helpers shared by the format readers: file reading, strict number parsing, names.
#include "formats/common.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "saturn/gpu_catalog.h"

namespace saturn::formats {

Result<std::string> read_text_file(const std::string& path, std::size_t max_bytes) {
  // Only regular files: a device (/dev/zero) never ends and a FIFO may block forever. Opened
  // without blocking, then checked again on the descriptor (the name may have changed).
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Error{path, 0, "",
                 errno == ENOENT ? std::string("cannot open file: no such file")
                                 : fmt::format("cannot open file: {}", std::strerror(errno))};
  }
  if (S_ISDIR(st.st_mode)) return Error{path, 0, "", "cannot open file: it is a directory"};
  const auto not_regular = [&] {
    return Error{path, 0, "",
                 "cannot read: not a regular file (a device, a FIFO or a socket); give a file"};
  };
  if (!S_ISREG(st.st_mode)) return not_regular();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error{path, 0, "", fmt::format("cannot open file: {}", std::strerror(errno))};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return not_regular();
  const auto too_large = [&] {
    return Error{
        path, 0, "",
        fmt::format("the file is larger than {} MiB, the most this input may be", max_bytes >> 20)};
  };
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) return too_large();
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return Error{path, 0, "", fmt::format("error while reading: {}", std::strerror(errno))};
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) return too_large();  // it grew
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
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

std::string hms(double seconds) {
  if (!std::isfinite(seconds)) return "n/a";
  if (std::fabs(seconds) >= 3.6e9) return fmt::format("{:.3g} s", seconds);
  const long long t = std::llround(std::fabs(seconds));
  return fmt::format("{}{}:{:02}:{:02}", seconds < 0 && t > 0 ? "-" : "", t / 3600, (t / 60) % 60,
                     t % 60);
}

bool is_safe_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) return false;
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
