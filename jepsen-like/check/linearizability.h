#pragma once
// Linearizability of CP operations, key by key.
//
// Each key is a register: a read returns the value of the last write before it, or not found
// when there is none or the last was a delete; initially not found. A history of a key is
// linearizable when its operations can be put in one order that respects real time (an
// operation that completed before another was invoked comes first) and explains every read:
//   - an `ok` operation takes effect at one instant between its invocation and completion;
//   - an `info` write or delete (or one without completion) takes effect at any instant after
//     its invocation, or never; an `info` read constrains nothing and is ignored;
//   - a `fail` operation never takes effect: it is dropped, and a read that returns a value
//     only failed writes wrote is a violation.
//
// The search is Wing-Gong's with Lowe's just-in-time linearization and memoization of visited
// configurations (the set of linearized operations as a bitset, and the register's value);
// keys are independent (P-compositionality), so each key is searched alone. The search is
// exponential in the number of mutually concurrent operations in the worst case: a time and
// memory budget per key turns a key that does not finish into "unknown" instead of a hang.
//
// Only keys whose history uses CP alone are promised linearizability (docs/consistency.md
// "Mixing modes on one key"): a key with an AP write or delete that may have happened is
// skipped and listed. AP reads of a key neither constrain nor block its CP check.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "jepsen-like/check/pairing.h"
#include "jepsen-like/check/verdict.h"

namespace dialkv::jepsen {

struct LinearizabilityOptions {
  // Past this, a key's search stops and the key is kUnknown. Typical keys (hundreds of
  // operations, a handful concurrent) take milliseconds; a key needing seconds has many
  // overlapping `info` writes.
  std::chrono::milliseconds max_time_per_key{10'000};
  // Past this many bytes of memoized configurations (about ops/8 + 64 bytes each), a key's
  // search stops and the key is kUnknown.
  uint64_t max_cache_bytes_per_key = uint64_t{512} << 20;
  // After a violation, the time spent shrinking its witness (re-checking ever smaller subsets
  // of the key's operations). When it runs out, the witness found so far is reported: still a
  // valid counterexample, possibly not the smallest.
  std::chrono::milliseconds max_witness_time_per_key{2'000};
};

// A counterexample: operations of one key that no order explains.
struct LinearizabilityWitness {
  std::string key;
  std::string reason;  // One line, e.g. why the culprit cannot be placed.
  // In invocation order. No operation can be removed (of those the shrinking tried) without
  // the rest becoming linearizable; writes whose value the culprit read are kept.
  std::vector<CompletedOp> ops;
  // ops[*culprit]: the operation whose completion made the history non-linearizable (the
  // earliest such completion in real time), usually a read.
  std::optional<size_t> culprit;
};

// How one key's check ended.
struct KeyLinearizability {
  std::string key;
  Verdict verdict = Verdict::kPass;
  size_t ops = 0;                // Operations searched (after dropping fail and info reads).
  uint64_t states_explored = 0;  // Configurations visited by the search.
  double elapsed_ms = 0;         // Search and witness shrinking.
  std::string unknown_reason;    // kUnknown: which budget ran out.
  std::optional<LinearizabilityWitness> witness;  // kViolation.
};

struct LinearizabilityResult {
  Verdict verdict = Verdict::kPass;  // Combined over the checked keys.
  size_t keys_checked = 0;
  size_t ops_checked = 0;
  uint64_t states_explored = 0;
  double elapsed_ms = 0;
  std::vector<std::string> skipped_keys;           // Keys with an AP write or delete: not promised.
  std::vector<KeyLinearizability> keys;            // Every key checked, in key order.
  std::vector<std::string> unknown_keys;           // Keys whose verdict is kUnknown.
  std::vector<LinearizabilityWitness> violations;  // One per violating key, in key order.
};

// Checks every key that has CP operations. `ops` come from PairHistory (any mode, any keys).
LinearizabilityResult CheckLinearizability(const std::vector<CompletedOp>& ops,
                                           const LinearizabilityOptions& options = {});

// Checks one key. REQUIRES: every op is of one key; modes are not looked at (the caller chose
// the operations), fail and info reads are dropped as described above.
KeyLinearizability CheckKeyLinearizability(std::span<const CompletedOp> ops,
                                           const LinearizabilityOptions& options = {});

// A witness as text a person can follow: the key, the reason, then one line per operation
// (process, function and value, outcome, invocation and completion in ms after `origin_ns`,
// node), the culprit marked. Pass the history's first time as the origin.
std::string FormatWitness(const LinearizabilityWitness& witness, int64_t origin_ns);

}  // namespace dialkv::jepsen
