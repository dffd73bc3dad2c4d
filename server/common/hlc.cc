#include "server/common/hlc.h"

#include <algorithm>
#include <string>

namespace dialkv {

HybridLogicalClock::HybridLogicalClock(const Clock& clock, NodeId node_id, Options options)
    : clock_(clock), node_id_(node_id), options_(options) {}

uint64_t HybridLogicalClock::WallHlc() const {
  const int64_t ms = std::max<int64_t>(clock_.NowMs(), 0);
  return static_cast<uint64_t>(ms) << 16;
}

Timestamp HybridLogicalClock::Now() {
  const uint64_t wall = WallHlc();
  uint64_t last = last_.load(std::memory_order_acquire);
  uint64_t next = 0;
  do {
    // When the wall clock has not moved past `last`, the logical counter advances; if it
    // overflows it carries into the millisecond part, which only ever moves forward.
    next = std::max(wall, last + 1);
  } while (!last_.compare_exchange_weak(last, next, std::memory_order_acq_rel));
  return Timestamp{next, node_id_};
}

Status HybridLogicalClock::CheckSkew(uint64_t hlc) const {
  const int64_t remote_ms = static_cast<int64_t>(hlc >> 16);
  const int64_t local_ms = clock_.NowMs();
  if (remote_ms - local_ms > options_.max_clock_skew_ms) {
    return Status::InvalidArgument("timestamp is " + std::to_string(remote_ms - local_ms) +
                                   " ms ahead of this node's clock, beyond the skew guard of " +
                                   std::to_string(options_.max_clock_skew_ms) +
                                   " ms (--max-clock-skew-ms)");
  }
  return Status::Ok();
}

Status HybridLogicalClock::Observe(uint64_t remote_hlc) {
  Status skew = CheckSkew(remote_hlc);
  if (!skew.ok()) return skew;
  uint64_t last = last_.load(std::memory_order_acquire);
  while (remote_hlc > last &&
         !last_.compare_exchange_weak(last, remote_hlc, std::memory_order_acq_rel)) {
  }
  return Status::Ok();
}

}  // namespace dialkv
