// Property tests over seeded random instances: every solver's plan passes the independent
// checker, the lower bound never exceeds a plan, and a seed gives the same plan twice.
#include <gtest/gtest.h>

#include <chrono>

#include <fmt/format.h>

#include "saturn/lower_bound.h"
#include "saturn/planner.h"
#include "support/instances.h"
#include "support/plan_checker.h"

namespace saturn {
namespace {

using testing::check_plan;

Plan must_plan(const ProfileTable& table, SolverKind kind, double limit = 2.0,
               std::uint64_t seed = 1) {
  PlannerOptions options;
  options.heuristic_evaluations = 50000;  // bounded work under sanitizers too
  options.solver = kind;
  options.time_limit_s = limit;
  options.seed = seed;
  Result<Plan> p = plan(table, options);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().to_string());
  return p.ok() ? *p : Plan{};
}

struct Case {
  std::string name;
  ProfileTable table;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  for (std::uint64_t s = 1; s <= 4; ++s) {
    out.push_back({fmt::format("sweep8x1-{}", s), testing::random_sweep(8, 1, 8, s)});
    out.push_back({fmt::format("sweep10x2-{}", s), testing::random_sweep(10, 2, 8, s)});
    out.push_back({fmt::format("pack10x1-{}", s), testing::perfect_packing(10, 1, 8, 3600, s)});
    out.push_back({fmt::format("tiny-{}", s), testing::tiny_random(5, 3, {4, 2}, s)});
  }
  ProfileTable mixed = testing::random_sweep(9, 3, 8, 7);
  mixed.cluster.nodes[1].gpus = 4;
  mixed.cluster.nodes[2].gpus = 2;
  out.push_back({"mixed-nodes", mixed});
  return out;
}

TEST(PlannerProperty, EverySolverGivesValidPlansAboveTheBound) {
  for (const Case& c : cases()) {
    const double lb = compute_lower_bound(c.table).best_s;
    for (SolverKind kind : {SolverKind::kHeuristic, SolverKind::kMilp, SolverKind::kAuto}) {
      const Plan p = must_plan(c.table, kind, 0.3);
      EXPECT_EQ(check_plan(c.table, p), "") << c.name << " " << to_string(kind);
      EXPECT_LE(lb, p.makespan_s * (1 + 1e-9)) << c.name;
      EXPECT_LE(p.lower_bound_s, p.makespan_s * (1 + 1e-9)) << c.name;
      EXPECT_GE(p.lower_bound_s, lb * (1 - 1e-9)) << c.name;
      EXPECT_NEAR(p.gap, p.makespan_s / p.lower_bound_s - 1, 1e-6) << c.name;
    }
  }
}

TEST(PlannerProperty, ReferenceMilpPlansAreValid) {
  for (std::uint64_t s = 1; s <= 3; ++s) {
    const ProfileTable table = testing::tiny_random(4, 2, {4}, s);
    const Plan p = must_plan(table, SolverKind::kReference, 5.0);
    EXPECT_EQ(check_plan(table, p), "") << "seed " << s;
    EXPECT_EQ(p.solver.name, "reference");
  }
}

TEST(PlannerProperty, SameSeedSamePlan) {
  const ProfileTable table = testing::random_sweep(20, 2, 8, 11);
  PlannerOptions options;
  options.solver = SolverKind::kHeuristic;
  options.time_limit_s = 120;  // generous: the evaluation budget, not the clock, ends the search
  options.heuristic_evaluations = 20000;
  Result<Plan> a = plan(table, options);
  Result<Plan> b = plan(table, options);
  ASSERT_TRUE(a.ok() && b.ok());
  nlohmann::json ja = to_json(*a), jb = to_json(*b);
  ja["solver"].erase("solve_s");
  jb["solver"].erase("solve_s");
  EXPECT_EQ(ja, jb);
}

TEST(PlannerProperty, NeverWorseThanWholeNodesInSequence) {
  for (std::uint64_t s = 1; s <= 4; ++s) {
    const ProfileTable table = testing::random_sweep(12, 2, 8, s);
    // Each job on 8 GPUs (its fastest 8-GPU config), longest first, on the first free node.
    std::vector<double> d;
    for (const Task& t : table.tasks) {
      double best = 1e300;
      for (const Config& c : t.configs) {
        if (c.gpus == 8) best = std::min(best, c.runtime_s);
      }
      d.push_back(best);
    }
    std::sort(d.rbegin(), d.rend());
    double free_at[2] = {0, 0};
    for (double x : d) *std::min_element(free_at, free_at + 2) += x;
    const double whole = std::max(free_at[0], free_at[1]);
    EXPECT_LE(must_plan(table, SolverKind::kHeuristic, 1.0).makespan_s, whole * (1 + 1e-9));
  }
}

TEST(PlannerProperty, PerfectPackingBoundIsTheKnownOptimum) {
  for (std::uint64_t s = 1; s <= 5; ++s) {
    const ProfileTable table = testing::perfect_packing(30, 2, 8, 7200, s);
    EXPECT_NEAR(compute_lower_bound(table).best_s, 7200, 1e-6);
    const Plan p = must_plan(table, SolverKind::kAuto, 1.0);
    EXPECT_EQ(check_plan(table, p), "");
    EXPECT_GE(p.makespan_s, 7200 * (1 - 1e-9));
  }
}

// The time limit is the user's at any size (2026-12-07: 50,000 jobs on 512 nodes took 129 s
// under a 1 s limit; decoding was quadratic and the clock was read every 64th evaluation): the
// plan takes the limit, or one construction when that is longer. A contract, not a benchmark
// (bench_planner --scale measures): 0.5 s of search and one construction (tens of milliseconds
// here), with room for a loaded CI machine; before, this took about 10 s.
TEST(PlannerScale, KeepsItsTimeLimitOnTenThousandJobs) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "timing means nothing under AddressSanitizer";
#endif
  const ProfileTable table = testing::random_sweep(10000, 128, 8, 1);
  PlannerOptions options;
  options.solver = SolverKind::kHeuristic;
  options.time_limit_s = 0.5;
  const auto t0 = std::chrono::steady_clock::now();
  Result<Plan> p = plan(table, options);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(p.ok()) << p.error().to_string();
  EXPECT_LT(took, 1.5);
  EXPECT_EQ(p->assignments.size(), 10000u);
  EXPECT_EQ(p->solver.status, "time-limit");
  EXPECT_LE(p->lower_bound_s, p->makespan_s);
  EXPECT_TRUE(check_plan(table, *p).empty());
}

TEST(PlannerOptionsTest, RejectsBadOptions) {
  const ProfileTable table = testing::random_sweep(3, 1, 8, 1);
  PlannerOptions options;
  options.time_limit_s = 0;
  Result<Plan> p = plan(table, options);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().field, "time-limit");
  EXPECT_FALSE(parse_solver_kind("gurobi").ok());
  EXPECT_EQ(*parse_solver_kind("milp"), SolverKind::kMilp);
}

}  // namespace
}  // namespace saturn
