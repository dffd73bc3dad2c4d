#include "bench/load/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
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

namespace {

// One line of a timeline panel. `id` names it in the SVG (data-series), so a reader of the
// file, or a test, can find each series.
struct Series {
  std::string id = {}, colour = {};
  std::vector<std::pair<double, double>> points = {};  // (t_s, value)
  bool dashed = false;
  double width = 2;
};

// The colour of the errors of `code` (successes are drawn in the run's colour).
std::string ErrorColour(std::string_view code) {
  if (code == "UNAVAILABLE") return "#d62728";
  if (code == "TIMEOUT") return "#9467bd";
  if (code == "UNKNOWN") return "#8c564b";
  if (code == "OVERLOADED") return "#7f7f7f";
  return "#222222";
}

// Time axis from 0 to `max_t` over the plot's width.
struct TimeAxis {
  double max_t = 1;
  double X(double t) const { return kLeft + t / max_t * (kWidth - kLeft - kRight); }
};

// A panel over [top, bottom] with a y axis from 0 to `max_y` (log10 from 0.1 when `log`), the
// faults shaded, the time axis under it, a title above it, and one polyline per series.
std::string TimePanel(double top, double bottom, const TimeAxis& time, double max_y, bool log,
                      std::string_view y_title, std::string_view panel_title,
                      std::span<const FaultInterval> faults, const std::vector<Series>& series) {
  std::string svg;
  for (const FaultInterval& f : faults) {
    svg += "<rect x=\"" + Num(time.X(f.start_s)) + "\" y=\"" + Num(top) + "\" width=\"" +
           Num(time.X(f.end_s) - time.X(f.start_s)) + "\" height=\"" + Num(bottom - top) +
           "\" fill=\"" + kFaultColour + "\" fill-opacity=\"0.08\"/>\n";
  }
  svg += Text(kLeft, top - 6, panel_title, "start", 12, "font-weight=\"bold\"");
  const double lo_exp = -1, hi_exp = std::max(0.0, std::ceil(std::log10(std::max(max_y, 1.0))));
  auto y_of = [&](double v) {
    if (!log) return bottom - std::min(v, max_y) / max_y * (bottom - top);
    const double e = std::clamp(std::log10(std::max(v, 0.1)), lo_exp, hi_exp);
    return bottom - (e - lo_exp) / (hi_exp - lo_exp) * (bottom - top);
  };
  if (log) {
    for (double e = lo_exp; e <= hi_exp; e += 1) {
      const double y = y_of(std::pow(10.0, e));
      svg += Line(kLeft, y, kWidth - kRight, y, kGridColour);
      svg += Text(kLeft - 6, y + 4, Num(std::pow(10.0, e)), "end", 11);
    }
    svg += Line(kLeft, top, kLeft, bottom, kAxisColour);
    svg += Text(14, (top + bottom) / 2, y_title, "middle", 12,
                "transform=\"rotate(-90 14 " + Num((top + bottom) / 2) + ")\"");
  } else {
    svg += YAxis(top, bottom, max_y, y_title);
  }
  svg += Line(kLeft, bottom, kWidth - kRight, bottom, kAxisColour);
  const double step = NiceStep(time.max_t, 10);
  for (double t = 0; t <= time.max_t * 1.0001; t += step) {
    svg += Text(time.X(t), bottom + 14, Num(t), "middle", 10);
  }
  for (const Series& line : series) {
    std::string points;
    for (const auto& [t, v] : line.points) points += Num(time.X(t)) + "," + Num(y_of(v)) + " ";
    svg += "<polyline data-series=\"" + EscapeMarkup(line.id) + "\" fill=\"none\" stroke=\"" +
           line.colour + "\" stroke-width=\"" + Num(line.width) + "\"" +
           (line.dashed ? " stroke-dasharray=\"6 3\"" : "") + " points=\"" + points + "\"/>\n";
  }
  return svg;
}

// A y axis maximum a little above `max`, on a tick.
double RoundUp(double max) {
  const double step = NiceStep(std::max(max, 1.0), 5);
  return std::ceil(std::max(max, 1.0) / step) * step;
}

}  // namespace

std::string TimelineChart(std::span<const RunSummary> runs, std::string_view title) {
  TimeAxis time;
  double max_p99 = 1;
  for (const RunSummary& run : runs) {
    for (const SecondSummary& s : run.timeline) {
      time.max_t = std::max(time.max_t, s.t_s);
      max_p99 = std::max(max_p99, s.p99_ms);
    }
  }
  constexpr double kPanel = 120, kGap = 50, kFirstTop = 80;
  const double height = kFirstTop + static_cast<double>(runs.size() + 3) * (kPanel + kGap) + 50;
  std::string svg = Open(height, title);
  svg += Text(kLeft, 42,
              "Solid lines: clients that started at a node of the majority; dashed: clients that "
              "started at the isolated node.",
              "start", 12);
  double top = kFirstTop;
  std::vector<FaultInterval> all_faults;
  std::vector<std::string> colours;
  int cp_seen = 0, ap_seen = 0;
  for (const RunSummary& run : runs) {
    colours.push_back(ColourFor(run, run.mode == "cp" ? cp_seen++ : ap_seen++));
    all_faults.insert(all_faults.end(), run.faults.begin(), run.faults.end());
  }

  // One panel per run: successes per second of each side's clients, and errors per code.
  std::set<std::string> codes_drawn;
  for (size_t r = 0; r < runs.size(); ++r) {
    const RunSummary& run = runs[r];
    const std::string label = RunLabel(run);
    std::vector<Series> series;
    double max_y = 1;
    const auto add_successes = [&](const std::vector<SecondSummary>& timeline,
                                   const std::string& side, bool dashed) {
      Series line{.id = label + "|ops/s|" + side, .colour = colours[r], .dashed = dashed};
      for (const SecondSummary& s : timeline) {
        line.points.emplace_back(s.t_s, static_cast<double>(s.successes));
        max_y = std::max(max_y, static_cast<double>(s.successes));
      }
      series.push_back(std::move(line));
    };
    if (run.sides.empty()) {
      add_successes(run.timeline, "all", false);
    } else {
      for (const SideSummary& side : run.sides) {
        add_successes(side.timeline, side.side, side.side == "isolated");
      }
    }
    std::set<std::string> codes;
    for (const SecondSummary& s : run.timeline) {
      for (const auto& [code, count] : s.errors_by_code) codes.insert(code);
    }
    for (const std::string& code : codes) {
      Series line{.id = label + "|errors/s|" + code, .colour = ErrorColour(code), .width = 1.5};
      for (const SecondSummary& s : run.timeline) {
        const auto it = s.errors_by_code.find(code);
        const double n = it == s.errors_by_code.end() ? 0 : static_cast<double>(it->second);
        line.points.emplace_back(s.t_s, n);
        max_y = std::max(max_y, n);
      }
      series.push_back(std::move(line));
      codes_drawn.insert(code);
    }
    const std::string panel_title = label + " (" + run.variant + "): ops/s";
    svg += TimePanel(top, top + kPanel, time, RoundUp(max_y * 1.05), false, "ops/s", panel_title,
                     run.faults, series);
    std::string notes;
    if (!run.faults.empty()) {
      const FaultInterval& f = run.faults.front();
      const WindowTotals during = Totals(run.timeline, f.start_s, f.end_s);
      if (during.checked_reads > 0)
        notes += "stale reads in the fault " + Num(100 * during.stale_rate()) + "%";
      const std::optional<double> recovery = RecoverySeconds(run);
      notes += std::string(notes.empty() ? "" : " · ") +
               (recovery ? "back to 95% " + Num(*recovery) + " s after healing"
                         : "not back to 95% by the end");
    }
    svg += Text(kWidth - kRight, top - 6, notes, "end", 11);
    top += kPanel + kGap;
  }

  // Success rate of each side's clients, stale reads, p99: every run in one panel each.
  std::vector<Series> rate, stale, p99;
  for (size_t r = 0; r < runs.size(); ++r) {
    const RunSummary& run = runs[r];
    const std::string label = RunLabel(run);
    const auto add_rate = [&](const std::vector<SecondSummary>& timeline, const std::string& side,
                              bool dashed) {
      Series line{.id = label + "|success%|" + side, .colour = colours[r], .dashed = dashed};
      for (const SecondSummary& s : timeline)
        line.points.emplace_back(s.t_s, 100 * s.success_rate());
      rate.push_back(std::move(line));
    };
    if (run.sides.empty()) {
      add_rate(run.timeline, "all", false);
    } else {
      for (const SideSummary& side : run.sides)
        add_rate(side.timeline, side.side, side.side == "isolated");
    }
    Series stale_line{.id = label + "|stale%|all", .colour = colours[r]};
    for (const SecondSummary& s : run.timeline) {
      if (s.checked_reads == 0) continue;
      stale_line.points.emplace_back(
          s.t_s, 100 * static_cast<double>(s.stale_reads) / static_cast<double>(s.checked_reads));
    }
    if (!stale_line.points.empty()) stale.push_back(std::move(stale_line));
    Series p99_line{.id = label + "|p99|all", .colour = colours[r]};
    for (const SecondSummary& s : run.timeline) {
      if (s.successes > 0) p99_line.points.emplace_back(s.t_s, s.p99_ms);
    }
    p99.push_back(std::move(p99_line));
  }
  svg += TimePanel(top, top + kPanel, time, 100, false, "success %",
                   "operations served, % per second", all_faults, rate);
  top += kPanel + kGap;
  double max_stale = 1;
  for (const Series& line : stale) {
    for (const auto& [t, v] : line.points) max_stale = std::max(max_stale, v);
  }
  svg += TimePanel(top, top + kPanel, time, RoundUp(max_stale * 1.1), false, "stale %",
                   "reads that returned a value older than one acknowledged before they began, "
                   "% per second",
                   all_faults, stale);
  top += kPanel + kGap;
  svg += TimePanel(top, top + kPanel, time, max_p99, true, "p99 ms",
                   "p99 latency of served operations (log scale)", all_faults, p99);
  top += kPanel;
  svg += Text((kLeft + kWidth - kRight) / 2, top + 30, "seconds", "middle", 12);

  std::vector<LegendItem> run_legend, error_legend;
  for (size_t r = 0; r < runs.size(); ++r) {
    run_legend.push_back({.colour = colours[r], .label = RunLabel(runs[r])});
  }
  for (const std::string& code : codes_drawn) {
    error_legend.push_back({.colour = ErrorColour(code), .label = code + " per second"});
  }
  error_legend.push_back(
      {.colour = kFaultColour,
       .label = all_faults.empty() ? std::string("fault") : "fault: " + all_faults.front().label,
       .opacity = 0.3});
  svg += Legend(height - 32, run_legend);
  svg += Legend(height - 12, error_legend);
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
