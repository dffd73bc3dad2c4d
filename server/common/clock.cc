#include "server/common/clock.h"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <utility>

namespace dialkv {
namespace {

class RealTimer final : public Timer {
 public:
  explicit RealTimer(const asio::any_io_executor& executor) : timer_(executor) {}

  asio::awaitable<bool> WaitUntil(std::chrono::steady_clock::time_point deadline) override {
    timer_.expires_at(deadline);
    auto [error] = co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    co_return !error;
  }
  void Cancel() override { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

class RealMonotonicClock final : public MonotonicClock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  std::unique_ptr<Timer> NewTimer(const asio::any_io_executor& executor) const override {
    return std::make_unique<RealTimer>(executor);
  }
};

}  // namespace

int64_t SystemClock::NowMs() const {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count() + offset_ms();
}

const MonotonicClock& MonotonicClock::Real() {
  static const RealMonotonicClock clock;
  return clock;
}

// One wait in progress. `wake` never expires by itself: it is the wait's event, cancelled on
// its executor when the deadline is reached (`reached`) or the wait is cancelled.
struct ManualMonotonicClock::Wait {
  explicit Wait(const asio::any_io_executor& executor)
      : wake(executor, asio::steady_timer::time_point::max()) {}
  std::chrono::steady_clock::time_point deadline;
  bool reached = false;  // Guarded by the clock's mu_.
  asio::steady_timer wake;
};

class ManualMonotonicClock::ManualTimer final : public Timer {
 public:
  ManualTimer(const ManualMonotonicClock& clock, const asio::any_io_executor& executor)
      : clock_(clock), executor_(executor) {}
  ~ManualTimer() override { Forget(); }

  asio::awaitable<bool> WaitUntil(std::chrono::steady_clock::time_point deadline) override {
    auto wait = std::make_shared<Wait>(executor_);
    wait->deadline = deadline;
    {
      std::lock_guard<std::mutex> lock(clock_.mu_);
      wait->reached = deadline <= clock_.now_;
      if (!wait->reached) clock_.waits_.push_back(wait);
    }
    if (wait->reached) {
      // Like a real timer that already expired: resume through the executor.
      co_await asio::post(executor_, asio::use_awaitable);
      co_return true;
    }
    current_ = wait;
    // Advance() and Cancel() post the wake-up to this executor, where it runs only once this
    // coroutine is suspended in the wait (the executor runs one handler at a time).
    (void)co_await wait->wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    Forget();
    std::lock_guard<std::mutex> lock(clock_.mu_);
    co_return wait->reached;
  }

  void Cancel() override {
    std::shared_ptr<Wait> wait = current_;
    Forget();
    if (wait != nullptr) wait->wake.cancel();
  }

 private:
  // Unregisters the current wait from the clock.
  void Forget() {
    std::shared_ptr<Wait> wait = std::exchange(current_, nullptr);
    if (wait == nullptr) return;
    std::lock_guard<std::mutex> lock(clock_.mu_);
    std::erase(clock_.waits_, wait);
  }

  const ManualMonotonicClock& clock_;
  const asio::any_io_executor executor_;
  std::shared_ptr<Wait> current_;  // Used on the executor only.
};

ManualMonotonicClock::~ManualMonotonicClock() = default;

ManualMonotonicClock::TimePoint ManualMonotonicClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

std::unique_ptr<Timer> ManualMonotonicClock::NewTimer(const asio::any_io_executor& executor) const {
  return std::make_unique<ManualTimer>(*this, executor);
}

void ManualMonotonicClock::Advance(std::chrono::steady_clock::duration delta) {
  std::vector<std::shared_ptr<Wait>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += std::max(delta, std::chrono::steady_clock::duration::zero());
    auto reached = [this](const std::shared_ptr<Wait>& wait) { return wait->deadline <= now_; };
    for (const std::shared_ptr<Wait>& wait : waits_) {
      if (reached(wait)) {
        wait->reached = true;
        due.push_back(wait);
      }
    }
    std::erase_if(waits_, reached);
  }
  // Each wake-up holds its wait, not the timer: the timer may be gone when it runs.
  for (std::shared_ptr<Wait>& wait : due) {
    const asio::any_io_executor executor = wait->wake.get_executor();
    asio::post(executor, [wait = std::move(wait)] { wait->wake.cancel(); });
  }
}

size_t ManualMonotonicClock::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waits_.size();
}

}  // namespace dialkv
