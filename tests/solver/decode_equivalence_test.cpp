// The decoder's shortcuts (frontiers, the tail of a node with no hole long enough, the min-tree
// that skips nodes) change nothing it computes: on random instances with unequal nodes, modes
// confined to some nodes, reserved GPUs, running jobs kept in place and fixed nodes, decode()
// and justify() place every job exactly as the plain serial decoder here does (every node's
// timeline scanned from the start for every job: the decoder before the planner scaled).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "solver/instance.h"
#include "solver/schedule.h"

namespace saturn::solver {
namespace {

constexpr double kEps = 1e-7;  // schedule.cpp's kTimeEps

Schedule finish(Schedule s) {
  for (const Placement& p : s.jobs) {
    s.makespan_s = std::max(s.makespan_s, p.end_s);
    s.total_completion_s += p.end_s;
  }
  return s;
}

// The plain serial decoder.
Schedule reference_decode(const Instance& instance, const std::vector<int>& order,
                          const std::vector<int>& modes, const std::vector<int>& fixed = {}) {
  std::vector<NodeUsage> usage = initial_usage(instance);
  Schedule s;
  s.jobs.resize(instance.jobs.size());
  for (size_t j = 0; j < instance.jobs.size(); ++j) {
    const Mode& m = instance.jobs[j].modes[modes[j]];
    if (!m.keep) continue;
    usage[m.nodes[0]].add(0, m.duration_s, m.gpus);
    s.jobs[j] = {modes[j], m.nodes[0], 0.0, m.duration_s};
  }
  for (int j : order) {
    const Mode& m = instance.jobs[j].modes[modes[j]];
    if (m.keep) continue;
    Placement best{modes[j], -1, 0, std::numeric_limits<double>::infinity()};
    int best_used = -1;
    auto consider = [&](int node) {
      const double start = usage[node].earliest_start(m.gpus, m.duration_s);
      const double end = start + m.duration_s;
      const int used = usage[node].used_at(start) + m.gpus - usage[node].capacity();
      if (end < best.end_s - kEps || (end <= best.end_s + kEps && used > best_used)) {
        best = {modes[j], node, start, end};
        best_used = used;
      }
    };
    if (!fixed.empty() && fixed[j] >= 0) {
      consider(fixed[j]);
    } else {
      for (int node : m.nodes) consider(node);
    }
    usage[best.node].add(best.start_s, best.end_s, m.gpus);
    s.jobs[j] = best;
  }
  return finish(s);
}

// A random instance: 2-40 nodes of 2-8 GPUs, 5-40 jobs of 1-4 modes each, some modes confined to
// some nodes, a reserved block now and then, and a few running jobs kept where they are.
Instance random_instance(std::mt19937_64& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Instance in;
  const int nodes = pick(0, 2) == 0 ? pick(7, 40) : pick(2, 6);  // the min-tree several levels deep
  for (int n = 0; n < nodes; ++n)
    in.node_gpus.push_back(pick(0, 2) == 0 ? 4 : (pick(0, 1) ? 8 : 2));
  const int jobs = pick(5, 40);
  for (int j = 0; j < jobs; ++j) {
    Job job;
    job.name = fmt::format("j{}", j);
    const int modes = pick(1, 4);
    for (int k = 0; k < modes; ++k) {
      Mode m;
      m.config = k;
      m.gpus = 1 << pick(0, 3);
      // Whole seconds and halves, so that ties (and the tie-breaking rules) come up often.
      m.duration_s = 0.5 * pick(1, 40);
      std::vector<int> fits;
      for (int n = 0; n < nodes; ++n) {
        if (m.gpus <= in.node_gpus[n] && (pick(0, 4) > 0 || fits.empty())) fits.push_back(n);
      }
      if (fits.empty()) continue;
      m.nodes = fits;
      job.modes.push_back(m);
    }
    if (job.modes.empty()) {
      Mode m;
      m.gpus = 1;
      m.duration_s = 1;
      m.nodes = std::vector<int>{0};
      job.modes.push_back(m);
    }
    if (pick(0, 9) == 0) {  // running: kept on a node at some of its GPUs
      Mode keep = job.modes[0];
      keep.keep = true;
      keep.nodes = std::vector<int>{keep.nodes[0]};
      job.modes.insert(job.modes.begin(), keep);
      job.running = true;
    }
    in.jobs.push_back(job);
  }
  // Kept jobs must fit together on their nodes: drop the keep of one that would not.
  std::vector<int> held(in.node_gpus.size(), 0);
  for (Job& job : in.jobs) {
    if (!job.modes[0].keep) continue;
    const int n = job.modes[0].nodes[0];
    if (held[n] + job.modes[0].gpus > in.node_gpus[n]) {
      job.modes.erase(job.modes.begin());
      job.running = false;
    } else {
      held[n] += job.modes[0].gpus;
    }
  }
  if (pick(0, 2) == 0) {
    const int n = pick(0, nodes - 1);
    if (held[n] < in.node_gpus[n])
      in.blocks.push_back({n, {in.node_gpus[n] - 1}, 0.5 * pick(1, 20)});
  }
  return in;
}

void expect_same(const Schedule& a, const Schedule& b, const std::string& where) {
  ASSERT_EQ(a.jobs.size(), b.jobs.size()) << where;
  for (size_t j = 0; j < a.jobs.size(); ++j) {
    EXPECT_EQ(a.jobs[j].mode, b.jobs[j].mode) << where << " job " << j;
    EXPECT_EQ(a.jobs[j].node, b.jobs[j].node) << where << " job " << j;
    EXPECT_NEAR(a.jobs[j].start_s, b.jobs[j].start_s, 1e-9) << where << " job " << j;
  }
  EXPECT_NEAR(a.makespan_s, b.makespan_s, 1e-9) << where;
}

TEST(DecodeEquivalence, TheShortcutsPlaceEveryJobAsThePlainDecoderDoes) {
  std::mt19937_64 rng(2026);
  for (int trial = 0; trial < 300; ++trial) {
    const Instance in = random_instance(rng);
    std::vector<int> order(in.jobs.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int> modes;
    for (const Job& job : in.jobs) {
      modes.push_back(job.running ? 0
                                  : std::uniform_int_distribution<int>(
                                        0, static_cast<int>(job.modes.size()) - 1)(rng));
    }
    const std::string where = fmt::format("trial {}", trial);
    const Schedule fast = decode(in, order, modes);
    expect_same(fast, reference_decode(in, order, modes), where);
    // With every job's node fixed (left_shift's and justify's decoding).
    std::vector<int> fixed;
    for (const Placement& p : fast.jobs) fixed.push_back(p.node);
    expect_same(decode(in, order, modes, fixed), reference_decode(in, order, modes, fixed), where);
    // Justification keeps modes and nodes and never lengthens; its result is a valid decode of
    // the start order it produces, which the plain decoder reproduces.
    const Schedule j = justify(in, fast);
    EXPECT_LE(j.makespan_s, fast.makespan_s + 1e-9) << where;
    std::vector<int> by_start(in.jobs.size());
    std::iota(by_start.begin(), by_start.end(), 0);
    std::stable_sort(by_start.begin(), by_start.end(),
                     [&](int a, int b) { return j.jobs[a].start_s < j.jobs[b].start_s; });
    std::vector<int> j_nodes, j_modes;
    for (const Placement& p : j.jobs) {
      j_nodes.push_back(p.node);
      j_modes.push_back(p.mode);
    }
    expect_same(j, reference_decode(in, by_start, j_modes, j_nodes), where);
  }
}

}  // namespace
}  // namespace saturn::solver
