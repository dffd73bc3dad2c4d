#include "jepsen-like/report/charts.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>

#include "jepsen-like/check/op_text.h"

namespace dialkv::jepsen::report {
namespace {

constexpr std::string_view kNeutral = "#666";
constexpr std::string_view kCulpritColour = "#c00000";

double Seconds(int64_t ns, int64_t origin_ns) { return static_cast<double>(ns - origin_ns) / 1e9; }

std::string_view ModeColour(Consistency mode) {
  return mode == Consistency::kAp ? kApColour : kCpColour;
}

// Markers, centred on (0,0) for legends; the scatter appends them to one path per class.
std::string DotAt(double x, double y) { return "M" + Coord(x) + " " + Coord(y) + "h0"; }
std::string CrossAt(double x, double y) {
  return "M" + Coord(x - 3.5) + " " + Coord(y - 3.5) + "l7 7m0-7l-7 7";
}
std::string TriangleAt(double x, double y) {
  return "M" + Coord(x) + " " + Coord(y - 4.5) + "l4 7h-8z";
}

std::string DotPath(std::string_view d, std::string_view colour) {
  return "<path d=\"" + std::string(d) + "\" fill=\"none\" stroke=\"" + std::string(colour) +
         "\" stroke-width=\"4\" stroke-linecap=\"round\" stroke-opacity=\"0.5\"/>";
}
std::string CrossPath(std::string_view d, std::string_view colour) {
  return "<path d=\"" + std::string(d) + "\" fill=\"none\" stroke=\"" + std::string(colour) +
         "\" stroke-width=\"1.7\"/>";
}
std::string TrianglePath(std::string_view d, std::string_view colour) {
  return "<path d=\"" + std::string(d) + "\" fill=\"#fff\" fill-opacity=\"0.7\" stroke=\"" +
         std::string(colour) + "\" stroke-width=\"1.3\"/>";
}
std::string SquareSwatch(std::string_view colour) {
  return "<rect x=\"-6\" y=\"-6\" width=\"12\" height=\"12\" fill=\"" + std::string(colour) +
         "\"/>";
}
std::string LineSwatch(std::string_view colour) {
  return "<path d=\"M-8 0h16\" stroke=\"" + std::string(colour) + "\" stroke-width=\"2.5\"/>";
}

// The x axis of the time charts, shared so both read alike.
void DrawTimeAxes(std::string& svg, const Frame& frame, const TimeAxis& axis,
                  const LinearScale& x) {
  DrawXAxis(svg, frame, x, NiceTicks(axis.lo_s, axis.hi_s, 12), "seconds since the run started");
}

std::string NoData(const Frame& frame, std::string_view text) {
  return "<text x=\"" + Coord((frame.x0() + frame.x1()) / 2) + "\" y=\"" +
         Coord((frame.y0() + frame.y1()) / 2) + "\" text-anchor=\"middle\" fill=\"#888\">" +
         Escape(text) + "</text>";
}

// A note at the top right of a chart.
std::string Note(const Frame& frame, std::string_view text) {
  return "<text x=\"" + Coord(frame.x1()) + "\" y=\"20\" text-anchor=\"end\" fill=\"#a0522d\">" +
         Escape(text) + "</text>";
}

// The operations the scatter draws: all of them, or past `max_points` a deterministic sample.
std::vector<const CompletedOp*> ScatterPoints(const std::vector<CompletedOp>& ops,
                                              const std::set<std::string, std::less<>>& keep_keys,
                                              size_t max_points, Scatter& scatter) {
  std::vector<const CompletedOp*> completed;
  for (const CompletedOp& op : ops) {
    if (op.complete_ns) completed.push_back(&op);
  }
  scatter.completed = completed.size();
  if (completed.size() <= max_points) return completed;
  scatter.sampled = true;
  const auto must_keep = [&](const CompletedOp* op) {
    return op->outcome != OpType::kOk || keep_keys.contains(op->key);
  };
  const size_t kept = std::count_if(completed.begin(), completed.end(), must_keep);
  const size_t rest = completed.size() - kept;
  const size_t budget = max_points > kept ? max_points - kept : 0;
  // Every stride-th of the others, in invocation order: an even thinning over time.
  const size_t stride = budget == 0 ? 0 : (rest + budget - 1) / budget;
  std::vector<const CompletedOp*> shown;
  size_t other = 0;
  for (const CompletedOp* op : completed) {
    // The counter advances over the others only, so the stride is even among them.
    const bool keep = must_keep(op) || (stride != 0 && other++ % stride == 0);
    if (keep) shown.push_back(op);
  }
  return shown;
}

}  // namespace

Scatter LatencyScatter(const std::vector<CompletedOp>& ops, const TimeAxis& axis,
                       const std::set<std::string, std::less<>>& keep_keys, size_t max_points) {
  Scatter scatter;
  const std::vector<const CompletedOp*> points = ScatterPoints(ops, keep_keys, max_points, scatter);
  scatter.shown = points.size();

  Frame frame;
  frame.height = 430;
  std::string& svg = scatter.svg;
  svg = OpenSvg(frame, "Latency of every completed operation");
  if (scatter.sampled) {
    svg += Note(frame, "sampled: " + std::to_string(scatter.shown) + " of " +
                           std::to_string(scatter.completed) + " operations drawn");
  }

  // One decade per tick, covering every latency drawn (1 µs at the least).
  constexpr double kMinLatencyMs = 1e-3;
  double lo_ms = std::numeric_limits<double>::max();
  double hi_ms = 0;
  for (const CompletedOp* op : points) {
    const double ms =
        std::max(static_cast<double>(*op->complete_ns - op->invoke_ns) / 1e6, kMinLatencyMs);
    lo_ms = std::min(lo_ms, ms);
    hi_ms = std::max(hi_ms, ms);
  }
  LogScale y{0, 3, frame.y1(), frame.y0()};
  if (!points.empty()) {
    y.lo_exp = static_cast<int>(std::floor(std::log10(lo_ms) + 1e-9));
    y.hi_exp = std::max(static_cast<int>(std::ceil(std::log10(hi_ms) - 1e-9)), y.lo_exp + 1);
  }
  const LinearScale x{axis.lo_s, axis.hi_s, frame.x0(), frame.x1()};

  DrawTimeAxes(svg, frame, axis, x);
  DrawLogYAxis(svg, frame, y, "latency (ms, log scale)");
  DrawBands(svg, frame, x, axis.bands);

  // One path per (mode, outcome): compact for thousands of points.
  std::map<std::pair<Consistency, OpType>, std::string> paths;
  for (const CompletedOp* op : points) {
    const double px = x(Seconds(op->invoke_ns, axis.origin_ns));
    const double py = y(static_cast<double>(*op->complete_ns - op->invoke_ns) / 1e6);
    std::string& d = paths[{op->mode, op->outcome}];
    switch (op->outcome) {
      case OpType::kOk:
        d += DotAt(px, py);
        break;
      case OpType::kFail:
        d += CrossAt(px, py);
        break;
      default:
        d += TriangleAt(px, py);
        break;
    }
  }
  // ok below, the rarer outcomes on top.
  for (OpType outcome : {OpType::kOk, OpType::kInfo, OpType::kFail}) {
    for (Consistency mode : {Consistency::kCp, Consistency::kAp}) {
      auto it = paths.find({mode, outcome});
      if (it == paths.end()) continue;
      const std::string_view colour = ModeColour(mode);
      svg += outcome == OpType::kOk     ? DotPath(it->second, colour)
             : outcome == OpType::kFail ? CrossPath(it->second, colour)
                                        : TrianglePath(it->second, colour);
    }
  }
  if (points.empty()) svg += NoData(frame, "no completed operations");

  const std::vector<LegendItem> legend = {
      {SquareSwatch(kCpColour), "cp"},
      {SquareSwatch(kApColour), "ap"},
      {"<circle r=\"3.5\" fill=\"" + std::string(kNeutral) + "\" fill-opacity=\"0.6\"/>", "ok"},
      {CrossPath(CrossAt(0, 0), kNeutral), "fail (did not happen)"},
      {TrianglePath(TriangleAt(0, 1.5), kNeutral), "info (may have happened)"},
      {BandSwatch(), "nemesis active"},
  };
  DrawLegend(svg, frame, legend);
  svg += "</svg>";
  return scatter;
}

std::string ThroughputChart(const std::vector<CompletedOp>& ops, const TimeAxis& axis) {
  Frame frame;
  frame.height = 360;
  std::string svg = OpenSvg(frame, "Throughput: ok operations per second (1 s buckets)");

  // Buckets [i, i+1) s after the origin; a last partial bucket counts when it is at least a
  // quarter second long, its rate scaled to its length.
  double end_s = 0;
  for (const CompletedOp& op : ops) {
    end_s = std::max(end_s, Seconds(op.complete_ns.value_or(op.invoke_ns), axis.origin_ns));
  }
  const size_t full = static_cast<size_t>(std::floor(end_s));
  const double partial = end_s - static_cast<double>(full);
  const size_t buckets = full + (partial >= 0.25 ? 1 : 0);
  const auto width_s = [&](size_t b) { return b < full ? 1.0 : partial; };
  std::map<Consistency, std::vector<double>> rates;
  for (const CompletedOp& op : ops) {
    if (op.outcome != OpType::kOk || !op.complete_ns) continue;
    const double t = Seconds(*op.complete_ns, axis.origin_ns);
    if (t < 0) continue;
    const size_t b = static_cast<size_t>(std::floor(t));
    if (b >= buckets) continue;
    std::vector<double>& r = rates[op.mode];
    r.resize(buckets, 0.0);
    r[b] += 1;
  }
  double max_rate = 0;
  for (auto& [mode, r] : rates) {
    for (size_t b = 0; b < r.size(); ++b) {
      r[b] /= width_s(b);
      max_rate = std::max(max_rate, r[b]);
    }
  }

  const LinearScale x{axis.lo_s, axis.hi_s, frame.x0(), frame.x1()};
  const Ticks y_ticks = NiceTicks(0, std::max(max_rate * 1.05, 1.0), 6);
  const LinearScale y{0, std::max(y_ticks.values.back(), std::max(max_rate * 1.05, 1.0)),
                      frame.y1(), frame.y0()};
  DrawTimeAxes(svg, frame, axis, x);
  DrawYAxis(svg, frame, y, y_ticks, "ok operations / s");
  DrawBands(svg, frame, x, axis.bands);

  std::vector<LegendItem> legend;
  for (Consistency mode : {Consistency::kCp, Consistency::kAp}) {
    auto it = rates.find(mode);
    if (it == rates.end()) continue;
    std::string points;
    for (size_t b = 0; b < it->second.size(); ++b) {
      const double mid = static_cast<double>(b) + width_s(b) / 2;
      points += (b == 0 ? "" : " ") + Coord(x(mid)) + "," + Coord(y(it->second[b]));
    }
    const std::string colour(ModeColour(mode));
    svg += "<polyline points=\"";
    svg += points;
    svg +=
        "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>";
    legend.push_back({LineSwatch(colour), std::string(ConsistencyName(mode))});
  }
  if (rates.empty()) svg += NoData(frame, "no ok operations");
  legend.push_back({BandSwatch(), "nemesis active"});
  DrawLegend(svg, frame, legend);
  svg += "</svg>";
  return svg;
}

std::string AvailabilityChart(const AvailabilityResult& availability) {
  constexpr double kRowPx = 34;
  Frame frame;
  frame.left = 200;
  frame.right = 330;  // Room for the figures printed after the bars.
  frame.top = 40;
  frame.bottom = 46;

  struct Row {
    Consistency mode;
    std::string label;
    const AvailabilityCounts* counts;
    bool solid;  // The faulty rows; the quiet ones are lighter.
  };
  std::vector<Row> rows = {
      {Consistency::kCp, "cp, during faults", &availability.cp.during_faults, true},
      {Consistency::kCp, "cp, outside faults", &availability.cp.outside_faults, false},
      {Consistency::kAp, "ap, during faults", &availability.ap.during_faults, true},
      {Consistency::kAp, "ap, outside faults", &availability.ap.outside_faults, false},
  };
  // The two sides of the partitions, when the run had any.
  for (const auto& [mode, m] : {std::pair{Consistency::kCp, &availability.cp},
                                std::pair{Consistency::kAp, &availability.ap}}) {
    if (m->partition_majority_side.total() + m->partition_minority_side.total() == 0) continue;
    const std::string name(ConsistencyName(mode));
    rows.push_back({mode, name + ", partitions: majority", &m->partition_majority_side, true});
    rows.push_back({mode, name + ", partitions: minority", &m->partition_minority_side, true});
  }
  frame.height = frame.top + static_cast<double>(rows.size()) * kRowPx + frame.bottom;
  std::string svg = OpenSvg(frame, "Availability: ok / (ok + fail + info)");
  const LinearScale x{0, 1, frame.x0(), frame.x1()};
  Ticks ticks = NiceTicks(0, 100, 6);
  const LinearScale x_percent{0, 100, frame.x0(), frame.x1()};
  DrawXAxis(svg, frame, x_percent, ticks, "% of operations that completed ok");

  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const double top = frame.y0() + static_cast<double>(i) * kRowPx + 6;
    const double bar_h = kRowPx - 14;
    svg += "<text x=\"" + Coord(frame.x0() - 10) + "\" y=\"" + Coord(top + bar_h / 2 + 4) +
           "\" text-anchor=\"end\">" + Escape(row.label) + "</text>";
    const std::optional<double> ratio = row.counts->availability();
    std::string figure = "no operations";
    double end = frame.x0();
    if (ratio) {
      end = x(*ratio);
      const std::string colour(ModeColour(row.mode));
      svg += "<rect x=\"" + Coord(frame.x0()) + "\" y=\"" + Coord(top) + "\" width=\"" +
             Coord(end - frame.x0()) + "\" height=\"" + Coord(bar_h) + "\" fill=\"" + colour +
             "\"" + (row.solid ? "" : " fill-opacity=\"0.6\"") + "/>";
      figure = Percent(*ratio) + "  (" + std::to_string(row.counts->ok) + " ok of " +
               std::to_string(row.counts->total()) + "; " + std::to_string(row.counts->fail) +
               " fail, " + std::to_string(row.counts->info) + " info)";
    }
    svg += "<text x=\"" + Coord(end + 6) + "\" y=\"" + Coord(top + bar_h / 2 + 4) + "\"" +
           (ratio ? " font-weight=\"bold\"" : " fill=\"#888\"") + ">" + Escape(figure) + "</text>";
  }
  svg += "</svg>";
  return svg;
}

std::string WitnessTimeline(const LinearizabilityWitness& witness, int64_t origin_ns) {
  constexpr double kRowPx = 46;
  constexpr double kFontPx = 11;
  std::vector<int64_t> processes;  // Rows, by first appearance.
  double lo = std::numeric_limits<double>::max();
  double hi = std::numeric_limits<double>::lowest();
  const auto ms = [&](int64_t ns) { return static_cast<double>(ns - origin_ns) / 1e6; };
  for (const CompletedOp& op : witness.ops) {
    if (std::find(processes.begin(), processes.end(), op.process) == processes.end()) {
      processes.push_back(op.process);
    }
    lo = std::min(lo, ms(op.invoke_ns));
    hi = std::max(hi, ms(op.complete_ns.value_or(op.invoke_ns)));
  }
  if (witness.ops.empty()) lo = hi = 0;
  if (hi <= lo) hi = lo + 1;
  // Operations that may still take effect run on past the last completion.
  const bool any_open = std::any_of(witness.ops.begin(), witness.ops.end(), [](const auto& op) {
    return op.outcome == OpType::kInfo || !op.complete_ns;
  });
  const double open_end = any_open ? hi + (hi - lo) * 0.12 : hi;
  const double pad = (open_end - lo) * 0.03;

  Frame frame;
  frame.left = 70;
  frame.top = 40;
  frame.bottom = 84;
  frame.height = frame.top + static_cast<double>(std::max<size_t>(processes.size(), 1)) * kRowPx +
                 frame.bottom;
  std::string svg = OpenSvg(frame, "Witness timeline");
  const LinearScale x{lo - pad, open_end + pad, frame.x0(), frame.x1()};
  DrawXAxis(svg, frame, x, NiceTicks(lo - pad, open_end + pad, 10), "ms since the run started");

  // Each row's right-most label end, above and below the bars, to alternate when crowded.
  std::vector<std::array<double, 2>> label_end(processes.size(), {-1e9, -1e9});
  for (size_t r = 0; r < processes.size(); ++r) {
    const double top = frame.y0() + static_cast<double>(r) * kRowPx;
    svg += "<text x=\"" + Coord(frame.x0() - 10) + "\" y=\"" + Coord(top + 27) +
           "\" text-anchor=\"end\" font-weight=\"bold\">p" + std::to_string(processes[r]) +
           "</text>";
    if (r > 0)
      svg += "<path d=\"M" + Coord(frame.x0()) + " " + Coord(top) + "H" + Coord(frame.x1()) +
             "\" stroke=\"#eee\"/>";
  }
  for (size_t i = 0; i < witness.ops.size(); ++i) {
    const CompletedOp& op = witness.ops[i];
    const size_t r = std::find(processes.begin(), processes.end(), op.process) - processes.begin();
    const double top = frame.y0() + static_cast<double>(r) * kRowPx;
    const bool open = op.outcome == OpType::kInfo || !op.complete_ns;
    const double a = x(ms(op.invoke_ns));
    const double b = open ? x(open_end) : std::max(x(ms(*op.complete_ns)), a + 4);
    const bool culprit = witness.culprit == i;
    const std::string colour(op.outcome == OpType::kFail ? "#999" : ModeColour(op.mode));
    std::string style = " fill=\"" + colour + "\"";
    if (open) style += " fill-opacity=\"0.3\" stroke-dasharray=\"4 3\"";
    if (culprit) {
      style += " stroke=\"" + std::string(kCulpritColour) + "\" stroke-width=\"2.5\"";
    } else if (open) {
      style += " stroke=\"" + colour + "\"";
    }
    svg += "<rect x=\"" + Coord(a) + "\" y=\"" + Coord(top + 17) + "\" width=\"" + Coord(b - a) +
           "\" height=\"13\" rx=\"2\"" + style + "/>";
    std::string label = internal::DescribeOp(op);
    if (op.outcome != OpType::kOk) label += " (" + std::string(OpTypeName(op.outcome)) + ")";
    if (culprit) label += "  <- culprit";
    const double width = TextWidth(label, kFontPx);
    const int slot = label_end[r][0] + 6 <= a ? 0 : label_end[r][1] + 6 <= a ? 1 : 0;
    // A label that would run off the right edge ends at its bar's end instead.
    const bool flip = a + width > frame.width - 4;
    const double lx = flip ? b : a;
    label_end[r][slot] = flip ? b : a + width;
    const double ly = slot == 0 ? top + 13 : top + 42;
    svg += "<text x=\"" + Coord(lx) + "\" y=\"" + Coord(ly) + "\" font-size=\"" + Coord(kFontPx) +
           "\"" + (flip ? " text-anchor=\"end\"" : "") +
           (culprit ? " fill=\"" + std::string(kCulpritColour) + "\" font-weight=\"bold\"" : "") +
           ">" + Escape(label) + "</text>";
  }
  const std::vector<LegendItem> legend = {
      {"<rect x=\"-8\" y=\"-6\" width=\"16\" height=\"12\" rx=\"2\" fill=\"" +
           std::string(kCpColour) + "\"/>",
       "invocation to ok completion"},
      {"<rect x=\"-8\" y=\"-6\" width=\"16\" height=\"12\" rx=\"2\" fill=\"" +
           std::string(kCpColour) + "\" fill-opacity=\"0.3\" stroke=\"" + std::string(kCpColour) +
           "\" stroke-dasharray=\"4 3\"/>",
       "info: may take effect any time after invocation"},
      {"<rect x=\"-8\" y=\"-6\" width=\"16\" height=\"12\" rx=\"2\" fill=\"#fff\" stroke=\"" +
           std::string(kCulpritColour) + "\" stroke-width=\"2.5\"/>",
       "culprit: cannot be linearized"},
  };
  DrawLegend(svg, frame, legend);
  svg += "</svg>";
  return svg;
}

}  // namespace dialkv::jepsen::report
