#pragma once
// Internal to the linearizability checker: the search over one register's operations, with
// values already interned as small integers.

#include <chrono>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "jepsen-like/check/verdict.h"

namespace dialkv::jepsen::internal {

inline constexpr int32_t kAbsent = -1;  // The register's "not found" value.
inline constexpr int64_t kNeverReturns = std::numeric_limits<int64_t>::max();

struct RegisterOp {
  bool is_read = false;     // Otherwise a write; a delete writes kAbsent.
  int32_t value = kAbsent;  // Written, or read (kAbsent: the read found nothing).
  int64_t invoke_ns = 0;
  int64_t return_ns = 0;  // kNeverReturns: may take effect any time after invoke_ns, or never.
  // Index (in the searched span) of an operation that must be linearized before this one, or
  // -1. Breaks the symmetry of interchangeable operations (see PrepareRegisterOps).
  int32_t must_follow = -1;
};

struct SearchBudget {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  uint64_t max_cache_bytes = std::numeric_limits<uint64_t>::max();
};

struct SearchOutcome {
  Verdict verdict = Verdict::kPass;
  uint64_t states_explored = 0;
  std::string unknown_reason;  // kUnknown: which budget ran out.
};

// Rewrites `ops` into an equivalent, cheaper search problem: the result is linearizable iff
// `ops` is. Three rules, each preserving the existence of a linearization:
//   - a write that may never take effect (kNeverReturns) and whose value no read completing
//     after its invocation returned is dropped: it can always be placed last, or nowhere;
//   - the only write of a value must take effect before the first read of that value that
//     completed after it was invoked, so that completion becomes its deadline;
//   - writes of the same value that may never take effect are interchangeable (swapping two
//     of them in a linearization gives another), so each must follow the one invoked before
//     it: k pending `info` deletes cost k, not 2^k, configurations.
std::vector<RegisterOp> PrepareRegisterOps(std::span<const RegisterOp> ops);

// Decides whether `ops` (a register starting at kAbsent) are linearizable. Invocation and
// completion at the same instant count as concurrent. Never runs past the budget.
SearchOutcome SearchLinearization(std::span<const RegisterOp> ops, const SearchBudget& budget);

}  // namespace dialkv::jepsen::internal
