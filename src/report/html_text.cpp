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

std::string hms(double seconds) {
  if (!std::isfinite(seconds)) return "n/a";
  long long t = std::llround(std::fabs(seconds));
  return fmt::format("{}{}:{:02}:{:02}", seconds < 0 && t > 0 ? "-" : "", t / 3600, (t / 60) % 60,
                     t % 60);
}

}  // namespace saturn::report
