#pragma once
// Internal to the report: the charts of report.html, each one <svg> element.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "jepsen-like/check/check.h"
#include "jepsen-like/report/svg.h"

namespace dialkv::jepsen::report {

// What the time charts share: the origin (the history's first event, as CheckRun's) and the
// x domain in seconds after it, wide enough for every event and every nemesis interval.
struct TimeAxis {
  int64_t origin_ns = 0;
  double lo_s = 0;
  double hi_s = 1;  // > lo_s.
  std::vector<Band> bands;
};

// Above this many completed operations the latency scatter is sampled.
inline constexpr size_t kMaxScatterPoints = 20'000;

struct Scatter {
  std::string svg;
  size_t completed = 0;  // Operations with a completion (the others have no latency).
  size_t shown = 0;
  bool sampled = false;
};
// Latency (completion - invocation, ms, log scale) against invocation time, one marker per
// completed operation: colour by mode, shape by outcome, nemesis bands behind. Past
// `max_points`, every fail and info operation and every operation of a key in `keep_keys`
// stays, and the rest are thinned to an even stride over the history (deterministic).
Scatter LatencyScatter(const std::vector<CompletedOp>& ops, const TimeAxis& axis,
                       const std::set<std::string, std::less<>>& keep_keys,
                       size_t max_points = kMaxScatterPoints);

// ok operations per second per mode, in 1 s buckets by completion time, as lines.
std::string ThroughputChart(const std::vector<CompletedOp>& ops, const TimeAxis& axis);

// Per mode, ok / (ok + fail + info) during faults and outside faults, and when the run had
// partitions on their majority and minority sides (ModeAvailability), as horizontal bars
// with the figures printed.
std::string AvailabilityChart(const AvailabilityResult& availability);

// The witness's operations on a timeline: one row per process, a bar from invocation to
// completion (open-ended for an operation that may still take effect), labelled with its
// function and value; the culprit outlined in red.
std::string WitnessTimeline(const LinearizabilityWitness& witness, int64_t origin_ns);

}  // namespace dialkv::jepsen::report
