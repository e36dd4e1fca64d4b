// Certified lower bounds on the makespan of any plan for a profile table: no schedule that meets
// the planner's model finishes earlier. Each bound is a necessary condition, so the largest of
// them is still a bound.
#pragma once

#include <string>
#include <vector>

#include "saturn/profile.h"

namespace saturn {

struct LowerBound {
  double longest_task_s = 0;  // the slowest task at its fastest fitting configuration
  double area_s = 0;          // total least GPU-seconds over all GPUs
  double node_class_s = 0;    // area bound over each set of nodes some tasks are confined to
  double energetic_s = 0;     // interval energy + long-task overlap bound (docs/planner.md)
  double best_s = 0;          // the largest of the above
  std::string best_name;      // which one it is
};

// Computes every bound for `table`. Cost: O(tasks x configs x nodes x log(1/eps)) — cheap.
LowerBound compute_lower_bound(const ProfileTable& table);

}  // namespace saturn
