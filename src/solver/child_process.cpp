// run_in_child: fork, pipe, poll with a deadline, waitpid; see child_process.h.
#include "solver/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <fmt/format.h>

namespace saturn::solver {
namespace {

bool write_all(int fd, const std::string& data) {
  const char* p = data.data();
  std::size_t size = data.size();
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Appends what arrives on `fd` until the writer closes it (true) or `deadline` passes (false).
bool read_until_closed(int fd, std::string* out, std::chrono::steady_clock::time_point deadline) {
  char buffer[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    if (ready <= 0) continue;  // timeout slice or EINTR: re-check the deadline
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out->append(buffer, static_cast<std::size_t>(n));
  }
}

void flush_streams() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
}

}  // namespace

ChildResult run_in_child(const std::function<std::string()>& work, double limit_s) {
  ChildResult result;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    result.failure = fmt::format("cannot create a pipe: {}", std::strerror(errno));
    return result;
  }
  flush_streams();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    result.failure = fmt::format("cannot start a process: {}", std::strerror(errno));
    return result;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the caller
    ::close(fds[0]);
    bool ok = false;
    try {
      ok = write_all(fds[1], work());
    } catch (...) {
    }
    flush_streams();
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  const auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<long>(std::clamp(limit_s, 0.0, 1e9) * 1000));
  const bool closed = read_until_closed(fds[0], &result.bytes, deadline);
  ::close(fds[0]);
  if (!closed) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!closed) {
    result.failure = fmt::format("ran past its {:.1f} s limit and was stopped", limit_s);
  } else if (WIFSIGNALED(status)) {
    result.failure = fmt::format("crashed ({})", ::strsignal(WTERMSIG(status)));
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    result.failure = "failed without an answer";
  }
  if (!result.failure.empty()) result.bytes.clear();
  return result;
}

}  // namespace saturn::solver
