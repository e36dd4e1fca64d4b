// Scheduling policies for the simulator (and, later, the executor): one small interface, one
// implementation per file under src/sim/.
//
//   saturn            the SPASE planner at time 0, then introspection: re-plan from observed
//                     progress every interval, switching running jobs only when the gain
//                     clears the threshold (restart costs included).
//   current-practice  each job gets all GPUs of a node, jobs in sequence (workload order), the
//                     next job going to whichever node frees up first.
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
#include "saturn/profile.h"

namespace saturn {

struct SimulationOptions;

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

enum class PolicyEvent { kStart, kJobFinished, kIntrospection };

struct PolicyContext {
  double now_s = 0;
  PolicyEvent event = PolicyEvent::kStart;
  const ProfileTable* table = nullptr;  // the estimates (never the truth)
  std::vector<JobView> jobs;            // per task of *table
  const SimulationOptions* options = nullptr;
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

// "saturn" | "current-practice" | "random" | "optimus" | "optimus-dynamic". `seed` feeds the
// policies that draw random numbers.
Result<std::unique_ptr<Policy>> make_policy(std::string_view name, std::uint64_t seed);

// The names make_policy accepts, in the order reports list them.
const std::vector<std::string>& policy_names();

}  // namespace saturn
