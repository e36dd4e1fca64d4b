// Exhaustive optimum for tiny profile tables (a handful of tasks), independent of the solver:
// every (config, node) per task times every task order, each decoded by serial schedule
// generation, which reaches an optimal schedule for some order (active schedules).
#pragma once

#include "saturn/profile.h"

namespace saturn::testing {

// The optimal makespan, seconds. Cost: (configs x nodes)^tasks x tasks! decodes.
double brute_force_makespan(const ProfileTable& table);

}  // namespace saturn::testing
