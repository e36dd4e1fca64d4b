// Tests for the Gantt chart page (saturn/gantt.h): lanes, bars, escaping, self-containment,
// empty and zero-length plans, and the atomic file write.
#include "saturn/gantt.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <algorithm>

namespace saturn {
namespace {

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

Cluster two_nodes() {
  Cluster c;
  c.nodes.push_back({"n0", 4, "a100-40gb", 40e9});
  c.nodes.push_back({"n1", 2, "a100-40gb", 40e9});
  return c;
}

Assignment assign(std::string task, std::string node, std::vector<int> gpus, double start,
                  double end) {
  Assignment a;
  a.task = std::move(task);
  a.technique = "fsdp";
  a.config = 0;
  a.node = std::move(node);
  a.gpus = std::move(gpus);
  a.start_s = start;
  a.end_s = end;
  return a;
}

Plan sample_plan() {
  Plan p;
  p.makespan_s = 7200;
  p.lower_bound_s = 6000;
  p.gap = 0.2;
  p.solver = {"heuristic", "feasible", 0.01, ""};
  p.assignments.push_back(assign("t0", "n0", {0, 1}, 0, 3600));
  p.assignments.push_back(assign("t1", "n1", {0, 1}, 0, 7200));
  p.assignments.push_back(assign("t2", "n0", {2}, 0, 5400));
  p.assignments.push_back(assign("t3", "n0", {0, 1, 3}, 3600, 7200));
  return p;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(GanttTest, OneLanePerGpuAndOneBarPerAssignmentGpu) {
  const std::string html = render_gantt_html(sample_plan(), two_nodes(), "sample");
  EXPECT_EQ(count(html, "class=\"lane-label\""), 6u);
  for (const char* label : {"n0 \u00b7 GPU 0", "n0 \u00b7 GPU 3", "n1 \u00b7 GPU 1"})
    EXPECT_NE(html.find(label), std::string::npos) << label;
  EXPECT_EQ(html.find("n1 \u00b7 GPU 2"), std::string::npos);
  // 2 + 2 + 1 + 3 GPUs in the plan: one bar each, each with its own tooltip.
  EXPECT_EQ(count(html, "<rect class=\"bar "), 8u);
  EXPECT_EQ(count(html, "<title>task: "), 8u);
  EXPECT_EQ(count(html, "<title>task: t3\n"), 3u);
  EXPECT_NE(html.find("runtime: 1:00:00"), std::string::npos);
  EXPECT_NE(html.find("devices: 0, 1, 3"), std::string::npos);
  // One separator between the two nodes (the other node-sep line underlines the axis).
  EXPECT_EQ(count(html, "class=\"node-sep\""), 2u);
  // One table row per assignment, plus the header row.
  EXPECT_EQ(count(html, "<tr>"), 5u);
  EXPECT_NE(html.find("<title>sample</title>"), std::string::npos);
}

// A run's planned and actual charts colour each job alike (they once gave one job two colours);
// the actual one says it was measured (no "lower bound 0.0 s, gap 0.00%") and how each launch
// ended; CPU device slots are lanes of "cpu", not "GPU".
TEST(GanttTest, RunChartsShareColoursAndTheActualOneIsAMeasurement) {
  Plan plan = sample_plan();
  Plan reversed = plan;
  std::reverse(reversed.assignments.begin(), reversed.assignments.end());
  GanttStyle style;
  for (const Assignment& a : plan.assignments) style.task_order.push_back(a.task);
  const std::string a = render_gantt_html(plan, two_nodes(), "planned", style);
  const std::string b = render_gantt_html(reversed, two_nodes(), "actual", style);
  const auto colour_of = [](const std::string& html, const std::string& task) {
    const size_t at = html.find("<title>task: " + task + "\n");
    const size_t fill = html.rfind("fill=\"", at);
    return html.substr(fill, html.find('"', fill + 6) - fill);
  };
  for (const Assignment& x : plan.assignments) {
    EXPECT_EQ(colour_of(a, x.task), colour_of(b, x.task)) << x.task;
  }
  style.measured = true;
  style.notes = {"done", "switched to fsdp x2"};
  const std::string measured = render_gantt_html(plan, two_nodes(), "actual", style);
  EXPECT_EQ(measured.find("lower bound"), std::string::npos);
  EXPECT_NE(measured.find("measured"), std::string::npos);
  EXPECT_NE(measured.find("switched to fsdp x2</title>"), std::string::npos);
  EXPECT_NE(measured.find("<th>outcome</th>"), std::string::npos);
  Cluster cpu = two_nodes();
  for (Node& n : cpu.nodes) n.gpu_type = "cpu";
  const std::string slots = render_gantt_html(plan, cpu, "cpu");
  EXPECT_NE(slots.find("n0 \u00b7 cpu 0"), std::string::npos);
  EXPECT_EQ(slots.find("\u00b7 GPU"), std::string::npos);
}

TEST(GanttTest, EscapesText) {
  Plan p = sample_plan();
  p.assignments[0].task = "a<b&\"c\"'";
  p.assignments[0].technique = "<script>";
  const std::string html = render_gantt_html(p, two_nodes(), "x < y & \"z\"");
  EXPECT_EQ(html.find("a<b"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("x < y"), std::string::npos);
  EXPECT_NE(html.find("a&lt;b&amp;&quot;c&quot;&#39;"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("x &lt; y &amp; &quot;z&quot;"), std::string::npos);
}

TEST(GanttTest, SelfContained) {
  const std::string html = render_gantt_html(sample_plan(), two_nodes(), "sample");
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(GanttTest, EmptyPlan) {
  const std::string html = render_gantt_html(Plan{}, two_nodes(), "empty");
  EXPECT_EQ(count(html, "class=\"lane-label\""), 6u);
  EXPECT_EQ(count(html, "<rect class=\"bar "), 0u);
  EXPECT_NE(html.find("no assignments"), std::string::npos);
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_EQ(html.find("inf"), std::string::npos);
  // No cluster either.
  const std::string bare = render_gantt_html(Plan{}, Cluster{}, "bare");
  EXPECT_EQ(count(bare, "class=\"lane-label\""), 0u);
  EXPECT_NE(bare.find("</html>"), std::string::npos);
}

TEST(GanttTest, ZeroMakespanAndUnknownPlacement) {
  Plan p;
  p.assignments.push_back(assign("z", "n0", {0}, 0, 0));
  p.assignments.push_back(assign("ghost", "n9", {0}, 0, 0));  // unknown node: table only
  p.assignments.push_back(assign("big", "n1", {7}, 0, 0));    // GPU outside the node
  const std::string html = render_gantt_html(p, two_nodes(), "zero");
  EXPECT_EQ(count(html, "<rect class=\"bar "), 1u);
  EXPECT_EQ(html.find("nan"), std::string::npos);
  EXPECT_EQ(html.find("inf"), std::string::npos);
  EXPECT_NE(html.find("ghost"), std::string::npos);
}

TEST(GanttTest, WriteMatchesRenderAndLeavesNoTemporary) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(testing::TempDir()) / "saturn_gantt_test";
  fs::remove_all(dir);
  ASSERT_TRUE(fs::create_directories(dir));
  const std::string path = (dir / "plan.html").string();
  {
    std::ofstream old(path);
    old << "stale";
  }
  const Plan plan = sample_plan();
  const Cluster cluster = two_nodes();
  Status st = write_gantt_html(plan, cluster, "sample", path);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  EXPECT_EQ(read_file(path), render_gantt_html(plan, cluster, "sample"));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u);
  fs::remove_all(dir);
}

TEST(GanttTest, WriteIntoMissingDirectoryFails) {
  const std::string path =
      (std::filesystem::path(testing::TempDir()) / "saturn_no_such_dir" / "plan.html").string();
  Status st = write_gantt_html(sample_plan(), two_nodes(), "sample", path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(path), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().to_string().find(path), std::string::npos);
  EXPECT_NE(st.error().message.find("No such file or directory"), std::string::npos)
      << st.error().message;
}

}  // namespace
}  // namespace saturn
