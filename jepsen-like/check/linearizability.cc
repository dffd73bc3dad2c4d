#include "jepsen-like/check/linearizability.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "jepsen-like/check/op_text.h"
#include "jepsen-like/check/register_search.h"

namespace dialkv::jepsen {
namespace {

using Clock = std::chrono::steady_clock;
using internal::RegisterOp;

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Whether the search takes `op` into account: fail operations never happened and info reads
// returned nothing.
bool IsSearched(const CompletedOp& op) {
  if (op.outcome == OpType::kFail) return false;
  return op.is_write() || op.outcome == OpType::kOk;
}

// One key's operations and the means to search any subset of them.
class KeySearch {
 public:
  explicit KeySearch(std::span<const CompletedOp> ops) : ops_(ops) {
    for (const CompletedOp& op : ops_) {
      register_ops_.push_back(ToRegisterOp(op));
    }
  }

  size_t size() const { return ops_.size(); }
  const CompletedOp& op(size_t i) const { return ops_[i]; }

  // Searches the operations at `subset` (indices into the key's operations).
  internal::SearchOutcome Search(const std::vector<size_t>& subset,
                                 const internal::SearchBudget& budget) {
    std::vector<RegisterOp> chosen;
    chosen.reserve(subset.size());
    for (size_t i : subset) chosen.push_back(register_ops_[i]);
    return internal::SearchLinearization(internal::PrepareRegisterOps(chosen), budget);
  }

 private:
  RegisterOp ToRegisterOp(const CompletedOp& op) {
    RegisterOp r;
    r.is_read = op.is_read();
    r.value = op.f == OpFunction::kDelete || !op.value ? internal::kAbsent : Intern(*op.value);
    r.invoke_ns = op.invoke_ns;
    r.return_ns = op.effect_deadline_ns();
    return r;
  }
  int32_t Intern(const std::string& value) {
    auto [it, inserted] = values_.emplace(value, static_cast<int32_t>(values_.size()));
    return it->second;
  }

  std::span<const CompletedOp> ops_;
  std::vector<RegisterOp> register_ops_;
  std::unordered_map<std::string, int32_t> values_;
};

// An ok read of a value that no write of the key that may have happened carried: the cheapest
// violation to find and explain, so it is looked for before searching.
std::optional<LinearizabilityWitness> FindUnwrittenRead(std::span<const CompletedOp> ops) {
  std::set<std::string_view> written;
  for (const CompletedOp& op : ops) {
    if (op.f == OpFunction::kWrite && op.outcome != OpType::kFail && op.value) {
      written.insert(*op.value);
    }
  }
  const CompletedOp* first = nullptr;
  for (const CompletedOp& op : ops) {
    if (!op.is_read() || op.outcome != OpType::kOk || !op.value) continue;
    if (written.contains(*op.value)) continue;
    if (first == nullptr || op.effect_deadline_ns() < first->effect_deadline_ns()) first = &op;
  }
  if (first == nullptr) return std::nullopt;

  LinearizabilityWitness w;
  w.key = first->key;
  for (const CompletedOp& op : ops) {
    if (op.f == OpFunction::kWrite && op.value == first->value) w.ops.push_back(op);
  }
  w.reason = w.ops.empty()
                 ? "read returned " + internal::QuoteValue(*first->value) +
                       ", which no write of this key carried"
                 : "read returned " + internal::QuoteValue(*first->value) +
                       ", which only failed writes carried (a failed write never takes effect)";
  w.ops.push_back(*first);
  std::sort(w.ops.begin(), w.ops.end(),
            [](const CompletedOp& a, const CompletedOp& b) { return a.id < b.id; });
  for (size_t i = 0; i < w.ops.size(); ++i) {
    if (w.ops[i].id == first->id) w.culprit = i;
  }
  return w;
}

// Shrinks a non-linearizable set of a key's operations to a small one that is still
// non-linearizable, within `deadline`.
//
// Every subset it considers is *closed*: whenever it drops a write or delete W, it also drops
// every read that returned W's value (not found, for a delete) and completed after W was
// invoked, i.e. every read W could have been the last write before. So each read in the
// witness comes with every write that could explain it, and restricting any order of the
// whole history to the witness keeps every read's last write: when no order explains the
// witness, none explains the history. The witness is a genuine counterexample a person can
// check on its own, never an artifact of what was left out. (A read of "not found" keeps every
// delete invoked before it completed, so such witnesses can be a few operations longer.)
class WitnessFinder {
 public:
  WitnessFinder(KeySearch& search, const LinearizabilityOptions& options,
                Clock::time_point deadline)
      : search_(search), options_(options), deadline_(deadline) {}

  // REQUIRES: `searched` (indices of the searched operations) is non-linearizable.
  LinearizabilityWitness Find(const std::vector<size_t>& searched) {
    size_t culprit = 0;
    std::vector<size_t> current = EarliestViolatingPrefix(searched, &culprit);
    current = Shrink(std::move(current), culprit);
    return MakeWitness(std::move(current), culprit);
  }

 private:
  // True only when the search proves `subset` non-linearizable within budget.
  bool Violates(const std::vector<size_t>& subset) {
    internal::SearchBudget budget;
    budget.deadline = deadline_;
    budget.max_cache_bytes = options_.max_cache_bytes_per_key;
    return search_.Search(subset, budget).verdict == Verdict::kViolation;
  }

  bool OutOfTime() const { return Clock::now() > deadline_; }

  // When an operation becomes part of the prefix: a write at its invocation, a read at its
  // completion.
  int64_t Settles(size_t i) const {
    const CompletedOp& op = search_.op(i);
    return op.is_write() ? op.invoke_ns : op.effect_deadline_ns();
  }

  // The prefix at instant t (writes invoked by t, reads completed by t) is closed, so
  // non-linearizability is monotone in t and a binary search finds the earliest instant at
  // which the history could no longer be explained. Of the operations settled at that
  // instant, the culprit is the first (reads tried first) whose addition breaks the prefix.
  std::vector<size_t> EarliestViolatingPrefix(const std::vector<size_t>& searched,
                                              size_t* culprit) {
    std::vector<int64_t> instants;
    instants.reserve(searched.size());
    for (size_t i : searched) instants.push_back(Settles(i));
    std::sort(instants.begin(), instants.end());
    instants.erase(std::unique(instants.begin(), instants.end()), instants.end());
    auto prefix = [&](int64_t t, bool inclusive) {
      std::vector<size_t> out;
      for (size_t i : searched) {
        if (Settles(i) < t || (inclusive && Settles(i) == t)) out.push_back(i);
      }
      return out;
    };
    size_t lo = 0;
    size_t hi = instants.size() - 1;  // Settles everything: known to violate.
    while (lo < hi && !OutOfTime()) {
      const size_t mid = lo + (hi - lo) / 2;
      if (Violates(prefix(instants[mid], true))) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    const int64_t t = instants[hi];
    std::vector<size_t> at_t;
    for (size_t i : searched) {
      if (Settles(i) == t) at_t.push_back(i);
    }
    std::stable_partition(at_t.begin(), at_t.end(),
                          [&](size_t i) { return search_.op(i).is_read(); });
    *culprit = at_t.back();
    if (at_t.size() > 1) {
      std::vector<size_t> growing = prefix(t, false);
      for (size_t i : at_t) {
        growing.push_back(i);
        if (OutOfTime() || Violates(growing)) {
          *culprit = i;
          break;
        }
      }
    }
    return prefix(t, true);
  }

  // Marks what dropping the writes in `removed` also drops (see the class comment). Returns
  // false when that would drop `culprit`.
  bool Close(const std::vector<size_t>& current, std::vector<bool>& removed, size_t culprit) {
    for (size_t w : current) {
      const CompletedOp& write = search_.op(w);
      if (!removed[w] || !write.is_write()) continue;
      const std::optional<std::string>& value =
          write.f == OpFunction::kDelete ? std::nullopt : write.value;
      for (size_t r : current) {
        const CompletedOp& read = search_.op(r);
        if (removed[r] || !read.is_read() || read.value != value) continue;
        if (read.effect_deadline_ns() < write.invoke_ns) continue;
        if (r == culprit) return false;
        removed[r] = true;
      }
    }
    return true;
  }

  // Delta debugging: try to drop chunks of halving size, keeping every drop after which the
  // rest still violates; finish with single operations until nothing more can go.
  std::vector<size_t> Shrink(std::vector<size_t> current, size_t culprit) {
    size_t chunk = std::max<size_t>(current.size() / 2, 1);
    while (!OutOfTime()) {
      bool dropped_any = false;
      for (size_t start = 0; start < current.size() && !OutOfTime();) {
        const size_t end = std::min(start + chunk, current.size());
        std::vector<bool> removed(search_.size(), false);
        bool any = false;
        for (size_t k = start; k < end; ++k) {
          if (current[k] == culprit) continue;
          removed[current[k]] = true;
          any = true;
        }
        std::vector<size_t> trial;
        if (any && Close(current, removed, culprit)) {
          for (size_t i : current) {
            if (!removed[i]) trial.push_back(i);
          }
        }
        if (!trial.empty() && Violates(trial)) {
          current = std::move(trial);
          dropped_any = true;
        } else {
          start = end;
        }
      }
      if (chunk > 1) {
        chunk = std::max<size_t>(chunk / 2, 1);
      } else if (!dropped_any) {
        break;
      }
    }
    return current;
  }

  LinearizabilityWitness MakeWitness(std::vector<size_t> current, size_t culprit) {
    const CompletedOp& read = search_.op(culprit);
    LinearizabilityWitness w;
    w.key = read.key;
    bool from_the_future = false;
    if (read.is_read() && read.value) {
      bool written_in_witness = false;
      for (size_t i : current) {
        const CompletedOp& op = search_.op(i);
        written_in_witness |= op.f == OpFunction::kWrite && op.value == read.value;
      }
      // Its only writers were invoked after it completed, so the prefix left them out: show
      // them (a read cannot see a write that had not begun, so this stays a counterexample).
      for (size_t i = 0; i < search_.size() && !written_in_witness; ++i) {
        const CompletedOp& op = search_.op(i);
        if (op.f == OpFunction::kWrite && op.outcome != OpType::kFail && op.value == read.value) {
          current.push_back(i);
          from_the_future = true;
        }
      }
    }
    std::sort(current.begin(), current.end(),
              [&](size_t a, size_t b) { return search_.op(a).id < search_.op(b).id; });
    current.erase(std::unique(current.begin(), current.end()), current.end());
    for (size_t k = 0; k < current.size(); ++k) {
      w.ops.push_back(search_.op(current[k]));
      if (current[k] == culprit) w.culprit = k;
    }
    if (from_the_future) {
      w.reason = "read returned " + internal::QuoteValue(*read.value) +
                 ", which was written only by operations invoked after the read completed";
    } else {
      w.reason = "no order of these " + std::to_string(w.ops.size()) +
                 " operations respects real time and explains every read; the marked " +
                 std::string(read.is_read() ? "read" : "operation") +
                 " is the earliest completion that cannot be explained";
    }
    return w;
  }

  KeySearch& search_;
  const LinearizabilityOptions& options_;
  const Clock::time_point deadline_;
};

}  // namespace

KeyLinearizability CheckKeyLinearizability(std::span<const CompletedOp> ops,
                                           const LinearizabilityOptions& options) {
  const Clock::time_point start = Clock::now();
  KeyLinearizability result;
  if (!ops.empty()) result.key = ops.front().key;

  KeySearch search(ops);
  std::vector<size_t> searched;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (IsSearched(ops[i])) searched.push_back(i);
  }
  result.ops = searched.size();

  if (std::optional<LinearizabilityWitness> w = FindUnwrittenRead(ops)) {
    result.verdict = Verdict::kViolation;
    result.witness = std::move(w);
    result.elapsed_ms = MsSince(start);
    return result;
  }

  internal::SearchBudget budget;
  budget.deadline = start + options.max_time_per_key;
  budget.max_cache_bytes = options.max_cache_bytes_per_key;
  internal::SearchOutcome outcome = search.Search(searched, budget);
  result.verdict = outcome.verdict;
  result.states_explored = outcome.states_explored;
  if (outcome.verdict == Verdict::kUnknown) {
    result.unknown_reason =
        outcome.unknown_reason + " after " + std::to_string(outcome.states_explored) +
        " configurations (budget per key: " + std::to_string(options.max_time_per_key.count()) +
        " ms, " + std::to_string(options.max_cache_bytes_per_key >> 10) + " KiB)";
  } else if (outcome.verdict == Verdict::kViolation) {
    WitnessFinder finder(search, options, Clock::now() + options.max_witness_time_per_key);
    result.witness = finder.Find(searched);
  }
  result.elapsed_ms = MsSince(start);
  return result;
}

LinearizabilityResult CheckLinearizability(const std::vector<CompletedOp>& ops,
                                           const LinearizabilityOptions& options) {
  const Clock::time_point start = Clock::now();
  std::map<std::string_view, std::vector<CompletedOp>> cp_ops;
  std::set<std::string_view> has_ap_write;
  for (const CompletedOp& op : ops) {
    if (op.mode == Consistency::kCp) {
      cp_ops[op.key].push_back(op);
    } else if (op.is_write() && op.outcome != OpType::kFail) {
      has_ap_write.insert(op.key);
    }
  }

  LinearizabilityResult result;
  for (const auto& [key, key_ops] : cp_ops) {
    if (has_ap_write.contains(key)) {
      result.skipped_keys.emplace_back(key);
      continue;
    }
    KeyLinearizability k = CheckKeyLinearizability(key_ops, options);
    ++result.keys_checked;
    result.ops_checked += k.ops;
    result.states_explored += k.states_explored;
    result.verdict = Combine(result.verdict, k.verdict);
    if (k.verdict == Verdict::kUnknown) result.unknown_keys.emplace_back(key);
    if (k.witness) result.violations.push_back(*k.witness);
    result.keys.push_back(std::move(k));
  }
  result.elapsed_ms = MsSince(start);
  return result;
}

std::string FormatWitness(const LinearizabilityWitness& witness, int64_t origin_ns) {
  std::string out = "key " + internal::QuoteValue(witness.key) + ": " + witness.reason + "\n";
  for (size_t i = 0; i < witness.ops.size(); ++i) {
    out += "  " + internal::FormatOpLine(witness.ops[i], origin_ns);
    if (witness.culprit == i) out += "  <- cannot be linearized";
    out += "\n";
  }
  return out;
}

}  // namespace dialkv::jepsen
