#pragma once
// Rate limiting for log lines caused by clients, peers or data: one line per interval gets
// through, and it says how many similar lines were dropped before it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace dialkv {

// Lets through at most one log line per interval; counts the others. Errors that clients can
// cause are logged through one of these, so a misbehaving client cannot flood the log.
// Thread-safe and lock-free.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::milliseconds interval) : interval_ns_(Nanos(interval)) {}

  // True when a line may be logged now; `*suppressed` is then the number of lines refused
  // since the last one allowed.
  bool Allow(uint64_t* suppressed);

  // " (3 similar lines not logged)", or "" for 0: the tail of an allowed line.
  static std::string SuppressedNote(uint64_t suppressed);

 private:
  static int64_t Nanos(std::chrono::nanoseconds d) { return d.count(); }

  const int64_t interval_ns_;
  std::atomic<int64_t> next_allowed_ns_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace dialkv
