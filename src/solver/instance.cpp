// Building an Instance from a profile table.
#include "solver/instance.h"

namespace saturn::solver {

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
    instance.jobs.push_back(std::move(job));
  }
  return instance;
}

}  // namespace saturn::solver
