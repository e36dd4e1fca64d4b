// Plan-order dispatch: the one rule by which the simulator and the executor start the jobs a
// policy queued. A plan's assignments are served in order of planned start (then task name), not
// at their planned wall-clock times: a job starts as soon as every device it is given is free and
// no job queued before it wants any of them. Also the one check of a policy's assignment. Pure
// functions; no state.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "saturn/error.h"
#include "saturn/plan.h"
#include "saturn/profile.h"

namespace saturn {

// A queued start: a waiting job's node (index into the cluster) and device indices on it.
struct QueuedStart {
  int node = -1;
  std::vector<int> gpus;
};

// An assignment checked against the table its policy planned from: the indices of its task,
// configuration and node, its device indices ascending, its planned times.
struct CheckedAssignment {
  int task = -1, config = -1, node = -1;
  std::vector<int> gpus;
  double start_s = 0, end_s = 0;
};

// The one check of a policy's assignment, for the simulator and the executor: a known task
// (`task_of`: name -> index into table.tasks) that is not over (`over(task)`), a configuration
// index in range whose configuration fits the named node, and exactly its number of distinct
// device indices on that node. Errors name the policy and the task.
Result<CheckedAssignment> check_assignment(const Assignment& a, const ProfileTable& table,
                                           const std::map<std::string, int>& task_of,
                                           const std::function<bool(int)>& over,
                                           std::string_view policy);

// `assignments` sorted into plan order: by start_s, then task name. Stable.
std::vector<Assignment> in_plan_order(std::vector<Assignment> assignments);

// The entries of `queue` (in plan order) that may start now, ascending. held[node][gpu] is true
// while a process holds that device. An entry starts when all its devices are free and none is
// wanted by an earlier entry that waits or starts; an entry that waits reserves its devices for
// itself against later ones. Entries naming devices outside `held` never start.
std::vector<std::size_t> startable(const std::vector<QueuedStart>& queue,
                                   const std::vector<std::vector<char>>& held);

}  // namespace saturn
