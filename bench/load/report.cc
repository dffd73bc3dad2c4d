#include "bench/load/report.h"

#include <algorithm>
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
  for (size_t i = 0; i < stats.seconds().size(); ++i) {
    const SecondStats& s = stats.seconds()[i];
    run.timeline.push_back({.t_s = static_cast<double>(i + 1),
                            .successes = s.successes,
                            .errors = s.errors,
                            .p50_ms = Ms(s.latency.Percentile(0.5)),
                            .p99_ms = Ms(s.latency.Percentile(0.99))});
  }
  return run;
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
  j["timeline"] = nlohmann::ordered_json::array();
  for (const SecondSummary& s : run.timeline) {
    j["timeline"].push_back({{"t_s", s.t_s},
                             {"successes", s.successes},
                             {"errors", s.errors},
                             {"p50_ms", s.p50_ms},
                             {"p99_ms", s.p99_ms}});
  }
  j["faults"] = nlohmann::ordered_json::array();
  for (const FaultInterval& f : run.faults) {
    j["faults"].push_back({{"start_s", f.start_s}, {"end_s", f.end_s}, {"label", f.label}});
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
  if (const auto t = json.find("timeline"); t != json.end() && t->is_array()) {
    for (const auto& e : *t) {
      SecondSummary sec;
      s = Field(e, "t_s", &sec.t_s);
      if (s.ok()) s = Field(e, "successes", &sec.successes);
      if (s.ok()) s = Field(e, "errors", &sec.errors);
      if (s.ok()) s = Field(e, "p50_ms", &sec.p50_ms);
      if (s.ok()) s = Field(e, "p99_ms", &sec.p99_ms);
      if (!s.ok()) return Status::InvalidArgument("timeline: " + s.message());
      run.timeline.push_back(sec);
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
      {"system", 8}, {"mode", 5},   {"op", 5},       {"ops/s", 10}, {"p50 ms", 9},
      {"p90 ms", 9}, {"p99 ms", 9}, {"p99.9 ms", 9}, {"max ms", 9}, {"errors", 0}};
  std::string out;
  for (const auto& [name, width] : columns) {
    out += width == 0 ? name : (width >= 9 ? PadLeft(name, width) : PadRight(name, width)) + "  ";
  }
  out += '\n';
  for (const RunSummary& run : runs) {
    for (const OpSummary& o : run.ops) {
      out += PadRight(run.system, 8) + "  " + PadRight(run.mode, 5) + "  " + PadRight(o.op, 5) +
             "  " + PadLeft(Thousands(o.ops_per_s), 10) + "  " +
             PadLeft(LatencyMs(o.latency.p50_ms), 9) + "  " +
             PadLeft(LatencyMs(o.latency.p90_ms), 9) + "  " +
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
      if (ap.mode != "ap" || ap.system != cp.system) continue;
      for (const OpSummary& c : cp.ops) {
        const OpSummary* a = ap.Find(c.op);
        if (a == nullptr || c.op == "all" || c.ops_per_s <= 0 || a->latency.p50_ms <= 0) continue;
        out +=
            cp.system + " " + c.op + ": AP serves " + Format("%.1f", a->ops_per_s / c.ops_per_s) +
            "x the " + c.op + "s per second of CP; a CP " + c.op + " takes " +
            Format("%.1f", c.latency.p50_ms / a->latency.p50_ms) + "x as long as an AP one (p50 " +
            LatencyMs(c.latency.p50_ms) + " vs " + LatencyMs(a->latency.p50_ms) + " ms), " +
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
