// One run of execute_workload() (saturn/executor.h) as a class: the jobs, the queue the policy
// last set, the processes, and small methods for each thing that happens — the policy decides
// (decide, apply), jobs start (dispatch, launch), workers report (on_line, on_event) and end
// (on_exit). The simulator's Simulation (src/sim/simulator.cpp) has the same shape; what differs
// is where time and progress come from. Internal to src/executor/. Single-threaded.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "saturn/executor.h"
#include "saturn/policy.h"
#include "saturn/worker_protocol.h"

namespace saturn::exec {

// A job as the executor sees it.
struct Live {
  JobRecord rec;
  std::size_t task = 0;  // index in the profile table
  // While a process runs for it:
  std::unique_ptr<Process> process;
  int running_config = -1;
  int running_node = -1;
  std::vector<int> running_gpus;
  double launched_s = 0;         // run clock
  double origin_s = -1;          // run clock of the step timings' origin in this launch
  std::int64_t origin_step = 0;  // its step
  bool first_step_seen = false;  // since `started`
  bool got_done = false;
  bool switching = false;       // asked to stop for a new assignment
  double stop_sent_s = -1;      // run clock of that SIGTERM; -1: none pending
  double last_stop_s = 0;       // how long its last stop for a move took, SIGTERM to exit
  std::string last_error;       // the first `error` event of this launch, "kind error: msg"
  protocol::FailureKind failure = protocol::FailureKind::kNone;  // its kind
  bool out_of_memory = false;   // this launch ended out of memory (event kind or exit code)
  // What progress has shown, kept across launches as the simulator keeps it:
  double slowdown = 1;  // observed / profiled seconds per step, in the last configuration run
  bool observed = false;
  double measured_restart_s = -1;  // launch -> `started` of the last launch from a checkpoint
};

// Where a waiting job is to run next: the policy's assignment, checked.
struct Queued {
  std::size_t job = 0;  // index into the jobs
  int config = -1;
  int node = -1;
  std::vector<int> gpus;
  double start_s = 0, end_s = 0;  // planned, run clock
};

class Execution {
 public:
  Execution(const Workload& workload, const ProfileTable& table, const Library& library,
            RunStore& store, Backend& backend, const std::vector<DeviceSlots>& nodes,
            const ExecutorOptions& options, Policy& policy);
  Result<ExecutionSummary> run();

 private:
  // Setup (execution.cpp).
  Status load_jobs();
  Result<double> finished_before(const JobRecord& rec);
  bool unfinished(const Live& l) const;
  ExecutionSummary earlier_summary();
  Status first_decision();
  // The policy (execution_policy.cpp).
  PolicyContext context(PolicyEvent event) const;
  JobView view(const Live& l) const;
  Status decide(PolicyEvent event);
  Result<Queued> check(const Assignment& a) const;
  Status apply(const Plan& plan);
  Status move(Live& l, const Queued& to);
  Status dispatch();
  std::vector<std::vector<char>> held() const;
  // Processes (execution_jobs.cpp).
  Status launch(Live& l, const Queued& q);
  Status on_line(Live& l, const std::string& line);
  Status on_event(Live& l, const protocol::Event& e);
  void on_step(Live& l, std::int64_t step, double t);
  Status on_exit(Live& l, int code);
  void export_trained_model(const Live& l);
  Status drop_config(Live& l, double t, const std::string& log_path);
  void fail(Live& l, double t, const std::string& why);
  bool deterministic_failure(const Live& l, int code) const;
  // The loop (execution.cpp).
  Status round();
  void stop_all();
  void kill_overdue_moves();
  bool any_running() const;
  bool any_pending() const;
  Status when_idle();
  void log(const std::string& line) const;
  double now() const { return clock_->now(); }
  // The run is to stop: asked to (SIGINT/SIGTERM), or its policy failed.
  bool stop_requested() const { return (options_.stop && *options_.stop) || failed_; }

  const Workload& workload_;
  const Library& library_;
  RunStore& store_;
  Backend& backend_;
  const std::vector<DeviceSlots>& nodes_;
  const ExecutorOptions& options_;
  Policy& policy_;
  // The table the policy plans from: the given one on these nodes, less each configuration that
  // ran out of memory when a job executed in it (only a job that is not running loses one, so
  // no index in use shifts).
  ProfileTable profiles_;
  std::optional<RunClock> clock_;  // set when run() begins
  std::vector<Live> jobs_;
  std::vector<Queued> queue_;  // in plan order
  ExecutionSummary summary_;
  std::map<std::string, int> task_of_;  // job name -> index into jobs_ and profiles_.tasks
  std::optional<Error> failed_;  // the policy failed: the run stops, then returns this
  bool finished_now_ = false;   // a job completed or failed this round
  bool replan_needed_ = false;  // the world changed outside the plan: ask the policy again
  bool stopping_ = false;
  double stop_deadline_ = 0;
  double next_tick_ = 0;  // run clock of the next introspection
};

}  // namespace saturn::exec
