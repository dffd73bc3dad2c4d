#include "bench/load/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <vector>

#include "server/common/markup.h"

namespace dialkv::bench {
namespace {

constexpr double kWidth = 900;
constexpr double kLeft = 70, kRight = 20;
constexpr const char* kAxisColour = "#444";
constexpr const char* kGridColour = "#e3e3e3";
constexpr const char* kFaultColour = "#d62728";

// Blue for CP, orange for AP (apart for the common colour-vision deficiencies); other runs
// of the same mode get darker or lighter shades.
std::string ColourFor(const RunSummary& run, int nth_of_mode) {
  static const char* kCp[] = {"#1f62b4", "#5b9bd5", "#0b2e59"};
  static const char* kAp[] = {"#e0720b", "#f2a65a", "#8a4300"};
  const char** palette = run.mode == "cp" ? kCp : kAp;
  return palette[nth_of_mode % 3];
}

std::string Num(double v) {
  char out[32];
  std::snprintf(out, sizeof(out), "%.1f", v);
  std::string s(out);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

std::string Text(double x, double y, std::string_view text, std::string_view anchor = "start",
                 int size = 12, std::string_view extra = "") {
  return "<text x=\"" + Num(x) + "\" y=\"" + Num(y) + "\" font-size=\"" + std::to_string(size) +
         "\" text-anchor=\"" + std::string(anchor) + "\" " + std::string(extra) + ">" +
         EscapeMarkup(text) + "</text>\n";
}

std::string Line(double x1, double y1, double x2, double y2, std::string_view colour,
                 double width = 1) {
  return "<line x1=\"" + Num(x1) + "\" y1=\"" + Num(y1) + "\" x2=\"" + Num(x2) + "\" y2=\"" +
         Num(y2) + "\" stroke=\"" + std::string(colour) + "\" stroke-width=\"" + Num(width) +
         "\"/>\n";
}

std::string Open(double height, std::string_view title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + Num(kWidth) + " " +
         Num(height) + "\" font-family=\"sans-serif\" role=\"img\">\n<title>" +
         EscapeMarkup(title) + "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" +
         Text(kLeft, 22, title, "start", 15, "font-weight=\"bold\"");
}

// A step of 1, 2 or 5 times a power of ten giving about `target` ticks up to `max`.
double NiceStep(double max, int target) {
  const double raw = std::max(max, 1e-9) / target;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

std::string Label(const RunSummary& run) { return run.system + " " + run.mode; }

// Linear y axis from 0 to `max` over [top, bottom], with grid lines and labels.
std::string YAxis(double top, double bottom, double max, std::string_view title) {
  std::string svg;
  const double step = NiceStep(max, 5);
  for (double v = 0; v <= max * 1.0001; v += step) {
    const double y = bottom - v / max * (bottom - top);
    svg += Line(kLeft, y, kWidth - kRight, y, kGridColour);
    svg += Text(kLeft - 6, y + 4, Num(v), "end", 11);
  }
  svg += Line(kLeft, top, kLeft, bottom, kAxisColour);
  svg += Text(14, (top + bottom) / 2, title, "middle", 12,
              "transform=\"rotate(-90 14 " + Num((top + bottom) / 2) + ")\"");
  return svg;
}

struct LegendItem {
  std::string colour, label;
  double opacity = 1;
};

std::string Legend(double y, const std::vector<LegendItem>& items) {
  std::string svg;
  double x = kLeft;
  for (const auto& [colour, label, opacity] : items) {
    svg += "<rect x=\"" + Num(x) + "\" y=\"" + Num(y - 10) +
           "\" width=\"14\" height=\"10\" fill=\"" + colour + "\" fill-opacity=\"" + Num(opacity) +
           "\"/>\n";
    svg += Text(x + 18, y, label, "start", 12);
    x += 30 + 7.0 * static_cast<double>(label.size());
  }
  return svg;
}

}  // namespace

std::string ThroughputChart(std::span<const RunSummary> runs, std::string_view title) {
  struct Bar {
    std::string label, colour;
    double ops_per_s, p99_ms;
  };
  std::vector<Bar> bars;
  std::vector<LegendItem> legend;
  int cp_seen = 0, ap_seen = 0;
  for (const RunSummary& run : runs) {
    const std::string colour = ColourFor(run, run.mode == "cp" ? cp_seen++ : ap_seen++);
    legend.push_back({.colour = colour, .label = Label(run) + " (" + run.variant + ")"});
    for (const OpSummary& o : run.ops) {
      if (o.op == "all") continue;
      bars.push_back({Label(run) + " " + o.op, colour, o.ops_per_s, o.latency.p99_ms});
    }
  }
  const double top = 40, bottom = 300, height = 380;
  double max = 1;
  for (const Bar& b : bars) max = std::max(max, b.ops_per_s);
  max = std::ceil(max / NiceStep(max, 5)) * NiceStep(max, 5);
  std::string svg = Open(height, title) + YAxis(top, bottom, max, "ops/s");
  const double slot = (kWidth - kLeft - kRight) / std::max<double>(1, bars.size());
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double x = kLeft + slot * static_cast<double>(i) + slot * 0.15;
    const double h = b.ops_per_s / max * (bottom - top);
    svg += "<rect x=\"" + Num(x) + "\" y=\"" + Num(bottom - h) + "\" width=\"" + Num(slot * 0.7) +
           "\" height=\"" + Num(h) + "\" fill=\"" + b.colour + "\"><title>" +
           EscapeMarkup(b.label) + "</title></rect>\n";
    svg += Text(x + slot * 0.35, bottom - h - 16, Num(std::round(b.ops_per_s)), "middle", 11);
    svg += Text(x + slot * 0.35, bottom - h - 4, "p99 " + Num(b.p99_ms) + " ms", "middle", 9);
    svg += Text(x + slot * 0.35, bottom + 14, b.label, "middle", 10);
  }
  svg += Line(kLeft, bottom, kWidth - kRight, bottom, kAxisColour);
  svg += Legend(height - 20, legend);
  return svg + "</svg>\n";
}

std::string TimelineChart(std::span<const RunSummary> runs, std::string_view title) {
  double max_t = 1, max_p99 = 1;
  for (const RunSummary& run : runs) {
    for (const SecondSummary& s : run.timeline) {
      max_t = std::max(max_t, s.t_s);
      max_p99 = std::max(max_p99, s.p99_ms);
    }
  }
  const double rate_top = 40, rate_bottom = 200, lat_top = 240, lat_bottom = 400;
  const double height = 480;
  auto x_of = [&](double t) { return kLeft + t / max_t * (kWidth - kLeft - kRight); };
  // Latency on a log scale from 0.1 ms to the next power of ten above the worst second.
  const double lo_exp = -1, hi_exp = std::max(0.0, std::ceil(std::log10(max_p99)));
  auto lat_y = [&](double ms) {
    const double e = std::clamp(std::log10(std::max(ms, 0.1)), lo_exp, hi_exp);
    return lat_bottom - (e - lo_exp) / (hi_exp - lo_exp) * (lat_bottom - lat_top);
  };

  std::string svg = Open(height, title);
  // Fault intervals first, under the lines.
  for (const RunSummary& run : runs) {
    for (const FaultInterval& f : run.faults) {
      for (auto [top, bottom] :
           {std::pair{rate_top, rate_bottom}, std::pair{lat_top, lat_bottom}}) {
        svg += "<rect x=\"" + Num(x_of(f.start_s)) + "\" y=\"" + Num(top) + "\" width=\"" +
               Num(x_of(f.end_s) - x_of(f.start_s)) + "\" height=\"" + Num(bottom - top) +
               "\" fill=\"" + kFaultColour + "\" fill-opacity=\"0.08\"/>\n";
      }
      svg += Text(x_of(f.start_s) + 4, rate_top + 12, f.label, "start", 11,
                  std::string("fill=\"") + kFaultColour + "\"");
    }
  }
  svg += YAxis(rate_top, rate_bottom, 100, "success %");
  // Log latency axis: one grid line per decade.
  for (double e = lo_exp; e <= hi_exp; e += 1) {
    const double y = lat_y(std::pow(10.0, e));
    svg += Line(kLeft, y, kWidth - kRight, y, kGridColour);
    svg += Text(kLeft - 6, y + 4, Num(std::pow(10.0, e)), "end", 11);
  }
  svg += Line(kLeft, lat_top, kLeft, lat_bottom, kAxisColour);
  svg += Text(14, (lat_top + lat_bottom) / 2, "p99 ms", "middle", 12,
              "transform=\"rotate(-90 14 " + Num((lat_top + lat_bottom) / 2) + ")\"");
  // Time axis under each panel.
  const double step = NiceStep(max_t, 10);
  for (double bottom : {rate_bottom, lat_bottom}) {
    svg += Line(kLeft, bottom, kWidth - kRight, bottom, kAxisColour);
    for (double t = 0; t <= max_t * 1.0001; t += step) {
      svg += Text(x_of(t), bottom + 14, Num(t), "middle", 10);
    }
  }
  svg += Text((kLeft + kWidth - kRight) / 2, lat_bottom + 30, "seconds", "middle", 12);

  std::vector<LegendItem> legend;
  int cp_seen = 0, ap_seen = 0;
  for (const RunSummary& run : runs) {
    const std::string colour = ColourFor(run, run.mode == "cp" ? cp_seen++ : ap_seen++);
    legend.push_back({.colour = colour, .label = Label(run)});
    std::string rate_points, lat_points;
    for (const SecondSummary& s : run.timeline) {
      const double x = x_of(s.t_s);
      rate_points +=
          Num(x) + "," + Num(rate_bottom - s.success_rate() * (rate_bottom - rate_top)) + " ";
      if (s.successes > 0) lat_points += Num(x) + "," + Num(lat_y(s.p99_ms)) + " ";
    }
    for (const std::string* points : {&rate_points, &lat_points}) {
      svg += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\" points=\"" +
             *points + "\"/>\n";
    }
  }
  legend.push_back({.colour = kFaultColour, .label = "fault injected", .opacity = 0.3});
  svg += Legend(height - 12, legend);
  return svg + "</svg>\n";
}

namespace {

// A panel of lines over [top, bottom]: one polyline per series, a linear y axis from 0.
std::string Panel(double top, double bottom, double max_y, std::string_view y_title,
                  const std::map<int, std::vector<std::pair<double, double>>>& series,
                  const std::function<double(double)>& x_of) {
  static const char* kNodeColours[] = {"#1f62b4", "#e0720b", "#2ca02c", "#7f7f7f"};
  std::string svg = YAxis(top, bottom, max_y, y_title);
  svg += Line(kLeft, bottom, kWidth - kRight, bottom, kAxisColour);
  for (const auto& [node, points] : series) {
    std::string text;
    for (const auto& [t, v] : points) {
      text += Num(x_of(t)) + "," + Num(bottom - std::min(v, max_y) / max_y * (bottom - top)) + " ";
    }
    const size_t colour = static_cast<size_t>(std::max(node, 1) - 1) % std::size(kNodeColours);
    svg += "<polyline fill=\"none\" stroke=\"" + std::string(kNodeColours[colour]) +
           "\" stroke-width=\"2\" points=\"" + text + "\"/>\n";
  }
  return svg;
}

}  // namespace

std::string FootprintChart(std::span<const FootprintSample> samples, double limit_mb,
                           std::string_view title) {
  double max_t = 1, max_disk = std::max(limit_mb * 1.1, 1.0), max_rss = 1, max_p99 = 1;
  std::map<int, std::vector<std::pair<double, double>>> disk, rss;
  std::map<int, std::vector<std::pair<double, double>>> p99;
  for (const FootprintSample& s : samples) {
    max_t = std::max(max_t, s.t_s);
    max_disk = std::max(max_disk, s.disk_mb);
    max_rss = std::max(max_rss, s.rss_mb);
    disk[s.node].emplace_back(s.t_s, s.disk_mb);
    rss[s.node].emplace_back(s.t_s, s.rss_mb);
    if (s.p99_ms >= 0 && s.node == samples.front().node) {
      max_p99 = std::max(max_p99, s.p99_ms);
      p99[0].emplace_back(s.t_s, s.p99_ms);
    }
  }
  const double panel = 140, gap = 40, first_top = 40;
  const double height = first_top + 3 * panel + 2 * gap + 70;
  auto x_of = [&](double t) { return kLeft + t / max_t * (kWidth - kLeft - kRight); };
  std::string svg = Open(height, title);
  double top = first_top;
  svg += Panel(top, top + panel, max_disk * 1.05, "disk MB", disk, x_of);
  if (limit_mb > 0) {
    const double y = top + panel - limit_mb / (max_disk * 1.05) * panel;
    svg += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(y) + "\" x2=\"" + Num(kWidth - kRight) +
           "\" y2=\"" + Num(y) + "\" stroke=\"" + kFaultColour + "\" stroke-dasharray=\"6 4\"/>\n";
    svg += Text(kWidth - kRight - 4, y - 4, "target: 3x the data dir after a full compaction",
                "end", 11, std::string("fill=\"") + kFaultColour + "\"");
  }
  top += panel + gap;
  svg += Panel(top, top + panel, max_rss * 1.1, "RSS MB", rss, x_of);
  top += panel + gap;
  svg += Panel(top, top + panel, max_p99 * 1.1, "p99 ms (worst s)", p99, x_of);
  const double step = NiceStep(max_t, 10);
  for (double t = 0; t <= max_t * 1.0001; t += step) {
    svg += Text(x_of(t), top + panel + 14, Num(t), "middle", 10);
  }
  svg += Text((kLeft + kWidth - kRight) / 2, top + panel + 30, "seconds", "middle", 12);
  std::vector<LegendItem> legend;
  static const char* kNodeColours[] = {"#1f62b4", "#e0720b", "#2ca02c"};
  for (int node = 1; node <= 3; ++node) {
    if (disk.contains(node)) {
      legend.push_back({.colour = kNodeColours[node - 1], .label = "node " + std::to_string(node)});
    }
  }
  legend.push_back({.colour = "#7f7f7f", .label = "load p99 (all nodes)"});
  svg += Legend(height - 12, legend);
  return svg + "</svg>\n";
}

std::vector<FootprintSample> ReadFootprintCsv(std::string_view csv) {
  std::vector<FootprintSample> samples;
  std::istringstream in{std::string(csv)};
  std::string line;
  std::getline(in, line);  // The header.
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream row(line);
    for (std::string field; std::getline(row, field, ',');) fields.push_back(field);
    if (fields.size() < 8) continue;
    char* end = nullptr;
    FootprintSample s;
    s.t_s = std::strtod(fields[0].c_str(), &end);
    if (end == fields[0].c_str()) continue;
    s.node = std::atoi(fields[1].c_str());
    s.disk_mb = std::strtod(fields[2].c_str(), nullptr);
    s.rss_mb = std::strtod(fields[5].c_str(), nullptr);
    s.p99_ms = fields[7].empty() ? -1 : std::strtod(fields[7].c_str(), nullptr);
    samples.push_back(s);
  }
  return samples;
}

}  // namespace dialkv::bench
