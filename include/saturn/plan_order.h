// Plan-order dispatch: the one rule by which the simulator and the executor start the jobs a
// policy queued. A plan's assignments are served in order of planned start (then task name), not
// at their planned wall-clock times: a job starts as soon as every device it is given is free and
// no job queued before it wants any of them. Pure functions; no state.
#pragma once

#include <cstddef>
#include <vector>

#include "saturn/plan.h"

namespace saturn {

// A queued start: a waiting job's node (index into the cluster) and device indices on it.
struct QueuedStart {
  int node = -1;
  std::vector<int> gpus;
};

// `assignments` sorted into plan order: by start_s, then task name. Stable.
std::vector<Assignment> in_plan_order(std::vector<Assignment> assignments);

// The entries of `queue` (in plan order) that may start now, ascending. held[node][gpu] is true
// while a process holds that device. An entry starts when all its devices are free and none is
// wanted by an earlier entry that waits or starts; an entry that waits reserves its devices for
// itself against later ones. Entries naming devices outside `held` never start.
std::vector<std::size_t> startable(const std::vector<QueuedStart>& queue,
                                   const std::vector<std::vector<char>>& held);

}  // namespace saturn
