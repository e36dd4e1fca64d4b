// Building solver instances: dominated modes are dropped, and dropping them never changes the
// optimum (checked against brute force on the unpruned table).
#include <gtest/gtest.h>

#include "solver/instance.h"
#include "support/brute_force.h"
#include "support/instances.h"

namespace saturn::solver {
namespace {

Mode make_mode(int config, int gpus, double duration, std::vector<int> nodes) {
  Mode m;
  m.config = config;
  m.gpus = gpus;
  m.duration_s = duration;
  m.nodes = std::move(nodes);
  return m;
}

std::vector<int> configs_of(const Job& job) {
  std::vector<int> out;
  for (const Mode& m : job.modes) out.push_back(m.config);
  return out;
}

TEST(DropDominatedModes, KeepsOnlyModesNoOtherCanReplace) {
  Job job;
  job.modes = {
      make_mode(0, 2, 100, {0, 1}),  // kept
      make_mode(1, 2, 120, {0, 1}),  // same GPUs, slower: dominated by 0
      make_mode(2, 4, 100, {0, 1}),  // more GPUs, not faster: dominated by 0
      make_mode(3, 1, 300, {0, 1}),  // fewer GPUs: kept
      make_mode(4, 4, 60, {0, 1}),   // faster: kept
      make_mode(5, 2, 100, {0, 1}),  // equal to 0, later: dropped
      make_mode(6, 1, 250, {1}),     // beats 3 on node 1 only: kept, and 3 stays too
  };
  drop_dominated_modes(job);
  EXPECT_EQ(configs_of(job), (std::vector<int>{0, 3, 4, 6}));
}

TEST(DropDominatedModes, KeepModeStaysFirstAndIsNeverDropped) {
  Job job;
  job.running = true;
  job.modes = {make_mode(2, 4, 500, {0}), make_mode(0, 2, 100, {0}), make_mode(1, 2, 90, {0})};
  job.modes[0].keep = true;
  drop_dominated_modes(job);
  ASSERT_EQ(job.modes.size(), 2u);
  EXPECT_TRUE(job.modes[0].keep);
  EXPECT_EQ(job.modes[1].config, 1);
}

TEST(MakeInstance, PrunesASweepToOneTechniquePerGpuCountWithoutChangingTheOptimum) {
  size_t configs = 0, modes = 0;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const ProfileTable table = testing::random_sweep(3, 1, 4, seed);
    const Instance instance = make_instance(table);
    for (size_t j = 0; j < instance.jobs.size(); ++j) {
      const Job& job = instance.jobs[j];
      configs += table.tasks[j].configs.size();
      modes += job.modes.size();
      for (size_t a = 0; a < job.modes.size(); ++a) {
        for (size_t b = 0; b < job.modes.size(); ++b) {
          if (a == b) continue;
          // No survivor is at least as good as another in both GPUs and time.
          EXPECT_FALSE(job.modes[a].gpus <= job.modes[b].gpus &&
                       job.modes[a].duration_s <= job.modes[b].duration_s)
              << "seed " << seed << " job " << j;
        }
      }
    }
    // The brute force works on the table (every configuration), the planner on the instance.
    ProfileTable pruned = table;
    for (size_t j = 0; j < instance.jobs.size(); ++j) {
      pruned.tasks[j].configs.clear();
      for (const Mode& m : instance.jobs[j].modes) {
        pruned.tasks[j].configs.push_back(table.tasks[j].configs[m.config]);
      }
    }
    EXPECT_DOUBLE_EQ(testing::brute_force_makespan(pruned), testing::brute_force_makespan(table))
        << "seed " << seed;
  }
  EXPECT_LT(2 * modes, configs);  // four techniques per GPU count: most go
}

}  // namespace
}  // namespace saturn::solver
