#include "jepsen-like/check/ap_checks.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace dialkv::jepsen {
namespace {

// The versions the asked nodes hold of each key.
using AskedVersions = std::map<std::string_view, std::map<NodeId, const std::optional<Version>*>>;

AskedVersions ByKey(const FinalState& final_state) {
  AskedVersions by_key;
  for (const auto& [node, keys] : final_state.replicas) {
    for (const auto& [key, version] : keys) by_key[key][node] = &version;
  }
  return by_key;
}

// Nearest-rank percentile of sorted values. REQUIRES: !sorted.empty(), 0 < p <= 1.
double Percentile(const std::vector<double>& sorted, double p) {
  const double rank = std::ceil(p * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

// What the writes of one key carried, by whether they may have happened.
struct WrittenValues {
  std::set<std::string_view> may_have_happened;  // ok, info, or never completed.
  std::set<std::string_view> failed_only;        // Only by `fail` writes.
};

std::unordered_map<std::string_view, WrittenValues> WrittenByKey(std::span<const CompletedOp> ops) {
  std::unordered_map<std::string_view, WrittenValues> written;
  for (const CompletedOp& op : ops) {
    if (op.f != OpFunction::kWrite || !op.value) continue;
    if (op.outcome != OpType::kFail) written[op.key].may_have_happened.insert(*op.value);
  }
  for (const CompletedOp& op : ops) {
    if (op.f != OpFunction::kWrite || !op.value || op.outcome != OpType::kFail) continue;
    WrittenValues& w = written[op.key];
    if (!w.may_have_happened.contains(*op.value)) w.failed_only.insert(*op.value);
  }
  return written;
}

bool IsAcknowledgedWithTs(const CompletedOp& op) {
  return op.is_write() && op.outcome == OpType::kOk && op.ts.has_value();
}

}  // namespace

ConvergenceResult CheckConvergence(const FinalState& final_state, const ApCheckOptions& options) {
  ConvergenceResult result;
  for (const auto& [key, versions] : ByKey(final_state)) {
    ++result.keys_compared;
    const std::optional<Version>* first = versions.begin()->second;
    const bool same = std::all_of(versions.begin(), versions.end(),
                                  [&](const auto& entry) { return *entry.second == *first; });
    if (same) continue;
    ++result.divergent_keys;
    result.verdict = Verdict::kViolation;
    if (result.examples.size() >= options.max_examples) continue;
    ConvergenceResult::Divergence d;
    d.key = std::string(key);
    for (const auto& [node, version] : versions) d.versions[node] = *version;
    result.examples.push_back(std::move(d));
  }
  return result;
}

UnwrittenValueResult CheckUnwrittenValues(std::span<const CompletedOp> ops,
                                          const FinalState* final_state,
                                          const ApCheckOptions& options) {
  UnwrittenValueResult result;
  const auto written = WrittenByKey(ops);
  // Returns whether `value` was written to `key`; sets *failed when only failed writes wrote it.
  auto was_written = [&](std::string_view key, std::string_view value, bool* failed) {
    auto it = written.find(key);
    *failed = false;
    if (it == written.end()) return false;
    if (it->second.may_have_happened.contains(value)) return true;
    *failed = it->second.failed_only.contains(value);
    return false;
  };

  for (const CompletedOp& op : ops) {
    if (!op.is_read() || op.outcome != OpType::kOk || !op.value) continue;
    ++result.reads_checked;
    bool failed = false;
    if (was_written(op.key, *op.value, &failed)) continue;
    ++result.unwritten_reads;
    if (result.examples.size() < options.max_examples) {
      result.examples.push_back({op.key, *op.value, op, std::nullopt, failed});
    }
  }
  if (final_state != nullptr) {
    for (const auto& [node, keys] : final_state->replicas) {
      for (const auto& [key, version] : keys) {
        if (!version || version->tombstone) continue;
        ++result.final_values_checked;
        bool failed = false;
        if (was_written(key, version->value, &failed)) continue;
        ++result.unwritten_final_values;
        if (result.examples.size() < options.max_examples) {
          result.examples.push_back({key, version->value, std::nullopt, node, failed});
        }
      }
    }
  }
  if (result.unwritten_reads + result.unwritten_final_values > 0) {
    result.verdict = Verdict::kViolation;
  }
  return result;
}

LostWriteResult CheckLostWrites(std::span<const CompletedOp> ops, const FinalState& final_state,
                                const ApCheckOptions& options) {
  LostWriteResult result;
  const AskedVersions asked = ByKey(final_state);
  std::unordered_map<std::string_view, Timestamp> newest_acknowledged;
  for (const CompletedOp& op : ops) {
    if (!IsAcknowledgedWithTs(op)) continue;
    Timestamp& newest = newest_acknowledged[op.key];
    newest = std::max(newest, *op.ts);
  }

  for (const CompletedOp& op : ops) {
    if (!op.is_write() || op.outcome != OpType::kOk) continue;
    ++result.acknowledged;
    auto versions = asked.find(op.key);
    if (!op.ts || versions == asked.end()) {
      ++result.unverifiable;
      continue;
    }
    std::optional<Version> newest_final;
    bool present = false;
    bool all_empty = true;
    for (const auto& [node, version] : versions->second) {
      if (!*version) continue;
      all_empty = false;
      const Version& v = **version;
      if (!newest_final || newest_final->timestamp < v.timestamp) newest_final = v;
      if (v.timestamp != *op.ts) continue;
      if (op.f == OpFunction::kDelete ? v.tombstone : !v.tombstone && v.value == op.value) {
        present = true;
      }
    }
    if (present || (op.f == OpFunction::kDelete && all_empty)) {
      ++result.present;
      continue;
    }
    const bool beaten_in_final = newest_final && *op.ts < newest_final->timestamp;
    const bool beaten_in_history = *op.ts < newest_acknowledged[op.key];
    if (beaten_in_final || beaten_in_history) {
      ++result.beaten;
      continue;
    }
    ++result.lost;
    if (op.mode == Consistency::kCp) ++result.lost_cp;
    result.verdict = Verdict::kViolation;
    if (result.examples.size() < options.max_examples) {
      result.examples.push_back({op, newest_final});
    }
  }
  return result;
}

StaleReadResult MeasureStaleReads(std::span<const CompletedOp> ops, const ApCheckOptions& options) {
  // Per key: ok writes with a ts by completion time (with the running maximum of their
  // timestamps), and deletes by invocation time.
  struct KeyWrites {
    std::unordered_map<std::string_view, Timestamp> value_ts;
    std::vector<const CompletedOp*> by_completion;
    std::vector<Timestamp> max_ts_so_far;
    std::vector<const CompletedOp*> deletes_by_invocation;  // Those that may have happened.
  };
  std::unordered_map<std::string_view, KeyWrites> keys;
  for (const CompletedOp& op : ops) {
    if (!op.is_write()) continue;
    KeyWrites& k = keys[op.key];
    if (op.f == OpFunction::kDelete && op.outcome != OpType::kFail) {
      k.deletes_by_invocation.push_back(&op);
    }
    if (!IsAcknowledgedWithTs(op)) continue;
    k.by_completion.push_back(&op);
    if (op.f == OpFunction::kWrite && op.value) {
      Timestamp& ts = k.value_ts[*op.value];
      ts = std::max(ts, *op.ts);
    }
  }
  for (auto& [key, k] : keys) {
    std::sort(k.by_completion.begin(), k.by_completion.end(),
              [](const CompletedOp* a, const CompletedOp* b) {
                return *a->complete_ns < *b->complete_ns;
              });
    Timestamp max_ts;
    for (const CompletedOp* w : k.by_completion) {
      max_ts = std::max(max_ts, *w->ts);
      k.max_ts_so_far.push_back(max_ts);
    }
    std::sort(
        k.deletes_by_invocation.begin(), k.deletes_by_invocation.end(),
        [](const CompletedOp* a, const CompletedOp* b) { return a->invoke_ns < b->invoke_ns; });
  }

  StaleReadResult result;
  std::vector<double> staleness_ms;
  for (const CompletedOp& read : ops) {
    if (!read.is_read() || read.mode != Consistency::kAp || read.outcome != OpType::kOk) continue;
    ++result.reads;
    auto it = keys.find(read.key);
    if (it == keys.end()) {
      // Nothing was ever written to the key: the read found nothing or read an unwritten
      // value (CheckUnwrittenValues reports that). Either way it cannot be stale.
      if (!read.value) ++result.verifiable;
      continue;
    }
    const KeyWrites& k = it->second;
    // The timestamp of the version the read returned.
    Timestamp returned;
    if (read.value) {
      auto ts = k.value_ts.find(*read.value);
      if (ts == k.value_ts.end()) continue;  // Unverifiable.
      returned = ts->second;
    } else {
      bool known = true;
      for (const CompletedOp* d : k.deletes_by_invocation) {
        if (d->invoke_ns > read.effect_deadline_ns()) break;
        if (d->outcome != OpType::kOk || !d->ts) {
          known = false;
          break;
        }
        returned = std::max(returned, *d->ts);
      }
      if (!known) continue;
    }
    ++result.verifiable;
    // Writes completed strictly before the read was invoked.
    const auto end =
        std::lower_bound(k.by_completion.begin(), k.by_completion.end(), read.invoke_ns,
                         [](const CompletedOp* w, int64_t t) { return *w->complete_ns < t; });
    const size_t completed = static_cast<size_t>(end - k.by_completion.begin());
    if (completed == 0 || !(returned < k.max_ts_so_far[completed - 1])) continue;
    // The running maximum is monotone: the first index above `returned` is the earliest
    // completion that superseded the returned version.
    const size_t first = static_cast<size_t>(
        std::upper_bound(k.max_ts_so_far.begin(), k.max_ts_so_far.begin() + completed, returned) -
        k.max_ts_so_far.begin());
    const CompletedOp& newer = *k.by_completion[first];
    const double ms = static_cast<double>(read.invoke_ns - *newer.complete_ns) / 1e6;
    ++result.stale;
    staleness_ms.push_back(ms);
    result.examples.push_back({read, newer, ms});
  }

  if (result.verifiable > 0) {
    result.stale_rate = static_cast<double>(result.stale) / static_cast<double>(result.verifiable);
  }
  if (!staleness_ms.empty()) {
    std::sort(staleness_ms.begin(), staleness_ms.end());
    result.staleness.p50_ms = Percentile(staleness_ms, 0.50);
    result.staleness.p99_ms = Percentile(staleness_ms, 0.99);
    result.staleness.max_ms = staleness_ms.back();
  }
  std::stable_sort(result.examples.begin(), result.examples.end(),
                   [](const auto& a, const auto& b) { return a.staleness_ms > b.staleness_ms; });
  if (result.examples.size() > options.max_examples) result.examples.resize(options.max_examples);
  return result;
}

AvailabilityResult MeasureAvailability(std::span<const CompletedOp> ops,
                                       std::span<const TimeInterval> fault_intervals) {
  AvailabilityResult result;
  for (const CompletedOp& op : ops) {
    ModeAvailability& mode = op.mode == Consistency::kCp ? result.cp : result.ap;
    const int64_t start = op.invoke_ns;
    const int64_t end = op.complete_ns.value_or(op.invoke_ns);
    bool during = false;
    bool partitioned = false;
    bool minority = false;
    for (const TimeInterval& f : fault_intervals) {
      if (end < f.start_ns || f.end_ns < start) continue;
      during = true;
      if (!f.minority) continue;
      partitioned = true;
      minority = minority ||
                 std::find(f.minority->begin(), f.minority->end(), op.node) != f.minority->end();
    }
    mode.overall.Add(op.outcome);
    (during ? mode.during_faults : mode.outside_faults).Add(op.outcome);
    if (partitioned) {
      (minority ? mode.partition_minority_side : mode.partition_majority_side).Add(op.outcome);
    }
  }
  return result;
}

}  // namespace dialkv::jepsen
