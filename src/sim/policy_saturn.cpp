// saturn: the SPASE planner with introspection. At the start it plans every job (planner.h).
// At every interval it re-estimates each unfinished job from observed progress (profile runtime
// × observed slowdown × remaining work) and, if anything was learned since the last plan, calls
// replan(): the best plan that keeps running jobs where they are is always adopted (it only
// reorders waiting jobs); the plan that moves running jobs is adopted only when its expected
// gain, already net of restart costs, exceeds switch_threshold × the remaining makespan.
// When a job finishes off its planned end (or a waiting job is overdue), the waiting jobs are
// re-planned around the running ones at once, so GPUs do not idle until the next interval; so
// are they at kReplan.
#include <cmath>
#include <map>
#include <memory>

#include "saturn/planner.h"
#include "saturn/policy.h"
#include "saturn/simulator.h"
#include "sim/policy_util.h"

namespace saturn::sim {
namespace {

// Relative change in a job's observed slowdown that counts as news worth re-planning for.
constexpr double kNews = 0.005;

class SaturnPolicy : public Policy {
 public:
  std::string name() const override { return "saturn"; }
  bool introspects() const override { return true; }

  Result<std::optional<Plan>> decide(const PolicyContext& context) override {
    const ProfileTable& table = *context.table;
    if (context.event == PolicyEvent::kStart) used_slowdown_.assign(table.tasks.size(), 1.0);
    const LastCall remember_call{last_call_s_, context.now_s};
    if (context.event == PolicyEvent::kStart && untouched(context)) {
      Result<Plan> p = plan(table, context.options->planner);
      if (!p.ok()) return p.error();
      remember(*p);
      return std::optional<Plan>{std::move(*p)};
    }
    const bool introspect = context.event == PolicyEvent::kIntrospection && news(context);
    // A run resumed with work done (the executor's kStart) is planned from where it stands.
    const bool stale = (context.event == PolicyEvent::kJobFinished && off_plan(context)) ||
                       context.event == PolicyEvent::kReplan ||
                       context.event == PolicyEvent::kStart;
    if (!introspect && !stale) return std::optional<Plan>{};
    // The estimates as of now: every configuration of a job scaled by what its progress showed.
    ProfileTable now = table;
    ReplanRequest request;
    request.now_s = context.now_s;
    request.allow_restarts = introspect;
    for (size_t t = 0; t < table.tasks.size(); ++t) {
      const JobView& job = context.jobs[t];
      if (job.state == JobState::kDone) continue;
      used_slowdown_[t] = job.observed_slowdown;
      for (Config& config : now.tasks[t].configs) config.runtime_s *= job.observed_slowdown;
      if (job.state == JobState::kRunning) {
        request.running.push_back({table.tasks[t].name, job.config, job.node, job.gpus,
                                   job.remaining_fraction, job.restart_s});
      } else {
        // A job moved earlier has done part of its work and pays a restart when it resumes.
        if (job.remaining_fraction < 1) {
          for (Config& config : now.tasks[t].configs) {
            config.runtime_s = config.runtime_s * job.remaining_fraction + job.restart_s;
          }
        }
        request.pending.push_back(table.tasks[t].name);
      }
    }
    Result<Replan> r = replan(now, request, context.options->planner);
    if (!r.ok()) return r.error();
    const double remaining = r->keep.makespan_s - context.now_s;
    Plan& chosen =
        !r->restarted.empty() && r->expected_gain_s > context.options->switch_threshold * remaining
            ? r->plan
            : r->keep;
    remember(chosen);
    return std::optional<Plan>{std::move(chosen)};
  }

 private:
  // Sets the time of the last call when a decide() returns, however it returns.
  struct LastCall {
    double& slot;
    double now;
    ~LastCall() { slot = now; }
  };

  // True when every job waits with all its work to do, at time 0: plan() plans from 0.
  static bool untouched(const PolicyContext& context) {
    if (context.now_s > 1e-9) return false;
    for (const JobView& job : context.jobs) {
      if (job.state != JobState::kPending || job.remaining_fraction < 1) return false;
    }
    return true;
  }

  // True when some unfinished job's observed slowdown moved since the last plan.
  bool news(const PolicyContext& context) const {
    for (size_t t = 0; t < context.jobs.size(); ++t) {
      const JobView& job = context.jobs[t];
      if (job.state == JobState::kDone || !job.observed) continue;
      if (std::abs(job.observed_slowdown / used_slowdown_[t] - 1) > kNews) return true;
    }
    return false;
  }

  void remember(const Plan& plan) {
    planned_.clear();
    for (const Assignment& a : plan.assignments) planned_[a.task] = {a.start_s, a.end_s};
  }

  // True when a job that just finished ended away from its planned end, or a waiting job is
  // past its planned start: the rest of the plan no longer matches the cluster.
  bool off_plan(const PolicyContext& context) const {
    const ProfileTable& table = *context.table;
    for (size_t t = 0; t < context.jobs.size(); ++t) {
      const auto it = planned_.find(table.tasks[t].name);
      if (it == planned_.end()) continue;
      const auto [start, end] = it->second;
      const JobView& job = context.jobs[t];
      const double tolerance = 0.01 * (end - start) + 1e-6;
      if (job.state == JobState::kPending && context.now_s > start + tolerance) return true;
      // Finished since the last call (the executor stamps a completion a moment before it
      // calls; the simulator at the instant of the call).
      if (job.state == JobState::kDone && std::abs(job.finished_s - end) > tolerance &&
          job.finished_s > last_call_s_ + 1e-9) {
        return true;
      }
    }
    return false;
  }

  std::vector<double> used_slowdown_;  // per task, the slowdown the current plan assumed
  double last_call_s_ = -1;            // now_s of the previous decide()
  std::map<std::string, std::pair<double, double>> planned_;  // task -> planned start, end
};

}  // namespace

std::unique_ptr<Policy> make_saturn_policy() {
  return std::make_unique<SaturnPolicy>();
}

}  // namespace saturn::sim
