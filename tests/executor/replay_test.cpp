// The test that keeps the simulator and the executor one: given the same profile table and the
// same true speeds (the simulator's scripted factors; the executor's trainers on a virtual clock,
// virtual_backend.h), every policy takes the same decisions in both — the same configurations,
// nodes and devices, launched at the same times, the same switches — and the makespans agree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include <fmt/format.h>

#include "executor/virtual_backend.h"
#include "saturn/executor.h"
#include "saturn/run_events.h"
#include "saturn/simulator.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;

// A job: steps, and per configuration (technique, GPUs) the profiled and the true seconds per
// step. Every true speed is 0.5 s per step and restarts take 1 s, so that every event and every
// introspection tick (each 10 s) falls on a step boundary: a worker's progress, counted in whole
// steps, is then exactly the simulator's continuous progress.
struct ReplayJob {
  std::string name;
  std::int64_t steps;
  std::vector<std::tuple<std::string, int, double>> profile;  // technique, GPUs, profiled step_s
};

constexpr double kTrueStepS = 0.5;
constexpr double kRestartS = 1.0;

const std::vector<ReplayJob> kJobs = {
    {"j0", 60, {{"ddp", 1, 0.5}, {"ddp", 2, 0.25}, {"fsdp", 2, 0.5}}},  // 2 devices do not help
    {"j1", 40, {{"ddp", 1, 1.0}, {"ddp", 2, 0.5}}},                     // faster than profiled
    {"j2", 80, {{"ddp", 1, 0.25}, {"ddp", 2, 0.125}}},                  // twice as long as profiled
    {"j3", 30, {{"ddp", 1, 0.25}, {"ddp", 2, 0.5}}},  // slower than profiled on one device
    {"j4", 50, {{"ddp", 1, 0.5}, {"fsdp", 2, 0.5}}},
};

// What a launch decided, and when.
struct Decision {
  double t;
  std::string job, technique, node;
  std::vector<int> gpus;
  bool operator<(const Decision& o) const { return std::tie(t, job) < std::tie(o.t, o.job); }
};

std::string describe(const std::vector<Decision>& ds) {
  std::string out;
  for (const Decision& d : ds) {
    out += fmt::format("  {:7.2f} {} {} {} [{}]\n", d.t, d.job, d.technique, d.node,
                       fmt::join(d.gpus, ","));
  }
  return out;
}

struct Replay {
  fs::path dir;
  ProfileTable table;
  Workload workload;
  std::vector<DeviceSlots> nodes;
  std::map<std::string, testing::ScriptedJob> script;
  std::vector<std::vector<double>> factors;
  std::string log;  // the executor's

  explicit Replay(const std::string& name) {
    dir = fs::path(::testing::TempDir()) / ("saturn_replay_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir / "lib");
    for (const char* technique : {"ddp", "fsdp"}) {
      std::ofstream(dir / "lib" / (std::string(technique) + ".yaml"))
          << "name: " << technique << "\nsearch: [/bin/true]\nexecute: [/bin/true, \"{job}\", "
          << technique << ", \"{gpus}\", \"{checkpoint}\"]\n";
    }
    for (const char* n : {"n0", "n1"}) {
      DeviceSlots s;
      s.node = n;
      s.count = 2;
      s.memory_bytes = 1e12;
      nodes.push_back(s);
    }
    table.cluster = cluster_of(nodes);
    for (const ReplayJob& j : kJobs) {
      JobSpec spec;
      spec.name = j.name;
      spec.steps = j.steps;
      workload.jobs.push_back(spec);
      Task task;
      task.name = j.name;
      task.restart_s = kRestartS;
      testing::ScriptedJob scripted{j.steps, kRestartS, {}};
      std::vector<double> f;
      for (const auto& [technique, gpus, step_s] : j.profile) {
        Config c;
        c.technique = technique;
        c.gpus = gpus;
        c.gpu_type = "cpu";
        c.step_s = step_s;
        c.steps = j.steps;
        c.runtime_s = step_s * static_cast<double>(j.steps);
        task.configs.push_back(c);
        scripted.step_s[{technique, gpus}] = kTrueStepS;
        f.push_back(kTrueStepS / step_s);
      }
      table.tasks.push_back(task);
      factors.push_back(f);
      script[j.name] = scripted;
    }
  }

  static PolicyOptions policy_options(const std::string&) {
    PolicyOptions p;
    p.introspection_interval_s = 10;
    p.default_restart_s = kRestartS;
    p.switch_threshold = 0.02;
    p.planner = SimulationOptions::default_planner_options();
    p.seed = 7;
    return p;
  }

  Result<SimulationResult> simulated(const std::string& policy) {
    SimulationOptions o;
    static_cast<PolicyOptions&>(o) = policy_options(policy);
    o.true_factors = factors;
    auto p = make_policy(policy, o.seed);
    if (!p) return p.error();
    return simulate(table, **p, o);
  }

  // The executor's run on the virtual clock: its summary and its launches.
  Result<std::pair<ExecutionSummary, std::vector<Decision>>> executed(const std::string& policy) {
    fs::remove_all(dir / "run");
    fs::create_directories(dir / "run");
    auto library = Library::open((dir / "lib").string(), {});
    if (!library) return library.error();
    auto store = RunStore::open((dir / "run" / "saturn.db").string());
    if (!store) return store.error();
    testing::VirtualBackend backend(script, {"n0", "n1"});
    ExecutorOptions o;
    static_cast<PolicyOptions&>(o) = policy_options(policy);
    o.policy = policy;
    o.run_dir = (dir / "run").string();
    o.log = [this](const std::string& line) { log += line + "\n"; };
    auto summary = execute_workload(workload, table, *library, **store, backend, nodes, o);
    if (!summary) return summary.error();
    std::vector<Decision> launches;
    for (const ReplayJob& j : kJobs) {
      auto events = (*store)->events(j.name, std::string(run_event::Launch::kName));
      if (!events) return events.error();
      for (const auto& [t, e] : *events) {
        const run_event::Launch l = run_event::Launch::from_json(e);
        launches.push_back({t, j.name, l.technique, l.node, l.gpus});
      }
    }
    std::sort(launches.begin(), launches.end());
    return std::make_pair(*summary, launches);
  }
};

class ReplayTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReplayTest, TheSimulatorAndTheExecutorDecideAlike) {
  const std::string policy = GetParam();
  Replay replay(policy);
  auto sim = replay.simulated(policy);
  ASSERT_TRUE(sim.ok()) << sim.error().to_string();
  auto run = replay.executed(policy);
  ASSERT_TRUE(run.ok()) << run.error().to_string();
  const auto& [summary, launched] = *run;

  std::vector<Decision> simulated;
  for (const Segment& s : sim->segments) {
    simulated.push_back({s.start_s, s.task, s.technique, s.node, s.gpus});
  }
  std::sort(simulated.begin(), simulated.end());
  const std::string both =
      "simulated:\n" + describe(simulated) + "executed:\n" + describe(launched) + replay.log;
  ASSERT_EQ(simulated.size(), launched.size()) << both;
  for (std::size_t i = 0; i < simulated.size(); ++i) {
    EXPECT_EQ(simulated[i].job, launched[i].job) << i << "\n" << both;
    EXPECT_EQ(simulated[i].technique, launched[i].technique) << i << "\n" << both;
    EXPECT_EQ(simulated[i].node, launched[i].node) << i << "\n" << both;
    EXPECT_EQ(simulated[i].gpus, launched[i].gpus) << i << "\n" << both;
    EXPECT_NEAR(simulated[i].t, launched[i].t, 1e-6) << i << "\n" << both;
  }
  EXPECT_EQ(summary.done, static_cast<int>(kJobs.size()));
  EXPECT_EQ(summary.switches, sim->reconfigurations) << both;
  EXPECT_NEAR(summary.makespan_s, sim->makespan_s, 1e-6) << both;
  EXPECT_EQ(summary.policy, policy);
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, ReplayTest, ::testing::ValuesIn(policy_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Saturn moves at least one job in this replay (its profile is off): the test compares switches,
// not only first placements.
TEST(Replay, SaturnSwitchesJobsHere) {
  Replay replay("saturn_switches");
  auto sim = replay.simulated("saturn");
  ASSERT_TRUE(sim.ok()) << sim.error().to_string();
  EXPECT_GE(sim->reconfigurations, 1);
}

}  // namespace
}  // namespace saturn
