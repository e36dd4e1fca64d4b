// Atomic file replacement; see saturn/atomic_file.h.
#include "saturn/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace saturn {

AtomicFile::AtomicFile(std::string path, std::string tmp, int fd)
    : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), tmp_(std::move(other.tmp_)), fd_(other.fd_) {
  other.fd_ = -1;
  other.tmp_.clear();
}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    this->~AtomicFile();
    path_ = std::move(other.path_);
    tmp_ = std::move(other.tmp_);
    fd_ = other.fd_;
    other.fd_ = -1;
    other.tmp_.clear();
  }
  return *this;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Error AtomicFile::fail(std::string_view what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  return Error{path_, 0, "", fmt::format("{}: {}", what, std::generic_category().message(err)),
               ErrorKind::kWrite};
}

Result<AtomicFile> AtomicFile::create(const std::string& path) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, static_cast<long>(::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return Error{path, 0, "",
                 fmt::format("cannot create '{}': {}", tmp, std::generic_category().message(err)),
                 ErrorKind::kWrite};
  }
  return AtomicFile(path, tmp, fd);
}

Status AtomicFile::write(const void* data, std::size_t bytes) {
  if (fd_ < 0) return Error{path_, 0, "", "write after commit or failure"};
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(fmt::format("cannot write '{}'", tmp_), errno);
    p += n;
    bytes -= static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status AtomicFile::commit() {
  if (fd_ < 0) return Error{path_, 0, "", "commit after commit or failure"};
  if (::fsync(fd_) != 0 && errno != EINVAL) {  // EINVAL: the file system cannot sync; fine
    return fail(fmt::format("cannot flush '{}'", tmp_), errno);
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    return fail(fmt::format("cannot close '{}'", tmp_), errno);
  }
  fd_ = -1;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    return fail(fmt::format("cannot rename '{}' to '{}'", tmp_, path_), errno);
  }
  tmp_.clear();
  // Make the rename itself durable.
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  const std::filesystem::path dir = parent.empty() ? std::filesystem::path(".") : parent;
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

Status write_file_atomically(const std::string& path, std::string_view bytes) {
  auto file = AtomicFile::create(path);
  if (!file) return file.error();
  if (Status s = file->write(bytes); !s) return s;
  return file->commit();
}

}  // namespace saturn
