// Run status, summary table and HTML report; see saturn/run_report.h.
#include "saturn/run_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "report/html_text.h"
#include "saturn/atomic_file.h"
#include "saturn/gantt.h"

namespace saturn {
namespace {

using nlohmann::json;

// A duration that may be unknown (negative): "-" then.
std::string duration(double seconds) {
  return seconds < 0 ? "-" : report::hms(seconds);
}

std::string gpus_text(const std::vector<int>& gpus) {
  std::string out;
  for (int g : gpus) out += (out.empty() ? "" : ",") + std::to_string(g);
  return out;
}

// One SVG chart of every job's training loss against its step.
std::string loss_chart(
    const std::map<std::string, std::vector<std::pair<double, double>>>& curves) {
  double max_step = 1, lo = HUGE_VAL, hi = -HUGE_VAL;
  for (const auto& [job, points] : curves) {
    for (const auto& [step, loss] : points) {
      max_step = std::max(max_step, step);
      lo = std::min(lo, loss);
      hi = std::max(hi, loss);
    }
  }
  if (!(hi > lo)) {
    lo = 0;
    hi = std::max(1.0, hi);
  }
  const double w = 760, h = 300, left = 50, bottom = 30;
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-size='11'>"
      "<line x1='{}' y1='0' x2='{}' y2='{}' stroke='#999'/>"
      "<line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#999'/>"
      "<text x='{}' y='{}'>{:.3g}</text><text x='0' y='12'>{:.3g}</text>"
      "<text x='{}' y='{}'>step {:.0f}</text>",
      w + 200, h + bottom, left, left, h, left, h, w, h, 0, h, lo, hi, w - 60, h + 20, max_step);
  const char* colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  int k = 0;
  for (const auto& [job, points] : curves) {
    const char* colour = colours[k % 10];
    std::string path;
    for (const auto& [step, loss] : points) {
      path += fmt::format("{:.1f},{:.1f} ", left + (w - left) * step / max_step,
                          h - h * (loss - lo) / (hi - lo));
    }
    svg += fmt::format(
        "<polyline fill='none' stroke='{}' points='{}'><title>{}</title></polyline>"
        "<text x='{}' y='{}' fill='{}'>{}</text>",
        colour, path, report::html_escape(job), w + 10, 14 + 14 * k, colour,
        report::html_escape(job));
    ++k;
  }
  return svg + "</svg>";
}

}  // namespace

json run_status_json(const std::vector<JobRecord>& jobs) {
  json out = json::array();
  for (const JobRecord& j : jobs) out.push_back(to_json(j));
  return {{"jobs", out}};
}

std::string run_summary_table(const std::vector<JobRecord>& jobs) {
  std::size_t width = 3;
  for (const JobRecord& j : jobs) width = std::max(width, j.name.size());
  std::string out =
      fmt::format("{:<{}}  {:<7} {:<10} {:<6} {:>9} {:>9} {:>8} {:>8}\n", "job", width, "state",
                  "technique", "GPUs", "planned", "actual", "loss", "eval");
  for (const JobRecord& j : jobs) {
    const double planned = j.planned_end_s - j.planned_start_s;
    const double actual = j.finished_s >= 0 && j.started_s >= 0 ? j.finished_s - j.started_s : -1;
    out += fmt::format("{:<{}}  {:<7} {:<10} {:<6} {:>9} {:>9} {:>8.4f} {:>8.4f}\n", j.name, width,
                       j.state, j.technique, gpus_text(j.gpus), duration(planned), duration(actual),
                       j.loss, j.eval_loss);
  }
  return out;
}

Status write_run_report(RunStore& store, const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  auto jobs = store.jobs();
  if (!jobs) return jobs.error();
  auto profiles_text = store.meta("profiles");
  if (!profiles_text) return profiles_text.error();
  auto plan_text = store.meta("plan");
  if (!plan_text) return plan_text.error();
  ProfileTable profiles;
  if (*profiles_text) {
    auto table = parse_profile_table(**profiles_text, "run profiles");
    if (table) profiles = std::move(*table);
  }
  const Cluster& cluster = profiles.cluster;
  // Planned Gantt: the first plan.
  if (*plan_text && !cluster.nodes.empty()) {
    auto plan = parse_plan_json(**plan_text);
    if (plan) {
      if (auto s = write_gantt_html(*plan, cluster, "Planned", (dir / "plan.html").string()); !s) {
        return s;
      }
    }
  }
  // Actual Gantt: one bar per launch, from its launch to its exit.
  Plan actual;
  std::map<std::string, std::pair<double, json>> open;  // job -> (launch time, launch event)
  std::map<std::string, std::vector<std::pair<double, double>>> curves;
  for (const JobRecord& j : *jobs) {
    auto mine = store.events(j.name, "");
    if (!mine) return mine.error();
    for (const auto& [t, e] : *mine) {
      const std::string kind = e.value("event", "");
      if (kind == "launch") {
        open[j.name] = {t, e};
      } else if (kind == "exit" && open.count(j.name)) {
        const auto& [start, launch] = open[j.name];
        Assignment a;
        a.task = j.name;
        a.technique = launch.value("technique", "");
        a.node = cluster.nodes.empty() ? "local" : cluster.nodes.front().name;
        a.gpus = launch.value("gpus", std::vector<int>{});
        a.start_s = start;
        a.end_s = std::max(t, start + 1e-3);
        actual.assignments.push_back(a);
        actual.makespan_s = std::max(actual.makespan_s, a.end_s);
        open.erase(j.name);
      } else if (kind == "step") {
        curves[j.name].emplace_back(e.value("step", 0.0), e.value("loss", 0.0));
      }
    }
  }
  actual.solver = {"executor", "actual", 0, ""};
  if (!cluster.nodes.empty() && !actual.assignments.empty()) {
    if (auto s = write_gantt_html(actual, cluster, "Actual", (dir / "actual.html").string()); !s) {
      return s;
    }
  }
  std::string html =
      "<!doctype html><html><head><meta charset='utf-8'><title>Saturn run</title>"
      "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}</style></head><body>"
      "<h1>Saturn run</h1><p><a href='plan.html'>planned Gantt</a> · "
      "<a href='actual.html'>actual Gantt</a></p><h2>Jobs</h2><table><tr><th>job</th>"
      "<th>state</th><th>technique</th><th>GPUs</th><th>steps</th><th>planned</th>"
      "<th>actual</th><th>loss</th><th>eval loss</th><th>launches</th></tr>";
  for (const JobRecord& j : *jobs) {
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td>"
        "<td>{:.4f}</td><td>{:.4f}</td><td>{}</td></tr>",
        report::html_escape(j.name), j.state, report::html_escape(j.technique), gpus_text(j.gpus),
        j.step, j.total_steps, duration(j.planned_end_s - j.planned_start_s),
        duration(j.finished_s >= 0 && j.started_s >= 0 ? j.finished_s - j.started_s : -1), j.loss,
        j.eval_loss, j.launches);
  }
  html += "</table><h2>Training loss</h2>" + loss_chart(curves) +
          "<h2>Profile table</h2><table><tr><th>job</th><th>technique</th><th>GPUs</th>"
          "<th>step s</th><th>runtime</th><th>peak memory</th></tr>";
  for (const Task& task : profiles.tasks) {
    for (const Config& c : task.configs) {
      html += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4f}</td><td>{}</td><td>{:.2f} GiB</td>"
          "</tr>",
          report::html_escape(task.name), report::html_escape(c.technique), c.gpus,
          c.params.value("step_s", 0.0), report::hms(c.runtime_s), c.peak_memory_bytes / (1 << 30));
    }
  }
  html += "</table></body></html>\n";
  return write_file_atomically(path, html);
}

}  // namespace saturn
