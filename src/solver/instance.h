// The solver's view of a planning problem: jobs with their candidate modes, node capacities and
// GPUs that are already taken. Built from a profile table (and, when re-planning, from the
// running tasks); every solver works on an Instance and returns a Schedule.
//
// Time is in seconds from the instance's origin (0 = "now" when re-planning).
#pragma once

#include <string>
#include <vector>

#include "saturn/planner.h"
#include "saturn/profile.h"

namespace saturn::solver {

// One way to run a job: a profile configuration, or (re-planning) staying where it runs now.
struct Mode {
  int config = -1;             // index into the task's configs
  int gpus = 0;                // GPUs it holds, on one node
  double duration_s = 0;       // seconds from its start to its end
  std::vector<int> nodes;      // indices of the nodes it fits on, ascending, non-empty
  bool keep = false;           // re-planning: the running task stays put, starting at 0
  std::vector<int> keep_gpus;  // with keep: the GPU indices it holds on nodes[0]

  double area() const { return gpus * duration_s; }
};

struct Job {
  std::string name;
  int task = -1;            // index into the profile table's tasks
  std::vector<Mode> modes;  // non-empty
  bool running = false;     // re-planning: running now (has a keep mode unless forced off)
};

// GPUs taken from time 0 until `until_s` (a reservation).
struct Block {
  int node = 0;
  std::vector<int> gpus;
  double until_s = 0;
};

struct Instance {
  std::vector<int> node_gpus;  // capacity of each node, GPUs
  std::vector<Job> jobs;
  std::vector<Block> blocks;

  int total_gpus() const;
  int num_nodes() const { return static_cast<int>(node_gpus.size()); }
};

// Every task of `table`, every configuration that fits at least one node and is not dominated.
Instance make_instance(const ProfileTable& table);

// Removes the modes another mode of the job can replace in any schedule (no more GPUs, no
// longer, fits on at least the same nodes; of equal modes the first stays). Keep modes stay, in
// place. Optimal makespan and completion times are unchanged; the search space shrinks (a
// profile usually has one useful technique per GPU count).
void drop_dominated_modes(Job& job);

}  // namespace saturn::solver
