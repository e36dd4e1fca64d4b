// File digests; see saturn/checksum.h. xxHash is used header-only (XXH_INLINE_ALL): the worker
// builds on machines with only its header.
#include "saturn/checksum.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace saturn {

struct Xxh128::State {
  XXH3_state_t state;
};

Xxh128::Xxh128() : state_(std::make_unique<State>()) {
  XXH3_128bits_reset(&state_->state);
}
Xxh128::~Xxh128() = default;
Xxh128::Xxh128(Xxh128&&) noexcept = default;
Xxh128& Xxh128::operator=(Xxh128&&) noexcept = default;

void Xxh128::update(const void* data, std::size_t bytes) {
  XXH3_128bits_update(&state_->state, data, bytes);
}

std::string Xxh128::hex() const {
  XXH128_canonical_t canonical;  // big-endian bytes, as xxh128sum prints them
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(&state_->state));
  std::string out;
  for (unsigned char byte : canonical.digest) out += fmt::format("{:02x}", byte);
  return out;
}

Result<std::string> file_xxh128(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path, 0, "", fmt::format("cannot open: {}", std::strerror(errno))};
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Xxh128 digest;
  std::vector<char> buffer(std::size_t{4} << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Error{path, 0, "", fmt::format("cannot read: {}", std::strerror(err))};
    }
    if (n == 0) break;
    digest.update(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return digest.hex();
}

std::string format_checksums(const std::map<std::string, std::string>& digest_by_name) {
  std::string out;
  for (const auto& [name, digest] : digest_by_name) out += digest + "  " + name + "\n";
  return out;
}

Result<std::map<std::string, std::string>> parse_checksums(const std::string& text,
                                                           const std::string& source) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::size_t gap = line.find("  ");
    const std::string digest = line.substr(0, gap);
    const bool hex =
        digest.size() == 32 && digest.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (gap == std::string::npos || !hex || gap + 2 >= line.size()) {
      return Error{source, number, "", "expected \"<32 hex digits>  <file name>\""};
    }
    if (!out.emplace(line.substr(gap + 2), digest).second) {
      return Error{source, number, "", fmt::format("{} is listed twice", line.substr(gap + 2))};
    }
  }
  return out;
}

}  // namespace saturn
