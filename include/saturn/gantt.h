// Gantt chart of a plan as one self-contained HTML page: inline SVG, no scripts or styles
// fetched from the network; one lane per GPU (grouped by node), one colour per task, and the
// task's details (technique, GPUs, start, end, runtime) on hover.
#pragma once

#include <string>

#include "saturn/error.h"
#include "saturn/plan.h"
#include "saturn/profile.h"

namespace saturn {

std::string render_gantt_html(const Plan& plan, const Cluster& cluster, const std::string& title);

// Writes the page to `path` atomically (temporary file, then rename).
Status write_gantt_html(const Plan& plan, const Cluster& cluster, const std::string& title,
                        const std::string& path);

}  // namespace saturn
