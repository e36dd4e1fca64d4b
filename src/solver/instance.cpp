// Building an Instance from a profile table.
#include "solver/instance.h"

#include <algorithm>

namespace saturn::solver {
namespace {

// True when `a` can replace `b` in any schedule: no more GPUs, no longer, and on every node `b`
// fits. Among equal modes the earlier one wins.
bool dominates(const Mode& a, int ia, const Mode& b, int ib) {
  if (a.keep || b.keep || a.gpus > b.gpus || a.duration_s > b.duration_s) return false;
  if (!std::includes(a.nodes.begin(), a.nodes.end(), b.nodes.begin(), b.nodes.end())) {
    return false;
  }
  const bool equal = a.gpus == b.gpus && a.duration_s == b.duration_s && a.nodes == b.nodes;
  return !equal || ia < ib;
}

}  // namespace

void drop_dominated_modes(Job& job) {
  std::vector<Mode> kept;
  const int n = static_cast<int>(job.modes.size());
  for (int b = 0; b < n; ++b) {
    bool dominated = false;
    for (int a = 0; a < n && !dominated; ++a) {
      dominated = a != b && dominates(job.modes[a], a, job.modes[b], b);
    }
    if (!dominated) kept.push_back(job.modes[b]);
  }
  job.modes = std::move(kept);
}

int Instance::total_gpus() const {
  int total = 0;
  for (int g : node_gpus) total += g;
  return total;
}

Instance make_instance(const ProfileTable& table) {
  Instance instance;
  for (const Node& node : table.cluster.nodes) instance.node_gpus.push_back(node.gpus);
  for (size_t t = 0; t < table.tasks.size(); ++t) {
    const Task& task = table.tasks[t];
    Job job;
    job.name = task.name;
    job.task = static_cast<int>(t);
    for (size_t c = 0; c < task.configs.size(); ++c) {
      const Config& config = task.configs[c];
      Mode mode;
      mode.config = static_cast<int>(c);
      mode.gpus = config.gpus;
      mode.duration_s = config.runtime_s;
      for (size_t n = 0; n < table.cluster.nodes.size(); ++n) {
        if (config_fits(config, table.cluster.nodes[n])) mode.nodes.push_back(static_cast<int>(n));
      }
      if (!mode.nodes.empty()) job.modes.push_back(std::move(mode));
    }
    drop_dominated_modes(job);
    instance.jobs.push_back(std::move(job));
  }
  return instance;
}

}  // namespace saturn::solver
