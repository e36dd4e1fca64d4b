// Per-job loss charts; see loss_chart.h.
#include "report/loss_chart.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "report/html_text.h"

namespace saturn::report {

std::string loss_chart_svg(const JobHistory& h, std::int64_t total_steps,
                           const std::string& colour) {
  // Layout, in CSS pixels: the plot inside a margin for the axis labels.
  constexpr double kW = 320, kH = 150, kLeft = 44, kBottom = 18, kTop = 6, kRight = 8;
  double max_step = static_cast<double>(std::max<std::int64_t>(1, total_steps));
  double lo = HUGE_VAL, hi = -HUGE_VAL;
  for (const auto* points : {&h.train, &h.eval}) {
    for (const auto& [step, loss] : *points) {
      if (!std::isfinite(loss)) continue;
      max_step = std::max(max_step, step);
      lo = std::min(lo, loss);
      hi = std::max(hi, loss);
    }
  }
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{0}' height='{1}' font-size='10'>"
      "<line x1='{2}' y1='{3}' x2='{2}' y2='{4}' stroke='#999'/>"
      "<line x1='{2}' y1='{4}' x2='{5}' y2='{4}' stroke='#999'/>"
      "<text x='{2}' y='{1}' >0</text><text x='{5}' y='{1}' text-anchor='end'>step {6}</text>",
      kW, kH, kLeft, kTop, kH - kBottom, kW - kRight, static_cast<long long>(max_step));
  if (!(hi >= lo))
    return svg + fmt::format(
                     "<text x='{}' y='{}' fill='#888'>no loss reported yet"
                     "</text></svg>",
                     kLeft + 8, kH / 2);
  if (hi == lo) hi = lo + 1e-6 * std::max(1.0, std::fabs(lo));
  const auto x = [&](double step) { return kLeft + (kW - kLeft - kRight) * step / max_step; };
  const auto y = [&](double loss) {
    return kTop + (kH - kBottom - kTop) * (hi - loss) / (hi - lo);
  };
  svg += fmt::format(
      "<text x='{0}' y='{1}' text-anchor='end'>{2:.3g}</text>"
      "<text x='{0}' y='{3}' text-anchor='end'>{4:.3g}</text>",
      kLeft - 3, kTop + 8, hi, kH - kBottom, lo);
  // Where each launch after the first resumed, and why the one before it ended.
  for (std::size_t i = 1; i < h.launches.size(); ++i) {
    const double at = x(static_cast<double>(h.launches[i].from_step));
    svg += fmt::format(
        "<line x1='{0:.1f}' y1='{1}' x2='{0:.1f}' y2='{2}' stroke='#555' stroke-dasharray='3,3'>"
        "<title>step {3}: launch {4} ({5}) after: {6}</title></line>",
        at, kTop, kH - kBottom, h.launches[i].from_step, i + 1,
        html_escape(h.launches[i].technique), html_escape(h.launches[i - 1].outcome));
  }
  std::string path;
  for (const auto& [step, loss] : h.train) {
    if (std::isfinite(loss)) path += fmt::format("{:.1f},{:.1f} ", x(step), y(loss));
  }
  svg += fmt::format(
      "<polyline fill='none' stroke='{}' stroke-width='1.5' points='{}'>"
      "<title>training loss</title></polyline>",
      colour, path);
  for (const auto& [step, loss] : h.eval) {
    if (!std::isfinite(loss)) continue;
    svg += fmt::format(
        "<circle cx='{:.1f}' cy='{:.1f}' r='3' fill='#222'><title>evaluation at step {:.0f}: "
        "{:.4f}</title></circle>",
        x(step), y(loss), step, loss);
  }
  return svg + "</svg>";
}

}  // namespace saturn::report
