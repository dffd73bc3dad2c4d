#include "server/common/background_service.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <exception>
#include <vector>

namespace dialkv {

// One run of a key and the requests it serves.
struct BackgroundService::Run {
  bool begun = false;  // Its work was called: new requests make the next run. Guarded by mu_.
  Result result;       // Written (under mu_) before `done`, read by waiters after it.
  std::atomic<bool> done{false};
  // One per waiting RunNowAndWait(), on its executor; cancelled there when the run ended.
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // Guarded by mu_.
};

// The tick loop's strand and timer. Owned by the loop's frame (and, briefly, by a cancel
// posted to the strand).
struct BackgroundService::Ticker {
  Ticker(asio::any_io_executor s, std::unique_ptr<Timer> t)
      : strand(std::move(s)), timer(std::move(t)) {}
  const asio::any_io_executor strand;
  const std::unique_ptr<Timer> timer;
};

BackgroundService::BackgroundService(Options options, const MonotonicClock& clock, Work tick)
    : options_(std::move(options)),
      clock_(clock),
      tick_(std::move(tick)),
      tracker_(options_.max_tasks) {}

BackgroundService::~BackgroundService() { Stop(); }

bool BackgroundService::Start(const asio::any_io_executor& executor) {
  const asio::any_io_executor strand = asio::make_strand(executor);
  std::shared_ptr<Ticker> ticker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stop_requested_) return false;
    started_ = true;
    executor_ = executor;
    if (options_.interval_ms == 0 || tick_ == nullptr) return true;
    ticker = std::make_shared<Ticker>(strand, clock_.NewTimer(strand));
    ticker_ = ticker;
  }
  Slot slot = TryEnter();
  if (!slot) return true;  // A stop came in between.
  asio::co_spawn(strand, TickLoop(std::move(ticker), std::move(slot)), asio::detached);
  return true;
}

void BackgroundService::RequestStop() {
  tracker_.RefuseNew();
  std::shared_ptr<Ticker> ticker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Only the first call touches the executor: later ones may come after it was destroyed.
    if (stop_requested_) return;
    stop_requested_ = true;
    ticker = ticker_.lock();
  }
  // The timer belongs to the strand: cancel it there. Either the loop is waiting and wakes, or
  // it is busy on the strand and sees stopping() before it waits again.
  if (ticker != nullptr) {
    const asio::any_io_executor strand = ticker->strand;
    asio::post(strand, [ticker = std::move(ticker)] { ticker->timer->Cancel(); });
  }
}

void BackgroundService::Stop() {
  RequestStop();
  tracker_.WaitIdle();
}

asio::awaitable<void> BackgroundService::TickLoop(std::shared_ptr<Ticker> ticker, Slot slot) {
  (void)slot;  // Held until the frame goes, whether the loop ended or was destroyed unrun.
  try {
    const auto interval = std::chrono::milliseconds(options_.interval_ms);
    MonotonicClock::TimePoint next =
        clock_.Now() +
        (options_.first_offset != nullptr
             ? std::chrono::milliseconds(options_.first_offset->Uniform(options_.interval_ms))
             : interval);
    while (!stopping()) {
      (void)co_await ticker->timer->WaitUntil(next);
      if (stopping()) break;
      co_await tick_();
      // Fixed rate: a tick ends well within its interval normally; one that overran delays the
      // next, never makes up for it with a burst.
      next =
          options_.fixed_rate ? std::max(next + interval, clock_.Now()) : clock_.Now() + interval;
    }
    if (options_.on_stop) options_.on_stop();
  } catch (...) {
    Log(options_.subsystem)
        .error("{} threw: {}; it runs no more", options_.name,
               DescribeException(std::current_exception()));
  }
}

bool BackgroundService::RunNow(uint64_t key, std::string what, Work work) {
  std::shared_ptr<Ticker> ticker;
  asio::any_io_executor executor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return false;
    ticker = ticker_.lock();
    executor = executor_;
  }
  // The tick loop's strand while it runs, so runs and ticks take turns.
  const asio::any_io_executor strand =
      ticker != nullptr ? ticker->strand : asio::make_strand(executor);
  bool caused = false;
  bool joined = false;
  if (Request(key, nullptr, &caused, &joined) == nullptr) return false;
  if (caused) {
    ErasedWork erased = [work = std::move(work)] { return EraseVoid(work); };
    Spawn(strand, key, std::move(what), std::move(erased));
  }
  return true;
}

asio::awaitable<BackgroundService::Served> BackgroundService::RequestAndWait(uint64_t key,
                                                                             std::string what,
                                                                             ErasedWork work) {
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  Served served;
  bool caused = false;
  std::shared_ptr<Run> run = Request(key, wake, &caused, &served.joined);
  if (run == nullptr) co_return served;  // Stopping.
  if (caused) Spawn(executor, key, std::move(what), std::move(work));
  // The wake-up is posted to this executor, which runs it only once this coroutine is
  // suspended in the wait, so a run that ended meanwhile still wakes it.
  while (!run->done.load(std::memory_order_acquire)) {
    (void)co_await wake->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  served.result = run->result;
  co_return served;
}

std::shared_ptr<BackgroundService::Run> BackgroundService::Request(
    uint64_t key, std::shared_ptr<asio::steady_timer> wake, bool* caused, bool* joined) {
  std::lock_guard<std::mutex> lock(mu_);
  if (tracker_.stopping()) return nullptr;
  Runs& runs = runs_[key];
  std::shared_ptr<Run> run;
  if (runs.current == nullptr) {
    runs.current = std::make_shared<Run>();
    run = runs.current;
    *caused = true;
  } else if (!runs.current->begun) {
    run = runs.current;
    *joined = true;
  } else {
    *joined = runs.next != nullptr;
    if (runs.next == nullptr) runs.next = std::make_shared<Run>();
    run = runs.next;
  }
  if (wake != nullptr) run->waiters.push_back(std::move(wake));
  return run;
}

void BackgroundService::Spawn(const asio::any_io_executor& executor, uint64_t key, std::string what,
                              ErasedWork work) {
  Slot slot = TryEnter();
  if (!slot) {
    Abandon(key);  // Stopping, or at the bound: answered with no result.
    return;
  }
  asio::co_spawn(executor, Drive(key, std::move(what), std::move(work), std::move(slot)),
                 asio::detached);
}

asio::awaitable<void> BackgroundService::Drive(uint64_t key, std::string what, ErasedWork work,
                                               Slot slot) {
  (void)slot;  // Held until the frame goes.
  // Leave the requester's stack first (co_spawn may start this inline; a membership listener
  // must not block), and let the requests already queued on this executor (a burst) join the
  // first run.
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  std::shared_ptr<Run> run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(key);
    if (it != runs_.end()) run = it->second.current;
  }
  while (run != nullptr) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (tracker_.stopping()) break;
      run->begun = true;  // From here on, new requests wait for the next run.
    }
    Result result;
    try {
      result = co_await work();
    } catch (...) {
      Log(options_.subsystem)
          .error("{} threw: {}", what, DescribeException(std::current_exception()));
    }
    run = Finish(key, std::move(result));
  }
  if (run != nullptr) Abandon(key);
}

std::shared_ptr<BackgroundService::Run> BackgroundService::Finish(uint64_t key, Result result) {
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
  std::shared_ptr<Run> next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(key);
    if (it == runs_.end() || it->second.current == nullptr) return nullptr;
    Run& done = *it->second.current;
    done.result = std::move(result);
    done.done.store(true, std::memory_order_release);
    waiters.swap(done.waiters);
    it->second.current = std::exchange(it->second.next, nullptr);
    next = it->second.current;
    if (next == nullptr) runs_.erase(it);
  }
  // Each wake-up holds its timer, not this object.
  for (std::shared_ptr<asio::steady_timer>& wake : waiters) {
    const asio::any_io_executor executor = wake->get_executor();
    asio::post(executor, [wake = std::move(wake)] { wake->cancel(); });
  }
  return next;
}

void BackgroundService::Abandon(uint64_t key) {
  // The current run, then the next one if any (no third can be made meanwhile: requests join
  // a run that has not begun).
  if (Finish(key, nullptr) != nullptr) (void)Finish(key, nullptr);
}

bool BackgroundService::Running(uint64_t key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_.count(key) > 0;
}

}  // namespace dialkv
