#pragma once
// Estimates of how far every peer's wall clock is from this node's, and the decision that
// this node's own clock is the wrong one.
//
// Each gossip call is a sample: the caller notes its wall clock when sending, the peer answers
// with its own wall clock, and the round trip is measured on the true (never skewed) clock.
// The peer's clock read at about the middle of the round trip, so
//   offset = peer_wall - (sent_wall + rtt / 2),   error at most rtt / 2.
// Of the last samples_per_peer samples younger than max_sample_age_ms, the estimate is the one
// with the smallest round trip (the tightest error bound), the newest among equals: a queueing
// delay on one call does not move the estimate, and a clock step shows whole: at the first
// sample after it with as short a round trip, at the latest once the older samples rolled out. See
// docs/architecture.md.
//
// This node is skewed when a strict majority of all its peers have a current estimate more
// than max_clock_skew_ms away from it, beyond the estimate's error (rtt / 2 + 1 ms): then it
// is the odd one out, and it refuses to coordinate writes (CheckWrites). A peer without a
// current estimate (down, cut off) counts as no evidence, so a node that hears from too few
// peers is not skewed: nothing shows that its clock is wrong, and the HLC's skew guard still
// applies. With a single peer (two nodes), that peer is a majority: both refuse.
//
// Thread-safe: one mutex guards the samples; skewed() is lock-free.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "dialkv/types.h"
#include "server/common/clock.h"
#include "server/common/log_limiter.h"
#include "server/common/metrics.h"
#include "server/common/status.h"

namespace dialkv::cluster {

class PeerClockOffsets {
 public:
  struct Options {
    // A node further than this from a majority of its peers is skewed (--max-clock-skew-ms).
    int64_t max_clock_skew_ms = 500;
    // Samples kept per peer. More smooths over more congested calls, and holds an old
    // offset longer when every newer sample had a longer round trip.
    size_t samples_per_peer = 8;
    // Older samples are ignored: a peer not heard from this long has no estimate.
    int64_t max_sample_age_ms = 5000;
  };

  // What the caller notes when it sends a probe (a gossip request).
  struct Probe {
    int64_t wall_ms = 0;  // This node's wall clock: sent to the peer.
    int64_t true_ms = 0;  // The true clock: measures the round trip.
  };

  struct Estimate {
    int64_t offset_ms = 0;  // The peer's clock minus this node's: positive when it is ahead.
    int64_t rtt_ms = 0;     // Round trip of the sample it comes from (error <= rtt_ms / 2).
    int64_t age_ms = 0;     // Since that sample, on the true clock.
  };

  // `wall` is the clock under this node's HLC (fault injection may skew it); `true_clock`
  // measures round trips and ages and must never be skewed. Both not owned, must outlive this.
  // `metrics` (not owned; may be null) gets the gauges and the refusal counter.
  PeerClockOffsets(Options options, NodeId self, const std::vector<NodeId>& peers,
                   const Clock& wall, const Clock& true_clock, metrics::Registry* metrics);
  PeerClockOffsets(const PeerClockOffsets&) = delete;
  PeerClockOffsets& operator=(const PeerClockOffsets&) = delete;

  Probe Begin() const;
  int64_t WallMs() const { return wall_.NowMs(); }

  // Folds in the answer of `peer` to the probe `sent`: its wall clock when it answered.
  // Peers not given at construction, and answers without a clock (0), are ignored.
  void Record(NodeId peer, Probe sent, int64_t peer_wall_ms);

  // The current estimate for `peer`, if it has a sample younger than max_sample_age_ms.
  std::optional<Estimate> EstimateFor(NodeId peer) const;

  // Judges skewed() again (samples age out). Called on every Record; call it periodically
  // too (the gossiper does, every round), so that estimates going stale are noticed.
  void Refresh();

  // True when this node's clock is the odd one out (see the header comment).
  bool skewed() const { return skewed_.load(std::memory_order_acquire); }

  // OK, or kUnavailable (definitely not applied) with a message containing "clock skew" when
  // skewed(); each refusal is counted, and logged at most once a second.
  Status CheckWrites();

  const Options& options() const { return options_; }

 private:
  struct Sample {
    int64_t offset_ms = 0;
    int64_t rtt_ms = 0;
    int64_t taken_true_ms = 0;
  };
  std::optional<Estimate> EstimateLocked(NodeId peer, int64_t now_true_ms) const;
  void RefreshLocked(int64_t now_true_ms);

  const Options options_;
  const NodeId self_;
  const Clock& wall_;
  const Clock& true_clock_;
  metrics::Gauge* skewed_gauge_ = nullptr;
  metrics::Counter* refusals_ = nullptr;
  LogLimiter refusal_log_limiter_{std::chrono::seconds(1)};

  mutable std::mutex mu_;
  // Guarded by mu_:
  std::map<NodeId, std::vector<Sample>> samples_;    // Oldest first; one entry per peer.
  std::map<NodeId, metrics::Gauge*> offset_gauges_;  // Set at construction, then read-only.
  std::string skew_summary_;                         // Why skewed_, for the refusal message.

  std::atomic<bool> skewed_{false};
};

}  // namespace dialkv::cluster
