#pragma once
// Rate limiting for log lines caused by clients, peers or data (STYLE.md §7): one line per
// interval gets through, and it says how many similar lines were dropped before it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace dialkv::api {

// Thread-safe and lock-free.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval)
      : interval_ns_(interval.count() * 1000000) {}

  // True if a line may be logged now; then *suppressed is the number of lines refused since
  // the last one allowed.
  bool Allow(uint64_t* suppressed) {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t next = next_ns_.load(std::memory_order_relaxed);
    if (now < next ||
        !next_ns_.compare_exchange_strong(next, now + interval_ns_, std::memory_order_relaxed)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  const int64_t interval_ns_;
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> suppressed_{0};
};

// " (N similar lines suppressed)", or "" when none were: the tail of a rate-limited line.
inline std::string SuppressedNote(uint64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " similar lines suppressed)";
}

}  // namespace dialkv::api
