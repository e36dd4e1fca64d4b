// Gantt chart of a plan as one self-contained HTML page (see saturn/gantt.h): an inline SVG
// with a time axis, one lane per GPU grouped by node, one coloured bar per (assignment, GPU)
// with an SVG <title> tooltip, and a table of every assignment below the chart. No scripts,
// fonts or styles are fetched from anywhere; a little inline CSS highlights the hovered task.
#include "saturn/gantt.h"

#include "saturn/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "saturn/atomic_file.h"

#include <fmt/format.h>

#include "report/html_text.h"

namespace saturn {
namespace {

using report::hms;
using report::html_escape;
using report::task_colour;

// Layout, in CSS pixels.
constexpr double kWidth = 1200;    // whole SVG
constexpr double kRightPad = 20;   // right of the chart area
constexpr double kAxisH = 30;      // time axis above the first lane
constexpr double kLaneH = 18;      // one GPU lane
constexpr double kBarPad = 2;      // gap between a bar and its lane's edges
constexpr double kNodeGap = 6;     // extra space between two nodes' lanes
constexpr double kBottomPad = 10;  // below the last lane
constexpr double kCharW = 6.6;     // generous width of one 11px sans-serif character

// Number of UTF-8 code points (continuation bytes are not counted).
size_t text_len(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

double finite_or_zero(double v) {
  return std::isfinite(v) ? v : 0.0;
}

std::string gpu_list(const std::vector<int>& gpus) {
  std::string out;
  for (size_t i = 0; i < gpus.size(); ++i) out += (i ? ", " : "") + std::to_string(gpus[i]);
  return out;
}

// Tick step in seconds: the smallest "nice" step giving at most 10 intervals over `span` (> 0).
double tick_step(double span) {
  static constexpr double kSteps[] = {1,     2,     5,     10,    15,     30,     60,
                                      120,   300,   600,   900,   1800,   3600,   7200,
                                      10800, 21600, 43200, 86400, 172800, 432000, 864000};
  if (span <= 10) {  // sub-10-second spans: 1-2-5 steps below one second
    double step = std::pow(10.0, std::floor(std::log10(span / 10)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
      if (span / (step * m) <= 10) return step * m;
  }
  for (double s : kSteps)
    if (span / s <= 10) return s;
  return std::ceil(span / 10 / 864000) * 864000;
}

// Tick label for `t` seconds, unit chosen by the axis span: seconds up to 3 min ("90s"),
// minutes up to 2 h ("45m"), hours and minutes beyond ("45m", "2h", "2h30m"),
// whole days beyond 3 days ("5d"); "0" at t = 0.
std::string tick_label(double t, double span) {
  if (t <= 0) return "0";
  if (span <= 180) return fmt::format("{:.6g}s", t);
  if (span <= 7200) return fmt::format("{:.6g}m", t / 60);
  long long minutes = std::llround(t / 60);
  if (minutes < 60) return fmt::format("{}m", minutes);
  if (span > 3 * 86400 && minutes % 1440 == 0) return fmt::format("{}d", minutes / 1440);
  if (minutes % 60 == 0) return fmt::format("{}h", minutes / 60);
  return fmt::format("{}h{:02}m", minutes / 60, minutes % 60);
}

struct Bar {
  size_t assignment;
  size_t lane;
};

}  // namespace

std::string render_gantt_html(const Plan& plan, const Cluster& cluster, const std::string& title,
                              const GanttStyle& style) {
  // Lanes: node by node, GPU 0..gpus-1. node_first_lane[n] is node n's first lane.
  std::unordered_map<std::string, size_t> node_index;
  std::vector<size_t> node_first_lane;
  std::vector<std::string> lane_labels;
  std::vector<size_t> lane_node;
  for (size_t n = 0; n < cluster.nodes.size(); ++n) {
    const Node& node = cluster.nodes[n];
    node_index.emplace(node.name, n);
    node_first_lane.push_back(lane_labels.size());
    const bool cpu = formats::iequals(node.gpu_type, "cpu");
    for (int g = 0; g < node.gpus; ++g) {
      lane_labels.push_back(fmt::format("{} \u00b7 {} {}", node.name, cpu ? "cpu" : "GPU", g));
      lane_node.push_back(n);
    }
  }
  auto lane_y = [&](size_t lane) {  // top edge of a lane
    return kAxisH + static_cast<double>(lane) * kLaneH +
           static_cast<double>(lane_node[lane]) * kNodeGap;
  };

  // Colour index per task, by first appearance; bars for assignments on known node/GPU.
  std::unordered_map<std::string, size_t> task_index;
  for (const std::string& task : style.task_order) task_index.emplace(task, task_index.size());
  std::vector<size_t> colour_of(plan.assignments.size());
  std::vector<Bar> bars;
  double span = finite_or_zero(plan.makespan_s);
  for (size_t i = 0; i < plan.assignments.size(); ++i) {
    const Assignment& a = plan.assignments[i];
    colour_of[i] = task_index.emplace(a.task, task_index.size()).first->second;
    span = std::max(span, finite_or_zero(a.end_s));
    auto it = node_index.find(a.node);
    if (it == node_index.end()) continue;
    for (int g : a.gpus)
      if (g >= 0 && g < cluster.nodes[it->second].gpus)
        bars.push_back({i, node_first_lane[it->second] + static_cast<size_t>(g)});
  }
  if (span <= 0) span = 1;  // empty plan or zero makespan: keep the scale finite

  size_t longest = 0;
  for (const auto& l : lane_labels) longest = std::max(longest, text_len(l));
  const double x0 = std::clamp(static_cast<double>(longest) * kCharW + 14, 90.0, 320.0);
  const double chart_w = kWidth - x0 - kRightPad;
  auto x_of = [&](double t) {
    return x0 + std::clamp(finite_or_zero(t) / span, 0.0, 1.0) * chart_w;
  };
  const double lanes_bottom =
      lane_labels.empty() ? kAxisH + kLaneH : lane_y(lane_labels.size() - 1) + kLaneH;
  const double height = lanes_bottom + kBottomPad;

  std::string h;
  h.reserve(4096 + bars.size() * 400 + plan.assignments.size() * 300);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += fmt::format("<title>{}</title>\n", html_escape(title));
  h += "<style>\n"
       "body{font-family:system-ui,sans-serif;margin:16px;color:#222}\n"
       "h1{font-size:20px;margin:0 0 4px}\n"
       ".summary{font-size:13px;color:#444;margin:0 0 12px}\n"
       "svg{font-size:11px;display:block}\n"
       ".lane-label{fill:#333}.tick{fill:#555}.grid{stroke:#ddd}\n"
       ".node-sep{stroke:#888;stroke-width:1}\n"
       ".bar{stroke:#fff;stroke-width:0.5}\n"
       ".bar-label{fill:#111;pointer-events:none}\n"
       ".chart:has(.bar:hover) .bar{opacity:0.45}\n"
       "table{border-collapse:collapse;font-size:12px;margin-top:16px}\n"
       "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}\n"
       "th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
       ".swatch{display:inline-block;width:10px;height:10px;margin-right:6px;"
       "vertical-align:middle}\n";
  // Hovering any bar of a task highlights all of that task's bars (pure CSS, no script).
  for (size_t t = 0; t < task_index.size(); ++t)
    h +=
        fmt::format(".chart:has(.t{0}:hover) .t{0}{{opacity:1;stroke:#000;stroke-width:1.5}}\n", t);
  h += "</style>\n</head>\n<body>\n";

  h += fmt::format("<h1>{}</h1>\n", html_escape(title));
  if (style.measured) {
    h += fmt::format(
        "<p class=\"summary\">makespan {:.2f} h ({:.1f} s), measured \u00b7 {} launches on {} "
        "devices</p>\n",
        plan.makespan_s / 3600, plan.makespan_s, plan.assignments.size(), lane_labels.size());
  } else {
    h += fmt::format(
        "<p class=\"summary\">makespan {:.2f} h ({:.1f} s) \u00b7 lower bound {:.2f} h ({:.1f} s) "
        "\u00b7 gap {:.2f}% \u00b7 solver {} ({}, {:.3f} s) \u00b7 {} assignments on {} devices"
        "</p>\n",
        plan.makespan_s / 3600, plan.makespan_s, plan.lower_bound_s / 3600, plan.lower_bound_s,
        plan.gap * 100, html_escape(plan.solver.name), html_escape(plan.solver.status),
        plan.solver.solve_s, plan.assignments.size(), lane_labels.size());
  }
  const auto note = [&](size_t i) {
    return i < style.notes.size() ? style.notes[i] : std::string();
  };

  h += fmt::format(
      "<svg class=\"chart\" width=\"{0:.0f}\" "
      "height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" role=\"img\">\n",
      kWidth, height);

  // Alternate lane shading and lane labels.
  for (size_t l = 0; l < lane_labels.size(); ++l) {
    double y = lane_y(l);
    if (l % 2 == 1)
      h += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"#f6f6f6\"/>\n",
          x0, y, chart_w, kLaneH);
    h += fmt::format(
        "<text class=\"lane-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        x0 - 6, y + kLaneH - 5, html_escape(lane_labels[l]));
  }

  // Time axis: grid line and label per tick.
  const double step = tick_step(span);
  for (int k = 0; k * step <= span * (1 + 1e-9); ++k) {
    double t = k * step;
    double x = x_of(t);
    h += fmt::format(
        "<line class=\"grid\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>\n", x,
        kAxisH - 4, lanes_bottom);
    const char* anchor = k == 0 ? "start" : (x > x0 + chart_w - 20 ? "end" : "middle");
    h +=
        fmt::format("<text class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\">{}</text>\n",
                    x, kAxisH - 10, anchor, tick_label(t, span));
  }
  h += fmt::format(
      "<line class=\"node-sep\" x1=\"0\" y1=\"{0:.1f}\" x2=\"{1:.1f}\" y2=\"{0:.1f}\"/>\n",
      kAxisH - 1, kWidth - kRightPad);

  // Node separators: a line in the gap above every node but the first.
  for (size_t n = 1; n < cluster.nodes.size(); ++n) {
    if (node_first_lane[n] >= lane_labels.size()) break;
    double y = lane_y(node_first_lane[n]) - kNodeGap / 2;
    h += fmt::format(
        "<line class=\"node-sep\" x1=\"0\" y1=\"{0:.1f}\" x2=\"{1:.1f}\" y2=\"{0:.1f}\"/>\n", y,
        kWidth - kRightPad);
  }

  if (plan.assignments.empty())
    h += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#888\">"
        "no assignments</text>\n",
        x0 + chart_w / 2, kAxisH + kLaneH - 5);

  // Bars: one per (assignment, GPU), tooltip as an SVG <title> child; the task name is written
  // once per assignment, in its first GPU's bar, when it fits.
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const Assignment& a = plan.assignments[b.assignment];
    double x = x_of(a.start_s);
    double w = std::max(1.0, x_of(a.end_s) - x);
    double y = lane_y(b.lane) + kBarPad;
    h += fmt::format(
        "<rect class=\"bar t{}\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"{}\"><title>task: {}\ntechnique: {}\nnode: {}\ndevices: {}\nstart: {}\nend: {}\n"
        "runtime: {} ({:.1f} s){}</title></rect>\n",
        colour_of[b.assignment], x, y, w, kLaneH - 2 * kBarPad,
        task_colour(colour_of[b.assignment]), html_escape(a.task), html_escape(a.technique),
        html_escape(a.node), gpu_list(a.gpus), hms(a.start_s), hms(a.end_s),
        hms(a.end_s - a.start_s), a.end_s - a.start_s,
        note(b.assignment).empty() ? "" : "\n" + html_escape(note(b.assignment)));
    const bool first = i == 0 || bars[i - 1].assignment != b.assignment;
    if (first && static_cast<double>(text_len(a.task)) * kCharW + 6 <= w)
      h += fmt::format("<text class=\"bar-label\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x + 3,
                       y + kLaneH - 2 * kBarPad - 4, html_escape(a.task));
  }
  h += "</svg>\n";

  // Table of every assignment, in plan order.
  const bool notes = !style.notes.empty();
  h += fmt::format(
      "<table>\n<thead><tr><th>#</th><th>task</th><th>technique</th><th>node</th><th>devices</th>"
      "<th>start</th><th>end</th><th>runtime</th>{}</tr></thead>\n<tbody>\n",
      notes ? "<th>outcome</th>" : "");
  for (size_t i = 0; i < plan.assignments.size(); ++i) {
    const Assignment& a = plan.assignments[i];
    h += fmt::format(
        "<tr><td class=\"num\">{}</td><td><span class=\"swatch\" style=\"background:{}\"></span>{}"
        "</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
        "<td class=\"num\">{}</td>{}</tr>\n",
        i, task_colour(colour_of[i]), html_escape(a.task), html_escape(a.technique),
        html_escape(a.node), gpu_list(a.gpus), hms(a.start_s), hms(a.end_s),
        hms(a.end_s - a.start_s), notes ? "<td>" + html_escape(note(i)) + "</td>" : "");
  }
  if (plan.assignments.empty()) {
    h += fmt::format("<tr><td colspan=\"{}\">no assignments</td></tr>\n", notes ? 9 : 8);
  }
  h += "</tbody>\n</table>\n</body>\n</html>\n";
  return h;
}

Status write_gantt_html(const Plan& plan, const Cluster& cluster, const std::string& title,
                        const std::string& path, const GanttStyle& style) {
  std::string page;
  try {
    page = render_gantt_html(plan, cluster, title, style);
  } catch (const std::exception& e) {
    return Error{path, 0, "", fmt::format("cannot render Gantt chart: {}", e.what())};
  }
  return write_file_atomically(path, page);
}

}  // namespace saturn
