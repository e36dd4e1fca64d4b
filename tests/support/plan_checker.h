// An independent plan checker for tests: shares no code with the solver. It verifies a Plan
// against its profile table: every task exactly once, valid config/node/GPU indices, duration
// equal to the profile, no GPU running two tasks at any instant, consistent makespan and bound.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "saturn/plan.h"
#include "saturn/profile.h"

namespace saturn::testing {

// Allowed durations (seconds) for a task in a given config index; the plan's end - start must
// equal one of them. The default allows exactly the profile's runtime.
using DurationRule = std::function<std::vector<double>(const Task& task, int config)>;

// Returns "" when `plan` is valid, else a description of the first violation found.
// `tasks`: the task names the plan must cover exactly (default: all tasks of the table);
// `origin_s`: no assignment may start before it.
std::string check_plan(const ProfileTable& table, const Plan& plan,
                       const std::vector<std::string>& tasks = {}, double origin_s = 0,
                       const DurationRule& durations = {});

}  // namespace saturn::testing
