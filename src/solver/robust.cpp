// Robust choice among near-equal schedules; see robust.h.
#include "solver/robust.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <tuple>

namespace saturn::solver {
namespace {

bool has_fixed_parts(const Instance& instance) {
  if (!instance.blocks.empty()) return true;
  for (const Job& job : instance.jobs) {
    for (const Mode& mode : job.modes) {
      if (mode.keep) return true;
    }
  }
  return false;
}

Schedule mirrored(const Instance& instance, const Schedule& schedule) {
  Schedule m = schedule;
  for (Placement& p : m.jobs) {
    const double duration = p.end_s - p.start_s;
    p.start_s = schedule.makespan_s - p.end_s;
    p.end_s = p.start_s + duration;
  }
  return left_shift(instance, m);
}

// The same modes, decoded longest job first: the order that leaves the short jobs to even out
// the ends of the nodes (list scheduling's classic rule under uncertainty).
Schedule longest_first(const Instance& instance, const Schedule& schedule) {
  std::vector<int> order(schedule.jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<int> modes;
  for (const Placement& p : schedule.jobs) modes.push_back(p.mode);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return instance.jobs[a].modes[modes[a]].duration_s >
           instance.jobs[b].modes[modes[b]].duration_s;
  });
  return decode(instance, order, modes);
}

}  // namespace

double followed_makespan(const Instance& instance, const Schedule& schedule,
                         const std::vector<double>& factors) {
  // Online list scheduling: whenever GPUs free up, the waiting jobs are considered in order of
  // planned start and each one that fits on some node now starts there (its planned node first,
  // else the fullest node it fits). Nothing is known of a job's duration until it ends.
  const int n = static_cast<int>(schedule.jobs.size());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return schedule.jobs[a].start_s < schedule.jobs[b].start_s;
  });
  std::vector<int> free_gpus = instance.node_gpus;
  // Running jobs as (end time, node, GPUs); blocks release their GPUs at until_s.
  std::vector<std::tuple<double, int, int>> running;
  for (const Block& block : instance.blocks) {
    free_gpus[block.node] -= static_cast<int>(block.gpus.size());
    running.emplace_back(block.until_s, block.node, static_cast<int>(block.gpus.size()));
  }
  std::vector<char> started(n, 0);
  int waiting = n;
  for (int j = 0; j < n; ++j) {
    const Mode& mode = instance.jobs[j].modes[schedule.jobs[j].mode];
    if (!mode.keep) continue;
    free_gpus[mode.nodes[0]] -= mode.gpus;
    running.emplace_back(mode.duration_s * factors[j], mode.nodes[0], mode.gpus);
    started[j] = 1;
    --waiting;
  }
  double now = 0, makespan = 0;
  while (true) {
    for (int j : order) {
      if (started[j]) continue;
      const Mode& mode = instance.jobs[j].modes[schedule.jobs[j].mode];
      int node = -1;
      if (free_gpus[schedule.jobs[j].node] >= mode.gpus) {
        node = schedule.jobs[j].node;
      } else {
        for (int candidate : mode.nodes) {
          if (free_gpus[candidate] >= mode.gpus &&
              (node < 0 || free_gpus[candidate] < free_gpus[node])) {
            node = candidate;
          }
        }
      }
      if (node < 0) continue;
      free_gpus[node] -= mode.gpus;
      running.emplace_back(now + mode.duration_s * factors[j], node, mode.gpus);
      started[j] = 1;
      --waiting;
    }
    if (running.empty()) break;
    // Advance to the next end; release every job ending then.
    const auto next = std::min_element(running.begin(), running.end());
    now = std::get<0>(*next);
    makespan = std::max(makespan, now);
    std::erase_if(running, [&](const std::tuple<double, int, int>& r) {
      if (std::get<0>(r) > now) return false;
      free_gpus[std::get<1>(r)] += std::get<2>(r);
      return true;
    });
    if (waiting == 0 && running.empty()) break;
  }
  return makespan;
}

Schedule most_robust(const Instance& instance, const std::vector<Schedule>& schedules,
                     double uncertainty, std::uint64_t seed, int samples) {
  if (uncertainty <= 0 || schedules.empty()) return schedules.empty() ? Schedule{} : schedules[0];
  std::vector<Schedule> candidates;
  for (const Schedule& s : schedules) candidates.push_back(s);
  for (const Schedule& s : schedules) candidates.push_back(longest_first(instance, s));
  if (!has_fixed_parts(instance)) {
    for (const Schedule& s : schedules) candidates.push_back(mirrored(instance, s));
  }
  double best_nominal = candidates[0].makespan_s;
  for (const Schedule& s : candidates) best_nominal = std::min(best_nominal, s.makespan_s);
  std::erase_if(candidates, [&](const Schedule& s) {
    return s.makespan_s > best_nominal * (1 + uncertainty / 4);
  });

  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + 29);
  std::uniform_real_distribution<double> draw(1 - uncertainty, 1 + uncertainty);
  std::vector<std::vector<double>> factors(samples, std::vector<double>(instance.jobs.size()));
  for (auto& sample : factors) {
    for (double& f : sample) f = draw(rng);
  }
  size_t best = 0;
  double best_mean = 0;
  for (size_t c = 0; c < candidates.size(); ++c) {
    double total = 0;
    for (const auto& sample : factors) total += followed_makespan(instance, candidates[c], sample);
    const double mean = total / samples;
    if (c == 0 || mean < best_mean * (1 - 1e-12)) {
      best = c;
      best_mean = mean;
    }
  }
  return candidates[best];
}

}  // namespace saturn::solver
