#pragma once
// Internal to the report: text made safe for HTML, number formatting, and the parts every
// chart shares (scales, tick choice, axes, legends, nemesis bands), drawn as SVG markup.
//
// Everything here returns markup as a string; nothing is read from outside, nothing throws.
// Charts use a fixed coordinate system (viewBox) and scale to the page width.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/common/markup.h"

namespace dialkv::jepsen::report {

// Colours, chosen to stay apart for the common colour-vision deficiencies (blue vs orange)
// and readable on white.
inline constexpr std::string_view kCpColour = "#1f62b4";
inline constexpr std::string_view kApColour = "#e0720b";
inline constexpr std::string_view kAxisColour = "#444";
inline constexpr std::string_view kGridColour = "#e3e3e3";

// `text` as HTML text or attribute content (server/common/markup.h).
inline std::string Escape(std::string_view text, size_t max_chars = SIZE_MAX) {
  return EscapeMarkup(text, max_chars);
}

// About how wide `text` is drawn in the page's sans-serif font at `font_px` (a per-character
// estimate: labels are placed with it, and a few pixels of error are harmless).
double TextWidth(std::string_view text, double font_px);

// `value` with `decimals` digits after the point ("12.50" with 2).
std::string Fixed(double value, int decimals);
// A coordinate for SVG: one decimal, trailing ".0" dropped.
std::string Coord(double value);
// "87.5%"; "n/a" when there is no ratio.
std::string Percent(double ratio);
// Milliseconds with a precision that suits the magnitude: "0.042", "3.21", "187", "12034".
std::string Ms(double ms);
// A tick label for `value` when ticks are `step` apart: "0", "2.5", "10", "0.05".
std::string TickLabel(double value, double step);

// Maps a data interval onto a pixel interval.
struct LinearScale {
  double d0 = 0, d1 = 1;  // Data; d0 != d1.
  double r0 = 0, r1 = 1;  // Pixels.
  double operator()(double v) const { return r0 + (v - d0) / (d1 - d0) * (r1 - r0); }
};

// Maps [10^lo_exp, 10^hi_exp] onto pixels logarithmically; values below are clamped.
struct LogScale {
  int lo_exp = 0, hi_exp = 1;  // lo_exp < hi_exp.
  double r0 = 0, r1 = 1;
  double operator()(double v) const;
};

// Round-numbered ticks (1, 2 or 5 times a power of ten apart) covering [lo, hi], about
// `target` of them. REQUIRES: lo < hi, target >= 2.
struct Ticks {
  double step = 1;
  std::vector<double> values;
};
Ticks NiceTicks(double lo, double hi, int target);

// The plot area of a chart inside its viewBox.
struct Frame {
  double width = 1100, height = 360;  // The whole SVG.
  // Margins around the plot; the top one holds the title and three rows of band labels.
  double left = 72, right = 24, top = 76, bottom = 80;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return top; }  // Top of the plot.
  double y1() const { return height - bottom; }
};

// <svg ...> opening tag with the viewBox of `frame`, an accessible title, and a heading line
// drawn at the top left.
std::string OpenSvg(const Frame& frame, std::string_view title);

// The x axis along the bottom of the plot: grid lines, ticks, labels and the axis title.
void DrawXAxis(std::string& svg, const Frame& frame, const LinearScale& x, const Ticks& ticks,
               std::string_view title);
// The y axis on the left, linear.
void DrawYAxis(std::string& svg, const Frame& frame, const LinearScale& y, const Ticks& ticks,
               std::string_view title);
// The y axis on the left, one tick per decade (and lighter grid lines at 2x and 5x).
void DrawLogYAxis(std::string& svg, const Frame& frame, const LogScale& y, std::string_view title);

// One item of a legend: a swatch drawn by `swatch` (markup centred on (0,0)) and its text.
struct LegendItem {
  std::string swatch;
  std::string label;
};
// A row of legend items under the x axis title.
void DrawLegend(std::string& svg, const Frame& frame, std::span<const LegendItem> items);

// A nemesis interval, in seconds on the chart's x axis.
struct Band {
  int number = 0;  // 1-based, as in the nemesis table.
  std::string name;
  double start_s = 0;
  double end_s = 0;  // == start_s for an instant action.
};
// The fill colour of a nemesis by name (one colour per distinct name, in order of appearance).
std::string BandColour(std::span<const Band> bands, std::string_view name);
// Translucent rectangles over the plot for every band (an instant action as a thin line),
// labelled "number name" above the plot on up to three staggered rows (the lowest first); a
// label that fits on no row is reduced to its number, or left out (the nemesis table lists
// every event). Needs frame.top >= 60 to stay clear of the title.
void DrawBands(std::string& svg, const Frame& frame, const LinearScale& x,
               std::span<const Band> bands);
// A legend swatch for the nemesis bands.
std::string BandSwatch();

}  // namespace dialkv::jepsen::report
