#pragma once
// The AP checkers: what AP promises (replicas converge, no value comes from nowhere, no
// acknowledged write disappears unless a newer one beat it) and what it costs (stale reads,
// measured; availability per mode, measured in and out of fault intervals).
//
// The promises apply to every operation whatever its mode (a CP write is an LWW version too);
// the measurements split by mode. Each function takes the operations from PairHistory.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dialkv/types.h"
#include "jepsen-like/check/final_state.h"
#include "jepsen-like/check/pairing.h"
#include "jepsen-like/check/verdict.h"

namespace dialkv::jepsen {

struct ApCheckOptions {
  // Each result lists at most this many examples of what it counted (the counts stay exact).
  size_t max_examples = 20;
};

// (a) Convergence: every node that was asked holds the same version of each key.
struct ConvergenceResult {
  Verdict verdict = Verdict::kPass;
  size_t keys_compared = 0;
  size_t divergent_keys = 0;
  struct Divergence {
    std::string key;
    std::map<NodeId, std::optional<Version>> versions;  // Each asked node's version (or none).
  };
  std::vector<Divergence> examples;  // In key order.
};
// A key diverges when two asked nodes hold different versions (value, timestamp, tombstone),
// or one holds a version and another none.
ConvergenceResult CheckConvergence(const FinalState& final_state,
                                   const ApCheckOptions& options = {});

// (b) No read returned, and no replica holds, a value that was never written to its key.
// A value counts as written when some write of that key carried it and did not `fail`; a value
// that only failed writes carried must never be seen either.
struct UnwrittenValueResult {
  Verdict verdict = Verdict::kPass;
  size_t reads_checked = 0;  // ok reads that returned a value.
  size_t unwritten_reads = 0;
  size_t final_values_checked = 0;
  size_t unwritten_final_values = 0;
  struct Example {
    std::string key;
    std::string value;
    std::optional<CompletedOp> read;       // The read that returned it; absent for a final value.
    std::optional<NodeId> node;            // The replica holding it; absent for a read.
    bool written_by_failed_write = false;  // Only a `fail` write carried it.
  };
  std::vector<Example> examples;
};
// `final_state` may be null: only reads are checked.
UnwrittenValueResult CheckUnwrittenValues(std::span<const CompletedOp> ops,
                                          const FinalState* final_state,  // Not owned.
                                          const ApCheckOptions& options = {});

// (c) No acknowledged write lost. An `ok` write or delete W of key k is
//   - present: some asked replica's version of k has W's timestamp and value (for a delete, a
//     tombstone); a delete also counts as present when no asked replica holds any version;
//   - beaten: a version with a higher timestamp exists in the final state or was acknowledged
//     in the history (an `ok` write or delete of k with its "ts");
//   - unverifiable: W has no "ts", or no node was asked about k;
//   - lost otherwise (a violation).
struct LostWriteResult {
  Verdict verdict = Verdict::kPass;
  size_t acknowledged = 0;  // ok writes and deletes examined.
  size_t present = 0;
  size_t beaten = 0;
  size_t unverifiable = 0;
  size_t lost = 0;
  size_t lost_cp = 0;  // Of `lost`, how many were CP.
  struct Example {
    CompletedOp write;
    std::optional<Version> newest_final;  // The highest version any asked replica holds.
  };
  std::vector<Example> examples;
};
LostWriteResult CheckLostWrites(std::span<const CompletedOp> ops, const FinalState& final_state,
                                const ApCheckOptions& options = {});

// Milliseconds, over the stale reads only; zero when there are none.
struct Staleness {
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// (d) Stale AP reads. An ok AP read R returned a version whose timestamp T is known when its
// value maps to an ok write with a "ts" (values are unique per write), or, when R found
// nothing, T is the highest timestamp of the ok deletes invoked before R completed (zero when
// none) provided every delete invoked by then has a "ts". R is stale when some ok write or
// delete with a "ts" above T completed before R was invoked; its staleness is R's invocation
// minus the earliest such completion (how long the answer had already been superseded).
struct StaleReadResult {
  size_t reads = 0;       // ok AP reads.
  size_t verifiable = 0;  // Of those, reads whose version's timestamp is known.
  size_t stale = 0;
  double stale_rate = 0;  // stale / verifiable; 0 when nothing is verifiable.
  Staleness staleness;
  struct Example {
    CompletedOp read;
    CompletedOp newer_write;  // The earliest-completed write that superseded what R returned.
    double staleness_ms = 0;
  };
  std::vector<Example> examples;  // The stalest reads first.
};
StaleReadResult MeasureStaleReads(std::span<const CompletedOp> ops,
                                  const ApCheckOptions& options = {});

// A closed interval of the history's clock during which a fault was active.
struct TimeInterval {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  // A partition's minority side: the nodes that could not reach a majority both ways while it
  // lasted (possibly none); nullopt for a fault that is not a partition.
  std::optional<std::vector<NodeId>> minority = {};
};

struct AvailabilityCounts {
  size_t ok = 0;
  size_t fail = 0;
  size_t info = 0;  // Includes operations that never completed.
  size_t total() const { return ok + fail + info; }
  // Counts one operation that ended with `outcome` (kInvoke: it never completed, info).
  void Add(OpType outcome) {
    if (outcome == OpType::kOk) {
      ++ok;
    } else if (outcome == OpType::kFail) {
      ++fail;
    } else {
      ++info;
    }
  }
  // ok / total; std::nullopt when there were no operations.
  std::optional<double> availability() const {
    if (total() == 0) return std::nullopt;
    return static_cast<double>(ok) / static_cast<double>(total());
  }
};

struct ModeAvailability {
  AvailabilityCounts overall;
  AvailabilityCounts during_faults;   // Operations whose interval overlaps a fault interval.
  AvailabilityCounts outside_faults;  // The others.
  // The operations whose interval overlaps a partition, by the side of the node that served
  // them: the minority side when a partition the operation overlaps cut that node off from a
  // majority, the majority side otherwise. A client that only talks to one node sees the
  // availability of its side: a CP cluster is expected to serve its majority side throughout
  // and to refuse on its minority side.
  AvailabilityCounts partition_majority_side;
  AvailabilityCounts partition_minority_side;
};

// (e) Availability per mode. An operation's interval runs from its invocation to its
// completion (its invocation alone when it never completed).
struct AvailabilityResult {
  ModeAvailability cp;
  ModeAvailability ap;
};
AvailabilityResult MeasureAvailability(std::span<const CompletedOp> ops,
                                       std::span<const TimeInterval> fault_intervals);

}  // namespace dialkv::jepsen
