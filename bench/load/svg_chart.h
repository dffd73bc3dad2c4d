#pragma once
// The load generator's charts, as one self-contained SVG document each (no script, no
// external file): what a reader of the benchmark README or the JSON wants to see at a glance.
//
// Pure functions; thread-compatible.

#include <span>
#include <string>

#include "bench/load/report.h"

namespace dialkv::bench {

// Bars of ops/s, one per run and operation ("dialkv cp put"), labelled with the value and
// the p99 latency, with a y axis and a legend by mode.
std::string ThroughputChart(std::span<const RunSummary> runs, std::string_view title);

// Two panels over the runs' seconds: the success rate (%) and the p99 latency (ms, log
// scale) of every run, one line each (labelled "system mode"), with the runs' fault intervals
// shaded and a legend. Meant for the partition scenario.
std::string TimelineChart(std::span<const RunSummary> runs, std::string_view title);

}  // namespace dialkv::bench
