// Building an Instance from a profile table.
#include "solver/instance.h"

#include <algorithm>

namespace saturn::solver {
namespace {

// True when `a` can replace `b` in any schedule: no more GPUs, no longer, and on every node `b`
// fits. Among equal modes the earlier one wins.
bool dominates(const Mode& a, int ia, const Mode& b, int ib) {
  if (a.keep || b.keep || a.gpus > b.gpus || a.duration_s > b.duration_s) return false;
  if (!a.nodes.same(b.nodes) &&
      !std::includes(a.nodes.begin(), a.nodes.end(), b.nodes.begin(), b.nodes.end())) {
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

bool NodeSet::contains(int node) const {
  return std::binary_search(nodes_->begin(), nodes_->end(), node);
}

NodeFits::NodeFits(const Cluster& cluster) {
  for (int n = 0; n < static_cast<int>(cluster.nodes.size()); ++n) {
    const Node& node = cluster.nodes[n];
    std::size_t k = 0;
    while (k < kinds_.size() &&
           !(kinds_[k].gpus == node.gpus && kinds_[k].gpu_type == node.gpu_type &&
             kinds_[k].gpu_memory_bytes == node.gpu_memory_bytes)) {
      ++k;
    }
    if (k == kinds_.size()) {
      kinds_.push_back(node);
      members_.emplace_back();
    }
    members_[k].push_back(n);
  }
}

NodeSet NodeFits::of(const Config& config) {
  std::vector<bool> fits(kinds_.size());
  for (std::size_t k = 0; k < kinds_.size(); ++k) fits[k] = config_fits(config, kinds_[k]);
  auto it = interned_.find(fits);
  if (it != interned_.end()) return it->second;
  std::vector<int> nodes;
  for (std::size_t k = 0; k < kinds_.size(); ++k) {
    if (fits[k]) nodes.insert(nodes.end(), members_[k].begin(), members_[k].end());
  }
  std::sort(nodes.begin(), nodes.end());
  return interned_.emplace(std::move(fits), NodeSet(std::move(nodes))).first->second;
}

int Instance::total_gpus() const {
  int total = 0;
  for (int g : node_gpus) total += g;
  return total;
}

Instance make_instance(const ProfileTable& table) {
  Instance instance;
  for (const Node& node : table.cluster.nodes) instance.node_gpus.push_back(node.gpus);
  NodeFits fits(table.cluster);
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
      mode.nodes = fits.of(config);
      if (!mode.nodes.empty()) job.modes.push_back(std::move(mode));
    }
    drop_dominated_modes(job);
    instance.jobs.push_back(std::move(job));
  }
  return instance;
}

}  // namespace saturn::solver
