// HTML text helpers; see html_text.h.
#include "report/html_text.h"

#include <cmath>

#include <fmt/format.h>

namespace saturn::report {

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') c = ' ';
        out += c;
    }
  }
  return out;
}

std::string task_colour(std::size_t index) {
  return fmt::format("hsl({:.1f},65%,62%)", std::fmod(static_cast<double>(index) * 137.508, 360.0));
}

}  // namespace saturn::report
