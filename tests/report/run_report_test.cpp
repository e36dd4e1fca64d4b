// The run report from a run store written by hand (the executor's and the workers' events): each
// job's curve on its own step axis with its evaluations and the marks where it resumed, failed
// jobs' errors, devices as count and indices, launches' outcomes in the actual Gantt chart, no
// bound or gap there, and unknown losses as "-".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "saturn/run_report.h"
#include "saturn/run_store.h"

namespace saturn {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct Fixture {
  fs::path dir;
  std::unique_ptr<RunStore> store;

  Fixture() {
    dir = fs::path(::testing::TempDir()) / "saturn_run_report";
    fs::remove_all(dir);
    fs::create_directories(dir);
    store = std::move(*RunStore::open((dir / "saturn.db").string()));
    // Two CPU device slots.
    ProfileTable table;
    Node node;
    node.name = "local";
    node.gpus = 2;
    node.gpu_type = "cpu";
    node.gpu_memory_bytes = 1e9;
    table.cluster.nodes.push_back(node);
    for (const char* name : {"long", "short", "broken"}) {
      Task t;
      t.name = name;
      Config c;
      c.technique = "single";
      c.gpus = 1;
      c.runtime_s = 100;
      c.gpu_type = "cpu";
      t.configs.push_back(c);
      table.tasks.push_back(t);
    }
    EXPECT_TRUE(store->set_meta("profiles", to_json(table).dump()).ok());
  }

  void event(const std::string& job, double t, const json& e) {
    ASSERT_TRUE(store->add_event(job, t, e).ok());
  }
};

TEST(RunReport, ShowsEachJobsCurveResumesOutcomesAndErrors) {
  Fixture f;
  // "long": 1000 steps, crashed at 300 (checkpoint at 200), resumed there on two devices.
  JobRecord long_job;
  long_job.name = "long";
  long_job.state = JobStatus::kDone;
  long_job.technique = "ddp";
  long_job.gpus = {0, 1};
  long_job.step = long_job.total_steps = 1000;
  long_job.loss = 1.25;
  long_job.eval_loss = 1.5;
  long_job.started_s = 0;
  long_job.finished_s = 90;
  ASSERT_TRUE(f.store->put_job(long_job).ok());
  f.event("long", 0, {{"event", "launch"}, {"technique", "single"}, {"gpus", {0}}});
  f.event("long", 1, {{"event", "started"}, {"step", 0}});
  for (int s = 100; s <= 300; s += 100)
    f.event("long", s / 10.0, {{"event", "step"}, {"step", s}, {"loss", 4.0 - s / 200.0}});
  f.event("long", 25, {{"event", "error"}, {"kind", "internal"}, {"message", "segfault"}});
  f.event("long", 31, {{"event", "exit"}, {"code", 5}});
  f.event("long", 32, {{"event", "launch"}, {"technique", "ddp"}, {"gpus", {0, 1}}});
  f.event("long", 33, {{"event", "started"}, {"step", 200}});
  for (int s = 300; s <= 1000; s += 100)
    f.event("long", 30 + s / 20.0, {{"event", "step"}, {"step", s}, {"loss", 3.0 - s / 1000.0}});
  f.event("long", 60, {{"event", "eval"}, {"step", 500}, {"loss", 2.7}});
  f.event("long", 89, {{"event", "done"}, {"step", 1000}});
  f.event("long", 90, {{"event", "exit"}, {"code", 0}});
  // "short": 10 steps beside it, no loss reported.
  JobRecord short_job;
  short_job.name = "short";
  short_job.state = JobStatus::kDone;
  short_job.technique = "single";
  short_job.gpus = {1};
  short_job.step = short_job.total_steps = 10;
  ASSERT_TRUE(f.store->put_job(short_job).ok());
  // "broken": failed with its error.
  JobRecord broken;
  broken.name = "broken";
  broken.state = JobStatus::kFailed;
  broken.error = "exited with code 2: config error: bad lr; not retried";
  ASSERT_TRUE(f.store->put_job(broken).ok());
  ASSERT_TRUE(f.store->set_meta(run_meta::kPolicy, "current-practice").ok());

  ASSERT_TRUE(write_run_report(*f.store, (f.dir / "report.html").string()).ok());
  const std::string report = read(f.dir / "report.html");
  EXPECT_NE(report.find("Scheduling policy: <b>current-practice</b>"), std::string::npos);
  EXPECT_EQ(count(report, "<div class='chart'>"), 3u);  // one chart per job, its own axis
  EXPECT_NE(report.find("step 1000</text>"), std::string::npos);
  EXPECT_NE(report.find("step 10</text>"), std::string::npos);
  EXPECT_NE(report.find("evaluation at step 500: 2.7000"), std::string::npos);
  EXPECT_NE(report.find("step 200: launch 2 (ddp) after: crashed: exit code 5: internal error: "
                        "segfault"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("exited with code 2: config error: bad lr; not retried"),
            std::string::npos);
  EXPECT_NE(report.find("<td>2</td><td>cpu 0-1</td>"), std::string::npos);  // count, indices
  EXPECT_NE(report.find("<td>-</td><td>-</td>"), std::string::npos);        // no loss known
  const std::string jobs_table = report.substr(0, report.find("<h2>Training loss"));
  EXPECT_EQ(jobs_table.find("0.0000"), std::string::npos);
  const std::string actual = read(f.dir / "actual.html");
  EXPECT_EQ(actual.find("lower bound"), std::string::npos);
  EXPECT_NE(actual.find("crashed: exit code 5"), std::string::npos);
  EXPECT_NE(actual.find("local \u00b7 cpu 1"), std::string::npos);

  const std::string table = run_summary_table(*f.store->jobs(), "cpu");
  EXPECT_NE(table.find("cpu 0-1"), std::string::npos) << table;
  EXPECT_NE(table.find("broken: exited with code 2"), std::string::npos) << table;
  EXPECT_EQ(devices_text("h100-80gb", {0, 1, 2, 5}), "GPU 0-2,5");
  EXPECT_EQ(devices_text("cpu", {}), "-");
}

}  // namespace
}  // namespace saturn
