#pragma once
// Turns a history's events into operations: each invocation with its completion.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "dialkv/types.h"
#include "jepsen-like/check/history.h"
#include "server/common/status.h"

namespace dialkv::jepsen {

// One operation: an invocation and what became of it.
struct CompletedOp {
  size_t id = 0;  // Its index in PairHistory's result (operations are in invocation order).
  int64_t process = 0;
  OpFunction f = OpFunction::kRead;
  std::string key;
  Consistency mode = Consistency::kCp;
  NodeId node = 0;  // The completion's node; the invocation's when there is no completion.
  // kOk, kFail or kInfo. An invocation without a completion is kInfo: it may have happened.
  OpType outcome = OpType::kInfo;
  // write: the value written. ok read: the value read, std::nullopt for not found.
  // Otherwise (delete, a read that did not complete ok) std::nullopt.
  std::optional<std::string> value;
  int64_t invoke_ns = 0;
  std::optional<int64_t> complete_ns;  // std::nullopt: no completion in the history.
  std::optional<std::string> error;    // The completion's error, if any.
  std::optional<Timestamp> ts;         // ok write or delete: its version's timestamp, if recorded.
  size_t invoke_index = 0;             // Position of the invocation in the history.
  std::optional<size_t> complete_index;

  bool is_read() const { return f == OpFunction::kRead; }
  bool is_write() const { return f != OpFunction::kRead; }  // Writes and deletes.
  // The end of the interval in which the operation may have taken effect: its completion for
  // an ok or fail operation, "never ends" for an info one (it may take effect at any time
  // after its invocation, or never).
  int64_t effect_deadline_ns() const {
    return outcome == OpType::kInfo || !complete_ns ? std::numeric_limits<int64_t>::max()
                                                    : *complete_ns;
  }

  friend bool operator==(const CompletedOp&, const CompletedOp&) = default;
};

// Pairs every invocation with the next completion of the same process.
// Errors: kInvalidArgument naming the history positions involved when the history is malformed:
// a process invokes while its previous operation is outstanding; a completion has no
// outstanding invocation, or differs from it in f, key or mode, or completes before it was
// invoked; a write's invocation has no value, or its completion carries another value.
Result<std::vector<CompletedOp>> PairHistory(const std::vector<Op>& history);

}  // namespace dialkv::jepsen
