// Lower bounds against hand-computed values.
#include <gtest/gtest.h>

#include "saturn/lower_bound.h"
#include "saturn/planner.h"

namespace saturn {
namespace {

ProfileTable table_of(std::vector<int> node_gpus,
                      std::vector<std::vector<std::pair<int, double>>> tasks) {
  ProfileTable t;
  for (size_t n = 0; n < node_gpus.size(); ++n) {
    t.cluster.nodes.push_back({"n" + std::to_string(n), node_gpus[n], "a100-40gb", 4e10});
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    Task task{"t" + std::to_string(i), {}};
    for (auto [g, p] : tasks[i])
      task.configs.push_back({"ddp", g, p, 0, "", nlohmann::json::object()});
    t.tasks.push_back(task);
  }
  return t;
}

TEST(LowerBound, LongestAndArea) {
  // Two 8-GPU jobs of 100 s on one 8-GPU node: area 1600/8 = 200, longest 100.
  const LowerBound lb = compute_lower_bound(table_of({8}, {{{8, 100}}, {{8, 100}}}));
  EXPECT_DOUBLE_EQ(lb.longest_task_s, 100);
  EXPECT_DOUBLE_EQ(lb.area_s, 200);
  EXPECT_NEAR(lb.best_s, 200, 1e-6);
}

TEST(LowerBound, LongestJobAtItsFastest) {
  // One job: 1 GPU 1000 s or 4 GPUs 400 s; its fastest is 400 s. Area: min(1000, 1600)/8 = 125.
  const LowerBound lb = compute_lower_bound(table_of({8}, {{{1, 1000}, {4, 400}}}));
  EXPECT_DOUBLE_EQ(lb.longest_task_s, 400);
  EXPECT_DOUBLE_EQ(lb.area_s, 125);
  EXPECT_NEAR(lb.best_s, 400, 1e-6);
  EXPECT_EQ(lb.best_name, "longest-task");
}

TEST(LowerBound, MidpointOverlapBeatsArea) {
  // Three 5-GPU jobs of 100 s on an 8-GPU node: area 187.5; for T < 200 all three are longer
  // than T/2 and would overlap at T/2 with 15 > 8 GPUs, so the bound is 200 (optimum 300).
  const LowerBound lb = compute_lower_bound(table_of({8}, {{{5, 100}}, {{5, 100}}, {{5, 100}}}));
  EXPECT_DOUBLE_EQ(lb.area_s, 187.5);
  EXPECT_NEAR(lb.energetic_s, 200, 1e-4);
  EXPECT_EQ(lb.best_name, "energetic");
}

TEST(LowerBound, NodeClassArea) {
  // Nodes of 8 and 2 GPUs. Two jobs need 8 GPUs (only node 0 fits): 2 x 8 x 100 / 8 = 200,
  // while the all-node area is 1600 / 10 = 160.
  const LowerBound lb = compute_lower_bound(table_of({8, 2}, {{{8, 100}}, {{8, 100}}}));
  EXPECT_DOUBLE_EQ(lb.area_s, 160);
  EXPECT_DOUBLE_EQ(lb.node_class_s, 200);
  EXPECT_GE(lb.best_s, 200 - 1e-6);
}

TEST(LowerBound, NeverAboveThePlannersPlans) {
  const ProfileTable t = table_of({8, 8}, {{{1, 900}, {2, 500}, {8, 160}},
                                           {{4, 300}, {8, 170}},
                                           {{2, 700}, {6, 260}},
                                           {{3, 333}},
                                           {{5, 250}, {1, 1100}}});
  PlannerOptions options;
  options.time_limit_s = 5;
  Result<Plan> p = plan(t, options);
  ASSERT_TRUE(p.ok());
  EXPECT_LE(compute_lower_bound(t).best_s, p->makespan_s * (1 + 1e-9));
}

}  // namespace
}  // namespace saturn
