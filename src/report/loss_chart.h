// One job's training curve as a small inline SVG: its own step axis (a short job beside a long
// one is not squashed), the training loss as a line, evaluations as dots, and a dashed mark
// where a later launch resumed (hover: how the launch before it ended). Private to src/report/.
#pragma once

#include <cstdint>
#include <string>

#include "report/run_history.h"

namespace saturn::report {

// `total_steps` sets the axis (0: the last step seen); `colour` the line (the job's colour in
// the Gantt charts).
std::string loss_chart_svg(const JobHistory& history, std::int64_t total_steps,
                           const std::string& colour);

}  // namespace saturn::report
