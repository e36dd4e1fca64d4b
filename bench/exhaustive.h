// Exhaustive optimum of small single-node instances, for bench_planner's "opt" column: every
// mode per job (pruned by the area and longest-job bounds against the best found) times every
// job order, each decoded by serial schedule generation. On one node the serial decoder reaches
// every active schedule, and some active schedule is optimal, so the result is the optimum.
// Cost: up to modes^jobs x jobs! decodes; meant for <= 7 jobs.
#pragma once

#include "solver/instance.h"

namespace saturn::bench {

// The optimal makespan of `instance` (one node, no blocks or kept jobs), seconds; `upper_s` is
// the makespan of a known schedule (prunes the search; the optimum is never above it).
double exhaustive_optimum(const solver::Instance& instance, double upper_s);

}  // namespace saturn::bench
