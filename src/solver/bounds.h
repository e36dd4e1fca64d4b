// Lower bounds on an Instance (see saturn/lower_bound.h for the public entry point).
#pragma once

#include <chrono>

#include "saturn/lower_bound.h"
#include "solver/instance.h"

namespace saturn::solver {

// Every bound of LowerBound on `instance`, in seconds from its origin. Kept jobs and blocks are
// counted (their fixed windows are among the placements the bounds range over, so it stays a
// bound). `upper_s`, when > 0, is the makespan of a known plan (it caps the search). The
// energetic bound's bisection stops at `deadline` with the largest horizon it refuted so far
// (still a bound, maybe a weaker one); the others take time linear in the instance.
LowerBound bound_instance(
    const Instance& instance, double upper_s = 0,
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

// The energetic feasibility test behind LowerBound::energetic_s: false proves that no plan of
// `instance` finishes by `horizon_s`. Exposed for tests.
bool energetic_feasible(const Instance& instance, double horizon_s);

}  // namespace saturn::solver
