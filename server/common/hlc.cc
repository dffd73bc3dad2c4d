#include "server/common/hlc.h"

#include <algorithm>
#include <string>

#include "server/common/log_limiter.h"
#include "server/common/logging.h"

namespace dialkv {

HybridLogicalClock::HybridLogicalClock(const Clock& clock, NodeId node_id, Options options)
    : clock_(clock), node_id_(node_id), options_(options) {}

uint64_t HybridLogicalClock::WallHlc() const {
  const int64_t ms = std::max<int64_t>(clock_.NowMs(), 0);
  return static_cast<uint64_t>(ms) << 16;
}

void HybridLogicalClock::StartAbove(uint64_t floor) {
  uint64_t last = last_.load(std::memory_order_acquire);
  while (floor > last && !last_.compare_exchange_weak(last, floor, std::memory_order_acq_rel)) {
  }
}

void HybridLogicalClock::SetBoundKeeper(uint64_t persisted, BoundKeeper keeper) {
  std::lock_guard<std::mutex> lock(keeper_mu_);
  keeper_ = std::move(keeper);
  bound_.store(persisted, std::memory_order_release);
}

bool HybridLogicalClock::RenewBound(uint64_t needed) {
  // A keeper that fails (a broken disk) would otherwise be called, and logged, on every
  // timestamp: the log is rate-limited, the calls are not (the engine is failing anyway).
  static LogLimiter failure_log_limiter(std::chrono::seconds(1));
  std::lock_guard<std::mutex> lock(keeper_mu_);
  if (bound_.load(std::memory_order_acquire) >= needed) return true;  // Renewed meanwhile.
  const uint64_t window = static_cast<uint64_t>(std::max<int64_t>(options_.bound_window_ms, 1))
                          << 16;
  const uint64_t renewed = std::max(needed, WallHlc()) + window;
  Status kept = keeper_(renewed);
  if (!kept.ok()) {
    uint64_t suppressed = 0;
    if (failure_log_limiter.Allow(&suppressed)) {
      Log(Subsystem::kServer)
          .error(
              "node={} the clock's bound could not be made durable: {}; timestamps issued now may "
              "repeat after a restart whose wall clock went back{}",
              node_id_, kept.ToString(), LogLimiter::SuppressedNote(suppressed));
    }
    return false;
  }
  bound_.store(renewed, std::memory_order_release);
  bound_renewals_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

Timestamp HybridLogicalClock::Now() {
  const uint64_t wall = WallHlc();
  uint64_t last = last_.load(std::memory_order_acquire);
  for (;;) {
    // When the wall clock has not moved past `last`, the logical counter advances; if it
    // overflows it carries into the millisecond part, which only ever moves forward.
    const uint64_t next = std::max(wall, last + 1);
    // The bound is made durable before a value beyond it is handed out. A failed renewal is
    // logged and the value handed out anyway: refusing every write would be worse.
    if (next > bound_.load(std::memory_order_acquire) && RenewBound(next)) {
      last = last_.load(std::memory_order_acquire);
      continue;
    }
    if (last_.compare_exchange_weak(last, next, std::memory_order_acq_rel)) {
      return Timestamp{next, node_id_};
    }
  }
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
  // Observed values are handed on (every later Now() is greater): they need the bound too.
  if (remote_hlc > bound_.load(std::memory_order_acquire)) (void)RenewBound(remote_hlc);
  uint64_t last = last_.load(std::memory_order_acquire);
  while (remote_hlc > last &&
         !last_.compare_exchange_weak(last, remote_hlc, std::memory_order_acq_rel)) {
  }
  return Status::Ok();
}

}  // namespace dialkv
