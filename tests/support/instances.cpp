// Random profile-table generators; see instances.h.
#include "support/instances.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

namespace saturn::testing {
namespace {

Cluster uniform_cluster(int nodes, int gpus_per_node) {
  Cluster cluster;
  for (int n = 0; n < nodes; ++n) {
    cluster.nodes.push_back(
        {fmt::format("n{}", n), gpus_per_node, "a100-40gb", 40960.0 * 1024 * 1024});
  }
  return cluster;
}

}  // namespace

ProfileTable random_sweep(int jobs, int nodes, int gpus_per_node, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  std::lognormal_distribution<double> hours(std::log(6.0), 0.6);
  ProfileTable table;
  table.cluster = uniform_cluster(nodes, gpus_per_node);
  const char* techniques[] = {"ddp", "fsdp", "gpipe", "offload"};
  for (int j = 0; j < jobs; ++j) {
    Task task;
    task.name = fmt::format("job{:03}", j);
    const double single_s = hours(rng) * 3600;
    const double r = unit(rng);
    const int min_gpus = r < 0.4 ? 1 : r < 0.7 ? 2 : r < 0.9 ? 4 : 8;
    for (int t = 0; t < 4; ++t) {
      // Technique t scales as g^(1 - alpha); offload also runs below the memory minimum, slowly.
      const double alpha = 0.05 + 0.3 * unit(rng);
      const double overhead = t == 3 ? 1.8 + unit(rng) : 1.0 + 0.15 * unit(rng);
      for (int g = 1; g <= gpus_per_node; ++g) {
        if (g < min_gpus && t != 3) continue;
        if (t == 3 && g > std::max(1, min_gpus / 2)) continue;
        Config c;
        c.technique = techniques[t];
        c.gpus = g;
        c.runtime_s = std::round(single_s * overhead / std::pow(g, 1 - alpha));
        c.peak_memory_bytes = 2e10;
        task.configs.push_back(c);
      }
    }
    table.tasks.push_back(std::move(task));
  }
  return table;
}

ProfileTable perfect_packing(int jobs, int nodes, int gpus_per_node, double horizon_s,
                             std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  struct Piece {
    int gpus;
    double duration;
  };
  std::vector<Piece> pieces;
  for (int n = 0; n < nodes; ++n) pieces.push_back({gpus_per_node, horizon_s});
  // Guillotine cuts of the largest piece until there are `jobs` pieces.
  while (static_cast<int>(pieces.size()) < jobs) {
    auto it = std::max_element(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
      return a.gpus * a.duration < b.gpus * b.duration;
    });
    Piece p = *it;
    pieces.erase(it);
    if (p.gpus > 1 && (unit(rng) < 0.5 || p.duration < horizon_s / 20)) {
      const int left = 1 + static_cast<int>(unit(rng) * (p.gpus - 1));
      pieces.push_back({left, p.duration});
      pieces.push_back({p.gpus - left, p.duration});
    } else {
      const double cut = std::round(p.duration * (0.25 + 0.5 * unit(rng)));
      pieces.push_back({p.gpus, cut});
      pieces.push_back({p.gpus, p.duration - cut});
    }
  }
  std::shuffle(pieces.begin(), pieces.end(), rng);
  ProfileTable table;
  table.cluster = uniform_cluster(nodes, gpus_per_node);
  for (size_t j = 0; j < pieces.size(); ++j) {
    Task task;
    task.name = fmt::format("job{:03}", j);
    for (int g = 1; g <= gpus_per_node; ++g) {
      Config c;
      c.technique = g == pieces[j].gpus ? "fsdp" : "ddp";
      c.gpus = g;
      const double penalty = g == pieces[j].gpus ? 0.0 : 0.05 + 0.4 * unit(rng);
      c.runtime_s = pieces[j].duration * pieces[j].gpus / g * (1 + penalty);
      task.configs.push_back(c);
    }
    table.tasks.push_back(std::move(task));
  }
  return table;
}

ProfileTable tiny_random(int jobs, int configs, const std::vector<int>& node_gpus,
                         std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  ProfileTable table;
  int widest = 0;
  for (size_t n = 0; n < node_gpus.size(); ++n) {
    table.cluster.nodes.push_back(
        {fmt::format("n{}", n), node_gpus[n], "a100-40gb", 40960.0 * 1024 * 1024});
    widest = std::max(widest, node_gpus[n]);
  }
  std::uniform_int_distribution<int> gpus(1, widest);
  std::uniform_int_distribution<int> units(1, 8);
  for (int j = 0; j < jobs; ++j) {
    Task task;
    task.name = fmt::format("t{}", j);
    for (int c = 0; c < configs; ++c) {
      Config config;
      config.technique = c % 2 ? "fsdp" : "ddp";
      config.gpus = gpus(rng);
      config.runtime_s = 100.0 * units(rng);
      task.configs.push_back(config);
    }
    table.tasks.push_back(std::move(task));
  }
  return table;
}

}  // namespace saturn::testing
