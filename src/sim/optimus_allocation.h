// The Optimus greedy allocation (Peng et al., EuroSys'18, adapted to whole-job runtimes), shared
// by the optimus and optimus-dynamic policies. Internal to src/sim/.
#pragma once

#include <vector>

#include "saturn/policy.h"

namespace saturn::sim {

struct Grant {
  int task = -1;
  int node = -1;
  int config = -1;  // best technique at the granted GPU count on that node
  int gpus = 0;
};

// Hands out `free_count[node]` GPUs to `candidates` (task indices, in priority order): each is
// admitted with its smallest GPU count on the node with the most free GPUs where it fits (jobs
// that fit nowhere now are skipped); then, one step at a time, the admitted job whose next larger
// GPU count cuts its estimated remaining runtime the most per extra GPU gets those GPUs, until no
// step helps or fits. Deterministic.
std::vector<Grant> optimus_allocate(const PolicyContext& context,
                                    const std::vector<int>& candidates,
                                    std::vector<int> free_count);

}  // namespace saturn::sim
