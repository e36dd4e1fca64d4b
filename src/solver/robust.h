// Choosing among near-equal plans when the runtimes are estimates. The plan that is best for the
// estimated runtimes can be fragile: one that runs the longest jobs last, or several narrow jobs
// side by side before a job that needs the whole node, loses more when the estimates are off
// than one that ends with short jobs, which absorb the error. Given candidate schedules (the
// heuristic's best distinct ones), this picks the one with the least expected makespan when
// every runtime is off by up to ±uncertainty and the plan is followed in its order.
#pragma once

#include <cstdint>
#include <vector>

#include "solver/instance.h"
#include "solver/schedule.h"

namespace saturn::solver {

// Candidates: `schedules` (non-empty, best first); each of them with the same modes decoded
// longest job first; and, when the instance has no kept jobs or blocks, each of them mirrored in
// time (same modes and nodes, start' = makespan - end, then left-shifted), which moves the jobs
// that ended first to the end. Only candidates whose makespan is within (1 + uncertainty / 4)
// of the best one's take part. Each is *followed* with every job's duration scaled by a factor
// drawn uniformly from [1 - uncertainty, 1 + uncertainty] (`samples` seeded draws, the same for
// every candidate): online list scheduling in order of planned start, each job in its planned
// configuration, started as soon as it fits on a node — what following a plan and re-planning
// the waiting jobs as running ones end early or late amounts to. The least mean makespan wins;
// ties go to the earlier candidate, so with uncertainty 0 the first schedule is returned.
Schedule most_robust(const Instance& instance, const std::vector<Schedule>& schedules,
                     double uncertainty, std::uint64_t seed, int samples = 32);

// Makespan of following `schedule` online (above) when job j takes factors[j] x its planned
// duration; nothing is known of a job's duration until it ends. Exposed for tests.
double followed_makespan(const Instance& instance, const Schedule& schedule,
                         const std::vector<double>& factors);

}  // namespace saturn::solver
