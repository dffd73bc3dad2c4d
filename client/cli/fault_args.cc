#include "client/cli/fault_args.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace dialkv::cli {
namespace {

constexpr uint64_t kMaxNodeId = std::numeric_limits<NodeId>::max();

std::string_view Trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// All of `text` as a decimal number of at most `max`; nothing else (no sign, no spaces).
bool ParseWhole(std::string_view text, uint64_t max, uint64_t* out) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out <= max;
}

// "50ms", "2s" or "0" into *ms. False for anything else, or an absurdly large count.
bool ParseDuration(std::string_view text, uint64_t* ms) {
  constexpr uint64_t kMaxCount = 1'000'000'000'000;  // Far beyond any limit; cannot overflow.
  if (text == "0") {
    *ms = 0;
    return true;
  }
  uint64_t unit_ms = 1;
  if (text.ends_with("ms")) {
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
    unit_ms = 1000;
  } else {
    return false;
  }
  uint64_t count = 0;
  if (!ParseWhole(text, kMaxCount, &count)) return false;
  *ms = count * unit_ms;
  return true;
}

}  // namespace

Result<std::vector<NodeId>> ParseNodeList(std::string_view text) {
  if (Trim(text).empty()) return Status::InvalidArgument("empty list of node ids");
  std::vector<NodeId> ids;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view item = Trim(text.substr(0, comma));
    uint64_t id = 0;
    if (!ParseWhole(item, kMaxNodeId, &id)) {
      return Status::InvalidArgument(
          "node ids are comma-separated numbers like 1,2,3; got " +
          (item.empty() ? "an empty item in " + Quote(text) : Quote(item)));
    }
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) {
      return Status::InvalidArgument("node " + std::to_string(id) + " is listed twice");
    }
    ids.push_back(static_cast<NodeId>(id));
    if (comma == std::string_view::npos) return ids;
    text.remove_prefix(comma + 1);
  }
}

Result<PartitionGroups> ParsePartitionGroups(const std::vector<std::string>& words) {
  std::string joined;
  for (const std::string& word : words) joined += (joined.empty() ? "" : " ") + word;
  const size_t slash = joined.find('/');
  if (slash == std::string::npos || joined.find('/', slash + 1) != std::string::npos) {
    return Status::InvalidArgument(
        "a partition is two groups of node ids around one '/', like "
        "\"1,2 / 3\"; got " +
        Quote(joined));
  }
  const std::string_view text(joined);
  const std::string_view sides[2] = {Trim(text.substr(0, slash)), Trim(text.substr(slash + 1))};
  PartitionGroups groups;
  std::vector<NodeId>* outs[2] = {&groups.a, &groups.b};
  for (int i = 0; i < 2; ++i) {
    const char* name = i == 0 ? "first" : "second";
    if (sides[i].empty()) {
      return Status::InvalidArgument(std::string("the ") + name + " group of the partition " +
                                     Quote(joined) + " is empty");
    }
    Result<std::vector<NodeId>> ids = ParseNodeList(sides[i]);
    if (!ids.ok()) {
      return Status::InvalidArgument(std::string("the ") + name +
                                     " group of the partition: " + ids.status().message());
    }
    *outs[i] = std::move(ids).value();
  }
  for (NodeId id : groups.a) {
    if (std::find(groups.b.begin(), groups.b.end(), id) != groups.b.end()) {
      return Status::InvalidArgument("node " + std::to_string(id) +
                                     " is in both groups of the partition");
    }
  }
  return groups;
}

Result<double> ParseProbability(std::string_view text) {
  const std::string_view given = text;
  const bool percent = !text.empty() && text.back() == '%';
  if (percent) text.remove_suffix(1);
  const Status bad = Status::InvalidArgument(
      "a probability is a number from 0 to 1 (like 0.3) or a percentage (like 30%); got " +
      Quote(given));
  // from_chars accepts "inf" and "nan", and no leading '+' or spaces: only digits and one '.'.
  if (text.empty() || text.front() == '.' || text.back() == '.' ||
      !std::all_of(text.begin(), text.end(),
                   [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    return bad;
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return bad;
  if (percent) value /= 100;
  if (value < 0 || value > 1) return bad;
  return value;
}

Result<uint32_t> ParseDurationMs(std::string_view text, uint32_t max_ms) {
  uint64_t ms = 0;
  if (!ParseDuration(text, &ms)) {
    return Status::InvalidArgument(
        "a duration is a whole number of ms or s, like 50ms or 2s (or 0); got " + Quote(text));
  }
  if (ms > max_ms) {
    return Status::InvalidArgument("duration " + Quote(text) + " is over the limit of " +
                                   std::to_string(max_ms) + " ms");
  }
  return static_cast<uint32_t>(ms);
}

Result<int64_t> ParseOffsetMs(std::string_view text, int64_t max_abs_ms) {
  const std::string_view given = text;
  const bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  uint64_t ms = 0;
  if (!ParseDuration(text, &ms)) {
    return Status::InvalidArgument(
        "a clock offset is a duration with an optional sign, like +2s, -500ms or 0; got " +
        Quote(given));
  }
  if (ms > static_cast<uint64_t>(std::max<int64_t>(max_abs_ms, 0))) {
    return Status::InvalidArgument("clock offset " + Quote(given) + " is beyond the limit of " +
                                   std::to_string(max_abs_ms) + " ms either way");
  }
  return negative ? -static_cast<int64_t>(ms) : static_cast<int64_t>(ms);
}

}  // namespace dialkv::cli
