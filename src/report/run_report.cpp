// Run status, summary table and HTML report; see saturn/run_report.h.
#include "saturn/run_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "formats/common.h"
#include "report/html_text.h"
#include "report/loss_chart.h"
#include "report/run_history.h"
#include "saturn/atomic_file.h"
#include "saturn/gantt.h"

namespace saturn {
namespace {

using nlohmann::json;

// A duration that may be unknown (negative): "-" then.
std::string duration(double seconds) {
  return seconds < 0 ? "-" : report::hms(seconds);
}

// From the job's first launch to its end, on the run clock (which stands still while no
// orchestrator runs); -1 until it ended.
double actual_s(const JobRecord& j) {
  return j.finished_s >= 0 && j.started_s >= 0 ? j.finished_s - j.started_s : -1;
}

}  // namespace

std::string devices_text(const std::string& device_type, const std::vector<int>& indices) {
  if (indices.empty()) return "-";
  std::string ranges;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    ranges += (ranges.empty() ? "" : ",") +
              (j > i ? fmt::format("{}-{}", indices[i], indices[j]) : std::to_string(indices[i]));
    i = j + 1;
  }
  return fmt::format("{} {}", formats::iequals(device_type, "cpu") ? "cpu" : "GPU", ranges);
}

json run_status_json(const std::vector<JobRecord>& jobs) {
  json out = json::array();
  for (const JobRecord& j : jobs) out.push_back(to_json(j));
  return {{"jobs", out}};
}

std::string run_summary_table(const std::vector<JobRecord>& jobs, const std::string& device_type) {
  std::size_t width = 3;
  for (const JobRecord& j : jobs) width = std::max(width, j.name.size());
  std::string out =
      fmt::format("{:<{}}  {:<11} {:<10} {:>7} {:<10} {:>9} {:>9} {:>8} {:>8}\n", "job", width,
                  "state", "technique", "devices", "on", "planned", "actual", "loss", "eval");
  for (const JobRecord& j : jobs) {
    out += fmt::format("{:<{}}  {:<11} {:<10} {:>7} {:<10} {:>9} {:>9} {:>8} {:>8}\n", j.name,
                       width, to_string(j.state), j.technique.empty() ? "-" : j.technique,
                       j.gpus.size(), devices_text(device_type, j.gpus),
                       duration(j.planned_end_s - j.planned_start_s), duration(actual_s(j)),
                       loss_text(j.loss), loss_text(j.eval_loss));
  }
  for (const JobRecord& j : jobs) {
    if (j.state == JobStatus::kFailed && !j.error.empty())
      out += fmt::format("{}: {}\n", j.name, j.error);
  }
  return out;
}

Status write_run_report(RunStore& store, const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  auto jobs = store.jobs();
  if (!jobs) return jobs.error();
  auto profiles_text = store.meta(run_meta::kProfiles);
  if (!profiles_text) return profiles_text.error();
  auto plan_text = store.meta(run_meta::kPlan);
  if (!plan_text) return plan_text.error();
  auto policy = store.meta(run_meta::kPolicy);
  if (!policy) return policy.error();
  ProfileTable profiles;
  if (*profiles_text) {
    auto table = parse_profile_table(**profiles_text, "run profiles");
    if (table) profiles = std::move(*table);
  }
  const Cluster& cluster = profiles.cluster;
  const std::string device_type = cluster.nodes.empty() ? "" : cluster.nodes.front().gpu_type;
  // One colour per job in every chart: the jobs' order.
  GanttStyle planned_style;
  for (const JobRecord& j : *jobs) planned_style.task_order.push_back(j.name);
  GanttStyle actual_style = planned_style;
  actual_style.measured = true;

  if (*plan_text && !cluster.nodes.empty()) {
    auto plan = parse_plan_json(**plan_text);
    if (plan) {
      if (auto s = write_gantt_html(*plan, cluster, "Planned", (dir / "plan.html").string(),
                                    planned_style);
          !s) {
        return s;
      }
    }
  }
  // Actual Gantt: one bar per launch, from its launch to its exit, with how it ended.
  Plan actual;
  std::map<std::string, report::JobHistory> histories;
  for (const JobRecord& j : *jobs) {
    auto h = report::job_history(store, j.name);
    if (!h) return h.error();
    for (const report::Launch& l : h->launches) {
      Assignment a;
      a.task = j.name;
      a.technique = l.technique;
      a.node = !l.node.empty()         ? l.node
               : cluster.nodes.empty() ? "local"
                                       : cluster.nodes.front().name;
      a.gpus = l.devices;
      a.start_s = l.start_s;
      a.end_s = std::max(l.end_s, l.start_s + 1e-3);
      actual.assignments.push_back(std::move(a));
      actual_style.notes.push_back(l.outcome);
      actual.makespan_s = std::max(actual.makespan_s, l.end_s);
    }
    histories[j.name] = std::move(*h);
  }
  actual.solver = {"executor", "actual", 0, ""};
  if (!cluster.nodes.empty() && !actual.assignments.empty()) {
    if (auto s = write_gantt_html(actual, cluster, "Actual", (dir / "actual.html").string(),
                                  actual_style);
        !s) {
      return s;
    }
  }

  std::string html =
      "<!doctype html><html><head><meta charset='utf-8'><title>Saturn run</title>"
      "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}td.text{text-align:left}"
      ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart h3{font-size:13px;margin:4px 0}"
      ".failed{color:#a00}</style></head><body>"
      "<h1>Saturn run</h1><p>Scheduling policy: <b>" +
      report::html_escape(policy->value_or("saturn")) +
      "</b> (<code>saturn run --policy</code>) · <a href='plan.html'>planned Gantt</a> · "
      "<a href='actual.html'>actual Gantt</a></p><h2>Jobs</h2><table><tr><th>job</th>"
      "<th>state</th><th>technique</th><th>devices</th><th>on</th><th>steps</th><th>planned</th>"
      "<th>actual</th><th>loss</th><th>eval loss</th><th>launches</th><th>error</th></tr>";
  for (const JobRecord& j : *jobs) {
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class='text failed'>{}</td></tr>",
        report::html_escape(j.name), to_string(j.state), report::html_escape(j.technique),
        j.gpus.size(), devices_text(device_type, j.gpus), j.step, j.total_steps,
        duration(j.planned_end_s - j.planned_start_s), duration(actual_s(j)), loss_text(j.loss),
        loss_text(j.eval_loss), j.launches, report::html_escape(j.error));
  }
  html +=
      "</table><h2>Training loss</h2><p>Each job on its own step axis: the line is the training "
      "loss, dots are evaluations, a dashed line is where a later launch resumed (hover for "
      "why).</p><div class='charts'>";
  for (std::size_t k = 0; k < jobs->size(); ++k) {
    const JobRecord& j = (*jobs)[k];
    html += fmt::format(
        "<div class='chart'><h3 style='color:{}'>{}</h3>{}</div>", report::task_colour(k),
        report::html_escape(j.name),
        report::loss_chart_svg(histories[j.name], j.total_steps, report::task_colour(k)));
  }
  html +=
      "</div><h2>Profile table</h2><table><tr><th>job</th><th>technique</th><th>devices</th>"
      "<th>step s</th><th>runtime</th><th>peak memory</th></tr>";
  for (const Task& task : profiles.tasks) {
    for (const Config& c : task.configs) {
      html += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.4f}</td><td>{}</td><td>{:.2f} GiB</td>"
          "</tr>",
          report::html_escape(task.name), report::html_escape(c.technique), c.gpus,
          c.seconds_per_step(), report::hms(c.runtime_s), c.peak_memory_bytes / (1 << 30));
    }
  }
  html += "</table></body></html>\n";
  return write_file_atomically(path, html);
}

std::string run_device_type(RunStore& store) {
  if (auto type = store.meta(kDeviceTypeKey); type && *type) return **type;
  auto text = store.meta(run_meta::kProfiles);  // a run of a Saturn that did not store it apart
  if (!text || !*text) return "";
  auto table = parse_profile_table(**text, "run profiles");
  if (!table || table->cluster.nodes.empty()) return "";
  return table->cluster.nodes.front().gpu_type;
}

}  // namespace saturn
