#include "jepsen-like/check/register_search.h"

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/common/check.h"

namespace dialkv::jepsen::internal {
namespace {

// How often (in search steps) the clock is read: often enough to stop within a millisecond or
// so of the deadline, rarely enough not to show in profiles.
constexpr uint64_t kStepsPerClockCheck = 1024;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A visited configuration: which operations are linearized, and the register's value then.
// Two paths reaching the same configuration have the same future, so the second is cut.
struct Config {
  uint64_t hash = 0;
  int32_t state = kAbsent;
  std::vector<uint64_t> linearized;

  friend bool operator==(const Config& a, const Config& b) {
    return a.hash == b.hash && a.state == b.state && a.linearized == b.linearized;
  }
};
struct ConfigHash {
  size_t operator()(const Config& c) const { return c.hash; }
};

// One invocation or return, in time order.
struct Event {
  int64_t time_ns = 0;
  uint32_t op = 0;
  bool is_call = false;
};

// The events not yet linearized, as a doubly linked list over positions in the sorted event
// array, with head and tail sentinels. Lift/Unlift remove and restore an operation's call and
// return in LIFO order (dancing links), which the search's stack guarantees.
class EventList {
 public:
  explicit EventList(size_t events)
      : next_(events + 2), prev_(events + 2), head_(events), tail_(events + 1) {
    uint32_t last = head_;
    for (uint32_t i = 0; i < events; ++i) {
      next_[last] = i;
      prev_[i] = last;
      last = i;
    }
    next_[last] = tail_;
    prev_[tail_] = last;
  }

  uint32_t head() const { return head_; }
  uint32_t tail() const { return tail_; }
  uint32_t next(uint32_t pos) const { return next_[pos]; }
  bool empty() const { return next_[head_] == tail_; }

  void Lift(uint32_t call, uint32_t ret) {
    Remove(call);
    Remove(ret);
  }
  void Unlift(uint32_t call, uint32_t ret) {
    Restore(ret);
    Restore(call);
  }

 private:
  void Remove(uint32_t pos) {
    next_[prev_[pos]] = next_[pos];
    prev_[next_[pos]] = prev_[pos];
  }
  void Restore(uint32_t pos) {
    next_[prev_[pos]] = pos;
    prev_[next_[pos]] = pos;
  }

  std::vector<uint32_t> next_;
  std::vector<uint32_t> prev_;
  uint32_t head_;
  uint32_t tail_;
};

}  // namespace

std::vector<RegisterOp> PrepareRegisterOps(std::span<const RegisterOp> ops) {
  std::unordered_map<int32_t, std::vector<int64_t>> read_completions;  // Sorted, per value.
  std::unordered_map<int32_t, int> writers;
  for (const RegisterOp& op : ops) {
    if (op.is_read) {
      read_completions[op.value].push_back(op.return_ns);
    } else {
      ++writers[op.value];
    }
  }
  for (auto& [value, completions] : read_completions) {
    std::sort(completions.begin(), completions.end());
  }

  std::vector<RegisterOp> out;
  out.reserve(ops.size());
  for (const RegisterOp& original : ops) {
    RegisterOp op = original;
    op.must_follow = -1;
    if (!op.is_read) {
      // The first completion of a read of this value at or after the write's invocation.
      std::optional<int64_t> first_read;
      if (auto it = read_completions.find(op.value); it != read_completions.end()) {
        auto c = std::lower_bound(it->second.begin(), it->second.end(), op.invoke_ns);
        if (c != it->second.end()) first_read = *c;
      }
      if (!first_read && op.return_ns == kNeverReturns) continue;
      if (first_read && op.value != kAbsent && writers[op.value] == 1) {
        op.return_ns = std::min(op.return_ns, *first_read);
      }
    }
    out.push_back(op);
  }

  std::unordered_map<int32_t, std::vector<int32_t>> floating;  // Per value, indexes in `out`.
  for (size_t i = 0; i < out.size(); ++i) {
    if (!out[i].is_read && out[i].return_ns == kNeverReturns) {
      floating[out[i].value].push_back(static_cast<int32_t>(i));
    }
  }
  for (auto& [value, group] : floating) {
    std::stable_sort(group.begin(), group.end(),
                     [&](int32_t a, int32_t b) { return out[a].invoke_ns < out[b].invoke_ns; });
    for (size_t k = 1; k < group.size(); ++k) out[group[k]].must_follow = group[k - 1];
  }
  return out;
}

SearchOutcome SearchLinearization(std::span<const RegisterOp> ops, const SearchBudget& budget) {
  SearchOutcome outcome;
  const size_t n = ops.size();
  if (n == 0) return outcome;

  std::vector<Event> events;
  events.reserve(2 * n);
  for (uint32_t i = 0; i < n; ++i) {
    events.push_back({ops[i].invoke_ns, i, true});
    events.push_back({ops[i].return_ns, i, false});
  }
  // At equal times calls sort first: operations that touch in time count as concurrent, the
  // permissive reading of a clock whose resolution may hide their order.
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    if (a.time_ns != b.time_ns) return a.time_ns < b.time_ns;
    return a.is_call && !b.is_call;
  });
  std::vector<uint32_t> call_pos(n);
  std::vector<uint32_t> return_pos(n);
  for (uint32_t pos = 0; pos < events.size(); ++pos) {
    (events[pos].is_call ? call_pos : return_pos)[events[pos].op] = pos;
  }
  std::vector<uint64_t> zobrist(n);
  for (size_t i = 0; i < n; ++i) zobrist[i] = SplitMix64(i + 1);

  EventList list(events.size());
  std::unordered_set<Config, ConfigHash> cache;
  uint64_t cache_bytes = 0;
  const uint64_t bytes_per_config = sizeof(Config) + 2 * sizeof(void*) + (n + 63) / 64 * 8;

  struct Frame {
    uint32_t op;
    int32_t state_before;
  };
  std::vector<Frame> stack;
  stack.reserve(n);
  std::vector<uint64_t> linearized((n + 63) / 64, 0);
  uint64_t set_hash = 0;
  int32_t state = kAbsent;
  uint64_t steps = 0;

  uint32_t pos = list.next(list.head());
  while (!list.empty()) {
    if (++steps % kStepsPerClockCheck == 0 && std::chrono::steady_clock::now() > budget.deadline) {
      outcome.verdict = Verdict::kUnknown;
      outcome.unknown_reason = "time budget ran out";
      return outcome;
    }
    DIALKV_DCHECK(pos != list.tail());
    const Event& event = events[pos];
    if (event.is_call) {
      const RegisterOp& op = ops[event.op];
      const bool waits = op.must_follow >= 0 &&
                         (linearized[op.must_follow / 64] >> (op.must_follow % 64) & 1) == 0;
      if (waits || (op.is_read && op.value != state)) {
        pos = list.next(pos);
        continue;
      }
      const int32_t new_state = op.is_read ? state : op.value;
      linearized[event.op / 64] |= uint64_t{1} << (event.op % 64);
      set_hash ^= zobrist[event.op];
      Config config{set_hash ^ SplitMix64(static_cast<uint64_t>(static_cast<int64_t>(new_state))),
                    new_state, linearized};
      if (cache.insert(std::move(config)).second) {
        ++outcome.states_explored;
        cache_bytes += bytes_per_config;
        if (cache_bytes > budget.max_cache_bytes) {
          outcome.verdict = Verdict::kUnknown;
          outcome.unknown_reason = "memory budget ran out";
          return outcome;
        }
        stack.push_back({event.op, state});
        state = new_state;
        list.Lift(pos, return_pos[event.op]);
        pos = list.next(list.head());
        continue;
      }
      linearized[event.op / 64] &= ~(uint64_t{1} << (event.op % 64));
      set_hash ^= zobrist[event.op];
      pos = list.next(pos);
      continue;
    }
    // A return whose operation is not linearized yet: nothing placed so far can be extended
    // past this point. Undo the most recent choice and try the next candidate after it.
    if (stack.empty()) {
      outcome.verdict = Verdict::kViolation;
      return outcome;
    }
    const Frame frame = stack.back();
    stack.pop_back();
    state = frame.state_before;
    linearized[frame.op / 64] &= ~(uint64_t{1} << (frame.op % 64));
    set_hash ^= zobrist[frame.op];
    list.Unlift(call_pos[frame.op], return_pos[frame.op]);
    pos = list.next(call_pos[frame.op]);
  }
  return outcome;
}

}  // namespace dialkv::jepsen::internal
