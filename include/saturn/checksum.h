// XXH3 128-bit digests (xxHash) of files, written as `xxh128sum` writes them: 32 lower-case hex
// digits, and checksum files of "<digest>  <file name>" lines that `xxh128sum -c` verifies. Used
// for checkpoints: they catch damaged bytes, a truncated file or a file swapped for another, not
// deliberate tampering (the digest is not cryptographic). Thread-compatible: one object per
// thread.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "saturn/error.h"

namespace saturn {

// A running digest: update() with the bytes in order, then hex().
class Xxh128 {
 public:
  Xxh128();
  ~Xxh128();
  Xxh128(Xxh128&&) noexcept;
  Xxh128& operator=(Xxh128&&) noexcept;
  Xxh128(const Xxh128&) = delete;
  Xxh128& operator=(const Xxh128&) = delete;

  void update(const void* data, std::size_t bytes);
  std::string hex() const;  // of everything so far

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The digest of a file's bytes. Errors name the file.
Result<std::string> file_xxh128(const std::string& path);

// "<digest>  <name>\n" for each entry, in name order.
std::string format_checksums(const std::map<std::string, std::string>& digest_by_name);
// Reads what format_checksums() wrote. Errors (a malformed line, a name twice) name `source`.
Result<std::map<std::string, std::string>> parse_checksums(const std::string& text,
                                                           const std::string& source);

}  // namespace saturn
