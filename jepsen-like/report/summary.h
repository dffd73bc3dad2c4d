#pragma once
// Internal to the report: the figures of results.json's "summary", computed once and shown by
// both results.json and report.html.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "jepsen-like/check/check.h"
#include "jepsen-like/report/report.h"

namespace dialkv::jepsen::report {

// Latency of `ok` operations (completion minus invocation), nearest-rank percentiles. Failed
// and indeterminate operations are left out: their latency is mostly a timeout's.
struct LatencyStats {
  size_t count = 0;
  double p50_ms = 0;  // Meaningless when count == 0 (JSON null).
  double p99_ms = 0;
  double max_ms = 0;
};

struct ModeSummary {
  AvailabilityCounts counts;  // Over the whole run (the checker's figures).
  std::optional<double> availability;
  std::optional<double> availability_during_faults;
  std::optional<double> availability_outside_faults;
  // Operations overlapping a partition, by their node's side (ModeAvailability).
  std::optional<double> availability_majority_side;
  std::optional<double> availability_minority_side;
  std::optional<double> throughput_ops_s;  // ok operations / duration; none for an empty run.
  LatencyStats read, write, del, all;
};

struct RunSummary {
  Verdict verdict = Verdict::kPass;
  size_t operations = 0;
  double duration_s = 0;  // From the history's first to its last event.
  ModeSummary cp, ap;
  std::optional<double> stale_read_rate;  // AP: stale / verifiable; none when none verifiable.
};

// The history's operations, paired; a history PairHistory rejects leaves `ops` empty and sets
// `error` (the page says so; CheckRun would have rejected it too).
struct PairedHistory {
  std::vector<CompletedOp> ops;
  std::string error;
  int64_t origin_ns = 0;  // The earliest event's time (CheckRun's origin); 0 when empty.
  int64_t end_ns = 0;     // The latest event's time.
};
PairedHistory Pair(const std::vector<Op>& history);

RunSummary Summarize(const RunReport& run, const PairedHistory& paired);

nlohmann::ordered_json ToJson(const RunSummary& summary);

}  // namespace dialkv::jepsen::report
