// Brute-force SPASE optimum; see brute_force.h.
#include "support/brute_force.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

namespace saturn::testing {
namespace {

struct Choice {
  int node;
  int gpus;
  double duration;
};

struct Placed {
  int node;
  int gpus;
  double start, end;
};

// GPUs in use on `node` at instant t by the placed jobs.
int used_at(const std::vector<Placed>& placed, int node, double t) {
  int used = 0;
  for (const Placed& p : placed) {
    if (p.node == node && p.start <= t && t < p.end) used += p.gpus;
  }
  return used;
}

double decode(const std::vector<Choice>& choice, const std::vector<int>& order,
              const std::vector<int>& capacity) {
  std::vector<Placed> placed;
  double makespan = 0;
  for (int j : order) {
    const Choice& c = choice[j];
    // Candidate starts: 0 and every end on the node; check capacity at every event inside.
    std::vector<double> starts = {0};
    for (const Placed& p : placed) {
      if (p.node == c.node) starts.push_back(p.end);
    }
    std::sort(starts.begin(), starts.end());
    for (double s : starts) {
      bool ok = used_at(placed, c.node, s) + c.gpus <= capacity[c.node];
      for (const Placed& p : placed) {
        if (ok && p.node == c.node && p.start > s && p.start < s + c.duration) {
          ok = used_at(placed, c.node, p.start) + c.gpus <= capacity[c.node];
        }
      }
      if (ok) {
        placed.push_back({c.node, c.gpus, s, s + c.duration});
        makespan = std::max(makespan, s + c.duration);
        break;
      }
    }
  }
  return makespan;
}

}  // namespace

double brute_force_makespan(const ProfileTable& table) {
  std::vector<int> capacity;
  for (const Node& n : table.cluster.nodes) capacity.push_back(n.gpus);
  std::vector<std::vector<Choice>> options(table.tasks.size());
  for (size_t t = 0; t < table.tasks.size(); ++t) {
    for (const Config& c : table.tasks[t].configs) {
      for (size_t n = 0; n < capacity.size(); ++n) {
        if (c.gpus <= capacity[n]) options[t].push_back({static_cast<int>(n), c.gpus, c.runtime_s});
      }
    }
  }
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> pick(table.tasks.size(), 0);
  while (true) {
    std::vector<Choice> choice;
    for (size_t t = 0; t < pick.size(); ++t) choice.push_back(options[t][pick[t]]);
    std::vector<int> order(pick.size());
    std::iota(order.begin(), order.end(), 0);
    do {
      best = std::min(best, decode(choice, order, capacity));
    } while (std::next_permutation(order.begin(), order.end()));
    size_t t = 0;
    while (t < pick.size() && ++pick[t] == options[t].size()) pick[t++] = 0;
    if (t == pick.size()) break;
  }
  return best;
}

}  // namespace saturn::testing
