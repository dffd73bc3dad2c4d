#include "server/cluster/clock_offsets.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "server/common/logging.h"

namespace dialkv::cluster {

PeerClockOffsets::PeerClockOffsets(Options options, NodeId self, const std::vector<NodeId>& peers,
                                   const Clock& wall, const Clock& true_clock,
                                   metrics::Registry* metrics)
    : options_(options), self_(self), wall_(wall), true_clock_(true_clock) {
  metrics::GaugeFamily* offsets = nullptr;
  if (metrics != nullptr) {
    offsets = &metrics->AddGauge(
        "dialkv_peer_clock_offset_ms",
        "Each peer's wall clock minus this node's, in ms (positive: the peer is ahead), "
        "estimated from gossip round trips; the last estimate is kept while none is current.",
        {"peer"});
    skewed_gauge_ = &metrics
                         ->AddGauge("dialkv_clock_skewed",
                                    "1 while this node's clock differs from a majority of its "
                                    "peers' by more than --max-clock-skew-ms (writes refused).",
                                    {})
                         .Get();
    refusals_ = &metrics
                     ->AddCounter("dialkv_clock_skew_write_refusals_total",
                                  "Writes this node refused to coordinate (UNAVAILABLE) "
                                  "because its clock was skewed from a majority of its peers.",
                                  {})
                     .Get();
  }
  for (NodeId peer : peers) {
    if (peer == self_) continue;
    samples_[peer];
    if (offsets != nullptr) offset_gauges_[peer] = &offsets->WithLabels({std::to_string(peer)});
  }
}

PeerClockOffsets::Probe PeerClockOffsets::Begin() const {
  return Probe{wall_.NowMs(), true_clock_.NowMs()};
}

void PeerClockOffsets::Record(NodeId peer, Probe sent, int64_t peer_wall_ms) {
  if (peer_wall_ms == 0) return;
  const int64_t now_true = true_clock_.NowMs();
  const int64_t rtt = std::max<int64_t>(now_true - sent.true_ms, 0);
  const Sample sample{peer_wall_ms - (sent.wall_ms + rtt / 2), rtt, now_true};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = samples_.find(peer);
  if (it == samples_.end()) return;
  std::vector<Sample>& kept = it->second;
  kept.push_back(sample);
  if (kept.size() > std::max<size_t>(options_.samples_per_peer, 1)) kept.erase(kept.begin());
  if (std::optional<Estimate> estimate = EstimateLocked(peer, now_true);
      estimate.has_value() && offset_gauges_.count(peer) > 0) {
    offset_gauges_[peer]->Set(static_cast<double>(estimate->offset_ms));
  }
  RefreshLocked(now_true);
}

std::optional<PeerClockOffsets::Estimate> PeerClockOffsets::EstimateLocked(
    NodeId peer, int64_t now_true_ms) const {
  auto it = samples_.find(peer);
  if (it == samples_.end()) return std::nullopt;
  const Sample* best = nullptr;
  for (const Sample& s : it->second) {  // Oldest first: `<=` lets the newest of equals win.
    if (now_true_ms - s.taken_true_ms > options_.max_sample_age_ms) continue;
    if (best == nullptr || s.rtt_ms <= best->rtt_ms) best = &s;
  }
  if (best == nullptr) return std::nullopt;
  return Estimate{best->offset_ms, best->rtt_ms, now_true_ms - best->taken_true_ms};
}

std::optional<PeerClockOffsets::Estimate> PeerClockOffsets::EstimateFor(NodeId peer) const {
  const int64_t now_true = true_clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  return EstimateLocked(peer, now_true);
}

void PeerClockOffsets::Refresh() {
  const int64_t now_true = true_clock_.NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked(now_true);
}

void PeerClockOffsets::RefreshLocked(int64_t now_true_ms) {
  size_t current = 0;
  size_t far = 0;
  std::string far_list;
  for (const auto& [peer, kept] : samples_) {
    std::optional<Estimate> estimate = EstimateLocked(peer, now_true_ms);
    if (!estimate.has_value()) continue;
    ++current;
    // Only when certainly beyond: by more than the sample's error (half its round trip, and
    // a millisecond for reading each clock at ms resolution). A peer skewed by exactly the
    // guard, which the guard allows, is not held against either node.
    const int64_t error_ms = estimate->rtt_ms / 2 + 1;
    if (std::llabs(estimate->offset_ms) - error_ms > options_.max_clock_skew_ms) {
      ++far;
      far_list += (far_list.empty() ? "" : ", ") + std::string("node ") + std::to_string(peer) +
                  " is " + std::to_string(estimate->offset_ms) + " ms off";
    }
  }
  // A majority of every peer, not only of those heard from: a peer without an estimate is no
  // evidence either way, so a node cut off from most of its peers is never held skewed.
  const bool skewed = 2 * far > samples_.size();
  if (skewed) {
    skew_summary_ = std::to_string(far) + " of " + std::to_string(samples_.size()) + " peers (" +
                    std::to_string(current) + " heard from) differ by more than " +
                    std::to_string(options_.max_clock_skew_ms) + " ms (" + far_list + ")";
  }
  if (skewed_.exchange(skewed, std::memory_order_acq_rel) != skewed) {
    if (skewed) {
      Log(Subsystem::kCluster)
          .warn(
              "node={} clock skew: this node's clock differs from a majority of its peers: {}; it "
              "refuses to coordinate writes until its clock agrees again (--max-clock-skew-ms)",
              self_, skew_summary_);
    } else {
      Log(Subsystem::kCluster).warn("node={} clock skew over: coordinating writes again", self_);
    }
  }
  if (skewed_gauge_ != nullptr) skewed_gauge_->Set(skewed ? 1 : 0);
}

Status PeerClockOffsets::CheckWrites() {
  if (!skewed()) return Status::Ok();
  std::string summary;
  {
    std::lock_guard<std::mutex> lock(mu_);
    summary = skew_summary_;
  }
  if (refusals_ != nullptr) refusals_->Inc();
  uint64_t suppressed = 0;
  if (refusal_log_limiter_.Allow(&suppressed)) {
    Log(Subsystem::kCluster)
        .warn("node={} refused to coordinate a write: clock skew: {}{}", self_, summary,
              LogLimiter::SuppressedNote(suppressed));
  }
  return Status::Unavailable(
      "clock skew: node " + std::to_string(self_) +
      "'s clock differs from a majority of its peers' (" + summary +
      ", --max-clock-skew-ms); it coordinates no writes until its clock agrees again; the "
      "write was not applied, retry on another node");
}

}  // namespace dialkv::cluster
