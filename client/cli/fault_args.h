#pragma once
// Parsing of the arguments of `dialkv fault ...`: node-id groups, probabilities, durations and
// clock offsets. Pure functions: no I/O, so they are unit-tested on their own.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"

namespace dialkv::cli {

// The largest delay or jitter a node accepts on a link (the wire protocol's limit).
inline constexpr uint32_t kMaxDelayMs = 60'000;
// The largest clock offset a node accepts, either way: one hour.
inline constexpr int64_t kMaxClockOffsetMs = 3'600'000;

// "1,2,3" -> {1, 2, 3}: comma-separated decimal node ids, spaces around an id allowed, in the
// order given. Errors: kInvalidArgument for an empty list or item, anything but digits, an id
// over 4294967295, or an id listed twice.
Result<std::vector<NodeId>> ParseNodeList(std::string_view text);

// The two sides of `fault partition A / B`.
struct PartitionGroups {
  std::vector<NodeId> a;
  std::vector<NodeId> b;
};

// The groups of a partition from the words that follow `partition` on the command line, which
// are joined with spaces and split at the one '/': {"1,2", "/", "3"}, {"1,2/3"} and
// {"1,2", "/3"} all give a = {1, 2}, b = {3}. Errors: kInvalidArgument when there is no '/'
// or more than one, a group is empty or not a node list, or a node is in both groups.
Result<PartitionGroups> ParsePartitionGroups(const std::vector<std::string>& words);

// A probability: "0.3", "0", "1", or a percentage "30%", "12.5%". Errors: kInvalidArgument
// for anything else, or a value outside 0..1 (0%..100%).
Result<double> ParseProbability(std::string_view text);

// A duration: a whole number followed by "ms" or "s" ("50ms", "1s"), or "0". Errors:
// kInvalidArgument for anything else (a number without its unit included) or over `max_ms`.
Result<uint32_t> ParseDurationMs(std::string_view text, uint32_t max_ms);

// A clock offset: a duration as above with an optional sign, "+2s", "-500ms", "0".
// Errors: kInvalidArgument for anything else, or beyond `max_abs_ms` either way.
Result<int64_t> ParseOffsetMs(std::string_view text, int64_t max_abs_ms);

}  // namespace dialkv::cli
