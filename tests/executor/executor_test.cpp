// The executor against a fake trainer (tests/executor/fake_trainer.sh, real processes and
// signals): every job done with its events stored; a worker killed with SIGKILL resumes from its
// checkpoint; a job that keeps failing is marked failed while the others finish; a configuration
// that runs out of memory is dropped and the job planned again; a stopped run
// resumes without redoing finished work; introspection really stops and relaunches a job on
// more devices; the run-directory lock.
#include "saturn/executor.h"
#include "saturn/run_events.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace saturn {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFake = SATURN_SOURCE_DIR "/tests/executor/fake_trainer.sh";

struct Job {
  std::string name, mode;
  int steps;
  double seconds_per_step;                      // on one device, actual
  std::vector<std::pair<int, double>> profile;  // gpus -> profiled runtime, seconds
  int checkpoint_every = 1;                     // steps
};

struct Harness {
  fs::path dir;
  Workload workload;
  ProfileTable table;
  Library library;
  std::unique_ptr<RunStore> store;
  std::unique_ptr<Backend> backend = local_backend();
  DeviceSlots slots;
  std::vector<DeviceSlots> nodes;  // empty: `slots` alone
  ExecutorOptions options;
  std::atomic<bool> stop{false};
  std::vector<std::string> log;

  Harness(const std::string& name, const std::vector<Job>& jobs) {
    dir = fs::path(::testing::TempDir()) / ("saturn_executor_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir / "lib");
    fs::create_directories(dir / "jobs");
    slots.count = 2;
    slots.cores = 1;
    table.cluster.nodes.push_back(slots.as_node());
    std::vector<std::string> builtins;
    for (const Job& j : jobs) {
      // One technique per job, so that each can carry its own mode and speed.
      const std::string technique = "fake-" + j.name;
      TechniqueManifest m;
      const std::string manifest =
          "name: " + technique + "\nsearch: [\"true\"]\nexecute: [\"" + kFake + "\", \"" + j.mode +
          "\", \"{checkpoint}\", \"{gpus}\", \"" + std::to_string(j.steps) + "\", \"" +
          std::to_string(j.seconds_per_step) + "\", \"" + std::to_string(j.checkpoint_every) +
          "\"]\n";
      auto parsed = parse_technique_manifest(manifest, technique + ".yaml", dir.string());
      EXPECT_TRUE(parsed.ok()) << parsed.error().to_string();
      std::ofstream(dir / "lib" / (technique + ".yaml")) << manifest;
      JobSpec spec;
      spec.name = j.name;
      spec.steps = j.steps;
      workload.jobs.push_back(spec);
      Task task;
      task.name = j.name;
      for (const auto& [gpus, runtime] : j.profile) {
        Config c;
        c.technique = technique;
        c.gpus = gpus;
        c.runtime_s = runtime;
        c.gpu_type = "cpu";
        c.step_s = runtime / j.steps;
        c.steps = j.steps;
        task.configs.push_back(c);
      }
      table.tasks.push_back(task);
    }
    auto lib = Library::open((dir / "lib").string(), {});
    EXPECT_TRUE(lib.ok()) << lib.error().to_string();
    library = *lib;
    open_store();
    options.run_dir = dir.string();
    options.introspection_interval_s = 0.5;
    options.default_restart_s = 0.2;
    options.checkpoint_interval_s = 1;
    options.planner.time_limit_s = 0.5;
    options.planner.searches = 1;
    options.stop = &stop;
    options.log = [this](const std::string& line) { log.push_back(line); };
  }

  void open_store() {
    store.reset();
    auto s = RunStore::open((dir / "saturn.db").string());
    EXPECT_TRUE(s.ok());
    store = std::move(*s);
  }

  Result<ExecutionSummary> run() {
    if (nodes.empty()) nodes = {slots};
    return execute_workload(workload, table, library, *store, *backend, nodes, options);
  }

  JobRecord job(const std::string& name) {
    const auto jobs = store->jobs();
    for (const JobRecord& j : *jobs) {
      if (j.name == name) return j;
    }
    return {};
  }

  std::vector<nlohmann::json> events(const std::string& job, const std::string& kind) {
    std::vector<nlohmann::json> out;
    const auto stored = store->events(job, kind);
    for (const auto& [t, e] : *stored) out.push_back(e);
    return out;
  }

  std::string joined_log() const {
    std::string s;
    for (const auto& l : log) s += l + "\n";
    return s;
  }
};

TEST(Executor, RunsEveryJobToTheEndAndStoresItsEvents) {
  Harness h("all", {{"a", "ok", 6, 0.05, {{1, 0.3}}},
                    {"b", "ok", 6, 0.05, {{1, 0.3}}},
                    {"c", "ok", 6, 0.05, {{1, 0.3}, {2, 0.15}}}});
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 3) << h.joined_log();
  for (const char* name : {"a", "b", "c"}) {
    const JobRecord j = h.job(name);
    EXPECT_EQ(j.state, JobStatus::kDone);
    EXPECT_EQ(j.step, 6);
    EXPECT_EQ(j.total_steps, 6);
    ASSERT_TRUE(j.loss.has_value());
    EXPECT_NEAR(*j.loss, 10.0 / 6, 1e-3);
    EXPECT_GE(j.finished_s, j.started_s);
    const auto steps = h.events(name, "step");
    ASSERT_EQ(steps.size(), 6u);
    EXPECT_LT(steps.back()["loss"].get<double>(), steps.front()["loss"].get<double>());
  }
  // Nothing left to do: a second invocation launches nothing.
  auto again = h.run();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->done, 3);
  EXPECT_EQ(h.job("a").launches, 1);
}

TEST(Executor, AMalformedEventIsStoredAndTheJobGoesOn) {
  Harness h("garbled", {{"a", "garbled", 4, 0.05, {{1, 0.2}}}});
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 1) << h.joined_log();
  EXPECT_EQ(h.events("a", "malformed").size(), 1u);
  EXPECT_EQ(h.job("a").step, 4);
}

TEST(Executor, AWorkerKilledMidJobResumesFromItsCheckpoint) {
  Harness h("sigkill", {{"a", "crash-once", 10, 0.05, {{1, 0.5}}}});
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 1) << h.joined_log();
  EXPECT_EQ(r->relaunches, 1);
  const auto started = h.events("a", "started");
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1]["step"], 5);              // the checkpoint, not step 0
  EXPECT_EQ(h.events("a", "step").size(), 10u);  // no step done twice
  EXPECT_EQ(h.job("a").state, JobStatus::kDone);
}

// A relaunch goes on from the newest checkpoint, not from the last step the job printed: the
// launch says so, and re-planning counts the steps after the checkpoint as work to do again.
TEST(Executor, ARelaunchGoesOnFromTheCheckpointNotTheLastStepPrinted) {
  Harness h("progress", {{"a", "crash-once", 10, 0.05, {{1, 0.5}}, /*checkpoint_every=*/3}});
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 1) << h.joined_log();
  const auto launches = h.events("a", "launch");
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[1]["checkpoint_step"], 3);  // crashed at step 5, checkpointed at 3
  EXPECT_EQ(h.events("a", "started")[1]["step"], 3);
  EXPECT_NE(
      h.joined_log().find("launch a (fake-a x1 on local cpu 0) from its checkpoint at step 3"),
      std::string::npos)
      << h.joined_log();
  EXPECT_EQ(h.job("a").checkpoint_step, 10);
}

// A config or data error (a bad job, a checkpoint with nothing intact behind it) comes back the
// same on every try: the job fails at once, its retries unspent, and the others go on.
TEST(Executor, AnErrorThatCannotChangeIsNotRetried) {
  Harness h("deterministic",
            {{"bad", "config-error", 10, 0.02, {{1, 0.2}}}, {"good", "ok", 4, 0.05, {{1, 0.2}}}});
  h.options.max_retries = 3;
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->failed, 1);
  EXPECT_EQ(r->done, 1);
  EXPECT_EQ(r->relaunches, 0);
  const JobRecord bad = h.job("bad");
  EXPECT_EQ(bad.state, JobStatus::kFailed);
  EXPECT_EQ(bad.launches, 1);
  EXPECT_NE(bad.error.find("config error: the fake trainer rejects this job"), std::string::npos)
      << bad.error;
  EXPECT_NE(bad.error.find("not retried"), std::string::npos) << bad.error;
}

TEST(Executor, AJobThatKeepsFailingIsMarkedFailedAndTheOthersFinish) {
  Harness h("failing",
            {{"bad", "crash", 10, 0.02, {{1, 0.2}}}, {"good", "ok", 5, 0.05, {{1, 0.25}}}});
  h.options.max_retries = 1;
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 1);
  EXPECT_EQ(r->failed, 1);
  const JobRecord bad = h.job("bad");
  EXPECT_EQ(bad.state, JobStatus::kFailed);
  EXPECT_EQ(bad.launches, 2);
  EXPECT_NE(bad.error.find("the fake trainer always fails"), std::string::npos) << bad.error;
  EXPECT_NE(bad.error.find("logs/bad.log"), std::string::npos) << bad.error;
  EXPECT_EQ(h.job("good").state, JobStatus::kDone);
}

TEST(Executor, AConfigurationThatRunsOutOfMemoryIsDroppedAndTheJobPlannedAgain) {
  // Profiled as fastest on one device, "big" runs out of memory there after two steps (its
  // `oom` event says so): the executor plans it again without that configuration and it
  // finishes on two devices from its checkpoint, without a retry spent. "alone" (its exit code
  // says so) has no other configuration: it fails at once.
  Harness h("oom", {{"big", "oom-event", 10, 0.05, {{1, 0.2}, {2, 2}}},
                    {"alone", "oom-exit", 10, 0.05, {{1, 0.2}}}});
  h.options.max_retries = 0;
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 1) << h.joined_log();
  EXPECT_EQ(r->failed, 1) << h.joined_log();
  const auto launches = h.events("big", "launch");
  ASSERT_EQ(launches.size(), 2u) << h.joined_log();
  EXPECT_EQ(launches[0]["gpus"].size(), 1u);
  EXPECT_EQ(launches[1]["gpus"].size(), 2u);
  const auto dropped = h.events("big", "config_dropped");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]["gpus"], 1);
  EXPECT_NE(dropped[0]["reason"].get<std::string>().find("oom error"), std::string::npos);
  EXPECT_EQ(h.events("big", "started")[1]["step"], 2);  // from the checkpoint
  EXPECT_EQ(h.events("big", "step").size(), 10u);
  EXPECT_EQ(h.job("big").state, JobStatus::kDone);
  const JobRecord alone = h.job("alone");
  EXPECT_EQ(alone.state, JobStatus::kFailed);
  EXPECT_EQ(alone.launches, 1);
  EXPECT_NE(alone.error.find("x1 ran out of memory"), std::string::npos) << alone.error;
  EXPECT_NE(alone.error.find("no other configuration"), std::string::npos) << alone.error;
}

TEST(Executor, AStoppedRunResumesWithoutRedoingFinishedWork) {
  Harness h("resume", {{"short", "ok", 3, 0.05, {{1, 0.15}}}, {"long", "ok", 40, 0.1, {{1, 4}}}});
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    h.stop = true;
  });
  auto r = h.run();
  stopper.join();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(r->stopped);
  EXPECT_EQ(h.job("short").state, JobStatus::kDone);
  const JobRecord stopped = h.job("long");
  EXPECT_EQ(stopped.state, JobStatus::kPending);
  EXPECT_GT(stopped.step, 0);
  EXPECT_LT(stopped.step, 40);

  h.stop = false;
  h.open_store();  // as a new orchestrator would
  auto resumed = h.run();
  ASSERT_TRUE(resumed.ok()) << resumed.error().to_string();
  EXPECT_EQ(resumed->done, 2) << h.joined_log();
  EXPECT_EQ(h.job("short").launches, 1);  // not redone
  const auto started = h.events("long", "started");
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1]["step"], stopped.step);
  EXPECT_EQ(h.events("long", "step").size(), 40u);
}

// A run stopped while a worker was still starting (no SIGTERM handler yet: it dies of the
// signal, exit 143) printed "failed code 143"; the job is pending, to resume, like the others.
TEST(Executor, AStopThatCatchesAWorkerStartingUpLeavesItPending) {
  Harness h("slow_start", {{"a", "slow-start", 5, 0.05, {{1, 0.25}}}});
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    h.stop = true;
  });
  auto r = h.run();
  stopper.join();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_TRUE(r->stopped);
  EXPECT_EQ(r->failed, 0) << h.joined_log();
  EXPECT_EQ(h.job("a").state, JobStatus::kPending);
  EXPECT_NE(h.joined_log().find("stopped a while it started"), std::string::npos) << h.joined_log();
  EXPECT_EQ(h.joined_log().find("failed"), std::string::npos) << h.joined_log();
}

// The run clock stands still while no orchestrator runs: a run stopped and started again an
// instant or a night later goes on from where it was (the report's actual times, its Gantt).
// A rerun with nothing left reports the makespan the run had, not 0.
TEST(Executor, TheRunClockStandsStillBetweenOrchestrators) {
  Harness h("clock", {{"a", "ok", 3, 0.05, {{1, 0.15}}}, {"b", "ok", 30, 0.1, {{1, 3}}}});
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    h.stop = true;
  });
  auto first = h.run();
  stopper.join();
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  double last = 0;
  const auto events = h.store->events("", "");
  ASSERT_TRUE(events.ok());
  for (const auto& [t, e] : *events) last = std::max(last, t);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // nobody runs it
  h.stop = false;
  h.open_store();
  auto second = h.run();
  ASSERT_TRUE(second.ok()) << second.error().to_string();
  const auto stored = h.store->events("b", "launch");
  ASSERT_TRUE(stored.ok());
  const auto& launches = *stored;
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_LT(launches[1].first - last, 1.5);  // not the 3 s it stood
  EXPECT_GT(launches[1].first, last - 1e-6);
  auto again = h.run();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->done, 2);
  EXPECT_NEAR(again->makespan_s, second->makespan_s, 1e-3);
  EXPECT_GT(again->planned_makespan_s, 0);
}

TEST(Executor, IntrospectionStopsAndRelaunchesAJobOnMoreDevices) {
  // "quick" is profiled as long as "wide" but really takes a fraction of it; when it is done,
  // re-planning moves "wide" from one device to two (its checkpoint carries the progress).
  Harness h("switch",
            {{"wide", "ok", 40, 0.2, {{1, 8}, {2, 4}}}, {"quick", "ok", 5, 0.1, {{1, 8}}}});
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 2) << h.joined_log();
  EXPECT_GE(r->switches, 1) << h.joined_log();
  const auto launches = h.events("wide", "launch");
  ASSERT_GE(launches.size(), 2u) << h.joined_log();
  EXPECT_EQ(launches[0]["gpus"].size(), 1u);
  EXPECT_EQ(launches.back()["gpus"].size(), 2u);
  EXPECT_EQ(h.events("wide", "stopped").size(), launches.size() - 1);
  const auto started = h.events("wide", "started");
  EXPECT_GT(started.back()["step"].get<int>(), 0);  // resumed, not restarted from scratch
  EXPECT_EQ(h.events("wide", "step").size(), 40u);
  EXPECT_FALSE(h.events("wide", "switch").empty());
}

// The orchestrator died after a worker reported `done` (its last step checkpointed) but before
// it saw the exit: the next run counts the job done instead of launching it again.
TEST(Executor, AJobThatReportedDoneBeforeTheOrchestratorDiedIsNotRunAgain) {
  Harness h("done_unseen", {{"a", "ok", 4, 0.05, {{1, 0.2}}}, {"b", "ok", 4, 0.05, {{1, 0.2}}}});
  JobRecord a;
  a.name = "a";
  a.state = JobStatus::kRunning;
  a.step = a.checkpoint_step = a.total_steps = 4;
  a.launches = 1;
  ASSERT_TRUE(h.store->put_job(a).ok());
  ASSERT_TRUE(h.store->add_event("a", 2.5, {{"event", "done"}, {"step", 4}}).ok());
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 2) << h.joined_log();
  EXPECT_EQ(h.job("a").state, JobStatus::kDone);
  EXPECT_EQ(h.job("a").launches, 1);  // not launched again
  EXPECT_DOUBLE_EQ(h.job("a").finished_s, 2.5);
  EXPECT_TRUE(h.events("a", "launch").empty());
}

// A test backend that maps named nodes onto this machine's processes: it refuses a node it
// does not have and records where each process was asked to run.
class NamedNodesBackend final : public Backend {
 public:
  explicit NamedNodesBackend(std::set<std::string> nodes) : nodes_(std::move(nodes)) {}
  Result<std::unique_ptr<Process>> start(const ProcessSpec& spec) override {
    if (!nodes_.count(spec.node)) return Error{"", 0, "node", "no node " + spec.node};
    started_on.push_back(spec.node);
    ProcessSpec here = spec;
    here.node.clear();
    return local_->start(here);
  }
  void wait(const std::vector<Process*>& processes, double timeout_s) override {
    local_->wait(processes, timeout_s);
  }
  std::vector<std::string> started_on;

 private:
  std::set<std::string> nodes_;
  std::unique_ptr<Backend> local_ = local_backend();
};

// The executor plans and dispatches over a cluster: jobs are placed on both nodes, each launched
// where its plan says (the backend is asked for that node), a job is moved by introspection, and
// no device of any node ever holds two jobs at once.
TEST(Executor, RunsJobsOnSeveralNodesAndNeverTwoOnOneDevice) {
  // The three quick jobs are profiled as long as "wide" but take a fraction of it, and "wide" is
  // twice as slow as profiled (news at every introspection): once the quick ones are done, "wide"
  // is moved from one device to two.
  Harness h("nodes", {{"wide", "ok", 40, 0.2, {{1, 4}, {2, 2}}},
                      {"q1", "ok", 5, 0.1, {{1, 8}}},
                      {"q2", "ok", 5, 0.1, {{1, 8}}},
                      {"q3", "ok", 5, 0.1, {{1, 8}}},
                      {"e", "ok", 8, 0.1, {{1, 0.8}, {2, 0.4}}}});
  for (const char* name : {"east", "west"}) {
    DeviceSlots s = h.slots;
    s.node = name;
    h.nodes.push_back(s);
  }
  h.table.cluster = cluster_of(h.nodes);
  auto* backend = new NamedNodesBackend({"east", "west"});
  h.backend.reset(backend);
  auto r = h.run();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->done, 5) << h.joined_log();
  EXPECT_GE(r->switches, 1) << h.joined_log();
  // Every launch where the plan put it, and the backend asked for that node.
  struct Held {
    double from, to;
    std::string job;
  };
  std::map<std::pair<std::string, int>, std::vector<Held>> by_device;
  std::vector<std::pair<double, std::string>> launched_on;
  std::set<std::string> used;
  for (const char* job : {"wide", "q1", "q2", "q3", "e"}) {
    const auto launches = h.store->events(job, "launch");
    const auto exits = h.store->events(job, "exit");
    ASSERT_TRUE(launches.ok() && exits.ok());
    ASSERT_EQ(launches->size(), exits->size()) << job;
    for (std::size_t i = 0; i < launches->size(); ++i) {
      const auto l = run_event::Launch::from_json((*launches)[i].second);
      used.insert(l.node);
      launched_on.emplace_back((*launches)[i].first, l.node);
      for (int g : l.gpus) {
        by_device[{l.node, g}].push_back({(*launches)[i].first, (*exits)[i].first, job});
      }
    }
  }
  EXPECT_EQ(used, (std::set<std::string>{"east", "west"})) << h.joined_log();
  EXPECT_EQ(backend->started_on.size(), launched_on.size());
  for (auto& [device, held] : by_device) {
    std::sort(held.begin(), held.end(),
              [](const Held& a, const Held& b) { return a.from < b.from; });
    for (std::size_t i = 1; i < held.size(); ++i) {
      EXPECT_LE(held[i - 1].to, held[i].from) << held[i - 1].job << " and " << held[i].job << " on "
                                              << device.first << " " << device.second << "\n"
                                              << h.joined_log();
    }
  }
  // A moved job went on where its switch said: the first launch after each switch is the one it
  // asked for (a job that finished as it was asked to move has no launch after that switch).
  int moved = 0;
  for (const char* job : {"wide", "q1", "q2", "q3", "e"}) {
    const auto switches = h.store->events(job, "switch");
    const auto launches = h.store->events(job, "launch");
    ASSERT_TRUE(switches.ok() && launches.ok());
    for (const auto& [when, event] : *switches) {
      const auto next = std::find_if(launches->begin(), launches->end(),
                                     [&](const auto& l) { return l.first >= when; });
      if (next == launches->end()) continue;
      const auto to = run_event::Switch::from_json(event);
      const auto launch = run_event::Launch::from_json(next->second);
      EXPECT_EQ(launch.node, to.to_node) << job << "\n" << h.joined_log();
      EXPECT_EQ(launch.gpus, to.to_gpus) << job;
      ++moved;
    }
  }
  EXPECT_GE(moved, 1) << h.joined_log();
}

TEST(RunLock, ASecondOrchestratorIsRefused) {
  const fs::path dir = fs::path(::testing::TempDir()) / "saturn_executor_lock";
  fs::create_directories(dir);
  {
    auto first = RunLock::acquire(dir.string());
    ASSERT_TRUE(first.ok()) << first.error().to_string();
    auto second = RunLock::acquire(dir.string());
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().to_string().find("in use by another saturn run or profile (pid " +
                                              std::to_string(::getpid())),
              std::string::npos)
        << second.error().to_string();
  }
  EXPECT_TRUE(RunLock::acquire(dir.string()).ok());  // released with the first
}

}  // namespace
}  // namespace saturn
