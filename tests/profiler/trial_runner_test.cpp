// The Trial Runner against techniques written as shell scripts (tests/profiler/
// fake_technique.sh): runtimes from measured steps, trials shared by a learning-rate sweep,
// parallel trials on separate slots, a cache that makes the second run measure nothing, and
// crashes, hangs, silent exits and unknown techniques as clear results or errors.
#include "saturn/trial_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace saturn {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  fs::path dir;
  std::string counter;
  std::unique_ptr<RunStore> store;
  std::unique_ptr<Backend> backend = local_backend();
  Library library;
  DeviceSlots slots;
};

TechniqueManifest fake(const std::string& name, const std::string& mode, const fs::path& counter) {
  TechniqueManifest m;
  m.name = name;
  m.search = {std::string(SATURN_SOURCE_DIR) + "/tests/profiler/fake_technique.sh", mode, "{gpus}",
              "{devices}", counter.string()};
  m.execute = {"true"};
  return m;
}

Fixture make_fixture(const std::string& name) {
  Fixture f;
  f.dir = fs::path(::testing::TempDir()) / ("saturn_trials_" + name);
  fs::remove_all(f.dir);
  fs::create_directories(f.dir / "lib");
  f.counter = (f.dir / "calls.txt").string();
  for (const auto& [technique, mode] : std::vector<std::pair<std::string, std::string>>{
           {"good", "ok"}, {"crashy", "crash"}, {"slow", "hang"}, {"mute", "silent"}}) {
    const TechniqueManifest m = fake(technique, mode, f.counter);
    std::ofstream out(f.dir / "lib" / (technique + ".yaml"));
    out << "name: " << technique << "\nsearch: [";
    for (std::size_t i = 0; i < m.search.size(); ++i)
      out << (i ? ", " : "") << '"' << m.search[i] << '"';
    out << "]\nexecute: [\"true\"]\n";
  }
  auto lib = Library::open((f.dir / "lib").string(), {});
  EXPECT_TRUE(lib.ok()) << lib.error().to_string();
  f.library = *lib;
  auto store = RunStore::open((f.dir / "saturn.db").string());
  EXPECT_TRUE(store.ok());
  f.store = std::move(*store);
  f.slots.device_type = "cpu";
  f.slots.count = 2;
  f.slots.cores = 1;
  return f;
}

Workload workload(const std::string& techniques, const std::string& extra = "") {
  const std::string yaml =
      "name: w\n"
      "jobs:\n"
      "  - name: j\n"
      "    model: gpt2-tiny\n"
      "    data: {format: synthetic-text, seq_len: 32, samples: 64}\n"
      "    optimizer: adamw\n"
      "    lr: [1.0e-3, 2.0e-3]\n"
      "    batch_size: 8\n"
      "    steps: 100\n"
      "    gpus: [1, 2, 4]\n"
      "    techniques: " +
      techniques + "\n" + extra;
  auto w = parse_workload_yaml(yaml, "w.yaml", ".");
  EXPECT_TRUE(w.ok()) << w.error().to_string();
  return *w;
}

int calls(const Fixture& f) {
  std::ifstream in(f.counter);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

Result<ProfileTable> run(Fixture& f, const Workload& w, TrialSummary* summary,
                         double timeout_s = 60, bool remeasure = false) {
  Cluster cluster;
  cluster.nodes.push_back(f.slots.as_node());
  TrialRunnerOptions o;
  o.run_dir = f.dir.string();
  o.trial_timeout_s = timeout_s;
  o.remeasure = remeasure;
  return run_trials(w, f.library, *f.store, *f.backend, f.slots, cluster, o, summary);
}

TEST(TrialRunner, MeasuresEveryConfigurationOnceAndExtrapolatesRuntimes) {
  Fixture f = make_fixture("measure");
  TrialSummary s;
  auto table = run(f, workload("[good]"), &s);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  // Two jobs (two learning rates) share a fingerprint: 2 trials (x1, x2); x4 exceeds 2 slots.
  EXPECT_EQ(s.configurations, 2);
  EXPECT_EQ(s.measured, 2);
  EXPECT_EQ(s.skipped, 2);  // x4 for each job
  EXPECT_EQ(calls(f), 2);
  ASSERT_EQ(table->tasks.size(), 2u);
  for (const Task& t : table->tasks) {
    ASSERT_EQ(t.configs.size(), 2u);
    EXPECT_EQ(t.configs[0].gpus, 1);
    // Start-up + step_s x the job's steps (not the 40 the technique counted for its job) + one
    // evaluation (no eval_every: only the last) + checkpoints every 30 s of training and at the
    // end: at 0.5 s per step every 60 steps (2 in 100 steps), at 0.25 s every 120 (1).
    EXPECT_DOUBLE_EQ(t.configs[0].runtime_s, 2 + 0.5 * 100 + 0.5 + 2 * 1);
    EXPECT_DOUBLE_EQ(t.configs[1].runtime_s, 2 + 0.25 * 100 + 0.5 + 1 * 1);
    EXPECT_DOUBLE_EQ(t.configs[0].checkpoint_s, 1);
    EXPECT_DOUBLE_EQ(t.restart_s, 2);
    EXPECT_EQ(t.configs[1].params["knob"], 2);
    EXPECT_EQ(t.configs[1].gpu_type, "cpu");
  }
  // Each trial saw its own devices and wrote its log.
  std::ifstream in(f.counter);
  std::stringstream seen;
  seen << in.rdbuf();
  EXPECT_NE(seen.str().find("cpu:0,cpu:1"), std::string::npos);
  EXPECT_TRUE(fs::exists(f.dir / "logs" / "trial-j-lr1.0e-3-good-2.log"));
  EXPECT_TRUE(fs::exists(f.dir / "jobs" / "j-lr1.0e-3.json"));

  TrialSummary again;
  auto cached = run(f, workload("[good]"), &again);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(again.cached, 2);
  EXPECT_EQ(again.measured, 0);
  EXPECT_EQ(calls(f), 2);  // nothing re-measured
  EXPECT_EQ(nlohmann::json(to_json(*cached)), nlohmann::json(to_json(*table)));

  TrialSummary forced;
  ASSERT_TRUE(run(f, workload("[good]"), &forced, 60, /*remeasure=*/true).ok());
  EXPECT_EQ(forced.measured, 2);
  EXPECT_EQ(calls(f), 4);
}

TEST(TrialRunner, CrashesHangsAndSilentExitsAreRecordedAndTheRunGoesOn) {
  Fixture f = make_fixture("failures");
  TrialSummary s;
  const auto t0 = std::chrono::steady_clock::now();
  auto table = run(f, workload("[good, crashy, slow, mute]"), &s, /*timeout_s=*/1.5);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_EQ(s.measured, 2);
  EXPECT_EQ(s.failed, 6);
  EXPECT_LT(took, 20);
  std::string notes;
  for (const auto& n : s.notes) notes += n + "\n";
  EXPECT_NE(notes.find("segfault in the fake"), std::string::npos) << notes;
  EXPECT_NE(notes.find("timed out after"), std::string::npos) << notes;
  EXPECT_NE(notes.find("without a search_result"), std::string::npos) << notes;
  for (const Task& t : table->tasks) EXPECT_EQ(t.configs.size(), 2u);  // only `good`'s
  // Failures are not cached: the next run tries them again.
  TrialSummary again;
  ASSERT_TRUE(run(f, workload("[good, crashy]"), &again, 1.5).ok());
  EXPECT_EQ(again.cached, 2);
  EXPECT_EQ(again.failed, 2);
}

// One job with no feasible configuration aborted the whole run; it is now reported, with what
// was tried, and left out of the table the others are planned from.
TEST(TrialRunner, AJobThatFitsNowhereIsReportedWithWhatWasTriedAndLeftOut) {
  Fixture f = make_fixture("nowhere");
  TrialSummary s;
  auto table = run(f, workload("[crashy]"), &s);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  EXPECT_TRUE(table->tasks.empty());
  ASSERT_EQ(s.infeasible.size(), 2u);  // the workload's two jobs
  const std::string e = s.infeasible[0].reason;
  EXPECT_NE(e.find("fits in no configuration"), std::string::npos) << e;
  EXPECT_NE(e.find("crashy x1: failed: internal error: segfault in the fake"), std::string::npos)
      << e;
}

TEST(TrialRunner, WhatTheEstimatorShowsCannotWinIsSkippedOnCatalogueGpus) {
  // Manifests named like the estimator's techniques (the fake measures them), on 8 "A100s".
  Fixture f = make_fixture("dominated");
  for (const char* name : {"ddp", "offload"}) {
    const TechniqueManifest m = fake(name, "ok", f.counter);
    std::ofstream out(f.dir / "lib" / (std::string(name) + ".yaml"));
    out << "name: " << name << "\nsearch: [\"" << m.search[0] << "\", ok, \"{gpus}\", "
        << "\"{devices}\", \"" << f.counter << "\"]\nexecute: [\"true\"]\n";
  }
  auto lib = Library::open((f.dir / "lib").string(), {});
  ASSERT_TRUE(lib.ok()) << lib.error().to_string();
  f.library = *lib;
  f.slots.device_type = "a100-80gb";
  f.slots.count = 8;
  f.slots.cores = 1;
  auto w = parse_workload_yaml(
      "name: w\njobs:\n  - name: big\n    model: [gpt2, gptj-6b]\n"
      "    data: {format: synthetic-text, seq_len: 1024, samples: 4096}\n"
      "    optimizer: adamw\n    lr: 1.0e-4\n    batch_size: 16\n    steps: 100\n"
      "    gpus: [1, 2]\n    techniques: [ddp, offload]\n",
      "w.yaml", ".");
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  TrialSummary s;
  auto table = run(f, *w, &s);
  ASSERT_TRUE(table.ok()) << table.error().to_string();
  std::string notes;
  for (const auto& n : s.notes) notes += n + "\n";
  // GPT-2 124M: on two GPUs DDP is about twice as fast as offloading, which streams block 0
  // and updates it on the host. GPT-J 6B with Adam does not fit one 80 GB GPU under DDP (every
  // rank holds all of it); offloading does.
  EXPECT_NE(notes.find("skipped big-gpt2 offload x2: dominated: ddp x2 is estimated"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("skipped big-gptj-6b ddp x1: the estimator shows it cannot fit"),
            std::string::npos)
      << notes;
  EXPECT_EQ(s.skipped + s.configurations, 8) << notes;
  EXPECT_EQ(calls(f), s.configurations);
}

// Each slot, CPU or GPU, pins its process to its share of the cores; GPU slots also name
// their devices.
TEST(DeviceSlots, PlaceGivesEachSlotItsShareOfTheCores) {
  DeviceSlots gpus;
  gpus.device_type = "h100-80gb";
  gpus.count = 4;
  gpus.cuda_ids = {0, 1, 2, 3};
  gpus.cores = 16;
  ProcessSpec spec;
  EXPECT_EQ(gpus.place({1, 3}, &spec), "cuda:0,cuda:1");
  EXPECT_EQ(spec.env["CUDA_VISIBLE_DEVICES"], "1,3");
  EXPECT_EQ(spec.cpus, (std::vector<int>{4, 5, 6, 7, 12, 13, 14, 15}));
  DeviceSlots cpus;
  cpus.count = 3;
  cpus.cores = 2;  // fewer cores than slots: one each, shared
  ProcessSpec one;
  EXPECT_EQ(cpus.place({2}, &one), "cpu:0");
  EXPECT_EQ(one.cpus, (std::vector<int>{1}));
  EXPECT_TRUE(one.env.find("CUDA_VISIBLE_DEVICES") == one.env.end());
}

TEST(TrialRunner, AnUnknownTechniqueIsAnErrorAtItsLine) {
  Fixture f = make_fixture("unknown");
  auto table = run(f, workload("[good, zero-bubble]"), nullptr);
  ASSERT_FALSE(table.ok());
  const std::string e = table.error().to_string();
  EXPECT_NE(e.find("w.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("\"zero-bubble\" is not in the library"), std::string::npos) << e;
  EXPECT_EQ(calls(f), 0);
}

}  // namespace
}  // namespace saturn
