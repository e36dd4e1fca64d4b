// The decoder and forward-backward justification on random orders and modes: every schedule
// passes the independent plan checker, and justification never lengthens a schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "solver/instance.h"
#include "solver/schedule.h"
#include "support/instances.h"
#include "support/plan_checker.h"

namespace saturn::solver {
namespace {

TEST(Justify, KeepsSchedulesValidAndNeverLonger) {
  int shorter = 0;
  int total = 0;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    ProfileTable table = seed % 2 ? testing::random_sweep(14, 2, 8, seed)
                                  : testing::perfect_packing(14, 2, 8, 3600, seed);
    if (seed == 6) table.cluster.nodes[1].gpus = 4;  // unequal nodes
    const Instance instance = make_instance(table);
    std::mt19937_64 rng(seed);
    for (int trial = 0; trial < 40; ++trial) {
      std::vector<int> order(instance.jobs.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      std::vector<int> modes;
      for (const Job& job : instance.jobs) {
        modes.push_back(
            std::uniform_int_distribution<int>(0, static_cast<int>(job.modes.size()) - 1)(rng));
      }
      const Schedule s = decode(instance, order, modes);
      const Schedule j = justify(instance, s);
      const std::string where = fmt::format("seed {} trial {}", seed, trial);
      ASSERT_EQ(testing::check_plan(table, to_plan(instance, table, j)), "") << where;
      ASSERT_LE(j.makespan_s, s.makespan_s * (1 + 1e-12)) << where;
      for (size_t k = 0; k < j.jobs.size(); ++k) {
        EXPECT_EQ(j.jobs[k].mode, s.jobs[k].mode) << where;
        EXPECT_EQ(j.jobs[k].node, s.jobs[k].node) << where;
      }
      shorter += j.makespan_s < s.makespan_s * (1 - 1e-9);
      ++total;
    }
  }
  // Random orders leave slack that the backward pass removes: it must help at least sometimes.
  EXPECT_GT(shorter, total / 20) << shorter << " of " << total;
}

TEST(Justify, RespectsReservedGpus) {
  Instance instance;
  instance.node_gpus = {4};
  instance.blocks.push_back({0, {0, 1, 2}, 100.0});  // 3 GPUs taken until t = 100
  for (int j = 0; j < 3; ++j) {
    Job job;
    job.name = fmt::format("j{}", j);
    job.task = j;
    Mode mode;
    mode.config = 0;
    mode.gpus = 1;
    mode.duration_s = 50.0 + 10 * j;
    mode.nodes = {0};
    job.modes.push_back(mode);
    instance.jobs.push_back(job);
  }
  const Schedule s = decode(instance, {2, 1, 0}, {0, 0, 0});
  const Schedule j = justify(instance, s);
  EXPECT_LE(j.makespan_s, s.makespan_s + 1e-9);
  // At most one GPU is free before t = 100, so at most one job runs there at any time.
  for (size_t a = 0; a < j.jobs.size(); ++a) {
    for (size_t b = a + 1; b < j.jobs.size(); ++b) {
      const double overlap_end = std::min({j.jobs[a].end_s, j.jobs[b].end_s, 100.0});
      const double overlap_start = std::max(j.jobs[a].start_s, j.jobs[b].start_s);
      EXPECT_LE(overlap_end - overlap_start, 1e-9) << a << " and " << b;
    }
  }
}

}  // namespace
}  // namespace saturn::solver
