// The reference MILP; see reference_milp.h. Its solutions are read back as CBC gives them, with
// one repair: integer decisions are rounded, and a start that its tolerances let overlap an
// earlier job on a shared GPU is pushed to that job's end (the big M makes such slack large).
#include "solver/reference_milp.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "solver/mip.h"

namespace saturn::solver {

ReferenceResult solve_reference_milp(const Instance& instance, double seconds, bool log) {
  constexpr double kBigM = 1e10;
  const int jobs = static_cast<int>(instance.jobs.size());
  std::vector<int> gpu_node, gpu_local;
  for (int n = 0; n < instance.num_nodes(); ++n) {
    for (int g = 0; g < instance.node_gpus[n]; ++g) {
      gpu_node.push_back(n);
      gpu_local.push_back(g);
    }
  }
  const int gpus = static_cast<int>(gpu_node.size());

  MipModel mip;
  const int makespan = mip.add_var("C", 0, kBigM, 1.0, false);
  std::vector<std::vector<int>> x(jobs), w(jobs), y(jobs);
  std::vector<int> s(jobs);
  for (int j = 0; j < jobs; ++j) {
    const Job& job = instance.jobs[j];
    for (size_t m = 0; m < job.modes.size(); ++m) {
      x[j].push_back(mip.add_var(fmt::format("x_{}_{}", j, m), 0, 1, 0, true));
    }
    for (int n = 0; n < instance.num_nodes(); ++n) {
      w[j].push_back(mip.add_var(fmt::format("w_{}_{}", j, n), 0, 1, 0, true));
    }
    for (int k = 0; k < gpus; ++k)
      y[j].push_back(mip.add_var(fmt::format("y_{}_{}", j, k), 0, 1, 0, true));
    s[j] = mip.add_var(fmt::format("s_{}", j), 0, kBigM, 0, false);

    std::vector<std::pair<int, double>> one_mode, one_node, count = {},
                                                            end = {{s[j], 1.0}, {makespan, -1.0}};
    for (size_t m = 0; m < job.modes.size(); ++m) {
      const Mode& mode = job.modes[m];
      one_mode.emplace_back(x[j][m], 1.0);
      count.emplace_back(x[j][m], -mode.gpus);
      end.emplace_back(x[j][m], mode.duration_s);
      for (int n = 0; n < instance.num_nodes(); ++n) {
        if (std::find(mode.nodes.begin(), mode.nodes.end(), n) == mode.nodes.end()) {
          mip.add_row({{x[j][m], 1.0}, {w[j][n], 1.0}}, -1e30, 1);
        }
      }
    }
    for (int n = 0; n < instance.num_nodes(); ++n) one_node.emplace_back(w[j][n], 1.0);
    for (int k = 0; k < gpus; ++k) {
      count.emplace_back(y[j][k], 1.0);
      mip.add_row({{y[j][k], 1.0}, {w[j][gpu_node[k]], -1.0}}, -1e30, 0);
    }
    mip.add_row(one_mode, 1, 1);
    mip.add_row(one_node, 1, 1);
    mip.add_row(count, 0, 0);
    mip.add_row(end, -1e30, 0);
  }
  for (int i = 0; i < jobs; ++i) {
    for (int j = i + 1; j < jobs; ++j) {
      const int o = mip.add_var(fmt::format("o_{}_{}", i, j), 0, 1, 0, true);
      for (int k = 0; k < gpus; ++k) {
        // i before j: s_i + d_i <= s_j + M (1 - o) + M (2 - y_ik - y_jk)
        std::vector<std::pair<int, double>> before = {
            {s[i], 1.0}, {s[j], -1.0}, {o, kBigM}, {y[i][k], kBigM}, {y[j][k], kBigM}};
        for (size_t m = 0; m < instance.jobs[i].modes.size(); ++m) {
          before.emplace_back(x[i][m], instance.jobs[i].modes[m].duration_s);
        }
        mip.add_row(before, -1e30, 3 * kBigM);
        // j before i: s_j + d_j <= s_i + M o + M (2 - y_ik - y_jk)
        std::vector<std::pair<int, double>> after = {
            {s[j], 1.0}, {s[i], -1.0}, {o, -kBigM}, {y[i][k], kBigM}, {y[j][k], kBigM}};
        for (size_t m = 0; m < instance.jobs[j].modes.size(); ++m) {
          after.emplace_back(x[j][m], instance.jobs[j].modes[m].duration_s);
        }
        mip.add_row(after, -1e30, 2 * kBigM);
      }
    }
  }

  const MipModel::Outcome out = mip.solve(seconds, {}, log);
  ReferenceResult result;
  result.bound = out.bound;
  result.optimal = out.optimal;
  result.stopped_on_time = out.stopped_on_time;
  result.failure = out.failure;
  if (!out.has_solution) return result;

  Schedule schedule;
  schedule.jobs.resize(jobs);
  result.gpus.resize(jobs);
  for (int j = 0; j < jobs; ++j) {
    const Job& job = instance.jobs[j];
    int mode = 0;
    for (size_t m = 0; m < job.modes.size(); ++m) {
      if (out.values[x[j][m]] > out.values[x[j][mode]]) mode = static_cast<int>(m);
    }
    int node = 0;
    for (int n = 0; n < instance.num_nodes(); ++n) {
      if (out.values[w[j][n]] > out.values[w[j][node]]) node = n;
    }
    // The mode's GPU count, largest occupancy values first, on the chosen node.
    std::vector<int> ks;
    for (int k = 0; k < gpus; ++k) {
      if (gpu_node[k] == node) ks.push_back(k);
    }
    std::stable_sort(ks.begin(), ks.end(),
                     [&](int a, int b) { return out.values[y[j][a]] > out.values[y[j][b]]; });
    ks.resize(std::min<size_t>(ks.size(), job.modes[mode].gpus));
    for (int k : ks) result.gpus[j].push_back(gpu_local[k]);
    std::sort(result.gpus[j].begin(), result.gpus[j].end());
    const double start = std::max(0.0, out.values[s[j]]);
    schedule.jobs[j] = {mode, node, start, start + job.modes[mode].duration_s};
  }
  // Repair tolerance overlaps on shared GPUs, in order of start.
  std::vector<int> order(jobs);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return schedule.jobs[a].start_s < schedule.jobs[b].start_s;
  });
  for (size_t a = 0; a < order.size(); ++a) {
    Placement& pj = schedule.jobs[order[a]];
    for (size_t b = 0; b < a; ++b) {
      const Placement& pi = schedule.jobs[order[b]];
      if (pi.node != pj.node || pi.end_s <= pj.start_s) continue;
      const auto& gi = result.gpus[order[b]];
      const auto& gj = result.gpus[order[a]];
      const bool shared = std::any_of(gi.begin(), gi.end(), [&](int g) {
        return std::find(gj.begin(), gj.end(), g) != gj.end();
      });
      if (shared) {
        const double d = pj.end_s - pj.start_s;
        pj.start_s = pi.end_s;
        pj.end_s = pj.start_s + d;
      }
    }
  }
  for (const Placement& p : schedule.jobs) {
    schedule.makespan_s = std::max(schedule.makespan_s, p.end_s);
    schedule.total_completion_s += p.end_s;
  }
  result.schedule = schedule;
  return result;
}

}  // namespace saturn::solver
