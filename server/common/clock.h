#pragma once
// Time as a seam: code that needs the wall clock takes a Clock&, and code that measures
// intervals or waits takes a MonotonicClock&, so tests can use a ManualClock or a
// ManualMonotonicClock and replay exactly.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace dialkv {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
};

// The system's real-time clock, plus an offset that fault injection may set to simulate a
// node whose clock is wrong. Thread-safe.
class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override;
  void SetOffsetMs(int64_t offset_ms) { offset_ms_.store(offset_ms, std::memory_order_relaxed); }
  int64_t offset_ms() const { return offset_ms_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> offset_ms_{0};
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_relaxed); }
  void Advance(int64_t delta_ms) { now_ms_.fetch_add(delta_ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

// A wait on a MonotonicClock, bound to one executor. One wait at a time; WaitUntil and Cancel
// run on that executor, which must run one handler at a time (a strand or an io_context run by
// one thread). Destroy it on that executor, or once nothing runs there any more.
class Timer {
 public:
  virtual ~Timer() = default;
  // Resumes once the clock reached `deadline` (true), or when Cancel() cut the wait short
  // (false). A deadline already passed still resumes through the executor, never inline.
  virtual asio::awaitable<bool> WaitUntil(std::chrono::steady_clock::time_point deadline) = 0;
  // Ends the wait in progress, if any; does nothing otherwise (a later wait is not affected).
  virtual void Cancel() = 0;
};

// Monotonic time, for intervals, deadlines and periodic work: never goes back, unrelated to
// the wall clock. Thread-safe.
class MonotonicClock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~MonotonicClock() = default;
  virtual TimePoint Now() const = 0;
  // A timer on this clock whose waits resume on `executor`. The clock outlives it.
  virtual std::unique_ptr<Timer> NewTimer(const asio::any_io_executor& executor) const = 0;

  // The process's steady clock (std::chrono::steady_clock and asio's steady timers).
  static const MonotonicClock& Real();
};

// Monotonic time that moves only when told to: waits end when Advance() reaches their
// deadline. Thread-safe. It outlives its timers.
class ManualMonotonicClock final : public MonotonicClock {
 public:
  // Starts at `start`. Tests whose deadlines also reach code on the real steady clock (a
  // transport) start it at std::chrono::steady_clock::now().
  explicit ManualMonotonicClock(TimePoint start = TimePoint{}) : now_(start) {}
  ~ManualMonotonicClock() override;

  TimePoint Now() const override;
  std::unique_ptr<Timer> NewTimer(const asio::any_io_executor& executor) const override;

  // Moves time forward by `delta` (>= 0) and ends every wait whose deadline it reached; they
  // resume on their executors.
  void Advance(std::chrono::steady_clock::duration delta);
  // How many waits are in progress (so a test can tell that a loop is waiting).
  size_t waiting() const;

 private:
  class ManualTimer;
  struct Wait;

  mutable std::mutex mu_;
  TimePoint now_;                                     // Guarded by mu_.
  mutable std::vector<std::shared_ptr<Wait>> waits_;  // In progress. Guarded by mu_.
};

}  // namespace dialkv
