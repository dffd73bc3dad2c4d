#pragma once
// Time as a seam: code that needs the wall clock takes a Clock&, so tests can use a ManualClock
// and replay exactly.

#include <atomic>
#include <cstdint>

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

}  // namespace dialkv
