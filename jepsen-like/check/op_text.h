#pragma once
// Internal to the checkers: operations as short text for witnesses and summaries.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jepsen-like/check/pairing.h"

namespace dialkv::jepsen::internal {

// `value` in double quotes, at most 48 bytes of it, bytes outside printable ASCII as '?'.
std::string QuoteValue(std::string_view value);

// "write \"v3\"", "delete", "read -> \"v3\"", "read -> not found", "read" (no result).
std::string DescribeOp(const CompletedOp& op);

// One aligned line: process, description, mode and outcome, invocation and completion in ms
// after `origin_ns` ("never" when it did not complete), node, and the error if any.
std::string FormatOpLine(const CompletedOp& op, int64_t origin_ns);

// Milliseconds between two clock readings in ns.
inline double ElapsedMs(int64_t from_ns, int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / 1e6;
}

}  // namespace dialkv::jepsen::internal
