#pragma once
// The load generator's charts, as one self-contained SVG document each (no script, no
// external file): what a reader of the benchmark README or the JSON wants to see at a glance.
//
// Pure functions; thread-compatible.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/load/report.h"

namespace dialkv::bench {

// Bars of ops/s, one per run and operation ("dialkv cp put"), labelled with the value and
// the p99 latency, with a y axis and a legend by mode.
std::string ThroughputChart(std::span<const RunSummary> runs, std::string_view title);

// The partition scenario's chart, over the runs' seconds with the fault intervals shaded: a
// panel per run with the successes per second of the majority's and the isolated node's
// clients and the errors per second of each code (with the stale-read rate during the fault and
// the time to recover after healing written above it); then, every run in each, the share of
// operations served per second for each side, the share of reads that were stale, and the p99
// latency (log scale). Every line carries data-series="<run label>|<measure>|<side or code>",
// e.g. "dialkv cp, no failover|ops/s|isolated".
std::string TimelineChart(std::span<const RunSummary> runs, std::string_view title);

// One sample of bench/footprint/run.sh: one node at one moment of a sustained-write run.
struct FootprintSample {
  double t_s = 0;
  int node = 0;
  double disk_mb = 0;  // du of its data dir.
  double rss_mb = 0;
  double p99_ms = -1;  // Worst per-second p99 of the load in the window; < 0: no load yet.
};

// Three panels over the run's seconds: disk per node (with `limit_mb` dashed when > 0), RSS
// per node, and the load's p99 latency.
std::string FootprintChart(std::span<const FootprintSample> samples, double limit_mb,
                           std::string_view title);

// Reads run.sh's samples.csv (header t_s,node,disk_mb,wal_mb,sst_mb,rss_mb,ops_s,p99_ms,...).
// Rows that do not parse are skipped.
std::vector<FootprintSample> ReadFootprintCsv(std::string_view csv);

}  // namespace dialkv::bench
