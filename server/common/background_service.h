#pragma once
// The lifecycle of a server's background service (anti-entropy, the hint replayer, the
// gossiper): periodic work on an executor, work run on request, work tracked so that stopping
// waits for it, all on one monotonic clock (clock.h) so tests can drive time by hand.
//
// What it runs:
//   - the tick: `tick` every interval_ms on a strand of the executor given to Start(). The first
//     tick comes one interval after Start(), or after a random offset in [0, interval) when
//     Options::first_offset is set (nodes started together then do not tick in lockstep).
//     Fixed delay (default): the next interval starts when a tick ends. Fixed rate: ticks start
//     at start + offset + k * interval; one that overran delays the next, never a burst.
//   - run-now requests, by key: RunNow(key) runs the key's work on the tick's strand (a strand
//     of its own when no tick loop runs) now, unless a run
//     of that key has not begun yet (the request joins it) or is running (the request makes,
//     or joins, one more run that begins when it ends). Each request is thus served by a run
//     that began after it arrived, and any number of requests cost at most two runs.
//     RunNowAndWait() does the same on the caller's executor and returns the run's result.
//   - tracked work that the owner runs itself (served requests): TryEnter() holds a slot.
//
// Stopping: RequestStop() refuses new work (RunNow, TryEnter and Start fail, runs not yet
// begun are dropped: their waiters get no result) and cuts the wait for the next tick short; it
// returns at once. Work already running is not interrupted: the owner's work should check
// stopping() at its steps. Stop() is RequestStop() and then waits until the tick loop and every
// run and slot have ended. After Stop() returns (or WaitIdleFor() returned true after
// RequestStop()) no work of the service runs or will run, and the service never touches its
// owner again. Both are idempotent and safe when Start() was never called; only the first
// RequestStop() touches the executor, so later ones (a destructor's) may come after it is gone.
//
// Lifetime rules, for the owner:
//   - Stop() may block until running work ends: the executors running it must keep running
//     meanwhile, and the calling thread must not be one of them. From such a thread use
//     RequestStop(), then run the executor until idle().
//   - The owner calls Stop() in its destructor, before destroying anything the work uses (the
//     destructor here stops too, but runs after the owner's members are gone).
//   - Alternatively, destroying the io_context that runs the work destroys it unrun; its slots
//     are released then (idle() becomes true), so the owner may be destroyed after that without
//     Stop(). The service must still exist when that io_context is destroyed.
//
// Thread-safe: every method may be called from any thread.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "server/common/clock.h"
#include "server/common/logging.h"
#include "server/common/random.h"
#include "server/common/task_tracker.h"

namespace dialkv {

class BackgroundService {
 public:
  // A unit of work: called once per tick or run, on the executor that runs it.
  using Work = std::function<asio::awaitable<void>()>;

  struct Options {
    std::string name;  // In log lines: "<name> threw: ...".
    Subsystem subsystem = Subsystem::kServer;
    uint32_t interval_ms = 0;  // Between ticks. 0: no tick.
    bool fixed_rate = false;   // See the file comment.
    // Not null: the first tick comes after a random offset drawn from it (on the strand, once).
    Random* first_offset = nullptr;
    // Runs on the strand when the tick loop ends because of a stop (not when destroyed unrun).
    std::function<void()> on_stop;
    // Slots held at once (tick loop, runs, TryEnter): a backstop, not a tuning knob.
    size_t max_tasks = 1024;
  };

  // Work slot held by TryEnter(); released when destroyed. Move-only.
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : tracker_(std::exchange(other.tracker_, nullptr)) {}
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot() {
      if (tracker_ != nullptr) tracker_->Release();
    }
    explicit operator bool() const { return tracker_ != nullptr; }

   private:
    friend class BackgroundService;
    explicit Slot(TaskTracker* tracker) : tracker_(tracker) {}
    TaskTracker* tracker_ = nullptr;
  };

  // What a RunNowAndWait() request got.
  template <typename T>
  struct Answer {
    std::optional<T> result;  // Empty: stopping, or the run threw (logged).
    bool joined = false;      // Joined a run an earlier request had caused.
  };

  // `clock` is not owned and outlives this object; `tick` may be empty when interval_ms is 0.
  BackgroundService(Options options, const MonotonicClock& clock, Work tick);
  ~BackgroundService();  // Stop().
  BackgroundService(const BackgroundService&) = delete;
  BackgroundService& operator=(const BackgroundService&) = delete;

  // Starts the tick (if any) on a strand of `executor`; RunNow() uses that strand from now on.
  // False (and nothing happens) when already started or stopping.
  bool Start(const asio::any_io_executor& executor);

  void RequestStop();
  void Stop();
  // True when no work of this service runs: never started, or stopped and drained.
  bool idle() const { return tracker_.in_flight() == 0; }
  // Blocks until idle() or `timeout` passed; returns idle(). Same rule as Stop() for the thread.
  bool WaitIdleFor(std::chrono::milliseconds timeout) { return tracker_.WaitIdleFor(timeout); }
  bool stopping() const { return tracker_.stopping(); }

  // A slot for work the owner runs itself; empty (false) when stopping or at the bound.
  Slot TryEnter() { return tracker_.TryAcquire() ? Slot(&tracker_) : Slot(); }

  // Requests a run of `key` on the strand (see the file comment); `work` is used when the
  // request causes a run. Ignored (false) before Start() and when stopping. `what` names the
  // work in log lines.
  bool RunNow(uint64_t key, std::string what, Work work);
  // As RunNow(), but a run this request causes runs on the caller's executor (so it works
  // without Start()), and the caller resumes on its own executor when the run that serves it
  // ended, with that run's result. The caller's executor must run one handler at a time. T is
  // copyable; every request of a key passes the same kind of work.
  template <typename T>
  asio::awaitable<Answer<T>> RunNowAndWait(uint64_t key, std::string what,
                                           std::function<asio::awaitable<T>()> work);
  // Whether a run of `key` is pending or running.
  bool Running(uint64_t key) const;

 private:
  using Result = std::shared_ptr<const void>;  // Null: no result.
  using ErasedWork = std::function<asio::awaitable<Result>()>;
  struct Run;
  struct Runs {
    std::shared_ptr<Run> current;  // Running, or about to.
    std::shared_ptr<Run> next;     // Begins when `current` ends.
  };
  struct Ticker;

  asio::awaitable<void> TickLoop(std::shared_ptr<Ticker> ticker, Slot slot);
  // Registers a request of `key`. Returns the run that serves it, and whether the request
  // caused it (then the caller spawns Drive()), or null when stopping.
  // `wake` (may be null) is woken on its executor when that run ends.
  std::shared_ptr<Run> Request(uint64_t key, std::shared_ptr<asio::steady_timer> wake, bool* caused,
                               bool* joined);
  // Runs `key`'s runs, one after another, until none is pending.
  asio::awaitable<void> Drive(uint64_t key, std::string what, ErasedWork work, Slot slot);
  // Ends `key`'s current run with `result`, wakes its waiters, and returns the next run (now
  // current), or null when none is pending.
  std::shared_ptr<Run> Finish(uint64_t key, Result result);
  // What RequestAndWait() got: `result` null when none.
  struct Served {
    Result result;
    bool joined = false;
  };
  asio::awaitable<Served> RequestAndWait(uint64_t key, std::string what, ErasedWork work);
  // Starts Drive() on `executor` with a slot, or abandons `key`'s runs when none is left.
  void Spawn(const asio::any_io_executor& executor, uint64_t key, std::string what,
             ErasedWork work);
  // Ends `key`'s current and next runs with no result (stopping).
  void Abandon(uint64_t key);

  static asio::awaitable<Result> EraseVoid(Work work) {
    co_await work();
    co_return nullptr;
  }
  template <typename T>
  static asio::awaitable<Result> Erase(std::function<asio::awaitable<T>()> work) {
    co_return std::make_shared<const T>(co_await work());
  }

  const Options options_;
  const MonotonicClock& clock_;
  const Work tick_;
  TaskTracker tracker_;

  mutable std::mutex mu_;
  // Guarded by mu_:
  bool started_ = false;
  bool stop_requested_ = false;
  // The executor given to Start(). Not a strand of it: a strand may not outlive its io_context
  // (destroying it then touches the context's strand service), and this object may. The strand
  // lives in the tick loop's Ticker; without one, each run gets a strand of its own.
  asio::any_io_executor executor_;
  // The tick loop's timer and strand, owned by the loop's frame, so Stop() can cut the wait
  // short. Weak: neither may outlive the io_context, and this object may.
  std::weak_ptr<Ticker> ticker_;
  std::map<uint64_t, Runs> runs_;
};

template <typename T>
asio::awaitable<BackgroundService::Answer<T>> BackgroundService::RunNowAndWait(
    uint64_t key, std::string what, std::function<asio::awaitable<T>()> work) {
  ErasedWork erased = [work = std::move(work)] { return Erase<T>(work); };
  Served served = co_await RequestAndWait(key, std::move(what), std::move(erased));
  Answer<T> answer;
  answer.joined = served.joined;
  if (served.result != nullptr) answer.result = *std::static_pointer_cast<const T>(served.result);
  co_return answer;
}

}  // namespace dialkv
