// A job's launches and curves from its events; see run_history.h.
#include "report/run_history.h"

#include <fmt/format.h>

#include "saturn/run_events.h"
#include "saturn/worker_protocol.h"

namespace saturn::report {

namespace {

// How a launch ended, from its exit code and its last error ("" when none).
std::string exit_outcome(int code, const std::string& error) {
  std::string outcome = code == 0     ? "exited"
                        : code == 143 ? "stopped by SIGTERM before it could checkpoint"
                                      : fmt::format("crashed: exit code {}", code);
  if (code != 0 && !error.empty()) outcome += ": " + error;
  return outcome;
}

}  // namespace

Result<JobHistory> job_history(RunStore& store, const std::string& job) {
  auto events = store.events(job, "");
  if (!events) return events.error();
  JobHistory h;
  Launch* open = nullptr;  // the launch whose exit has not come yet
  std::string error;       // its last `error` event
  for (const auto& [t, stored] : *events) {
    const std::string kind = run_event::name_of(stored);
    if (kind == run_event::SpecChanged::kName) {  // an edited job is a new job: history restarts
      h = JobHistory{};
      open = nullptr;
      continue;
    }
    if (kind == run_event::Launch::kName) {
      const run_event::Launch e = run_event::Launch::from_json(stored);
      Launch l;
      l.start_s = l.end_s = t;
      l.technique = e.technique;
      l.node = e.node;
      l.devices = e.gpus;
      h.launches.push_back(std::move(l));
      open = &h.launches.back();
      error.clear();
      continue;
    }
    if (open) open->end_s = std::max(open->end_s, t);
    auto read = protocol::read_event(stored);
    if (!read) continue;  // stored as printed, but not readable: nothing to draw
    const protocol::Event& e = *read;
    if (kind == protocol::kStep && e.step >= 0 && e.loss) {
      h.train.emplace_back(static_cast<double>(e.step), *e.loss);
    } else if (kind == protocol::kEval && e.step >= 0 && e.loss) {
      h.eval.emplace_back(static_cast<double>(e.step), *e.loss);
    } else if (!open) {
      continue;
    } else if (kind == protocol::kStarted && e.step >= 0) {
      open->from_step = e.step;
    } else if (kind == protocol::kError) {
      error = fmt::format("{} error: {}", protocol::to_string(e.failure), e.message);
    } else if (kind == run_event::Switch::kName) {
      const run_event::Switch sw = run_event::Switch::from_json(stored);
      open->outcome = fmt::format(
          "switched to {} x{}", sw.to_technique.empty() ? "?" : sw.to_technique, sw.to_gpus.size());
    } else if (kind == run_event::ConfigDropped::kName) {
      open->outcome = "out of memory: its configuration dropped";
    } else if (kind == protocol::kDone && open->outcome.empty()) {
      open->outcome = "done";
    } else if (kind == protocol::kStopped && open->outcome.empty()) {
      open->outcome = "stopped (checkpointed)";
    } else if (kind == run_event::Exit::kName) {
      if (open->outcome.empty())
        open->outcome = exit_outcome(run_event::Exit::from_json(stored).code, error);
      open = nullptr;
    }
  }
  if (open && open->outcome.empty()) open->outcome = "running";
  return h;
}

}  // namespace saturn::report
