// Helpers shared by the simulator's policies: configuration choice per GPU count, free GPUs,
// remaining-time estimates and assignment building. Internal to src/sim/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "saturn/plan.h"
#include "saturn/policy.h"
#include "saturn/profile.h"

namespace saturn::sim {

// Index of the task's configuration with `gpus` GPUs that fits `node` and has the least
// runtime ("the best technique for its GPU count"), or -1.
int best_config(const ProfileTable& table, int task, int gpus, int node);

// The distinct GPU counts of the task's configurations that fit `node`, ascending.
std::vector<int> gpu_counts(const ProfileTable& table, int task, int node);

// GPU indices of each node that no running job holds, ascending.
std::vector<std::vector<int>> free_gpus(const PolicyContext& context);

// Estimated seconds left for `task` on `config` from now: profile runtime × remaining work ×
// the observed slowdown.
double remaining_s(const PolicyContext& context, int task, int config);

// An assignment of `task` on `config`, `node`, `gpus`, starting at `start_s`, ending after the
// estimated remaining time.
Assignment make_assignment(const PolicyContext& context, int task, int config, int node,
                           std::vector<int> gpus, double start_s);

// A plan holding `assignments`, makespan = latest end.
Plan make_plan(std::vector<Assignment> assignments);

// Current practice's rule, for the jobs in `order` (task indices): every entirely free node takes
// the next waiting job it can run, at the widest width the job has there (the best technique at
// that width; the rest of the node idles). nullopt when no job starts.
std::optional<Plan> whole_nodes_in_order(const PolicyContext& context,
                                         const std::vector<int>& order);

}  // namespace saturn::sim
