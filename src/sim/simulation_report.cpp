// SimulationResult as JSON and as a Plan-shaped timeline (for the Gantt chart).
#include <algorithm>

#include "saturn/simulator.h"

namespace saturn {

Plan SimulationResult::timeline() const {
  Plan plan;
  plan.makespan_s = makespan_s;
  plan.lower_bound_s = lower_bound_s;
  plan.gap = lower_bound_s > 0 ? std::max(0.0, makespan_s / lower_bound_s - 1) : 0;
  plan.solver = {policy, "simulated", 0, ""};
  for (const Segment& s : segments) {
    Assignment a;
    a.task = s.finished ? s.task : s.task + " (moved)";
    a.technique = s.technique;
    a.config = s.config;
    a.node = s.node;
    a.gpus = s.gpus;
    a.start_s = s.start_s;
    a.end_s = s.end_s;
    plan.assignments.push_back(std::move(a));
  }
  return plan;
}

nlohmann::json to_json(const SimulationResult& result) {
  nlohmann::json segments = nlohmann::json::array();
  for (const Segment& s : result.segments) {
    segments.push_back({{"task", s.task},
                        {"technique", s.technique},
                        {"config", s.config},
                        {"node", s.node},
                        {"gpus", s.gpus},
                        {"start_s", s.start_s},
                        {"end_s", s.end_s},
                        {"restart_s", s.restart_s},
                        {"finished", s.finished}});
  }
  return {{"policy", result.policy},
          {"makespan_s", result.makespan_s},
          {"lower_bound_s", result.lower_bound_s},
          {"true_lower_bound_s", result.true_lower_bound_s},
          {"gpu_utilisation", result.gpu_utilisation},
          {"reconfigurations", result.reconfigurations},
          {"policy_calls", result.policy_calls},
          {"segments", std::move(segments)}};
}

}  // namespace saturn
