#include "server/common/task_tracker.h"

#include "server/common/check.h"

namespace dialkv {

bool TaskTracker::TryAcquire(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || n > max_tasks_ - in_flight_) return false;
  in_flight_ += n;
  return true;
}

void TaskTracker::Release(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  DIALKV_CHECK(n <= in_flight_);
  in_flight_ -= n;
  // Notified under the lock: a StopAndWait() that returns may destroy this object at once.
  if (in_flight_ == 0) idle_.notify_all();
}

void TaskTracker::RefuseNew() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
}

void TaskTracker::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return in_flight_ == 0; });
}

bool TaskTracker::WaitIdleFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_.wait_for(lock, timeout, [this] { return in_flight_ == 0; });
}

bool TaskTracker::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

size_t TaskTracker::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

}  // namespace dialkv
