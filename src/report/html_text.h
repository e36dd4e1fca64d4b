// Text helpers shared by the HTML pages in src/report/ (the Gantt chart and the run report).
// Private to src/report/.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "formats/common.h"

namespace saturn::report {

// Escapes text for HTML/SVG text and attribute values; control characters (other than tab and
// newline, which tooltips use) become spaces so the output stays well-formed.
std::string html_escape(std::string_view text);

using formats::hms;  // "h:mm:ss"

// The colour of the k-th task of a chart (golden-angle hue steps, so neighbours differ most): the
// Gantt charts and the loss charts of a run agree.
std::string task_colour(std::size_t index);

}  // namespace saturn::report
