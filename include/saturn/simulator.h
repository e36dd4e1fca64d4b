// Discrete-event simulation of a batch of training jobs on a cluster under a scheduling policy.
//
// The simulator owns the "truth": each (task, configuration) runs at the profile's runtime times
// a seeded error factor the policies never see. Policies (policy.h) see only the profile table,
// what is running where, and observed progress. They are consulted at time 0, whenever a job
// finishes, and every introspection interval; each answer is a Plan for the unfinished jobs.
//
// Execution of a plan follows plan order, not wall-clock guesses: every GPU serves its queued
// jobs in order of planned start, and a job starts as soon as all its GPUs are free and it is
// first in each of their queues. A running job whose assignment (configuration, node, GPUs)
// changes is checkpointed (its progress is kept) and later pays its restart cost before it makes
// progress again. Time is in seconds from the start of the batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "saturn/error.h"
#include "saturn/plan.h"
#include "saturn/planner.h"
#include "saturn/policy.h"
#include "saturn/profile.h"

namespace saturn {

// The simulator's options: the policies' (policy.h) and the simulated truth's.
struct SimulationOptions : PolicyOptions {
  // True runtime of (task, config) = profile runtime × (1 + runtime_error × u_task) ×
  // (1 + config_error × v_config), u and v uniform in [-1, 1], drawn per task and per (task,
  // config) from `seed`. A misestimated model is misestimated in every configuration (u); v adds
  // technique-specific error. Both in [0, 1); 0 and 0: exact.
  double runtime_error = 0;
  double config_error = 0;
  // A scripted truth instead of drawn errors: [task][config] factors, when not empty (a replay
  // of what a real run measured; tests). Every factor > 0.
  std::vector<std::vector<double>> true_factors;
  // Stop with an error after this many events (a policy that never lets jobs finish).
  long max_events = 1000000;

  // Defaults: introspection every 1000 s, restarts of 60 s, the planner below.
  SimulationOptions() { planner = default_planner_options(); }

  // The simulator's planner settings: heuristic with a fixed evaluation budget and two searches,
  // so a simulation is deterministic for its seed on any machine, and runtime_uncertainty 0.1:
  // Saturn's own belief that estimates are off by about ±10% (it never sees runtime_error).
  static PlannerOptions default_planner_options();
};

// One stretch of a job on one configuration: from its (re)start until it finished or was moved.
struct Segment {
  std::string task;
  int config = -1;
  std::string technique;
  std::string node;
  std::vector<int> gpus;
  double start_s = 0;
  double end_s = 0;
  double restart_s = 0;   // seconds at the start of the segment spent restarting (no progress)
  bool finished = false;  // the job completed at end_s (else it was checkpointed and moved)
};

struct SimulationResult {
  std::string policy;
  double makespan_s = 0;
  // Certified lower bound of the profile table the policies saw (lower_bound.h), and of the
  // table with the true runtimes.
  double lower_bound_s = 0;
  double true_lower_bound_s = 0;
  // GPU-seconds held by jobs (restarts included) / (cluster GPUs × makespan).
  double gpu_utilisation = 0;
  int reconfigurations = 0;  // segments that ended without finishing
  int policy_calls = 0;
  std::vector<Segment> segments;  // ordered by start time
  std::vector<double> finish_s;   // per task of the profile table

  // The timeline as a Plan (one assignment per segment), for Gantt charts.
  Plan timeline() const;
};

// Simulates `table`'s tasks on `table.cluster` under `policy`. Errors: bad options, a policy
// that returns an invalid plan (unknown task, GPUs out of range, a config that does not fit), or
// one that stops scheduling with jobs left.
Result<SimulationResult> simulate(const ProfileTable& table, Policy& policy,
                                  const SimulationOptions& options);

// The true runtime factors the simulator uses, [task][config]; exposed for tests and reports.
std::vector<std::vector<double>> true_runtime_factors(const ProfileTable& table,
                                                      const SimulationOptions& options);

nlohmann::json to_json(const SimulationResult& result);

}  // namespace saturn
