#pragma once
// What the load generator reports: a summary per run (ops/s, latency percentiles, errors by
// status code, a per-second timeline), its JSON form, the text table printed after a run, and
// the comparison table of many runs (system x mode x operation, median over repetitions).
//
// Thread-compatible; pure functions of their arguments.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/load/stats.h"
#include "dialkv/status.h"

namespace dialkv::bench {

struct LatencySummary {
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

struct OpSummary {
  std::string op;    // "get", "put", or "all" (both together).
  uint64_t ops = 0;  // Successful operations.
  uint64_t errors = 0;
  double ops_per_s = 0;                     // Successful operations per second of measurement.
  LatencySummary latency;                   // Of successful operations.
  std::map<std::string, uint64_t> by_code;  // Every code seen ("OK", "NOT_FOUND", ...): count.
};

// One second of a run: t_s is the second's end, from the start of measurement.
struct SecondSummary {
  double t_s = 0;
  uint64_t successes = 0;
  uint64_t errors = 0;
  double p50_ms = 0, p99_ms = 0;
  std::map<std::string, uint64_t> errors_by_code = {};  // "UNAVAILABLE": count; errors only.
  uint64_t checked_reads = 0;  // Successful reads checked for staleness (staleness.h).
  uint64_t stale_reads = 0;    // Of those, the stale ones.
  // successes / (successes + errors); 1 for a second without any completion.
  double success_rate() const;
};

// The clients of one side of a partition (Side): their seconds.
struct SideSummary {
  std::string side;  // "isolated" or "majority".
  std::vector<SecondSummary> timeline;
};

// A fault injected during a run, in seconds from the start of measurement.
struct FaultInterval {
  double start_s = 0, end_s = 0;
  std::string label;  // "node 3 isolated".
};

struct RunSummary {
  std::string system;   // "dialkv", "redis", "etcd".
  std::string mode;     // "cp" or "ap": the strong and the weak variant of the system.
  std::string variant;  // What the mode means for the system: "quorum (ABD)", "SET + WAIT 2", ...
  double seconds = 0;   // Of measurement (the warm-up excluded).
  std::vector<OpSummary> ops;  // Each kind that ran, then "all" when both did.
  std::vector<SecondSummary> timeline;
  std::vector<FaultInterval> faults;
  // dialkv: whether clients failed over to other nodes (BackendOptions::failover).
  bool failover = true;
  // Per side, when some client stood with an isolated node (the partition scenario).
  std::vector<SideSummary> sides;
  const OpSummary* Find(std::string_view op) const;          // Null when that kind did not run.
  const SideSummary* FindSide(std::string_view side) const;  // Null when not split.
};

// "dialkv cp" or, for a run without failover, "dialkv cp, no failover".
std::string RunLabel(const RunSummary& run);

RunSummary Summarize(const RunStats& stats, double seconds, std::string system, std::string mode,
                     std::string variant);

// What a run's seconds add up to over a stretch of it (a second belongs to the stretch that
// holds its middle).
struct WindowTotals {
  uint64_t successes = 0, errors = 0, checked_reads = 0, stale_reads = 0;
  std::map<std::string, uint64_t> errors_by_code;
  size_t seconds = 0;
  double success_rate() const;  // 1 without completions.
  double stale_rate() const;    // 0 without checked reads.
};
WindowTotals Totals(std::span<const SecondSummary> timeline, double from_s, double to_s);

// Seconds from healing the run's first fault to the end of the first whole second after it
// whose successes reached 95% of the mean per second before the fault; nullopt when the run
// has no fault, no second before it, or never got back there.
std::optional<double> RecoverySeconds(const RunSummary& run);

// The partition scenario's summary in words, a paragraph per run that had a fault: during the
// fault, what the clients of each side got (successes and each error code), the stale reads
// during and after it, and how long throughput took to come back after healing.
std::string PartitionText(std::span<const RunSummary> runs);

nlohmann::ordered_json ToJson(const RunSummary& run);
// Errors: kInvalidArgument naming the missing or mistyped field.
Result<RunSummary> RunFromJson(const nlohmann::json& json);

// The table printed after runs of one invocation: one row per mode and operation, with ops/s,
// p50/p90/p99/p99.9/max latency and errors by code; then, when both modes ran, how much CP
// costs against AP per operation.
std::string FormatRunTable(std::span<const RunSummary> runs);

// "AP does 2.1x the puts/s of CP; a CP put waits 2.4x as long at p50 ...": the CP/AP cost
// per operation, when a run of each mode of one system is in `runs`; empty otherwise.
std::string CostRatioText(std::span<const RunSummary> runs);

// The comparison table in Markdown: one row per system x mode x operation (in the order first
// seen), with ops/s, p50 and p99 as the median over every run of that row, and the number of
// runs. Ignores the "all" rows.
std::string ComparisonTable(std::span<const RunSummary> runs);

// The median of `values` (the mean of the middle two for an even count); 0 when empty.
double Median(std::vector<double> values);

}  // namespace dialkv::bench
