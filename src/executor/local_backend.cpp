// The local backend: fork + execvp, stdout through a non-blocking pipe, stderr to a log file;
// see saturn/backend.h.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "saturn/backend.h"

namespace saturn {
namespace {

class LocalProcess final : public Process {
 public:
  LocalProcess(pid_t pid, int out) : pid_(pid), out_(out) {}
  ~LocalProcess() override {
    if (!exit_code_) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
    if (out_ >= 0) ::close(out_);
  }

  int pid() const override { return pid_; }
  int stdout_fd() const { return out_; }  // -1 after EOF

  std::vector<std::string> read_lines() override {
    drain();
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = buffer_.find('\n', start)) != std::string::npos; start = nl + 1) {
      lines.push_back(buffer_.substr(start, nl - start));
    }
    buffer_.erase(0, start);
    if (out_ < 0 && !buffer_.empty()) {
      lines.push_back(buffer_);
      buffer_.clear();
    }
    return lines;
  }

  std::optional<int> poll_exit() override {
    if (!exit_code_) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        // Whatever it started and left behind (ranks of a crashed launcher) goes with it: the
        // group id cannot be reused while any member lives.
        ::kill(-pid_, SIGKILL);
        // What the process wrote before exiting is in the pipe; a grandchild that still holds
        // the pipe open must not keep us waiting, so stop reading once it is drained.
        drain();
        if (out_ >= 0) {
          ::close(out_);
          out_ = -1;
        }
      }
    }
    return exit_code_;
  }

  void signal(int sig) override {
    if (!exit_code_) ::kill(-pid_, sig);
  }

 private:
  void drain() {
    if (out_ < 0) return;
    char chunk[65536];
    for (;;) {
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) {
        ::close(out_);
        out_ = -1;
      }
      return;  // EOF, or nothing more now (EAGAIN)
    }
  }

  pid_t pid_;
  int out_;
  std::string buffer_;
  std::optional<int> exit_code_;
};

// The child's side of start(): its process group, parent-death signal, stdout into the pipe,
// stderr into the log, stdin from /dev/null, environment and cores, then exec. Only
// async-signal-safe calls and setenv (nothing else runs in this copy of the process). On a
// failed exec it writes errno to `report` and exits 127.
[[noreturn]] void run_child(const ProcessSpec& spec, std::vector<char*>& argv, int out, int log,
                            int report, pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // an orchestrator that dies stops its workers
  if (::getppid() != parent) ::_exit(127);
  // dup2 onto itself keeps close-on-exec: clear it by hand in that case.
  if (out == STDOUT_FILENO) {
    ::fcntl(STDOUT_FILENO, F_SETFD, 0);
  } else {
    ::dup2(out, STDOUT_FILENO);
  }
  if (log == STDERR_FILENO) {
    ::fcntl(STDERR_FILENO, F_SETFD, 0);
  } else if (log >= 0) {
    ::dup2(log, STDERR_FILENO);
  }
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0 && null != STDIN_FILENO) ::dup2(null, STDIN_FILENO);
  for (const auto& [k, v] : spec.env) ::setenv(k.c_str(), v.c_str(), 1);
  if (!spec.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : spec.cpus) CPU_SET(c, &set);
    ::sched_setaffinity(0, sizeof set, &set);
  }
  ::execvp(argv[0], argv.data());
  const int e = errno;
  [[maybe_unused]] ssize_t w = ::write(report, &e, sizeof e);
  ::_exit(127);
}

class LocalBackend final : public Backend {
 public:
  Result<std::unique_ptr<Process>> start(const ProcessSpec& spec) override {
    if (spec.argv.empty()) return Error{"", 0, "argv", "no program to run"};
    if (!spec.node.empty() && spec.node != "local") {
      return Error{"", 0, "node",
                   fmt::format("the local backend has one node, 'local', not '{}'", spec.node)};
    }
    int log = -1;
    if (!spec.stderr_path.empty()) {
      log = ::open(spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (log < 0) {
        return Error{spec.stderr_path, 0, "",
                     fmt::format("cannot open the log file: {}", std::strerror(errno))};
      }
    }
    int out[2], report[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
      if (log >= 0) ::close(log);
      return Error{"", 0, "", fmt::format("cannot create a pipe: {}", std::strerror(errno))};
    }
    if (::pipe2(report, O_CLOEXEC) != 0) {
      ::close(out[0]);
      ::close(out[1]);
      if (log >= 0) ::close(log);
      return Error{"", 0, "", fmt::format("cannot create a pipe: {}", std::strerror(errno))};
    }
    std::vector<char*> argv;
    for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) run_child(spec, argv, out[1], log, report[1], parent);
    const int fork_errno = errno;
    ::close(out[1]);
    ::close(report[1]);
    if (log >= 0) ::close(log);
    if (pid < 0) {
      ::close(out[0]);
      ::close(report[0]);
      return Error{"", 0, "",
                   fmt::format("cannot start {}: {}", spec.argv[0], std::strerror(fork_errno))};
    }
    ::setpgid(pid, pid);  // also here, so a signal sent right away reaches the group
    int exec_errno = 0;
    ssize_t n;
    while ((n = ::read(report[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof exec_errno)) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      ::close(out[0]);
      return Error{"", 0, "",
                   fmt::format("cannot run {}: {}", spec.argv[0], std::strerror(exec_errno))};
    }
    ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
    return std::unique_ptr<Process>(new LocalProcess(pid, out[0]));
  }

  void wait(const std::vector<Process*>& processes, double timeout_s) override {
    std::vector<pollfd> fds;
    for (Process* p : processes) {
      const int fd = static_cast<LocalProcess*>(p)->stdout_fd();  // ours: started here
      if (fd >= 0) fds.push_back({fd, POLLIN, 0});
    }
    // A process whose stdout is closed can only be waited for by polling its exit: short sleeps.
    const bool all_open = fds.size() == processes.size();
    const double slice = std::max(0.0, all_open ? timeout_s : std::min(timeout_s, 0.05));
    ::poll(fds.data(), fds.size(), static_cast<int>(slice * 1000));
  }
};

}  // namespace

std::unique_ptr<Backend> local_backend() {
  return std::make_unique<LocalBackend>();
}

Status watch_processes(Backend& backend, const std::vector<Process*>& running, double timeout_s,
                       const std::function<Status(std::size_t, const std::string&)>& on_line,
                       const std::function<Status(std::size_t, int)>& on_exit) {
  backend.wait(running, timeout_s);
  for (std::size_t i = 0; i < running.size(); ++i) {
    for (const std::string& line : running[i]->read_lines()) {
      if (auto s = on_line(i, line); !s) return s;
    }
    if (auto code = running[i]->poll_exit()) {
      for (const std::string& line : running[i]->read_lines()) {
        if (auto s = on_line(i, line); !s) return s;
      }
      if (auto s = on_exit(i, *code); !s) return s;
    }
  }
  return Status::Ok();
}

double Backend::now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace saturn
