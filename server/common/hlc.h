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
// Across restarts: with a bound keeper (SetBoundKeeper), the clock never issues or observes a
// value above a bound that the keeper has made durable first. The bound is renewed ahead of
// use, to max(needed, wall clock) + bound_window_ms, so the keeper runs about once per window
// of wall-clock time, not per timestamp. A restarted node calls StartAbove(persisted bound):
// every value it hands out afterwards is above every value it handed out or observed before,
// whatever its wall clock says.
//
// Thread-safe. Now() and Observe() are lock-free, except when they renew the bound: that takes
// a mutex and calls the keeper (a durable write, so it may block for a disk write).

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>

#include "dialkv/types.h"
#include "server/common/clock.h"
#include "server/common/status.h"

namespace dialkv {

class HybridLogicalClock {
 public:
  struct Options {
    // Remote timestamps further ahead of our wall clock than this are refused.
    int64_t max_clock_skew_ms = 500;
    // With a bound keeper: how far past what is needed a renewed bound reaches, in wall-clock
    // ms. Longer renews less often; after a restart whose wall clock went back, the node's
    // timestamps run ahead of its wall clock by up to this much (then by the logical counter).
    int64_t bound_window_ms = 10'000;
  };

  // Makes `bound` durable: after a crash, StartAbove(bound) must be possible. Called with the
  // clock's mutex held; must not call back into the clock.
  // Errors: any; the clock logs them and goes on issuing values (then unprotected).
  using BoundKeeper = std::function<Status(uint64_t bound)>;

  // `clock` must outlive this object. Not owned.
  HybridLogicalClock(const Clock& clock, NodeId node_id, Options options);

  // Raises the clock to at least `floor`: every later Now() is greater. Call at start-up with
  // the persisted bound (and the highest timestamp stored). Any thread.
  void StartAbove(uint64_t floor);

  // From now on, no value above `persisted` is issued or observed before `keeper` made a
  // greater bound durable. `persisted`: the bound already durable (0: none). REQUIRES: called
  // before the clock is shared with other threads.
  void SetBoundKeeper(uint64_t persisted, BoundKeeper keeper);

  // The durable bound (the largest uint64 without a keeper) and how many times it was renewed.
  uint64_t bound() const { return bound_.load(std::memory_order_acquire); }
  uint64_t bound_renewals() const { return bound_renewals_.load(std::memory_order_relaxed); }

  // A fresh timestamp for a write coordinated by this node.
  Timestamp Now();

  // Folds in an hlc value received from elsewhere.
  // Errors: kInvalidArgument if it is beyond the skew guard; the clock is then unchanged.
  Status Observe(uint64_t remote_hlc);

  // kInvalidArgument if `hlc` is more than max_clock_skew_ms ahead of the wall clock.
  Status CheckSkew(uint64_t hlc) const;

  // The largest value issued or observed so far.
  uint64_t Last() const { return last_.load(std::memory_order_acquire); }

  // The wall clock under this HLC, in ms since the Unix epoch (fault injection may skew it).
  int64_t WallMs() const { return clock_.NowMs(); }

  NodeId node_id() const { return node_id_; }
  const Options& options() const { return options_; }

 private:
  uint64_t WallHlc() const;
  // Makes sure bound() >= needed, calling the keeper when it is not. False when the keeper
  // failed (logged; the caller goes on).
  bool RenewBound(uint64_t needed);

  const Clock& clock_;
  const NodeId node_id_;
  const Options options_;
  std::atomic<uint64_t> last_{0};
  // Without a keeper, bound_ stays at its maximum and is never crossed.
  std::atomic<uint64_t> bound_{~uint64_t{0}};
  std::atomic<uint64_t> bound_renewals_{0};
  std::mutex keeper_mu_;  // Guards keeper_ calls; held while renewing the bound.
  BoundKeeper keeper_;    // Set once, before sharing.
};

}  // namespace dialkv
