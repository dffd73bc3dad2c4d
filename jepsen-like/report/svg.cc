#include "jepsen-like/report/svg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace dialkv::jepsen::report {
namespace {

std::string Line(double x1, double y1, double x2, double y2, std::string_view stroke) {
  return "<line x1=\"" + Coord(x1) + "\" y1=\"" + Coord(y1) + "\" x2=\"" + Coord(x2) + "\" y2=\"" +
         Coord(y2) + "\" stroke=\"" + std::string(stroke) + "\"/>";
}

constexpr std::array<std::string_view, 6> kBandColours = {"#d62728", "#9467bd", "#2ca02c",
                                                          "#8c564b", "#e377c2", "#17becf"};

}  // namespace

double TextWidth(std::string_view text, double font_px) {
  double em = 0;
  for (char c : text) {
    if (std::string_view(" .,:;'!|()[]ijlftr").find(c) != std::string_view::npos) {
      em += 0.3;
    } else if (std::string_view("mwMW@%").find(c) != std::string_view::npos) {
      em += 0.85;
    } else if (c >= 'A' && c <= 'Z') {
      em += 0.68;
    } else {
      em += 0.56;  // Digits, most lower case, and anything else (UTF-8 bytes are few here).
    }
  }
  return em * font_px;
}

std::string Fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  std::string s = buf;
  if (s.starts_with("-") && s.find_first_not_of("-0.") == std::string::npos) {
    s.erase(0, 1);  // No "-0.00" for a value that rounds to zero.
  }
  return s;
}

std::string Coord(double value) {
  std::string s = Fixed(value, 1);
  if (s.ends_with(".0")) s.resize(s.size() - 2);
  return s;
}

std::string Percent(double ratio) { return Fixed(ratio * 100, 1) + "%"; }

std::string Ms(double ms) {
  const double a = std::fabs(ms);
  if (a == 0) return "0";
  if (a < 0.1) return Fixed(ms, 3);
  if (a < 10) return Fixed(ms, 2);
  if (a < 100) return Fixed(ms, 1);
  return Fixed(ms, 0);
}

std::string TickLabel(double value, double step) {
  int decimals = 0;
  for (double s = step; decimals < 6 && std::fabs(s - std::round(s)) > 1e-9 * std::fabs(step);
       s *= 10) {
    ++decimals;
  }
  return Fixed(value, decimals);
}

double LogScale::operator()(double v) const {
  const double lo = std::pow(10.0, lo_exp);
  const double e = std::log10(std::max(v, lo));
  return r0 + (e - lo_exp) / (hi_exp - lo_exp) * (r1 - r0);
}

Ticks NiceTicks(double lo, double hi, int target) {
  Ticks ticks;
  const double raw = (hi - lo) / std::max(target - 1, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double residual = raw / magnitude;
  ticks.step = (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10) * magnitude;
  const double first = std::ceil(lo / ticks.step - 1e-9) * ticks.step;
  for (double v = first; v <= hi + ticks.step * 1e-9 && ticks.values.size() < 1000;
       v += ticks.step) {
    ticks.values.push_back(std::fabs(v) < ticks.step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::string OpenSvg(const Frame& frame, std::string_view title) {
  // Inline SVG in HTML needs no xmlns (and the page holds no URL at all).
  std::string svg = "<svg viewBox=\"0 0 " + Coord(frame.width) + " " + Coord(frame.height) +
                    "\" width=\"" + Coord(frame.width) + "\" role=\"img\" aria-label=\"" +
                    Escape(title) + "\" font-family=\"sans-serif\" font-size=\"12\">";
  svg += "<text x=\"" + Coord(frame.left) + "\" y=\"20\" font-size=\"15\" font-weight=\"bold\">" +
         Escape(title) + "</text>";
  return svg;
}

void DrawXAxis(std::string& svg, const Frame& frame, const LinearScale& x, const Ticks& ticks,
               std::string_view title) {
  svg += "<g font-size=\"11\" fill=\"" + std::string(kAxisColour) + "\">";
  for (double v : ticks.values) {
    const double px = x(v);
    if (px < frame.x0() - 0.5 || px > frame.x1() + 0.5) continue;
    svg += Line(px, frame.y0(), px, frame.y1(), kGridColour);
    svg += Line(px, frame.y1(), px, frame.y1() + 5, kAxisColour);
    svg += "<text x=\"" + Coord(px) + "\" y=\"" + Coord(frame.y1() + 18) +
           "\" text-anchor=\"middle\">" + TickLabel(v, ticks.step) + "</text>";
  }
  svg += Line(frame.x0(), frame.y1(), frame.x1(), frame.y1(), kAxisColour);
  svg += "<text x=\"" + Coord((frame.x0() + frame.x1()) / 2) + "\" y=\"" + Coord(frame.y1() + 36) +
         "\" text-anchor=\"middle\" font-size=\"12\">" + Escape(title) + "</text></g>";
}

void DrawYAxis(std::string& svg, const Frame& frame, const LinearScale& y, const Ticks& ticks,
               std::string_view title) {
  svg += "<g font-size=\"11\" fill=\"" + std::string(kAxisColour) + "\">";
  for (double v : ticks.values) {
    const double py = y(v);
    if (py < frame.y0() - 0.5 || py > frame.y1() + 0.5) continue;
    svg += Line(frame.x0(), py, frame.x1(), py, kGridColour);
    svg += Line(frame.x0() - 5, py, frame.x0(), py, kAxisColour);
    svg += "<text x=\"" + Coord(frame.x0() - 8) + "\" y=\"" + Coord(py + 4) +
           "\" text-anchor=\"end\">" + TickLabel(v, ticks.step) + "</text>";
  }
  svg += Line(frame.x0(), frame.y0(), frame.x0(), frame.y1(), kAxisColour);
  const double cy = (frame.y0() + frame.y1()) / 2;
  svg += "<text transform=\"translate(16 " + Coord(cy) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + Escape(title) + "</text></g>";
}

void DrawLogYAxis(std::string& svg, const Frame& frame, const LogScale& y, std::string_view title) {
  svg += "<g font-size=\"11\" fill=\"" + std::string(kAxisColour) + "\">";
  for (int e = y.lo_exp; e <= y.hi_exp; ++e) {
    const double v = std::pow(10.0, e);
    const double py = y(v);
    svg += Line(frame.x0(), py, frame.x1(), py, "#d0d0d0");
    svg += Line(frame.x0() - 5, py, frame.x0(), py, kAxisColour);
    svg += "<text x=\"" + Coord(frame.x0() - 8) + "\" y=\"" + Coord(py + 4) +
           "\" text-anchor=\"end\">" + TickLabel(v, v) + "</text>";
    if (e == y.hi_exp) break;
    for (double m : {2.0, 5.0}) {
      const double pm = y(m * v);
      svg += Line(frame.x0(), pm, frame.x1(), pm, "#f0f0f0");
      svg += Line(frame.x0() - 3, pm, frame.x0(), pm, kAxisColour);
    }
  }
  svg += Line(frame.x0(), frame.y0(), frame.x0(), frame.y1(), kAxisColour);
  const double cy = (frame.y0() + frame.y1()) / 2;
  svg += "<text transform=\"translate(16 " + Coord(cy) +
         ") rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">" + Escape(title) + "</text></g>";
}

void DrawLegend(std::string& svg, const Frame& frame, std::span<const LegendItem> items) {
  double x = frame.x0();
  const double y = frame.y1() + 60;
  svg += "<g font-size=\"12\" fill=\"#222\">";
  for (const LegendItem& item : items) {
    svg += "<g transform=\"translate(" + Coord(x + 8) + " " + Coord(y - 4) + ")\">" + item.swatch +
           "</g>";
    svg += "<text x=\"" + Coord(x + 20) + "\" y=\"" + Coord(y) + "\">" + Escape(item.label) +
           "</text>";
    x += 20 + TextWidth(item.label, 12) + 22;
  }
  svg += "</g>";
}

std::string BandColour(std::span<const Band> bands, std::string_view name) {
  std::vector<std::string_view> names;
  for (const Band& b : bands) {
    if (std::find(names.begin(), names.end(), b.name) == names.end()) names.push_back(b.name);
  }
  const size_t index = std::find(names.begin(), names.end(), name) - names.begin();
  return std::string(kBandColours[index % kBandColours.size()]);
}

void DrawBands(std::string& svg, const Frame& frame, const LinearScale& x,
               std::span<const Band> bands) {
  constexpr int kRows = 3;
  constexpr double kRowPx = 11;
  constexpr double kFontPx = 10;
  std::array<double, kRows> row_end;
  row_end.fill(-1e9);
  std::string labels;
  svg += "<g>";
  for (const Band& band : bands) {
    const double a = std::clamp(x(band.start_s), frame.x0(), frame.x1());
    const double b = std::clamp(x(band.end_s), frame.x0(), frame.x1());
    const std::string colour = BandColour(bands, band.name);
    const double w = std::max(b - a, 2.0);
    svg += "<rect x=\"" + Coord(a) + "\" y=\"" + Coord(frame.y0()) + "\" width=\"" + Coord(w) +
           "\" height=\"" + Coord(frame.y1() - frame.y0()) + "\" fill=\"";
    svg.append(colour).append("\" fill-opacity=\"0.13\" stroke=\"");
    svg.append(colour).append("\" stroke-opacity=\"0.35\"/>");
    // The label: "3 partition-halves", else "3", on the first row where it fits.
    const std::string number = std::to_string(band.number);
    const std::string full = number + " " + band.name;
    for (const std::string* text : {&full, &number}) {
      const std::string shown = Escape(*text, 28);
      const double width = TextWidth(std::string_view(*text).substr(0, 29), kFontPx);
      int row = -1;
      for (int r = 0; r < kRows; ++r) {
        if (row_end[r] + 4 <= a && a + width <= frame.width - 2) {
          row = r;
          break;
        }
      }
      if (row < 0) continue;
      row_end[row] = a + width;
      const double y = frame.y0() - 4 - row * kRowPx;
      labels += "<text x=\"" + Coord(a) + "\" y=\"" + Coord(y) + "\" fill=\"" + colour + "\">";
      labels += shown + "</text>";
      break;
    }
  }
  svg += "</g><g font-size=\"" + Coord(kFontPx) + "\">" + labels + "</g>";
}

std::string BandSwatch() {
  return "<rect x=\"-7\" y=\"-6\" width=\"14\" height=\"12\" fill=\"#d62728\" "
         "fill-opacity=\"0.13\" stroke=\"#d62728\" stroke-opacity=\"0.35\"/>";
}

}  // namespace dialkv::jepsen::report
