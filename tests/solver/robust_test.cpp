// The robust choice among near-equal plans (solver/robust.h): following a plan online, the
// choice on a hand-worked example where ending with short jobs absorbs the error of the long
// ones, and plan() with runtime_uncertainty returning valid plans.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "saturn/planner.h"
#include "solver/robust.h"
#include "support/instances.h"
#include "support/plan_checker.h"

namespace saturn::solver {
namespace {

// Two one-GPU nodes; jobs 0 and 1 take 10 s, jobs 2 and 3 take 1 s.
Instance two_long_two_short() {
  Instance instance;
  instance.node_gpus = {1, 1};
  for (double d : {10.0, 10.0, 1.0, 1.0}) {
    Job job;
    job.name = fmt::format("j{}", instance.jobs.size());
    job.task = static_cast<int>(instance.jobs.size());
    Mode mode;
    mode.config = 0;
    mode.gpus = 1;
    mode.duration_s = d;
    mode.nodes = {0, 1};
    job.modes.push_back(mode);
    instance.jobs.push_back(job);
  }
  return instance;
}

Schedule make_schedule(const std::vector<Placement>& jobs) {
  Schedule s;
  s.jobs = jobs;
  for (const Placement& p : jobs) {
    s.makespan_s = std::max(s.makespan_s, p.end_s);
    s.total_completion_s += p.end_s;
  }
  return s;
}

// Short jobs first on each node, then the long ones: makespan 11.
Schedule short_first() {
  return make_schedule({{0, 0, 1, 11}, {0, 1, 1, 11}, {0, 0, 0, 1}, {0, 1, 0, 1}});
}
// Long jobs first, short ones last: also 11.
Schedule long_first() {
  return make_schedule({{0, 0, 0, 10}, {0, 1, 0, 10}, {0, 0, 10, 11}, {0, 1, 10, 11}});
}

TEST(FollowedMakespan, FollowsThePlanOnlineWithTheActualDurations) {
  const Instance instance = two_long_two_short();
  EXPECT_DOUBLE_EQ(followed_makespan(instance, long_first(), {1, 1, 1, 1}), 11);
  EXPECT_DOUBLE_EQ(followed_makespan(instance, short_first(), {1, 1, 1, 1}), 11);
  // Job 0 takes 8 s, job 1 12 s. Long first: node 0 frees at 8 and runs both short jobs
  // (8-9, 9-10) while job 1 ends at 12. Short first: the short jobs end at 1, job 1 then
  // runs 1-13.
  EXPECT_DOUBLE_EQ(followed_makespan(instance, long_first(), {0.8, 1.2, 1, 1}), 12);
  EXPECT_DOUBLE_EQ(followed_makespan(instance, short_first(), {0.8, 1.2, 1, 1}), 13);
}

TEST(MostRobust, PrefersTheEqualPlanThatEndsWithShortJobs) {
  const Instance instance = two_long_two_short();
  const Schedule chosen = most_robust(instance, {short_first()}, 0.2, 1);
  // The short-first plan came first, but a candidate starting the long jobs first wins.
  EXPECT_DOUBLE_EQ(chosen.makespan_s, 11);
  EXPECT_DOUBLE_EQ(chosen.jobs[0].start_s, 0);
  EXPECT_DOUBLE_EQ(chosen.jobs[1].start_s, 0);
  EXPECT_GE(chosen.jobs[2].start_s, 10);
  EXPECT_GE(chosen.jobs[3].start_s, 10);
}

TEST(MostRobust, WithoutUncertaintyReturnsTheFirstSchedule) {
  const Instance instance = two_long_two_short();
  const Schedule chosen = most_robust(instance, {short_first(), long_first()}, 0, 1);
  EXPECT_DOUBLE_EQ(chosen.jobs[2].start_s, 0);
}

TEST(PlanWithUncertainty, ReturnsValidPlansNearTheBest) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    for (const ProfileTable& table :
         {testing::random_sweep(10, 2, 8, seed), testing::perfect_packing(12, 1, 8, 3600, seed)}) {
      PlannerOptions options;
      options.solver = SolverKind::kHeuristic;
      options.heuristic_evaluations = 5000;
      Result<Plan> exact = plan(table, options);
      options.runtime_uncertainty = 0.2;
      Result<Plan> robust = plan(table, options);
      ASSERT_TRUE(exact.ok() && robust.ok());
      EXPECT_EQ(testing::check_plan(table, *robust), "") << "seed " << seed;
      // Only plans within uncertainty / 4 of the best candidate take part.
      EXPECT_LE(robust->makespan_s, exact->makespan_s * 1.05 + 1e-6) << "seed " << seed;
    }
  }
}

TEST(PlanWithUncertainty, RejectsAShareOutsideZeroToOne) {
  PlannerOptions options;
  options.runtime_uncertainty = 1.5;
  EXPECT_FALSE(plan(testing::random_sweep(3, 1, 8, 1), options).ok());
}

}  // namespace
}  // namespace saturn::solver
