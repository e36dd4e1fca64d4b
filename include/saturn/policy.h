// Scheduling policies: one small interface, one implementation per file under src/sim/. The
// simulator (simulator.h) and the executor (executor.h) consult the same Policy objects; what
// differs between them is only where time and progress come from (a simulated clock and true
// runtimes, or the run clock and the workers' step events).
//
//   saturn            the SPASE planner at time 0, then introspection: re-plan from observed
//                     progress every interval, switching running jobs only when the gain
//                     clears the threshold (restart costs included).
//   current-practice  each job gets all GPUs of a node, jobs in sequence (workload order), the
//                     next job going to whichever node frees up first.
//   longest-first     current-practice with the jobs in order of decreasing estimated runtime
//                     (at a whole node's width): what careful users run by hand.
//   random            random GPU count, technique and order among feasible ones (seeded); jobs
//                     start in that order as soon as enough GPUs of one node are free.
//   optimus           greedy (Peng et al., EuroSys'18): whenever GPUs free up, waiting jobs are
//                     admitted in order with their smallest GPU count, then free GPUs are handed
//                     out one at a time to the admitted job with the largest marginal runtime
//                     reduction per GPU.
//   optimus-dynamic   optimus re-run over all unfinished jobs at every introspection interval;
//                     a running job is resized only when that saves more than its restart cost.
// Every baseline runs each job with the best technique (least estimated runtime) for its GPU
// count, as in the paper; `random` also draws the technique.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saturn/error.h"
#include "saturn/plan.h"
#include "saturn/planner.h"
#include "saturn/profile.h"

namespace saturn {

// What every policy may read, shared by SimulationOptions and ExecutorOptions.
struct PolicyOptions {
  double introspection_interval_s = 1000;  // > 0; only for policies that introspect
  // A job's restart cost (seconds) while nothing better is known: the profile's restart_s, else
  // this.
  double default_restart_s = 60;
  // Saturn switches running jobs only when the re-plan's expected gain (net of restart costs)
  // exceeds this fraction of the remaining makespan; optimus-dynamic uses it likewise.
  double switch_threshold = 0.02;
  PlannerOptions planner;
  // Feeds the policies that draw random numbers (random); the simulator also draws its runtime
  // errors from it.
  std::uint64_t seed = 1;
};

// A job as a policy sees it. kDone also covers a job that failed for good: nothing to place.
enum class JobState { kPending, kRunning, kDone };

// What a policy knows about one task of the profile table.
struct JobView {
  JobState state = JobState::kPending;
  double remaining_fraction = 1;  // share of the work still to do, (0, 1]; 0 when done
  double restart_s = 0;           // what moving this job costs, seconds
  // Observed true runtime / profile runtime, from the progress of its current (or last)
  // configuration; 1 before anything was observed.
  double observed_slowdown = 1;
  bool observed = false;  // observed_slowdown comes from real progress
  double finished_s = 0;  // kDone: when it finished
  // kRunning only: where it runs now, and since when (its current segment).
  int config = -1;
  std::string node;
  std::vector<int> gpus;
  double segment_start_s = 0;
};

// Why a policy is called. kStart: once, before anything runs. kJobFinished: a job completed (its
// devices are free). kIntrospection: every introspection_interval_s, for policies that
// introspect. kReplan: the world changed outside the policy's plan (the executor dropped a
// configuration that ran out of memory, or pending jobs wait with no assignment that can ever
// start): a policy answers with where the waiting jobs go now (Saturn plans all of them; the
// baselines place what their rule starts now, as at any other call).
enum class PolicyEvent { kStart, kJobFinished, kIntrospection, kReplan };

struct PolicyContext {
  double now_s = 0;
  PolicyEvent event = PolicyEvent::kStart;
  // The estimates (never the truth), per task. Between calls the table may lose configurations
  // of jobs that are not running (kReplan says so); configuration indices are into this table.
  const ProfileTable* table = nullptr;
  std::vector<JobView> jobs;  // per task of *table
  const PolicyOptions* options = nullptr;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  // True when the policy wants kIntrospection calls every interval.
  virtual bool introspects() const { return false; }
  // Decides at an event. nullopt: carry on with the current plan. A Plan replaces the queue:
  // its assignments (absolute times; `config` set) say where each listed unfinished job runs and
  // in what order (by start_s, then task name). A running job listed with a different config,
  // node or GPUs is checkpointed and moved; one not listed, or listed unchanged, carries on. A
  // waiting job not listed waits for a later call.
  virtual Result<std::optional<Plan>> decide(const PolicyContext& context) = 0;
};

// "saturn" | "current-practice" | "longest-first" | "random" | "optimus" | "optimus-dynamic".
// `seed` feeds the policies that draw random numbers. Errors: an unknown name (the known ones
// listed).
Result<std::unique_ptr<Policy>> make_policy(std::string_view name, std::uint64_t seed);

// The names make_policy accepts, in the order reports list them.
const std::vector<std::string>& policy_names();

}  // namespace saturn
