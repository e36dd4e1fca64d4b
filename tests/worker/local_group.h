// Shared by the worker's multi-rank tests: a process group of several ranks inside one test
// process, one thread per rank, over Gloo on the CPU, and training on it.
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

// Trains on `world` ranks of a local_group (threads): rank r's trainer is `make(communicator)`
// (a pointer to a Trainer; null fails the test), trained `steps` steps; rank 0's losses are
// appended to `losses` (may be null); then `after(rank, trainer)` runs on every rank
// (collectives allowed).
template <typename Make, typename After>
void train_on_ranks(int world, int port, int steps, Make make, std::vector<double>* losses,
                    After after) {
  auto comms = local_group(world, port);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      auto t = make(comms[static_cast<std::size_t>(r)].get());
      ASSERT_TRUE(t);
      for (int i = 0; i < steps; ++i) {
        const double loss = t->train_step().loss;
        if (r == 0 && losses) losses->push_back(loss);
      }
      after(r, *t);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace saturn::worker
