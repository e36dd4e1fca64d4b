// Rank processes for multi-process techniques; see launcher.h.
#include "launcher.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "saturn/worker_protocol.h"

namespace saturn::worker {
namespace {

// A TCP port nobody listens on now (the rendezvous binds it a moment later).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  int port = 29500;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

struct Rank {
  pid_t pid = -1;
  int out = -1;  // read end of its stdout
  std::string pending;
  bool running = true;
  int exit_code = 0;
};

// Removes the files in `dir` (it holds no directories) and `dir` on destruction. POSIX calls:
// std::filesystem's directory iteration crashed in the PyTorch 2.11 build (checkpoint.h).
struct RemoveDirectory {
  const std::string& dir;
  ~RemoveDirectory() {
    if (dir.empty()) return;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") ::unlink((dir + "/" + n).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(dir.c_str());
  }
};

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return protocol::kExitInternal;
}

}  // namespace

LaunchResult launch_ranks(const std::vector<std::string>& argv, int ranks,
                          const std::atomic<bool>& stop,
                          const std::function<void(int rank, const std::string& line)>& on_line,
                          double grace_s) {
  const std::string port = std::to_string(free_port());
  // The ranks meet through a file store in a directory only this user can enter, not a TCP
  // store listening on every interface (docs/worker-protocol.md#ranks-and-the-network).
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string parent = tmpdir && *tmpdir ? tmpdir : "/tmp";
  std::string rendezvous = parent + "/saturn-ranks-XXXXXX";
  if (::mkdtemp(rendezvous.data()) == nullptr) rendezvous.clear();
  const RemoveDirectory remove_after{rendezvous};
  std::vector<Rank> procs(static_cast<std::size_t>(ranks));
  LaunchResult result;
  if (rendezvous.empty()) {
    std::fprintf(stderr,
                 "saturn-worker: cannot create the ranks' rendezvous directory under %s: %s\n",
                 parent.c_str(), std::strerror(errno));
    result.exit_code = protocol::kExitInternal;
    return result;
  }
  const pid_t launcher = ::getpid();
  for (int r = 0; r < ranks; ++r) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      result.exit_code = protocol::kExitInternal;
      return result;
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a launcher that dies stops its ranks (they checkpoint)
      if (::getppid() != launcher) std::_Exit(protocol::kExitStopped);  // it died before that
      ::dup2(fds[1], STDOUT_FILENO);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(ranks).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", port.c_str(), 1);
      ::setenv(kRendezvousDirVariable, rendezvous.c_str(), 1);
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::_Exit(127);
    }
    ::close(fds[1]);
    procs[static_cast<std::size_t>(r)].pid = pid;
    procs[static_cast<std::size_t>(r)].out = fds[0];
  }

  bool signalled = false;
  std::chrono::steady_clock::time_point kill_at = std::chrono::steady_clock::time_point::max();
  auto terminate_all = [&]() {
    if (signalled) return;
    signalled = true;
    for (const Rank& p : procs) {
      if (p.running) ::kill(p.pid, SIGTERM);
    }
    kill_at = std::chrono::steady_clock::now() +
              std::chrono::milliseconds(static_cast<long>(grace_s * 1000));
  };
  int open_pipes = ranks;
  while (true) {
    // Read whatever the ranks printed.
    std::vector<pollfd> fds;
    std::vector<int> owner;
    for (int r = 0; r < ranks; ++r) {
      if (procs[static_cast<std::size_t>(r)].out >= 0) {
        fds.push_back({procs[static_cast<std::size_t>(r)].out, POLLIN, 0});
        owner.push_back(r);
      }
    }
    if (!fds.empty()) ::poll(fds.data(), fds.size(), 100);
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Rank& p = procs[static_cast<std::size_t>(owner[i])];
      char buf[65536];
      const ssize_t n = ::read(p.out, buf, sizeof(buf));
      if (n > 0) {
        p.pending.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = p.pending.find('\n')) != std::string::npos) {
          on_line(owner[i], p.pending.substr(0, nl));
          p.pending.erase(0, nl + 1);
        }
      } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        if (!p.pending.empty()) on_line(owner[i], p.pending);
        p.pending.clear();
        ::close(p.out);
        p.out = -1;
        --open_pipes;
      }
    }
    // Reap ranks that ended.
    int running = 0;
    for (int r = 0; r < ranks; ++r) {
      Rank& p = procs[static_cast<std::size_t>(r)];
      if (!p.running) continue;
      int status = 0;
      const pid_t done = ::waitpid(p.pid, &status, WNOHANG);
      if (done == p.pid) {
        p.running = false;
        p.exit_code = decode_status(status);
        if (p.exit_code != 0 && result.failed_rank < 0) {
          result.failed_rank = r;
          result.exit_code = p.exit_code;
          if (p.exit_code != protocol::kExitStopped) terminate_all();
        }
      } else {
        ++running;
      }
    }
    if (stop.load()) terminate_all();
    if (signalled && std::chrono::steady_clock::now() > kill_at) {
      for (const Rank& p : procs) {
        if (p.running) ::kill(p.pid, SIGKILL);
      }
    }
    if (running == 0 && open_pipes == 0) break;
    if (fds.empty()) ::usleep(20000);
  }
  return result;
}

}  // namespace saturn::worker
