// Shared by the worker's multi-rank tests: a process group of several ranks inside one test
// process, one thread per rank, over Gloo on the CPU.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "train/communicator.h"

namespace saturn::worker {

// A process group of `world` ranks inside this process (threads), over Gloo.
inline std::vector<std::unique_ptr<Communicator>> local_group(int world, int port) {
  std::vector<std::unique_ptr<Communicator>> comms(static_cast<std::size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      RankEnvironment env;
      env.rank = r;
      env.world_size = world;
      env.local_rank = r;
      env.master_port = port;
      auto c = connect(env, torch::kCPU, 60);
      ASSERT_TRUE(c.ok()) << c.error().to_string();
      comms[static_cast<std::size_t>(r)] = std::move(*c);
    });
  }
  for (auto& t : threads) t.join();
  return comms;
}

}  // namespace saturn::worker
