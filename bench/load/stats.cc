#include "bench/load/stats.h"

#include <numeric>

namespace dialkv::bench {

std::string_view OpName(OpKind op) { return op == OpKind::kGet ? "get" : "put"; }

uint64_t OpStats::total() const {
  return std::accumulate(by_code.begin(), by_code.end(), uint64_t{0});
}

uint64_t OpStats::successes() const {
  return by_code[static_cast<size_t>(Code::kOk)] + by_code[static_cast<size_t>(Code::kNotFound)];
}

void OpStats::Merge(const OpStats& other) {
  latency.Merge(other.latency);
  for (size_t i = 0; i < by_code.size(); ++i) by_code[i] += other.by_code[i];
}

void RunStats::Record(OpKind op, Code code, uint64_t latency_ns, size_t second_index) {
  OpStats& stats = ops_[static_cast<size_t>(op)];
  ++stats.by_code[static_cast<size_t>(code)];
  SecondStats& s = second(second_index);
  if (IsSuccess(code)) {
    stats.latency.Record(latency_ns);
    ++s.successes;
    s.latency.Record(latency_ns);
  } else {
    ++s.errors;
  }
}

OpStats RunStats::all() const {
  OpStats merged;
  for (const OpStats& s : ops_) merged.Merge(s);
  return merged;
}

SecondStats& RunStats::second(size_t second_index) {
  if (seconds_.size() <= second_index) seconds_.resize(second_index + 1);
  return seconds_[second_index];
}

}  // namespace dialkv::bench
