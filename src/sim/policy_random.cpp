// random: the "Random" baseline of the paper. At the start it draws, per job, a GPU count
// (uniformly among the counts it has a configuration for), a technique at that count, and a
// random job order; then jobs start in that order as soon as one node has enough free GPUs
// (a job that does not fit yet lets later ones pass). Seeded: the same seed, the same draws.
#include <algorithm>
#include <memory>
#include <random>

#include "saturn/policy.h"
#include "sim/policy_util.h"

namespace saturn::sim {
namespace {

class RandomPolicy : public Policy {
 public:
  explicit RandomPolicy(std::uint64_t seed) : rng_(seed) {}

  std::string name() const override { return "random"; }

  Result<std::optional<Plan>> decide(const PolicyContext& context) override {
    const ProfileTable& table = *context.table;
    if (context.event == PolicyEvent::kStart) draw(table);
    redraw_missing(table);
    std::vector<std::vector<int>> free = free_gpus(context);
    std::vector<Assignment> assignments;
    for (int task : order_) {
      if (context.jobs[task].state != JobState::kPending) continue;
      const Config& config = table.tasks[task].configs[config_[task]];
      // Best fit: the node with the fewest free GPUs that still holds the job.
      int node = -1;
      for (size_t n = 0; n < free.size(); ++n) {
        if (static_cast<int>(free[n].size()) < config.gpus) continue;
        if (!config_fits(config, table.cluster.nodes[n])) continue;
        if (node < 0 || free[n].size() < free[node].size()) node = static_cast<int>(n);
      }
      if (node < 0) continue;
      std::vector<int> gpus(free[node].begin(), free[node].begin() + config.gpus);
      free[node].erase(free[node].begin(), free[node].begin() + config.gpus);
      assignments.push_back(
          make_assignment(context, task, config_[task], node, std::move(gpus), context.now_s));
    }
    if (assignments.empty()) return std::optional<Plan>{};
    return std::optional<Plan>{make_plan(std::move(assignments))};
  }

 private:
  void draw(const ProfileTable& table) {
    config_.clear();
    chosen_.clear();
    order_.clear();
    for (size_t t = 0; t < table.tasks.size(); ++t) {
      config_.push_back(draw_config(table, t));
      order_.push_back(static_cast<int>(t));
    }
    std::shuffle(order_.begin(), order_.end(), rng_);
  }

  // A random GPU count among the task's fitting configurations, then a technique at that count.
  int draw_config(const ProfileTable& table, size_t t) {
    std::vector<int> fitting;  // configs that fit some node
    for (size_t c = 0; c < table.tasks[t].configs.size(); ++c) {
      for (const Node& node : table.cluster.nodes) {
        if (config_fits(table.tasks[t].configs[c], node)) {
          fitting.push_back(static_cast<int>(c));
          break;
        }
      }
    }
    std::vector<int> counts;
    for (int c : fitting) counts.push_back(table.tasks[t].configs[c].gpus);
    std::sort(counts.begin(), counts.end());
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    const int gpus = counts[pick(counts.size())];
    std::vector<int> at_count;
    for (int c : fitting) {
      if (table.tasks[t].configs[c].gpus == gpus) at_count.push_back(c);
    }
    const int config = at_count[pick(at_count.size())];
    if (chosen_.size() <= t) chosen_.resize(t + 1);
    chosen_[t] = {table.tasks[t].configs[config].technique, gpus};
    return config;
  }

  // The table lost configurations (the executor dropped one that ran out of memory): indices are
  // found again by technique and width, and a job whose drawn configuration is gone draws anew.
  void redraw_missing(const ProfileTable& table) {
    for (size_t t = 0; t < table.tasks.size() && t < config_.size(); ++t) {
      const std::vector<Config>& configs = table.tasks[t].configs;
      const auto same = [&](const Config& c) {
        return c.technique == chosen_[t].first && c.gpus == chosen_[t].second;
      };
      const auto it = std::find_if(configs.begin(), configs.end(), same);
      if (it != configs.end()) {
        config_[t] = static_cast<int>(it - configs.begin());
      } else if (!configs.empty()) {
        config_[t] = draw_config(table, t);
      }
    }
  }

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  std::mt19937_64 rng_;
  std::vector<int> config_;  // per task
  std::vector<std::pair<std::string, int>> chosen_;  // per task: technique, GPU count drawn
  std::vector<int> order_;
};

}  // namespace

std::unique_ptr<Policy> make_random_policy(std::uint64_t seed) {
  return std::make_unique<RandomPolicy>(seed);
}

}  // namespace saturn::sim
