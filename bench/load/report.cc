#include "bench/load/report.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

namespace dialkv::bench {
namespace {

constexpr double kNsPerMs = 1e6;

double Ms(uint64_t ns) { return static_cast<double>(ns) / kNsPerMs; }

LatencySummary Latency(const Histogram& h) {
  return {.mean_ms = h.mean_ns() / kNsPerMs,
          .p50_ms = Ms(h.Percentile(0.50)),
          .p90_ms = Ms(h.Percentile(0.90)),
          .p99_ms = Ms(h.Percentile(0.99)),
          .p999_ms = Ms(h.Percentile(0.999)),
          .max_ms = Ms(h.max_ns())};
}

OpSummary SummarizeOp(std::string name, const OpStats& stats, double seconds) {
  OpSummary s;
  s.op = std::move(name);
  s.ops = stats.successes();
  s.errors = stats.errors();
  s.ops_per_s = seconds > 0 ? static_cast<double>(s.ops) / seconds : 0;
  s.latency = Latency(stats.latency);
  for (int c = 0; c < kNumCodes; ++c) {
    if (stats.by_code[c] != 0)
      s.by_code[std::string(CodeName(static_cast<Code>(c)))] = stats.by_code[c];
  }
  return s;
}

std::string Format(const char* format, double value) {
  char out[64];
  std::snprintf(out, sizeof(out), format, value);
  return out;
}

// 1234567.8 -> "1,234,568".
std::string Thousands(double value) {
  std::string digits = Format("%.0f", value);
  std::string out;
  const size_t n = digits.size();
  for (size_t i = 0; i < n; ++i) {
    out += digits[i];
    if (digits[0] != '-' && (n - i - 1) % 3 == 0 && i + 1 < n) out += ',';
  }
  return out;
}

std::string LatencyMs(double ms) { return Format(ms < 10 ? "%.3f" : "%.1f", ms); }

std::string ErrorText(const OpSummary& op) {
  std::string out;
  for (const auto& [code, count] : op.by_code) {
    if (code == "OK" || code == "NOT_FOUND") continue;
    out += (out.empty() ? "" : ", ") + code + " " + std::to_string(count);
  }
  return out.empty() ? "0" : out;
}

std::string PadRight(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}
std::string PadLeft(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

template <typename T>
Status Field(const nlohmann::json& json, const char* name, T* out) {
  const auto it = json.find(name);
  if (it == json.end())
    return Status::InvalidArgument(std::string("missing field \"") + name + "\"");
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("field \"") + name + "\": " + e.what());
  }
  return Status::Ok();
}

// The errors of `counts` by code name.
std::map<std::string, uint64_t> ErrorsByCode(const std::array<uint64_t, kNumCodes>& counts) {
  std::map<std::string, uint64_t> out;
  for (int c = 0; c < kNumCodes; ++c) {
    if (counts[c] != 0) out[std::string(CodeName(static_cast<Code>(c)))] = counts[c];
  }
  return out;
}

std::vector<SecondSummary> Timeline(const std::vector<SecondStats>& seconds, size_t length) {
  std::vector<SecondSummary> out;
  for (size_t i = 0; i < length; ++i) {
    static const SecondStats kEmpty;
    const SecondStats& s = i < seconds.size() ? seconds[i] : kEmpty;
    out.push_back({.t_s = static_cast<double>(i + 1),
                   .successes = s.successes,
                   .errors = s.errors,
                   .p50_ms = Ms(s.latency.Percentile(0.5)),
                   .p99_ms = Ms(s.latency.Percentile(0.99)),
                   .errors_by_code = ErrorsByCode(s.errors_by_code),
                   .checked_reads = s.checked_reads,
                   .stale_reads = s.stale_reads});
  }
  return out;
}

nlohmann::ordered_json TimelineJson(const std::vector<SecondSummary>& timeline) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const SecondSummary& s : timeline) {
    nlohmann::ordered_json e = {{"t_s", s.t_s},       {"successes", s.successes},
                                {"errors", s.errors}, {"p50_ms", s.p50_ms},
                                {"p99_ms", s.p99_ms}, {"errors_by_code", s.errors_by_code}};
    if (s.checked_reads > 0) {
      e["checked_reads"] = s.checked_reads;
      e["stale_reads"] = s.stale_reads;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Fields added to the JSON after its first form are optional: older result files still load.
template <typename T>
Status OptionalField(const nlohmann::json& json, const char* name, T* out) {
  return json.contains(name) ? Field(json, name, out) : Status::Ok();
}

Result<std::vector<SecondSummary>> TimelineFromJson(const nlohmann::json& json) {
  std::vector<SecondSummary> out;
  if (!json.is_array()) return Status::InvalidArgument("a timeline is not an array");
  for (const auto& e : json) {
    SecondSummary sec;
    Status s = Field(e, "t_s", &sec.t_s);
    if (s.ok()) s = Field(e, "successes", &sec.successes);
    if (s.ok()) s = Field(e, "errors", &sec.errors);
    if (s.ok()) s = Field(e, "p50_ms", &sec.p50_ms);
    if (s.ok()) s = Field(e, "p99_ms", &sec.p99_ms);
    if (s.ok()) s = OptionalField(e, "errors_by_code", &sec.errors_by_code);
    if (s.ok()) s = OptionalField(e, "checked_reads", &sec.checked_reads);
    if (s.ok()) s = OptionalField(e, "stale_reads", &sec.stale_reads);
    if (!s.ok()) return Status::InvalidArgument("timeline: " + s.message());
    out.push_back(std::move(sec));
  }
  return out;
}

std::string Percent(double fraction) { return Format("%.1f%%", 100 * fraction); }

// "1,234 ok, UNAVAILABLE 14, TIMEOUT 21 (98.1% served)".
std::string Outcomes(const WindowTotals& t) {
  std::string out = Thousands(static_cast<double>(t.successes)) + " ok";
  for (const auto& [code, count] : t.errors_by_code) {
    out += ", " + code + " " + Thousands(static_cast<double>(count));
  }
  return out + " (" + Percent(t.success_rate()) + " served)";
}

}  // namespace

double SecondSummary::success_rate() const {
  const uint64_t total = successes + errors;
  return total == 0 ? 1.0 : static_cast<double>(successes) / static_cast<double>(total);
}

const OpSummary* RunSummary::Find(std::string_view op_name) const {
  for (const OpSummary& o : ops) {
    if (o.op == op_name) return &o;
  }
  return nullptr;
}

RunSummary Summarize(const RunStats& stats, double seconds, std::string system, std::string mode,
                     std::string variant) {
  RunSummary run;
  run.system = std::move(system);
  run.mode = std::move(mode);
  run.variant = std::move(variant);
  run.seconds = seconds;
  int kinds = 0;
  for (OpKind kind : {OpKind::kPut, OpKind::kGet}) {
    if (stats.op(kind).total() == 0) continue;
    run.ops.push_back(SummarizeOp(std::string(OpName(kind)), stats.op(kind), seconds));
    ++kinds;
  }
  if (kinds > 1) run.ops.push_back(SummarizeOp("all", stats.all(), seconds));
  const size_t length = stats.seconds().size();
  run.timeline = Timeline(stats.seconds(), length);
  if (stats.has(Side::kIsolated)) {
    for (Side side : {Side::kIsolated, Side::kMajority}) {
      run.sides.push_back({std::string(SideName(side)), Timeline(stats.seconds(side), length)});
    }
  }
  return run;
}

const SideSummary* RunSummary::FindSide(std::string_view name) const {
  for (const SideSummary& side : sides) {
    if (side.side == name) return &side;
  }
  return nullptr;
}

std::string RunLabel(const RunSummary& run) {
  return run.system + " " + run.mode + (run.failover ? "" : ", no failover");
}

double WindowTotals::success_rate() const {
  const uint64_t total = successes + errors;
  return total == 0 ? 1.0 : static_cast<double>(successes) / static_cast<double>(total);
}

double WindowTotals::stale_rate() const {
  return checked_reads == 0 ? 0.0
                            : static_cast<double>(stale_reads) / static_cast<double>(checked_reads);
}

WindowTotals Totals(std::span<const SecondSummary> timeline, double from_s, double to_s) {
  WindowTotals t;
  for (const SecondSummary& s : timeline) {
    const double middle = s.t_s - 0.5;
    if (middle < from_s || middle >= to_s) continue;
    ++t.seconds;
    t.successes += s.successes;
    t.errors += s.errors;
    t.checked_reads += s.checked_reads;
    t.stale_reads += s.stale_reads;
    for (const auto& [code, count] : s.errors_by_code) t.errors_by_code[code] += count;
  }
  return t;
}

std::optional<double> RecoverySeconds(const RunSummary& run) {
  if (run.faults.empty()) return std::nullopt;
  const FaultInterval& fault = run.faults.front();
  double before = 0;
  size_t seconds_before = 0;
  for (const SecondSummary& s : run.timeline) {
    if (s.t_s > fault.start_s) break;
    before += static_cast<double>(s.successes);
    ++seconds_before;
  }
  if (seconds_before == 0) return std::nullopt;
  const double target = 0.95 * before / static_cast<double>(seconds_before);
  for (const SecondSummary& s : run.timeline) {
    if (s.t_s - 1 < fault.end_s) continue;  // Not a whole second after healing.
    if (static_cast<double>(s.successes) >= target) return s.t_s - fault.end_s;
  }
  return std::nullopt;
}

std::string PartitionText(std::span<const RunSummary> runs) {
  std::string out;
  for (const RunSummary& run : runs) {
    if (run.faults.empty()) continue;
    const FaultInterval& fault = run.faults.front();
    const double end = run.timeline.empty() ? fault.end_s : run.timeline.back().t_s;
    out += RunLabel(run) + " (" + run.variant + "), " + fault.label + " from " +
           Format("%.1f", fault.start_s) + " s to " + Format("%.1f", fault.end_s) + " s:\n";
    const WindowTotals before = Totals(run.timeline, 0, fault.start_s);
    const WindowTotals during = Totals(run.timeline, fault.start_s, fault.end_s);
    const WindowTotals after = Totals(run.timeline, fault.end_s, end + 1);
    const auto per_s = [](const WindowTotals& t) {
      return t.seconds == 0 ? 0.0
                            : static_cast<double>(t.successes) / static_cast<double>(t.seconds);
    };
    out += "  throughput " + Thousands(per_s(before)) + " ops/s before, " +
           Thousands(per_s(during)) + " during, " + Thousands(per_s(after)) + " after\n";
    for (const SideSummary& side : run.sides) {
      out += "  during the fault, clients of the " +
             std::string(side.side == "isolated" ? "isolated node" : "majority") + ": " +
             Outcomes(Totals(side.timeline, fault.start_s, fault.end_s)) +
             "; outside it: " + Outcomes([&] {
               WindowTotals t = Totals(side.timeline, 0, fault.start_s);
               const WindowTotals later = Totals(side.timeline, fault.end_s, end + 1);
               t.successes += later.successes;
               t.errors += later.errors;
               for (const auto& [code, count] : later.errors_by_code)
                 t.errors_by_code[code] += count;
               return t;
             }()) +
             "\n";
    }
    if (during.checked_reads + after.checked_reads > 0) {
      out += "  stale reads: " + Thousands(static_cast<double>(during.stale_reads)) + " of " +
             Thousands(static_cast<double>(during.checked_reads)) + " during the fault (" +
             Percent(during.stale_rate()) + "), " +
             Thousands(static_cast<double>(after.stale_reads)) + " of " +
             Thousands(static_cast<double>(after.checked_reads)) + " after it (" +
             Percent(after.stale_rate()) + ")\n";
    }
    const std::optional<double> recovery = RecoverySeconds(run);
    out += recovery.has_value()
               ? "  back to 95% of the throughput before the fault within " +
                     Format("%.1f", *recovery) + " s of healing\n"
               : std::string(
                     "  not back to 95% of the throughput before the fault by the end of "
                     "the run\n");
  }
  return out;
}

nlohmann::ordered_json ToJson(const RunSummary& run) {
  nlohmann::ordered_json j;
  j["system"] = run.system;
  j["mode"] = run.mode;
  j["variant"] = run.variant;
  j["seconds"] = run.seconds;
  j["ops"] = nlohmann::ordered_json::array();
  for (const OpSummary& o : run.ops) {
    j["ops"].push_back({{"op", o.op},
                        {"ops", o.ops},
                        {"errors", o.errors},
                        {"ops_per_s", o.ops_per_s},
                        {"mean_ms", o.latency.mean_ms},
                        {"p50_ms", o.latency.p50_ms},
                        {"p90_ms", o.latency.p90_ms},
                        {"p99_ms", o.latency.p99_ms},
                        {"p999_ms", o.latency.p999_ms},
                        {"max_ms", o.latency.max_ms},
                        {"by_code", o.by_code}});
  }
  j["timeline"] = TimelineJson(run.timeline);
  j["faults"] = nlohmann::ordered_json::array();
  for (const FaultInterval& f : run.faults) {
    j["faults"].push_back({{"start_s", f.start_s}, {"end_s", f.end_s}, {"label", f.label}});
  }
  j["failover"] = run.failover;
  if (!run.sides.empty()) {
    j["sides"] = nlohmann::ordered_json::array();
    for (const SideSummary& side : run.sides) {
      j["sides"].push_back({{"side", side.side}, {"timeline", TimelineJson(side.timeline)}});
    }
  }
  if (const std::optional<double> recovery = RecoverySeconds(run); recovery.has_value()) {
    j["recovery_s"] = *recovery;
  }
  return j;
}

Result<RunSummary> RunFromJson(const nlohmann::json& json) {
  RunSummary run;
  Status s = Field(json, "system", &run.system);
  if (s.ok()) s = Field(json, "mode", &run.mode);
  if (s.ok()) s = Field(json, "variant", &run.variant);
  if (s.ok()) s = Field(json, "seconds", &run.seconds);
  if (!s.ok()) return s;
  const auto ops = json.find("ops");
  if (ops == json.end() || !ops->is_array())
    return Status::InvalidArgument("missing array \"ops\"");
  for (const auto& o : *ops) {
    OpSummary op;
    s = Field(o, "op", &op.op);
    if (s.ok()) s = Field(o, "ops", &op.ops);
    if (s.ok()) s = Field(o, "errors", &op.errors);
    if (s.ok()) s = Field(o, "ops_per_s", &op.ops_per_s);
    if (s.ok()) s = Field(o, "mean_ms", &op.latency.mean_ms);
    if (s.ok()) s = Field(o, "p50_ms", &op.latency.p50_ms);
    if (s.ok()) s = Field(o, "p90_ms", &op.latency.p90_ms);
    if (s.ok()) s = Field(o, "p99_ms", &op.latency.p99_ms);
    if (s.ok()) s = Field(o, "p999_ms", &op.latency.p999_ms);
    if (s.ok()) s = Field(o, "max_ms", &op.latency.max_ms);
    if (s.ok()) s = Field(o, "by_code", &op.by_code);
    if (!s.ok()) return Status::InvalidArgument("ops: " + s.message());
    run.ops.push_back(std::move(op));
  }
  if (const auto t = json.find("timeline"); t != json.end()) {
    Result<std::vector<SecondSummary>> timeline = TimelineFromJson(*t);
    if (!timeline.ok()) return timeline.status();
    run.timeline = std::move(timeline).value();
  }
  if (s = OptionalField(json, "failover", &run.failover); !s.ok()) return s;
  if (const auto sides = json.find("sides"); sides != json.end() && sides->is_array()) {
    for (const auto& e : *sides) {
      SideSummary side;
      if (s = Field(e, "side", &side.side); !s.ok())
        return Status::InvalidArgument("sides: " + s.message());
      const auto t = e.find("timeline");
      if (t == e.end()) return Status::InvalidArgument("sides: missing field \"timeline\"");
      Result<std::vector<SecondSummary>> timeline = TimelineFromJson(*t);
      if (!timeline.ok()) return Status::InvalidArgument("sides: " + timeline.status().message());
      side.timeline = std::move(timeline).value();
      run.sides.push_back(std::move(side));
    }
  }
  if (const auto f = json.find("faults"); f != json.end() && f->is_array()) {
    for (const auto& e : *f) {
      FaultInterval fault;
      s = Field(e, "start_s", &fault.start_s);
      if (s.ok()) s = Field(e, "end_s", &fault.end_s);
      if (s.ok()) s = Field(e, "label", &fault.label);
      if (!s.ok()) return Status::InvalidArgument("faults: " + s.message());
      run.faults.push_back(std::move(fault));
    }
  }
  return run;
}

std::string FormatRunTable(std::span<const RunSummary> runs) {
  const std::vector<std::pair<std::string, size_t>> columns = {
      {"system", 8}, {"mode", 16},  {"op", 5},       {"ops/s", 10}, {"p50 ms", 9},
      {"p90 ms", 9}, {"p99 ms", 9}, {"p99.9 ms", 9}, {"max ms", 9}, {"errors", 0}};
  std::string out;
  for (const auto& [name, width] : columns) {
    out += width == 0 ? name : (width >= 9 ? PadLeft(name, width) : PadRight(name, width)) + "  ";
  }
  out += '\n';
  for (const RunSummary& run : runs) {
    for (const OpSummary& o : run.ops) {
      const std::string mode = run.mode + (run.failover ? "" : ", no failover");
      out += PadRight(run.system, 8) + "  " + PadRight(mode, 16) + "  " + PadRight(o.op, 5) + "  " +
             PadLeft(Thousands(o.ops_per_s), 10) + "  " + PadLeft(LatencyMs(o.latency.p50_ms), 9) +
             "  " + PadLeft(LatencyMs(o.latency.p90_ms), 9) + "  " +
             PadLeft(LatencyMs(o.latency.p99_ms), 9) + "  " +
             PadLeft(LatencyMs(o.latency.p999_ms), 9) + "  " +
             PadLeft(LatencyMs(o.latency.max_ms), 9) + "  " + ErrorText(o) + "\n";
    }
  }
  const std::string ratio = CostRatioText(runs);
  if (!ratio.empty()) out += "\n" + ratio;
  return out;
}

std::string CostRatioText(std::span<const RunSummary> runs) {
  std::string out;
  for (const RunSummary& cp : runs) {
    if (cp.mode != "cp") continue;
    for (const RunSummary& ap : runs) {
      if (ap.mode != "ap" || ap.system != cp.system || ap.failover != cp.failover) continue;
      for (const OpSummary& c : cp.ops) {
        const OpSummary* a = ap.Find(c.op);
        if (a == nullptr || c.op == "all" || c.ops_per_s <= 0 || a->latency.p50_ms <= 0) continue;
        out += cp.system + (cp.failover ? "" : " (no failover)") + " " + c.op + ": AP serves " +
               Format("%.1f", a->ops_per_s / c.ops_per_s) + "x the " + c.op +
               "s per second of CP; a CP " + c.op + " takes " +
               Format("%.1f", c.latency.p50_ms / a->latency.p50_ms) +
               "x as long as an AP one (p50 " + LatencyMs(c.latency.p50_ms) + " vs " +
               LatencyMs(a->latency.p50_ms) + " ms), " +
               Format("%.1f", a->latency.p99_ms > 0 ? c.latency.p99_ms / a->latency.p99_ms : 0) +
               "x at p99.\n";
      }
      break;
    }
  }
  return out;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string ComparisonTable(std::span<const RunSummary> runs) {
  struct Row {
    std::string system = {}, mode = {}, variant = {}, op = {};
    std::vector<double> ops_per_s = {}, p50_ms = {}, p99_ms = {};
  };
  std::vector<Row> rows;
  for (const RunSummary& run : runs) {
    for (const OpSummary& o : run.ops) {
      if (o.op == "all") continue;
      auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) {
        return r.system == run.system && r.mode == run.mode && r.op == o.op;
      });
      if (it == rows.end()) {
        rows.push_back(
            {.system = run.system, .mode = run.mode, .variant = run.variant, .op = o.op});
        it = rows.end() - 1;
      }
      it->ops_per_s.push_back(o.ops_per_s);
      it->p50_ms.push_back(o.latency.p50_ms);
      it->p99_ms.push_back(o.latency.p99_ms);
    }
  }
  std::string out =
      "| system | mode | what the mode is | op | ops/s | p50 ms | p99 ms | runs |\n"
      "|---|---|---|---|---:|---:|---:|---:|\n";
  for (const Row& r : rows) {
    out += "| " + r.system + " | " + r.mode + " | " + r.variant + " | " + r.op + " | " +
           Thousands(Median(r.ops_per_s)) + " | " + LatencyMs(Median(r.p50_ms)) + " | " +
           LatencyMs(Median(r.p99_ms)) + " | " + std::to_string(r.ops_per_s.size()) + " |\n";
  }
  return out;
}

}  // namespace dialkv::bench
