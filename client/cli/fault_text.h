#pragma once
// How `dialkv fault` and `dialkv inspect` describe a node's faults and stored version: one
// readable line each. Pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "dialkv/admin.h"

namespace dialkv::cli {

// The faults of one node as clauses joined by "; ", e.g.
//   "partitioned from 3 (both ways); drop 30% of messages to 2; delay 50ms+0..20ms to 2;
//    seed 7; clock +0ms"
// or "no faults" (every link clean, clock offset 0). Clauses, each naming the peers it
// applies to in ascending order ("2,3"), peers with equal values sharing one clause:
//   partitioned from P (both ways) | blocks messages to P | blocks messages from P
//   drop X% of messages to P | drop X% of messages from P
//   delay D to P | delay D+0..J to P
//   seed S (only with drops or jitter, which it decides) | clock +O (always, last)
std::string DescribeFaults(const FaultState& state);

// A node's stored version for `dialkv inspect`: "\"value\" (at 1732623456789.3 by node 2)", or
// "<tombstone> (at ... by node 2)". The value is quoted with \", \\ and \xNN escapes and cut
// after 200 bytes ("...\" (5000 bytes)").
std::string DescribeVersion(const LocalVersion& version);

// 50 -> "50ms", 2000 -> "2s", 0 -> "0ms"; with `sign`, "+" or "-" in front ("+0ms").
std::string FormatDurationMs(int64_t ms, bool sign = false);

// 0.3 -> "30%", 0.125 -> "12.5%".
std::string FormatPercent(double probability);

}  // namespace dialkv::cli
