#include "jepsen-like/check/op_text.h"

#include <cstdio>

namespace dialkv::jepsen::internal {

std::string QuoteValue(std::string_view value) {
  constexpr size_t kMaxShown = 48;
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < kMaxShown; ++i) {
    const char c = value[i];
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  out += value.size() > kMaxShown ? "\"..." : "\"";
  return out;
}

std::string DescribeOp(const CompletedOp& op) {
  switch (op.f) {
    case OpFunction::kWrite:
      return "write " + QuoteValue(op.value.value_or(""));
    case OpFunction::kDelete:
      return "delete";
    case OpFunction::kRead:
      if (op.outcome != OpType::kOk) return "read";
      return op.value ? "read -> " + QuoteValue(*op.value) : "read -> not found";
  }
  return "read";
}

std::string FormatOpLine(const CompletedOp& op, int64_t origin_ns) {
  char invoked[32];
  std::snprintf(invoked, sizeof(invoked), "%.3f", ElapsedMs(origin_ns, op.invoke_ns));
  char completed[32] = "never";
  if (op.complete_ns) {
    std::snprintf(completed, sizeof(completed), "%.3f", ElapsedMs(origin_ns, *op.complete_ns));
  }
  char line[256];
  std::snprintf(line, sizeof(line), "p%-5lld %-28s %s %-4s [%12s, %12s] ms  node %u",
                static_cast<long long>(op.process), DescribeOp(op).c_str(),
                std::string(ConsistencyName(op.mode)).c_str(),
                std::string(OpTypeName(op.outcome)).c_str(), invoked, completed,
                static_cast<unsigned>(op.node));
  std::string out = line;
  if (op.error) out += "  (" + *op.error + ")";
  return out;
}

}  // namespace dialkv::jepsen::internal
