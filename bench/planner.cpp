// bench_planner: plan quality and solve time on seeded instance families and on the shipped
// example profile tables, side by side with the reference MILP and with "each job gets a whole
// node, in sequence". Figures go to docs/benchmarks.md.
//
//   build/bin/bench_planner [--quick] [--time-limit S] [--reference-limit S] [--seeds N]
//   build/bin/bench_planner --scale [--seeds N]      # 10,000 and 50,000 jobs under 1 and 30 s
//
// Per row: makespan / certified lower bound (1.000 = proven optimal), wall-clock solve seconds;
// where the optimum is known (perfect packings; one-node sweeps of <= 7 jobs, by exhaustive
// search) also optimum / lower bound and makespan / optimum;
// medians over the seeds.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "exhaustive.h"
#include "saturn/lower_bound.h"
#include "saturn/planner.h"
#include "saturn/profile.h"
#include "solver/instance.h"
#include "support/instances.h"

namespace {

using saturn::ProfileTable;

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Each job on all GPUs of a node (its fastest config at the node's width, else its widest),
// longest first, on the node that frees up first.
double whole_node_sequence(const ProfileTable& table) {
  std::vector<double> durations;
  for (const auto& task : table.tasks) {
    int width = 0;
    double best = 0;
    for (const auto& c : task.configs) {
      if (c.gpus > table.cluster.max_gpus_per_node()) continue;
      if (c.gpus > width || (c.gpus == width && c.runtime_s < best)) {
        width = c.gpus;
        best = c.runtime_s;
      }
    }
    durations.push_back(best);
  }
  std::sort(durations.rbegin(), durations.rend());
  std::vector<double> free_at(table.cluster.nodes.size(), 0.0);
  for (double d : durations) {
    auto it = std::min_element(free_at.begin(), free_at.end());
    *it += d;
  }
  return *std::max_element(free_at.begin(), free_at.end());
}

struct Row {
  std::vector<double> ratio, seconds, ref_ratio, ref_seconds, whole_ratio;
  std::vector<double> opt_ratio;    // known optimum / LB (packings: 1 by construction)
  std::vector<double> plan_to_opt;  // main column's makespan / known optimum
  int ref_failed = 0;
};

// Returns the plan's makespan (0 when it found none).
double run_solver(const ProfileTable& table, saturn::SolverKind kind, double limit,
                  std::vector<double>& ratio, std::vector<double>& seconds, int* failed,
                  double lower_bound) {
  saturn::PlannerOptions options;
  options.solver = kind;
  options.time_limit_s = limit;
  const auto t0 = std::chrono::steady_clock::now();
  auto plan = saturn::plan(table, options);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  seconds.push_back(s);
  if (!plan.ok()) {
    if (failed) ++*failed;
    return 0;
  }
  ratio.push_back(plan->makespan_s / lower_bound);
  return plan->makespan_s;
}

constexpr int kExhaustiveMaxJobs = 7;

// The scale rows: does plan() keep its time limit on sweeps of 10,000 and 50,000 jobs
// (2026-12-07: 50,000 jobs on 512 nodes took 129 s under a 1 s limit), and what does the limit
// buy? Per row, medians over the seeds: plan() wall seconds (instance building, the bound's
// share and the search; the table is in memory, no JSON), makespan / the full lower bound
// (computed apart, without a deadline), and the process's peak memory so far.
int run_scale(saturn::SolverKind kind, int seeds) {
  fmt::print("{:<8} {:>6} {:>5} {:>7} | {:>8} {:>9} {:>10} | {:>8}\n", "family", "jobs", "nodes",
             "limit s", "plan s", "plan/LB", "whole/LB", "peak MB");
  for (const auto& [jobs, nodes] : {std::pair{10000, 128}, std::pair{50000, 512}}) {
    for (double limit : {1.0, 30.0}) {
      std::vector<double> seconds, ratio, whole;
      for (int s = 1; s <= std::min(seeds, 3); ++s) {
        const ProfileTable table = saturn::testing::random_sweep(jobs, nodes, 8, s);
        const double lb = saturn::compute_lower_bound(table).best_s;
        run_solver(table, kind, limit, ratio, seconds, nullptr, lb);
        whole.push_back(whole_node_sequence(table) / lb);
      }
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      fmt::print("{:<8} {:>6} {:>5} {:>7.0f} | {:>8.2f} {:>9.3f} {:>10.3f} | {:>8.0f}\n", "sweep",
                 jobs, nodes, limit, median(seconds), median(ratio), median(whole),
                 static_cast<double>(usage.ru_maxrss) / 1024);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Saturn planner benchmark"};
  bool quick = false;
  double limit = 0;
  double reference_limit = 20;
  int seeds = 5;
  app.add_flag("--quick", quick, "Fewer and smaller instances");
  app.add_option("--time-limit", limit, "Solver time limit, s (default: 2 up to 48 jobs, else 10)");
  app.add_option("--reference-limit", reference_limit, "Reference MILP time limit, s (0 = skip)");
  app.add_option("--seeds", seeds, "Seeds per family");
  std::string dump;
  bool per_seed = false;
  app.add_flag("--per-seed", per_seed, "Also print every seed's ratio of the main column");
  bool scale = false;
  app.add_flag("--scale", scale,
               "Only the scale rows: sweeps of 10,000 jobs on 128 nodes and 50,000 on 512, "
               "planned under time limits of 1 and 30 s (the limit must hold)");
  std::vector<std::string> only;
  std::string solver_name = "auto";
  app.add_option("--solver", solver_name, "Solver for the main column (auto, milp, heuristic)");
  app.add_option("--only", only, "Run only these families, e.g. packing-24-2 (family-jobs-nodes)");
  app.add_option("--dump", dump, "Also write every instance as a profile table JSON into DIR");
  CLI11_PARSE(app, argc, argv);
  const auto solver = saturn::parse_solver_kind(solver_name);
  if (!solver.ok()) {
    fmt::print(stderr, "bench_planner: {}\n", solver.error().message);
    return 2;
  }

  struct Family {
    std::string name;
    int jobs, nodes;
    bool packing;
  };
  std::vector<Family> families = {
      {"sweep", 6, 1, false},    {"sweep", 12, 1, false},   {"sweep", 12, 2, false},
      {"sweep", 24, 2, false},   {"sweep", 48, 2, false},   {"packing", 12, 1, true},
      {"packing", 24, 2, true},  {"packing", 48, 2, true},  {"sweep", 100, 4, false},
      {"packing", 100, 4, true}, {"sweep", 500, 16, false}, {"packing", 500, 16, true},
  };
  if (quick) {
    families.resize(6);
    seeds = std::min(seeds, 2);
  }
  if (!only.empty()) {
    // Any family-jobs-nodes, not only the default rows (e.g. packing-24-1).
    families.clear();
    for (const std::string& key : only) {
      Family f;
      char name[16] = {};
      if (std::sscanf(key.c_str(), "%15[a-z]-%d-%d", name, &f.jobs, &f.nodes) != 3 ||
          (std::string(name) != "sweep" && std::string(name) != "packing") || f.jobs < 1 ||
          f.nodes < 1) {
        fmt::print(stderr, "bench_planner: --only {}: expected sweep|packing-JOBS-NODES\n", key);
        return 2;
      }
      f.name = name;
      f.packing = f.name == "packing";
      families.push_back(f);
    }
  }

  if (scale) return run_scale(*solver, seeds);
  fmt::print("{:<8} {:>5} {:>5} | {:>9} {:>8} | {:>8} {:>9} | {:>9} {:>8} {:>6} | {:>10}\n",
             "family", "jobs", "nodes", "auto/LB", "auto s", "opt/LB", "auto/opt", "ref/LB",
             "ref s", "ref ✗", "whole/LB");
  for (const Family& f : families) {
    const double family_limit = limit > 0 ? limit : (f.jobs <= 48 ? 2.0 : 10.0);
    Row row;
    for (int s = 1; s <= seeds; ++s) {
      const ProfileTable table =
          f.packing ? saturn::testing::perfect_packing(f.jobs, f.nodes, 8, 36000, s)
                    : saturn::testing::random_sweep(f.jobs, f.nodes, 8, s);
      if (!dump.empty()) {
        std::filesystem::create_directories(dump);
        std::ofstream(
            fmt::format("{}/{}-{}jobs-{}nodes-seed{}.json", dump, f.name, f.jobs, f.nodes, s))
            << saturn::to_json(table).dump(1) << "\n";
      }
      const double lb = saturn::compute_lower_bound(table).best_s;
      const double makespan =
          run_solver(table, *solver, family_limit, row.ratio, row.seconds, nullptr, lb);
      // The optimum where it is known: packings by construction, small one-node sweeps by
      // exhaustive search.
      double optimum = 0;
      if (f.packing) {
        optimum = 36000;
      } else if (f.nodes == 1 && f.jobs <= kExhaustiveMaxJobs && makespan > 0) {
        optimum = saturn::bench::exhaustive_optimum(saturn::solver::make_instance(table), makespan);
      }
      if (optimum > 0) {
        row.opt_ratio.push_back(optimum / lb);
        row.plan_to_opt.push_back(makespan / optimum);
      }
      if (reference_limit > 0 && f.jobs <= 24) {
        run_solver(table, saturn::SolverKind::kReference, reference_limit, row.ref_ratio,
                   row.ref_seconds, &row.ref_failed, lb);
      }
      row.whole_ratio.push_back(whole_node_sequence(table) / lb);
    }
    const auto cell = [](const std::vector<double>& v, const char* f) {
      return v.empty() ? std::string("-") : fmt::format(fmt::runtime(f), median(v));
    };
    if (per_seed) {
      fmt::print("  per seed ({}/LB): {:.3f}\n", solver_name, fmt::join(row.ratio, " "));
    }
    fmt::print("{:<8} {:>5} {:>5} | {:>9} {:>8} | {:>8} {:>9} | {:>9} {:>8} {:>6} | {:>10}\n",
               f.name, f.jobs, f.nodes, cell(row.ratio, "{:.3f}"), cell(row.seconds, "{:.2f}"),
               cell(row.opt_ratio, "{:.3f}"), cell(row.plan_to_opt, "{:.3f}"),
               cell(row.ref_ratio, "{:.3f}"), cell(row.ref_seconds, "{:.1f}"),
               row.ref_seconds.empty() ? std::string("-") : fmt::format("{}", row.ref_failed),
               cell(row.whole_ratio, "{:.3f}"));
    std::fflush(stdout);
  }
  return 0;
}
