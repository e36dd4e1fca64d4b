// Files that appear complete or not at all. An AtomicFile writes to a temporary file in the
// destination's directory; commit() flushes it to disk (fsync), renames it over the destination
// and syncs the directory, so the new file survives a crash and a reader never sees a partial
// one. Destroyed without commit(), it removes the temporary file. Used for plans, reports and
// checkpoints.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "saturn/error.h"

namespace saturn {

class AtomicFile {
 public:
  // Opens a temporary file beside `path`. Errors name `path` and the system's reason.
  static Result<AtomicFile> create(const std::string& path);

  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&& other) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  Status write(const void* data, std::size_t bytes);
  Status write(std::string_view bytes) { return write(bytes.data(), bytes.size()); }
  // Makes the file appear at its path. At most once; nothing may be written after.
  Status commit();

 private:
  AtomicFile(std::string path, std::string tmp, int fd);
  Error fail(std::string_view what, int err);

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

// The whole of `bytes` to `path`, atomically.
Status write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace saturn
