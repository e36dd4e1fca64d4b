// Text helpers shared by the HTML pages in src/report/ (the Gantt chart and the run report).
// Private to src/report/.
#pragma once

#include <string>
#include <string_view>

namespace saturn::report {

// Escapes text for HTML/SVG text and attribute values; control characters (other than tab and
// newline, which tooltips use) become spaces so the output stays well-formed.
std::string html_escape(std::string_view text);

// Seconds as "h:mm:ss" (hours unbounded, rounded to the nearest second); "n/a" if not finite.
std::string hms(double seconds);

}  // namespace saturn::report
