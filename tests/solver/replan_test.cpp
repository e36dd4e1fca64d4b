// The re-planning entry point: keep vs restart, restart costs, reservations, bad requests.
#include <gtest/gtest.h>

#include "saturn/planner.h"
#include "support/plan_checker.h"

namespace saturn {
namespace {

// One 8-GPU node; "slow" runs 10000 s on 1 GPU or 1500 s on 8; "other" 200 s on 8 GPUs.
ProfileTable table() {
  ProfileTable t;
  t.cluster.nodes.push_back({"n0", 8, "a100-40gb", 4e10});
  t.tasks.push_back({"slow", {{"ddp", 1, 10000, 0, "", {}}, {"fsdp", 8, 1500, 0, "", {}}}});
  t.tasks.push_back({"other", {{"ddp", 8, 200, 0, "", {}}}});
  return t;
}

TEST(Replan, RestartsWhenItPays) {
  ReplanRequest req;
  req.now_s = 1000;
  req.running.push_back({"slow", 0, "n0", {3}, 0.9, 100});
  req.pending = {"other"};
  PlannerOptions options;
  options.time_limit_s = 2;
  Result<Replan> r = replan(table(), req, options);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  // Keeping: slow ends at 1000 + 9000 = 10000 (other runs after it on 8 GPUs): 10200.
  EXPECT_NEAR(r->keep.makespan_s, 10200, 1e-6);
  // Restarting on 8 GPUs: 100 + 0.9 x 1500 = 1450 s, plus other's 200 s: 1000 + 1650.
  EXPECT_NEAR(r->plan.makespan_s, 2650, 1e-6);
  ASSERT_EQ(r->restarted, std::vector<std::string>{"slow"});
  EXPECT_NEAR(r->expected_gain_s, 10200 - 2650, 1e-6);
  const auto durations = [](const Task& task, int config) {
    const double work = task.name == "slow" ? 0.9 : 1.0;
    const double restart = task.name == "slow" && config == 1 ? 100 : 0;
    return std::vector<double>{restart + work * task.configs[config].runtime_s};
  };
  EXPECT_EQ(testing::check_plan(table(), r->plan, {"slow", "other"}, 1000, durations), "");
  EXPECT_EQ(testing::check_plan(table(), r->keep, {"slow", "other"}, 1000, durations), "");
}

TEST(Replan, KeepsWhenRestartCostsTooMuch) {
  ReplanRequest req;
  req.now_s = 0;
  req.running.push_back({"slow", 0, "n0", {5}, 0.1, 5000});
  PlannerOptions options;
  options.time_limit_s = 1;
  Result<Replan> r = replan(table(), req, options);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->restarted.empty());
  EXPECT_NEAR(r->plan.makespan_s, 1000, 1e-6);
  ASSERT_EQ(r->plan.assignments.size(), 1u);
  EXPECT_EQ(r->plan.assignments[0].gpus, std::vector<int>{5});  // it keeps its GPU
  EXPECT_DOUBLE_EQ(r->expected_gain_s, 0);
}

TEST(Replan, ReservationsDelayWork) {
  ReplanRequest req;
  req.now_s = 100;
  req.pending = {"other"};
  req.reservations.push_back({"n0", {0}, 400});
  PlannerOptions options;
  options.time_limit_s = 1;
  Result<Replan> r = replan(table(), req, options);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->plan.assignments.size(), 1u);
  EXPECT_NEAR(r->plan.assignments[0].start_s, 400, 1e-6);  // needs all 8 GPUs
}

TEST(Replan, RejectsBadRequests) {
  PlannerOptions options;
  options.time_limit_s = 1;
  ReplanRequest unknown;
  unknown.pending = {"nope"};
  Result<Replan> r = replan(table(), unknown, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "pending[0]");

  ReplanRequest wrong_gpus;
  wrong_gpus.running.push_back({"slow", 1, "n0", {0, 1}, 0.5, 0});  // config 1 needs 8
  r = replan(table(), wrong_gpus, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "running[0].gpus");

  ReplanRequest twice;
  twice.running.push_back({"slow", 0, "n0", {0}, 0.5, 0});
  twice.pending = {"slow"};
  EXPECT_FALSE(replan(table(), twice, options).ok());

  ReplanRequest fraction;
  fraction.running.push_back({"slow", 0, "n0", {0}, 1.5, 0});
  r = replan(table(), fraction, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "running[0].remaining_fraction");
}

}  // namespace
}  // namespace saturn
