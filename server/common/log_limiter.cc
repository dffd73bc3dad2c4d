#include "server/common/log_limiter.h"

namespace dialkv {

bool LogLimiter::Allow(uint64_t* suppressed) {
  const int64_t now = Nanos(std::chrono::steady_clock::now().time_since_epoch());
  int64_t next = next_allowed_ns_.load(std::memory_order_relaxed);
  if (now < next || !next_allowed_ns_.compare_exchange_strong(next, now + interval_ns_,
                                                              std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

std::string LogLimiter::SuppressedNote(uint64_t suppressed) {
  if (suppressed == 0) return "";
  return " (" + std::to_string(suppressed) + " similar lines not logged)";
}

}  // namespace dialkv
