// Seeded random profile tables for property tests and benchmarks.
//
//   random_sweep   — a hyper-parameter sweep: each job has a single-GPU runtime, a minimum GPU
//                    count (memory) and per-technique scaling efficiency, configs on 1..8 GPUs.
//   perfect_packing — jobs cut from each node's GPUs x T rectangle by random guillotine cuts;
//                    every job's cheapest config is its piece, other configs cost more
//                    GPU-seconds, so the optimum makespan is exactly T (= the area bound).
#pragma once

#include <cstdint>

#include "saturn/profile.h"

namespace saturn::testing {

ProfileTable random_sweep(int jobs, int nodes, int gpus_per_node, std::uint64_t seed);

// `horizon_s` is the known optimum.
ProfileTable perfect_packing(int jobs, int nodes, int gpus_per_node, double horizon_s,
                             std::uint64_t seed);

// Tiny instances for brute force: `jobs` jobs, `configs` configs each, on nodes of the given
// GPU counts, runtimes drawn from a small set so that ties and exact packings occur.
ProfileTable tiny_random(int jobs, int configs, const std::vector<int>& node_gpus,
                         std::uint64_t seed);

}  // namespace saturn::testing
