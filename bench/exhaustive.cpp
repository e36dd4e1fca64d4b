// Exhaustive single-node optimum; see exhaustive.h.
#include "exhaustive.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "solver/schedule.h"

namespace saturn::bench {
namespace {

struct Enumeration {
  const solver::Instance& instance;
  double best;
  std::vector<int> modes;

  void search(size_t job, double area, double longest) {
    const double capacity = instance.node_gpus[0];
    if (std::max(area / capacity, longest) >= best * (1 - 1e-12)) return;
    if (job == instance.jobs.size()) {
      std::vector<int> order(instance.jobs.size());
      std::iota(order.begin(), order.end(), 0);
      do {
        best = std::min(best, solver::decode(instance, order, modes).makespan_s);
      } while (std::next_permutation(order.begin(), order.end()));
      return;
    }
    for (size_t m = 0; m < instance.jobs[job].modes.size(); ++m) {
      const solver::Mode& mode = instance.jobs[job].modes[m];
      modes[job] = static_cast<int>(m);
      search(job + 1, area + mode.area(), std::max(longest, mode.duration_s));
    }
  }
};

}  // namespace

double exhaustive_optimum(const solver::Instance& instance, double upper_s) {
  Enumeration e{instance, upper_s * (1 + 1e-9), std::vector<int>(instance.jobs.size(), 0)};
  e.search(0, 0, 0);
  return std::min(e.best, upper_s);
}

}  // namespace saturn::bench
