// Simulator invariants over every policy on seeded random tables, plus hand-worked examples.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "saturn/plan_order.h"
#include "saturn/policy.h"
#include "saturn/simulator.h"
#include "support/instances.h"

namespace saturn {
namespace {

Result<SimulationResult> run(const ProfileTable& table, const std::string& policy,
                             const SimulationOptions& options) {
  Result<std::unique_ptr<Policy>> p = make_policy(policy, options.seed);
  EXPECT_TRUE(p.ok());
  return simulate(table, **p, options);
}

TEST(Simulator, SaturnWithExactRuntimesFollowsItsPlan) {
  const ProfileTable table = testing::random_sweep(12, 2, 8, 3);
  SimulationOptions options;
  Result<Plan> planned = plan(table, options.planner);
  ASSERT_TRUE(planned.ok());
  Result<SimulationResult> r = run(table, "saturn", options);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_NEAR(r->makespan_s, planned->makespan_s, 1e-6 * planned->makespan_s);
  EXPECT_EQ(r->reconfigurations, 0);
}

}  // namespace
}  // namespace saturn

namespace saturn {
namespace {

Config cfg(const std::string& technique, int gpus, double runtime_s) {
  Config c;
  c.technique = technique;
  c.gpus = gpus;
  c.runtime_s = runtime_s;
  return c;
}

ProfileTable small_table(int nodes, int gpus_per_node, std::vector<Task> tasks) {
  ProfileTable table;
  for (int n = 0; n < nodes; ++n) {
    table.cluster.nodes.push_back({fmt::format("n{}", n), gpus_per_node, "a100-40gb", 40e9});
  }
  table.tasks = std::move(tasks);
  return table;
}

const Segment* find_segment(const SimulationResult& r, const std::string& task, bool finished) {
  for (const Segment& s : r.segments) {
    if (s.task == task && s.finished == finished) return &s;
  }
  return nullptr;
}

// Checks what must hold for any policy: no GPU runs two segments at once, every task finishes
// exactly once having done exactly its work at the true speed, and time moves forward.
void check_invariants(const ProfileTable& table, const SimulationOptions& options,
                      const SimulationResult& r, const std::string& where) {
  const auto factors = true_runtime_factors(table, options);
  std::map<std::string, int> finished;
  std::map<std::string, double> work;
  std::map<std::pair<std::string, int>, std::vector<std::pair<double, double>>> busy;
  for (const Segment& s : r.segments) {
    EXPECT_LE(s.start_s, s.end_s) << where;
    EXPECT_GE(s.restart_s, 0) << where;
    int t = 0;
    while (table.tasks[t].name != s.task) ++t;
    const double runtime = table.tasks[t].configs[s.config].runtime_s * factors[t][s.config];
    work[s.task] += std::max(0.0, s.end_s - s.start_s - s.restart_s) / runtime;
    if (s.finished) ++finished[s.task];
    const int node = table.cluster.find_node(s.node);
    ASSERT_GE(node, 0) << where;
    EXPECT_EQ(static_cast<int>(s.gpus.size()), table.tasks[t].configs[s.config].gpus) << where;
    for (int g : s.gpus) {
      ASSERT_TRUE(g >= 0 && g < table.cluster.nodes[node].gpus) << where;
      busy[{s.node, g}].push_back({s.start_s, s.end_s});
    }
    EXPECT_LE(s.end_s, r.makespan_s + 1e-6) << where;
  }
  for (auto& [gpu, spans] : busy) {
    std::sort(spans.begin(), spans.end());
    for (size_t i = 1; i < spans.size(); ++i) {
      EXPECT_LE(spans[i - 1].second, spans[i].first + 1e-6)
          << where << ": GPU " << gpu.first << "/" << gpu.second << " runs two jobs";
    }
  }
  for (const Task& task : table.tasks) {
    EXPECT_EQ(finished[task.name], 1) << where << " " << task.name;
    EXPECT_NEAR(work[task.name], 1.0, 1e-6) << where << " " << task.name;
  }
  EXPECT_GE(r.makespan_s, r.true_lower_bound_s * (1 - 1e-9)) << where;
  EXPECT_GT(r.gpu_utilisation, 0) << where;
  EXPECT_LE(r.gpu_utilisation, 1 + 1e-9) << where;
}

TEST(Simulator, EveryPolicyKeepsTheInvariants) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    ProfileTable table = testing::random_sweep(10, 2, 8, seed);
    if (seed == 3) table.cluster.nodes[1].gpus = 4;  // unequal nodes
    for (double error : {0.0, 0.3}) {
      SimulationOptions options;
      options.seed = seed;
      options.runtime_error = error;
      options.introspection_interval_s = 1500;
      options.planner.heuristic_evaluations = 3000;
      for (const std::string& policy : policy_names()) {
        const std::string where = fmt::format("{} seed {} error {}", policy, seed, error);
        Result<SimulationResult> r = run(table, policy, options);
        ASSERT_TRUE(r.ok()) << where << ": " << r.error().to_string();
        check_invariants(table, options, *r, where);
      }
    }
  }
}

TEST(Simulator, DeterministicForASeed) {
  const ProfileTable table = testing::random_sweep(10, 2, 8, 5);
  SimulationOptions options;
  options.runtime_error = 0.2;
  options.planner.heuristic_evaluations = 3000;
  for (const std::string& policy : policy_names()) {
    Result<SimulationResult> a = run(table, policy, options);
    Result<SimulationResult> b = run(table, policy, options);
    ASSERT_TRUE(a.ok() && b.ok()) << policy;
    EXPECT_EQ(to_json(*a).dump(), to_json(*b).dump()) << policy;
  }
  SimulationOptions other = options;
  other.seed = 2;
  EXPECT_NE(true_runtime_factors(table, options), true_runtime_factors(table, other));
}

TEST(Simulator, CurrentPracticeGivesWholeNodesInWorkloadOrder) {
  // Two 4-GPU nodes; three jobs of 10, 20 and 30 s on 4 GPUs (and slower on fewer).
  ProfileTable table = small_table(2, 4,
                                   {{"a", {cfg("ddp", 4, 10), cfg("ddp", 1, 35)}},
                                    {"b", {cfg("ddp", 4, 20), cfg("fsdp", 4, 25)}},
                                    {"c", {cfg("ddp", 2, 50), cfg("fsdp", 4, 30)}}});
  SimulationOptions options;
  Result<SimulationResult> r = run(table, "current-practice", options);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  // a on n0 [0, 10], b on n1 [0, 20] (ddp beats fsdp), c on n0 [10, 40] with fsdp.
  const Segment* c = find_segment(*r, "c", true);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->node, "n0");
  EXPECT_EQ(c->technique, "fsdp");
  EXPECT_DOUBLE_EQ(c->start_s, 10);
  EXPECT_DOUBLE_EQ(r->makespan_s, 40);
  EXPECT_EQ(find_segment(*r, "b", true)->technique, "ddp");
  EXPECT_NEAR(r->gpu_utilisation, (40.0 + 80 + 120) / (8 * 40), 1e-12);
}

// Longest-first is current practice with the jobs sorted by decreasing runtime at a whole
// node's width: c (30 s) and b (20 s) start first, a (10 s) follows on the node b frees.
TEST(Simulator, LongestFirstStartsTheLongestJobsFirst) {
  ProfileTable table = small_table(2, 4,
                                   {{"a", {cfg("ddp", 4, 10), cfg("ddp", 1, 35)}},
                                    {"b", {cfg("ddp", 4, 20), cfg("fsdp", 4, 25)}},
                                    {"c", {cfg("ddp", 2, 50), cfg("fsdp", 4, 30)}}});
  SimulationOptions options;
  Result<SimulationResult> r = run(table, "longest-first", options);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_DOUBLE_EQ(find_segment(*r, "c", true)->start_s, 0);
  EXPECT_DOUBLE_EQ(find_segment(*r, "b", true)->start_s, 0);
  const Segment* a = find_segment(*r, "a", true);
  EXPECT_DOUBLE_EQ(a->start_s, 20);
  EXPECT_EQ(a->node, find_segment(*r, "b", true)->node);
  EXPECT_DOUBLE_EQ(r->makespan_s, 30);  // current practice: 40
}

// On a mixed cluster a job that fits only a later node is not skipped: "big" (4 GPUs only) is
// first in workload order and does not fit n0 (2 GPUs); n0 takes "small" and n1 takes "big", both
// at once.
TEST(Simulator, CurrentPracticeGivesAJobTheNodeItFits) {
  ProfileTable table = small_table(2, 2, {{"big", {cfg("ddp", 4, 10)}}, {"small", {cfg("ddp", 2, 5)}}});
  table.cluster.nodes[1].gpus = 4;
  for (const char* policy : {"current-practice", "longest-first"}) {
    Result<SimulationResult> r = run(table, policy, SimulationOptions{});
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_DOUBLE_EQ(find_segment(*r, "big", true)->start_s, 0) << policy;
    EXPECT_EQ(find_segment(*r, "big", true)->node, "n1") << policy;
    EXPECT_DOUBLE_EQ(find_segment(*r, "small", true)->start_s, 0) << policy;
  }
}

// Plan-order dispatch, the rule the simulator and the executor share: an entry starts when its
// devices are free and no earlier entry (waiting or starting) wants them.
TEST(PlanOrder, StartsWhatIsFreeAndNotWantedEarlier) {
  const std::vector<std::vector<char>> held = {{1, 0, 0, 0}, {0, 0}};
  const std::vector<QueuedStart> queue = {
      {0, {0, 1}},  // waits for device 0, reserves 1
      {0, {1}},     // wanted by the first: waits
      {0, {2}},     // free: starts
      {1, {0, 1}},  // free: starts
      {0, {3, 2}},  // 2 taken by the third: waits
      {2, {0}},     // no such node: never starts
      {1, {5}},     // no such device: never starts
  };
  EXPECT_EQ(startable(queue, held), (std::vector<std::size_t>{2, 3}));
  std::vector<Assignment> plan = {
      {"b", "", 0, "n0", {0}, 5, 6}, {"a", "", 0, "n0", {1}, 5, 6}, {"c", "", 0, "n0", {2}, 1, 9}};
  const std::vector<Assignment> ordered = in_plan_order(plan);
  EXPECT_EQ(ordered[0].task, "c");
  EXPECT_EQ(ordered[1].task, "a");
  EXPECT_EQ(ordered[2].task, "b");
}

TEST(Simulator, OptimusHandsOutGpusByMarginalGain) {
  // One 4-GPU node. Both jobs are admitted with 1 GPU; of the 2 GPUs left, a's step 1 -> 2
  // saves 40 s per GPU (ties go to the earlier job), then b's 1 -> 2 saves 40 s per GPU while
  // a's 2 -> 3 saves only 10.
  ProfileTable table =
      small_table(1, 4,
                  {{"a", {cfg("ddp", 1, 100), cfg("ddp", 2, 60), cfg("fsdp", 3, 50)}},
                   {"b", {cfg("ddp", 1, 80), cfg("ddp", 2, 40)}}});
  Result<SimulationResult> r = run(table, "optimus", SimulationOptions{});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(find_segment(*r, "a", true)->gpus.size(), 2u);
  EXPECT_EQ(find_segment(*r, "b", true)->gpus.size(), 2u);
  EXPECT_DOUBLE_EQ(r->makespan_s, 60);
}

TEST(Simulator, OptimusDynamicGrowsAJobWhenGpusFreeUp) {
  // a needs 3 more GPUs to reach its 4-GPU config but only 2 are free at the start; once b
  // finishes (t = 10), the interval at t = 20 moves a to 4 GPUs: 80 s left on 1 GPU against
  // 5 s restart + 0.8 × 25 s.
  ProfileTable table = small_table(
      1, 4, {{"a", {cfg("ddp", 1, 100), cfg("ddp", 4, 25)}}, {"b", {cfg("ddp", 1, 10)}}});
  table.tasks[0].restart_s = 5;
  SimulationOptions options;
  options.introspection_interval_s = 20;
  Result<SimulationResult> stat = run(table, "optimus", options);
  Result<SimulationResult> dyn = run(table, "optimus-dynamic", options);
  ASSERT_TRUE(stat.ok() && dyn.ok());
  EXPECT_DOUBLE_EQ(stat->makespan_s, 100);
  EXPECT_NEAR(dyn->makespan_s, 20 + 5 + 0.8 * 25, 1e-9);
  EXPECT_EQ(dyn->reconfigurations, 1);
}

// A policy that assigns whatever it is given, to test the simulator's checks.
class FixedPolicy : public Policy {
 public:
  explicit FixedPolicy(std::optional<Plan> plan) : plan_(std::move(plan)) {}
  std::string name() const override { return "fixed"; }
  Result<std::optional<Plan>> decide(const PolicyContext& context) override {
    if (context.event != PolicyEvent::kStart) return std::optional<Plan>{};
    return plan_;
  }

 private:
  std::optional<Plan> plan_;
};

TEST(Simulator, RejectsBadPlansAndStalledPolicies) {
  ProfileTable table = small_table(1, 4, {{"a", {cfg("ddp", 2, 10)}}, {"b", {cfg("ddp", 2, 10)}}});
  SimulationOptions options;
  auto assignment = [](std::string task, std::vector<int> gpus, std::string node = "n0") {
    Assignment a;
    a.task = std::move(task);
    a.config = 0;
    a.node = std::move(node);
    a.gpus = std::move(gpus);
    return a;
  };
  struct Case {
    std::string name;
    std::vector<Assignment> assignments;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"unknown task", {assignment("zz", {0, 1})}, "unknown task"},
      {"unknown node", {assignment("a", {0, 1}, "n9")}, "unknown node"},
      {"GPU out of range", {assignment("a", {3, 4})}, "distinct GPU indices"},
      {"wrong GPU count", {assignment("a", {0})}, "distinct GPU indices"},
      {"twice", {assignment("a", {0, 1}), assignment("a", {2, 3})}, "assigned twice"},
      {"stalls", {assignment("a", {0, 1})}, "unscheduled"},
  };
  for (const Case& c : cases) {
    Plan plan;
    plan.assignments = c.assignments;
    FixedPolicy policy(plan);
    Result<SimulationResult> r = simulate(table, policy, options);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_NE(r.error().to_string().find(c.message), std::string::npos)
        << c.name << ": " << r.error().to_string();
  }
  SimulationOptions bad = options;
  bad.runtime_error = -0.1;
  FixedPolicy none(std::nullopt);
  EXPECT_FALSE(simulate(table, none, bad).ok());
  bad = options;
  bad.introspection_interval_s = 0;
  EXPECT_FALSE(simulate(table, none, bad).ok());
  EXPECT_FALSE(make_policy("fastest", 1).ok());
}

}  // namespace
}  // namespace saturn
