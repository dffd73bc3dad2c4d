#pragma once
// Hand-written histories for the checker tests: each operation is written as one call with its
// times in milliseconds, and MakeHistory turns them into history.jsonl events in time order.
//
//   std::vector<Op> h = MakeHistory({
//       W(1, "k", "a", 0, 10),             // process 1 writes "a" to k, ok, from 0 to 10 ms
//       R(2, "k", "a", 20, 30),            // process 2 reads "a"
//       W(3, "k", "b", 40, 50).Info(),     // may have happened
//       R(4, "k", std::nullopt, 60, 70),   // not found
//   });

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jepsen-like/check/history.h"

namespace dialkv::jepsen::testing {

inline constexpr int64_t kNsPerMs = 1'000'000;

struct Spec {
  int64_t process = 0;
  OpFunction f = OpFunction::kRead;
  std::string key;
  std::optional<std::string> value;  // Written, or read (ok reads).
  int64_t invoke_ms = 0;
  std::optional<int64_t> complete_ms;  // std::nullopt: never completes.
  OpType outcome = OpType::kOk;
  Consistency mode = Consistency::kCp;
  NodeId node = 1;
  std::optional<Timestamp> ts;

  Spec&& Info() && {
    outcome = OpType::kInfo;
    return std::move(*this);
  }
  Spec&& Fail() && {
    outcome = OpType::kFail;
    return std::move(*this);
  }
  Spec&& Pending() && {
    complete_ms.reset();
    return std::move(*this);
  }
  Spec&& Ap() && {
    mode = Consistency::kAp;
    return std::move(*this);
  }
  Spec&& Ts(uint64_t hlc, NodeId ts_node) && {
    ts = Timestamp{hlc, ts_node};
    return std::move(*this);
  }
  Spec&& OnNode(NodeId n) && {
    node = n;
    return std::move(*this);
  }
};

inline Spec MakeSpec(int64_t p, OpFunction f, std::string key, std::optional<std::string> value,
                     int64_t invoke_ms, int64_t complete_ms) {
  Spec s;
  s.process = p;
  s.f = f;
  s.key = std::move(key);
  s.value = std::move(value);
  s.invoke_ms = invoke_ms;
  s.complete_ms = complete_ms;
  return s;
}
inline Spec W(int64_t p, std::string key, std::string value, int64_t invoke_ms,
              int64_t complete_ms) {
  return MakeSpec(p, OpFunction::kWrite, std::move(key), std::move(value), invoke_ms, complete_ms);
}
inline Spec R(int64_t p, std::string key, std::optional<std::string> value, int64_t invoke_ms,
              int64_t complete_ms) {
  return MakeSpec(p, OpFunction::kRead, std::move(key), std::move(value), invoke_ms, complete_ms);
}
inline Spec D(int64_t p, std::string key, int64_t invoke_ms, int64_t complete_ms) {
  return MakeSpec(p, OpFunction::kDelete, std::move(key), std::nullopt, invoke_ms, complete_ms);
}

// The invocation and completion events of `specs`, ordered by time (at equal times in the
// order given, invocations of an operation always before its completion).
inline std::vector<Op> MakeHistory(const std::vector<Spec>& specs) {
  struct Timed {
    int64_t time_ns;
    size_t order;
    Op op;
  };
  std::vector<Timed> events;
  for (const Spec& s : specs) {
    Op invoke;
    invoke.process = s.process;
    invoke.type = OpType::kInvoke;
    invoke.f = s.f;
    invoke.key = s.key;
    if (s.f == OpFunction::kWrite) invoke.value = s.value;
    invoke.time_ns = s.invoke_ms * kNsPerMs;
    invoke.mode = s.mode;
    invoke.node = s.node;
    events.push_back({invoke.time_ns, events.size(), invoke});
    if (!s.complete_ms) continue;
    Op done = invoke;
    done.type = s.outcome;
    done.time_ns = *s.complete_ms * kNsPerMs;
    if (s.f == OpFunction::kRead) done.value = s.outcome == OpType::kOk ? s.value : std::nullopt;
    if (s.outcome == OpType::kOk) done.ts = s.ts;
    if (s.outcome == OpType::kFail) done.error = "UNAVAILABLE: test";
    if (s.outcome == OpType::kInfo) done.error = "UNKNOWN: test";
    events.push_back({done.time_ns, events.size(), done});
  }
  std::stable_sort(events.begin(), events.end(), [](const Timed& a, const Timed& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.order < b.order;
  });
  std::vector<Op> out;
  out.reserve(events.size());
  for (Timed& t : events) out.push_back(std::move(t.op));
  return out;
}

}  // namespace dialkv::jepsen::testing
