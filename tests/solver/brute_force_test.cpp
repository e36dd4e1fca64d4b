// The MILP matches the brute-force optimum on tiny instances; the heuristic never beats it and
// the lower bound never exceeds it.
#include <gtest/gtest.h>

#include "saturn/lower_bound.h"
#include "saturn/planner.h"
#include "support/brute_force.h"
#include "support/instances.h"
#include "support/plan_checker.h"

namespace saturn {
namespace {

TEST(BruteForce, MilpFindsTheOptimumOnTinyInstances) {
  const std::vector<std::vector<int>> clusters = {{4}, {4, 2}, {3, 3}};
  int seed = 0;
  for (const auto& nodes : clusters) {
    for (int k = 0; k < 5; ++k) {
      const ProfileTable table = testing::tiny_random(4, 2, nodes, ++seed);
      const double optimum = testing::brute_force_makespan(table);
      PlannerOptions options;
      options.solver = SolverKind::kMilp;
      options.time_limit_s = 20;
      options.heuristic_evaluations = 20000;  // keeps sanitizer builds fast; the MILP decides
      Result<Plan> milp = plan(table, options);
      ASSERT_TRUE(milp.ok()) << milp.error().to_string();
      EXPECT_EQ(testing::check_plan(table, *milp), "");
      EXPECT_NEAR(milp->makespan_s, optimum, 1e-6) << "seed " << seed;
      EXPECT_EQ(milp->solver.status, "optimal") << "seed " << seed;
      EXPECT_LE(compute_lower_bound(table).best_s, optimum * (1 + 1e-9)) << "seed " << seed;

      options.solver = SolverKind::kHeuristic;
      Result<Plan> heur = plan(table, options);
      ASSERT_TRUE(heur.ok());
      EXPECT_GE(heur->makespan_s, optimum * (1 - 1e-9));
    }
  }
}

TEST(BruteForce, FiveTasksOnTwoNodes) {
  const ProfileTable table = testing::tiny_random(5, 2, {4, 4}, 99);
  const double optimum = testing::brute_force_makespan(table);
  PlannerOptions options;
  options.solver = SolverKind::kMilp;
  options.time_limit_s = 30;
  options.heuristic_evaluations = 20000;
  Result<Plan> milp = plan(table, options);
  ASSERT_TRUE(milp.ok());
  EXPECT_NEAR(milp->makespan_s, optimum, 1e-6);
}

}  // namespace
}  // namespace saturn
