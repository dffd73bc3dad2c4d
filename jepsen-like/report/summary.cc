#include "jepsen-like/report/summary.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace dialkv::jepsen::report {
namespace {

using Json = nlohmann::ordered_json;

// Nearest-rank, as the checkers compute staleness. REQUIRES: !sorted.empty().
double Percentile(const std::vector<double>& sorted, double p) {
  const double rank = std::ceil(p * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

LatencyStats Stats(std::vector<double> ms) {
  LatencyStats s;
  s.count = ms.size();
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  s.p50_ms = Percentile(ms, 0.50);
  s.p99_ms = Percentile(ms, 0.99);
  s.max_ms = ms.back();
  return s;
}

ModeSummary SummarizeMode(const ModeAvailability& availability, const std::vector<CompletedOp>& ops,
                          Consistency mode, double duration_s) {
  ModeSummary m;
  m.counts = availability.overall;
  m.availability = availability.overall.availability();
  m.availability_during_faults = availability.during_faults.availability();
  m.availability_outside_faults = availability.outside_faults.availability();
  m.availability_majority_side = availability.partition_majority_side.availability();
  m.availability_minority_side = availability.partition_minority_side.availability();
  if (duration_s > 0) m.throughput_ops_s = static_cast<double>(m.counts.ok) / duration_s;
  std::vector<double> read, write, del, all;
  for (const CompletedOp& op : ops) {
    if (op.mode != mode || op.outcome != OpType::kOk || !op.complete_ns) continue;
    const double ms = static_cast<double>(*op.complete_ns - op.invoke_ns) / 1e6;
    all.push_back(ms);
    switch (op.f) {
      case OpFunction::kRead:
        read.push_back(ms);
        break;
      case OpFunction::kWrite:
        write.push_back(ms);
        break;
      case OpFunction::kDelete:
        del.push_back(ms);
        break;
    }
  }
  m.read = Stats(std::move(read));
  m.write = Stats(std::move(write));
  m.del = Stats(std::move(del));
  m.all = Stats(std::move(all));
  return m;
}

Json Optional(std::optional<double> v) { return v ? Json(*v) : Json(nullptr); }

Json LatencyJson(const LatencyStats& s) {
  if (s.count == 0) return Json{{"count", 0}, {"p50", nullptr}, {"p99", nullptr}, {"max", nullptr}};
  return Json{{"count", s.count}, {"p50", s.p50_ms}, {"p99", s.p99_ms}, {"max", s.max_ms}};
}

Json ModeJson(const ModeSummary& m) {
  Json j;
  j["ok"] = m.counts.ok;
  j["fail"] = m.counts.fail;
  j["info"] = m.counts.info;
  j["availability"] = Json{{"overall", Optional(m.availability)},
                           {"during_faults", Optional(m.availability_during_faults)},
                           {"outside_faults", Optional(m.availability_outside_faults)},
                           {"partition_majority_side", Optional(m.availability_majority_side)},
                           {"partition_minority_side", Optional(m.availability_minority_side)}};
  j["throughput_ops_s"] = Optional(m.throughput_ops_s);
  j["latency_ms"] = Json{{"read", LatencyJson(m.read)},
                         {"write", LatencyJson(m.write)},
                         {"delete", LatencyJson(m.del)},
                         {"all", LatencyJson(m.all)}};
  return j;
}

}  // namespace

PairedHistory Pair(const std::vector<Op>& history) {
  PairedHistory paired;
  if (!history.empty()) {
    const auto [first, last] =
        std::minmax_element(history.begin(), history.end(),
                            [](const Op& a, const Op& b) { return a.time_ns < b.time_ns; });
    paired.origin_ns = first->time_ns;
    paired.end_ns = last->time_ns;
  }
  Result<std::vector<CompletedOp>> ops = PairHistory(history);
  if (ops.ok()) {
    paired.ops = std::move(*ops);
  } else {
    paired.error = ops.status().ToString();
  }
  return paired;
}

RunSummary Summarize(const RunReport& run, const PairedHistory& paired) {
  RunSummary s;
  s.verdict = run.checks.verdict;
  s.operations = run.checks.operations;
  s.duration_s = static_cast<double>(paired.end_ns - paired.origin_ns) / 1e9;
  s.cp = SummarizeMode(run.checks.availability.cp, paired.ops, Consistency::kCp, s.duration_s);
  s.ap = SummarizeMode(run.checks.availability.ap, paired.ops, Consistency::kAp, s.duration_s);
  if (run.checks.stale_reads.verifiable > 0) s.stale_read_rate = run.checks.stale_reads.stale_rate;
  return s;
}

Json ToJson(const RunSummary& summary) {
  Json j;
  j["verdict"] = VerdictName(summary.verdict);
  j["operations"] = summary.operations;
  j["duration_s"] = summary.duration_s;
  Json ap = ModeJson(summary.ap);
  ap["stale_read_rate"] = Optional(summary.stale_read_rate);
  j["modes"] = Json{{"cp", ModeJson(summary.cp)}, {"ap", std::move(ap)}};
  return j;
}

}  // namespace dialkv::jepsen::report
