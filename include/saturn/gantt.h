// Gantt chart of a plan as one self-contained HTML page: inline SVG, no scripts or styles
// fetched from the network; one lane per device (grouped by node), one colour per task, and the
// task's details (technique, devices, start, end, runtime) on hover.
#pragma once

#include <string>
#include <vector>

#include "saturn/error.h"
#include "saturn/plan.h"
#include "saturn/profile.h"

namespace saturn {

// How a chart is drawn beyond its plan.
struct GanttStyle {
  // Colours go to tasks in this order, then to the others by first appearance: two charts given
  // the same order (a run's planned and actual ones) colour each task alike.
  std::vector<std::string> task_order;
  // A record of what ran rather than a plan: no lower bound, gap or solver in the summary.
  bool measured = false;
  // Per assignment (same index; may be shorter): a note shown in its tooltip and in the table
  // ("switched", "crashed: exit code 5").
  std::vector<std::string> notes;
};

// Lanes are labelled by device: "GPU 3" on GPU nodes, "cpu 3" on CPU device slots (a node whose
// gpu_type is "cpu").
std::string render_gantt_html(const Plan& plan, const Cluster& cluster, const std::string& title,
                              const GanttStyle& style = {});

// Writes the page to `path` atomically (temporary file, then rename).
Status write_gantt_html(const Plan& plan, const Cluster& cluster, const std::string& title,
                        const std::string& path, const GanttStyle& style = {});

}  // namespace saturn
