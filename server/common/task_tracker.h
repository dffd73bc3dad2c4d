#pragma once
// Counts the coroutines a service has started and not yet finished, bounds how many may run,
// and lets Stop() wait until they are all done. The coordinator owns one, and so does every
// BackgroundService (server/common/background_service.h).
//
// Thread-safe: one mutex guards the count and the stopping flag; never held across co_await.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace dialkv {

class TaskTracker {
 public:
  // `max_tasks`: how many slots may be held at once.
  explicit TaskTracker(size_t max_tasks) : max_tasks_(max_tasks) {}
  TaskTracker(const TaskTracker&) = delete;
  TaskTracker& operator=(const TaskTracker&) = delete;

  // Reserves `n` slots, all or none. False once stopping, or when that would exceed the bound.
  [[nodiscard]] bool TryAcquire(size_t n = 1);
  // Returns `n` slots reserved by TryAcquire.
  void Release(size_t n = 1);

  // Refuses every later TryAcquire. Idempotent.
  void RefuseNew();
  // Blocks until every slot has been released. REQUIRES: RefuseNew() was called (or nothing
  // acquires any more); the executors running the tasks keep running, and this thread is not
  // one of them (the tasks could not finish).
  void WaitIdle();
  // WaitIdle() for at most `timeout`; true when idle.
  bool WaitIdleFor(std::chrono::milliseconds timeout);
  // RefuseNew(), then WaitIdle().
  void StopAndWait() {
    RefuseNew();
    WaitIdle();
  }

  bool stopping() const;
  size_t in_flight() const;

 private:
  const size_t max_tasks_;
  mutable std::mutex mu_;
  std::condition_variable idle_;  // Notified when in_flight_ drops to 0.
  size_t in_flight_ = 0;          // Guarded by mu_.
  bool stopping_ = false;         // Guarded by mu_.
};

}  // namespace dialkv
