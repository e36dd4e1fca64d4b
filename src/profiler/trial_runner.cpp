// The Trial Runner; see saturn/trial_runner.h.
#include "saturn/trial_runner.h"

#include "profiler/trial_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "saturn/worker_protocol.h"

namespace saturn {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace

Result<WorkerInfo> query_worker(Backend& backend, const std::string& worker) {
  auto p = backend.start({{worker, "info"}, {}, {}, "", ""});
  if (!p) return p.error();
  WorkerInfo info;
  bool answered = false;
  auto read = [&] {
    for (const std::string& line : (*p)->read_lines()) {
      auto event = protocol::parse_event_line(line);
      if (!event || event->value("event", "") != protocol::kInfo) continue;
      try {
        info.cuda_devices = event->value("cuda_devices", 0);
        info.torch = event->value("torch", "");
        if (event->contains("techniques") && (*event)["techniques"].is_array()) {
          for (const json& t : (*event)["techniques"]) {
            if (t.is_string()) info.techniques.push_back(t.get<std::string>());
          }
        }
        answered = true;
      } catch (const json::exception&) {
      }
    }
  };
  const auto t0 = Clock::now();
  std::optional<int> code;
  while (!(code = (*p)->poll_exit()) && since(t0) < 120) {
    read();
    backend.wait({p->get()}, 0.2);
  }
  read();
  if (!code || *code != 0 || !answered) {
    return Error{worker, 0, "",
                 code ? fmt::format("`saturn-worker info` exited with {} and no answer", *code)
                      : "`saturn-worker info` did not answer within 120 s"};
  }
  return info;
}

std::int64_t checkpoint_every_steps(double interval_s, double step_s) {
  return std::max<std::int64_t>(1, std::llround(interval_s / std::max(1e-6, step_s)));
}

double extrapolated_runtime_s(const TrialRecord& r, const JobSpec& job, std::int64_t steps,
                              double checkpoint_interval_s) {
  // The worker evaluates every eval_every steps and at the end, and checkpoints every
  // checkpoint_every_steps() steps and at the end (never twice at the last step).
  const std::int64_t evals = 1 + (job.eval_every > 0 ? (steps - 1) / job.eval_every : 0);
  const std::int64_t checkpoints =
      1 + (steps - 1) / checkpoint_every_steps(checkpoint_interval_s, r.step_s);
  return r.startup_s + r.step_s * static_cast<double>(steps) +
         r.eval_s * static_cast<double>(evals) + r.checkpoint_s * static_cast<double>(checkpoints);
}

Result<ProfileTable> run_trials(const Workload& workload, const Library& library, RunStore& store,
                                Backend& backend, const DeviceSlots& slots, const Cluster& cluster,
                                const TrialRunnerOptions& options, TrialSummary* summary) {
  TrialSummary local;
  return profiler::TrialRun(workload, library, store, backend, slots, cluster, options,
                            summary ? *summary : local)
      .run();
}

}  // namespace saturn
