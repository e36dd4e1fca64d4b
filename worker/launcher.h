// Starts one process per rank of a multi-process technique, like torchrun: each gets RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR (127.0.0.1) and a free MASTER_PORT, the same arguments,
// and stdout on a pipe; and SATURN_RENDEZVOUS_DIR, a directory of mode 0700 (removed when the
// ranks are done) in which they meet through a file store instead of a TCP store that would
// listen on every interface (communicator.h's connect). Lines the ranks print are handed to a
// callback as they come (stderr is inherited). SIGTERM/SIGINT to the launcher (its stop flag) is
// passed on to every rank; when a rank fails, the others are stopped (SIGTERM, then SIGKILL after a
// grace period). Torch-free.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace saturn::worker {

inline constexpr const char* kRendezvousDirVariable = "SATURN_RENDEZVOUS_DIR";

struct LaunchResult {
  int exit_code = 0;  // 0 when every rank exited 0; else the first failing rank's code
  int failed_rank = -1;
};

LaunchResult launch_ranks(const std::vector<std::string>& argv, int ranks,
                          const std::atomic<bool>& stop,
                          const std::function<void(int rank, const std::string& line)>& on_line,
                          double grace_s = 10);

}  // namespace saturn::worker
