// A schedule on an Instance (a mode, node and start per job), the serial schedule-generation
// decoder that builds one from a job order, and the conversion to a Plan with concrete GPUs.
#pragma once

#include <vector>

#include "saturn/plan.h"
#include "solver/instance.h"

namespace saturn::solver {

struct Placement {
  int mode = -1;
  int node = -1;
  double start_s = 0;
  double end_s = 0;
};

struct Schedule {
  std::vector<Placement> jobs;  // indexed like Instance::jobs
  double makespan_s = 0;
  double total_completion_s = 0;  // sum of end times

  bool empty() const { return jobs.empty(); }
};

// Lexicographic: smaller makespan, then smaller total completion. Makespans within a relative
// 1e-9 count as equal.
bool better(const Schedule& a, const Schedule& b);

// Used GPU count on one node as a step function of time. Breakpoints ascend; each holds the
// count from its time to the next breakpoint; the last holds to infinity.
class NodeUsage {
 public:
  explicit NodeUsage(int capacity);
  // Earliest start >= `from_s` at which `gpus` more GPUs are free for `duration_s`. Costs a
  // binary search to `from_s` and a scan of the steps from there to the start found.
  double earliest_start(int gpus, double duration_s, double from_s = 0) const;
  // Where `gpus` more GPUs are free from `from_s` on: `first` the earliest instant (a lower bound
  // on earliest_start for any duration, which adding jobs can only raise); `tail` the start of
  // the final stretch that is free for good; `longest_hole` the longest free stretch between
  // them (0: none), so that a job longer than it starts exactly at `tail`. Infinity (first, tail)
  // when the node has fewer GPUs. One scan from `from_s` to the last step.
  struct FreeProfile {
    double first = 0, tail = 0, longest_hole = 0;  // seconds from the instance's origin
  };
  FreeProfile free_profile(int gpus, double from_s = 0) const;
  // GPUs in use at time `t_s`.
  int used_at(double t_s) const;
  void add(double start_s, double end_s, int gpus);
  int capacity() const { return capacity_; }

 private:
  struct Step {
    double t;
    int used;
  };
  // The step that holds at `t_s` (the last one starting at or before it).
  std::size_t step_at(double t_s) const;

  int capacity_;
  std::vector<Step> steps_;
};

// Fresh usage profiles with the instance's blocks and kept (running) jobs already placed.
std::vector<NodeUsage> initial_usage(const Instance& instance);

// Serial schedule generation: takes the jobs in `order` (indices; every job exactly once), each
// in mode `modes[job]`, and starts it as early as it fits, on the node where it finishes first
// (ties: the node with the most GPUs in use at its start, then the lowest index). With
// `fixed_nodes` non-empty, job j may only go to fixed_nodes[j]. Each job looks only at the
// nodes whose first free instant (NodeUsage::free_profile) could still finish it first, and
// scans a node's steps only where it has a hole long enough; it places every job exactly where
// scanning every node's timeline from the start would (tests/solver/decode_equivalence_test.cpp),
// without that scan's O(nodes x steps per node) per job.
Schedule decode(const Instance& instance, const std::vector<int>& order,
                const std::vector<int>& modes, const std::vector<int>& fixed_nodes = {});

// Re-decodes `schedule` in order of its start times, keeping modes and nodes. When `schedule`
// respects GPU counts no job starts later, so neither the makespan nor the total completion
// grows; when it breaks them slightly (a MILP's tolerances) the result is feasible anyway.
Schedule left_shift(const Instance& instance, const Schedule& schedule);

// Forward-backward improvement ("justification"): schedules every job as late as possible
// before the makespan in order of decreasing end time, then as early as possible in order of
// the resulting start times, nodes and modes kept. Never longer than `schedule` (returns it
// unchanged when the passes do not help); often shorter, because the backward pass packs the
// jobs that end last tighter.
Schedule justify(const Instance& instance, const Schedule& schedule);

// Concrete GPU indices per job (ascending), given at each start from the GPUs free then; kept
// jobs hold their GPUs. Valid whenever the schedule respects GPU counts on every node.
std::vector<std::vector<int>> assign_gpus(const Instance& instance, const Schedule& schedule);

// The public Plan. `origin_s` is added to every time. GPU indices come from assign_gpus unless
// `gpus` (one list per job) is given.
Plan to_plan(const Instance& instance, const ProfileTable& table, const Schedule& schedule,
             double origin_s = 0, const std::vector<std::vector<int>>* gpus = nullptr);

// Builds a Schedule from a Plan's assignments (by task name and config index); used to check
// and compact solver output. Jobs the plan lacks keep mode -1.
Schedule from_plan(const Instance& instance, const ProfileTable& table, const Plan& plan);

}  // namespace saturn::solver
