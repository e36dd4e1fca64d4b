// The run directory's lock; see saturn/executor.h.
#include "saturn/executor.h"
#include "saturn/run_layout.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace saturn {

Result<RunLock> RunLock::acquire(const std::string& run_dir) {
  const std::string path = RunDir(run_dir).lock();
  // Not close-on-exec: workers inherit the lock, so it outlives an orchestrator that was killed
  // until its last worker (checkpointing on the parent-death signal) has exited.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    return Error{path, 0, "", fmt::format("cannot open: {}", std::strerror(errno)),
                 ErrorKind::kWrite};
  }
  // A reader's probe (held()) holds it shared for an instant: try for a second before giving up.
  bool locked = false;
  int err = 0;
  for (int attempt = 0; attempt < 20 && !locked; ++attempt) {
    locked = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    err = locked ? 0 : errno;
    if (!locked && err != EWOULDBLOCK) break;
    if (!locked) ::usleep(50000);
  }
  if (!locked && err != EWOULDBLOCK) {  // e.g. a file system without locks (ENOLCK)
    ::close(fd);
    return Error{path, 0, "", fmt::format("cannot lock: {}", std::strerror(err))};
  }
  if (!locked) {
    char pid[32] = {0};
    [[maybe_unused]] ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    return Error{
        run_dir, 0, "",
        fmt::format("the run directory is in use by another saturn run or profile (pid {})",
                    std::string(pid).empty() ? "unknown" : std::string(pid))};
  }
  const std::string me = std::to_string(::getpid());
  [[maybe_unused]] int t = ::ftruncate(fd, 0);
  [[maybe_unused]] ssize_t w = ::pwrite(fd, me.data(), me.size(), 0);
  return RunLock(fd);
}

bool RunLock::held(const std::string& run_dir) {
  const std::string path = RunDir(run_dir).lock();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // never run
  const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  ::close(fd);  // releases the probe
  return !free;
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

}  // namespace saturn
