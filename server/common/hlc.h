#pragma once
// Hybrid logical clock: timestamps that follow wall-clock time where clocks agree and stay
// causally ordered where they do not.
//
// An hlc value is wall-clock milliseconds << 16 | a 16-bit logical counter. Now() returns a
// value greater than every value this clock issued or observed; Observe() folds in a value
// seen on a message from another node (hlc = max(local, remote)), so the next Now() is
// greater than it. A remote value whose wall part is more than max_clock_skew_ms ahead of
// the local wall clock is refused and not folded in: one node with a wild clock must not be
// able to drag every node's clock (and so make its writes unbeatable) into the future.
//
// Thread-safe and lock-free.

#include <atomic>
#include <cstdint>

#include "dialkv/types.h"
#include "server/common/clock.h"
#include "server/common/status.h"

namespace dialkv {

class HybridLogicalClock {
 public:
  struct Options {
    // Remote timestamps further ahead of our wall clock than this are refused.
    int64_t max_clock_skew_ms = 500;
  };

  // `clock` must outlive this object. Not owned.
  HybridLogicalClock(const Clock& clock, NodeId node_id, Options options);

  // A fresh timestamp for a write coordinated by this node.
  Timestamp Now();

  // Folds in an hlc value received from elsewhere.
  // Errors: kInvalidArgument if it is beyond the skew guard; the clock is then unchanged.
  Status Observe(uint64_t remote_hlc);

  // kInvalidArgument if `hlc` is more than max_clock_skew_ms ahead of the wall clock.
  Status CheckSkew(uint64_t hlc) const;

  // The largest value issued or observed so far.
  uint64_t Last() const { return last_.load(std::memory_order_acquire); }

  NodeId node_id() const { return node_id_; }
  const Options& options() const { return options_; }

 private:
  uint64_t WallHlc() const;

  const Clock& clock_;
  const NodeId node_id_;
  const Options options_;
  std::atomic<uint64_t> last_{0};
};

}  // namespace dialkv
