// A job's launches and curves from its events; see run_history.h.
#include "report/run_history.h"

#include <fmt/format.h>

#include "saturn/worker_protocol.h"

namespace saturn::report {

Result<JobHistory> job_history(RunStore& store, const std::string& job) {
  auto events = store.events(job, "");
  if (!events) return events.error();
  JobHistory h;
  Launch* open = nullptr;  // the launch whose exit has not come yet
  std::string error;       // its last `error` event
  for (const auto& [t, e] : *events) {
    const std::string kind = e.value("event", "");
    if (kind == "spec_changed") {  // an edited job is a new job: its history starts here
      h = JobHistory{};
      open = nullptr;
      continue;
    }
    const auto number = [&e](const char* key) {
      return e.contains(key) && e[key].is_number() ? e[key].get<double>() : -1.0;
    };
    if (kind == "launch") {
      Launch l;
      l.start_s = l.end_s = t;
      l.technique = e.value("technique", "");
      if (e.contains("gpus") && e["gpus"].is_array()) {
        for (const auto& g : e["gpus"]) {
          if (g.is_number_integer()) l.devices.push_back(g.get<int>());
        }
      }
      h.launches.push_back(std::move(l));
      open = &h.launches.back();
      error.clear();
      continue;
    }
    if (open) open->end_s = std::max(open->end_s, t);
    if (kind == protocol::kStep && number("step") >= 0 && e.contains("loss") &&
        e["loss"].is_number()) {
      h.train.emplace_back(number("step"), e["loss"].get<double>());
    } else if (kind == protocol::kEval && number("step") >= 0 && e.contains("loss") &&
               e["loss"].is_number()) {
      h.eval.emplace_back(number("step"), e["loss"].get<double>());
    } else if (!open) {
      continue;
    } else if (kind == protocol::kStarted && number("step") >= 0) {
      open->from_step = static_cast<std::int64_t>(number("step"));
    } else if (kind == protocol::kError) {
      error = fmt::format("{} error: {}", e.value("kind", "internal"), e.value("message", ""));
    } else if (kind == "switch") {
      open->outcome = fmt::format(
          "switched to {} x{}", e.value("to_technique", "?"),
          e.contains("to_gpus") && e["to_gpus"].is_array() ? e["to_gpus"].size() : std::size_t{0});
    } else if (kind == "config_dropped") {
      open->outcome = "out of memory: its configuration dropped";
    } else if (kind == protocol::kDone && open->outcome.empty()) {
      open->outcome = "done";
    } else if (kind == protocol::kStopped && open->outcome.empty()) {
      open->outcome = "stopped (checkpointed)";
    } else if (kind == "exit") {
      const int code = e.value("code", -1);
      if (open->outcome.empty()) {
        open->outcome = code == 0     ? "exited"
                        : code == 143 ? "stopped by SIGTERM before it could checkpoint"
                                      : fmt::format("crashed: exit code {}", code);
        if (code != 0 && !error.empty()) open->outcome += ": " + error;
      }
      open = nullptr;
    }
  }
  if (open && open->outcome.empty()) open->outcome = "running";
  return h;
}

}  // namespace saturn::report
