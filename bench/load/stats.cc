#include "bench/load/stats.h"

#include <numeric>

namespace dialkv::bench {

std::string_view OpName(OpKind op) { return op == OpKind::kGet ? "get" : "put"; }

std::string_view SideName(Side side) { return side == Side::kIsolated ? "isolated" : "majority"; }

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

void RunStats::Record(OpKind op, Code code, uint64_t latency_ns, size_t second_index, Side side) {
  OpStats& stats = ops_[static_cast<size_t>(op)];
  ++stats.by_code[static_cast<size_t>(code)];
  if (IsSuccess(code)) stats.latency.Record(latency_ns);
  for (SecondStats* s : {&SecondOf(seconds_, second_index),
                         &SecondOf(side_seconds_[static_cast<size_t>(side)], second_index)}) {
    if (IsSuccess(code)) {
      ++s->successes;
      s->latency.Record(latency_ns);
    } else {
      ++s->errors;
      ++s->errors_by_code[static_cast<size_t>(code)];
    }
  }
}

void RunStats::RecordCheckedRead(bool stale, size_t second_index, Side side) {
  for (SecondStats* s : {&SecondOf(seconds_, second_index),
                         &SecondOf(side_seconds_[static_cast<size_t>(side)], second_index)}) {
    ++s->checked_reads;
    s->stale_reads += stale ? 1 : 0;
  }
}

OpStats RunStats::all() const {
  OpStats merged;
  for (const OpStats& s : ops_) merged.Merge(s);
  return merged;
}

SecondStats& RunStats::SecondOf(std::vector<SecondStats>& seconds, size_t second_index) {
  if (seconds.size() <= second_index) seconds.resize(second_index + 1);
  return seconds[second_index];
}

}  // namespace dialkv::bench
