// BackgroundService on manual monotonic time: ticks come at their interval, run-now requests
// coalesce, and Stop() drains in-flight work, after which nothing of the service runs.

#include "server/common/background_service.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "server/common/clock.h"
#include "server/common/random.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;

constexpr auto kTestDeadline = std::chrono::seconds(10);

// What a unit of work under test did; shared by the work and the test.
struct Counts {
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
};

asio::awaitable<void> Count(Counts* counts) {
  ++counts->started;
  ++counts->finished;
  co_return;
}

// Counts, then waits `hold` on `clock` (time only a test moves) before it ends.
asio::awaitable<void> CountAndHold(Counts* counts, const MonotonicClock* clock,
                                   std::chrono::steady_clock::duration hold) {
  ++counts->started;
  std::unique_ptr<Timer> timer = clock->NewTimer(co_await asio::this_coro::executor);
  (void)co_await timer->WaitUntil(clock->Now() + hold);
  ++counts->finished;
}

// Counts, then moves the clock forward by `overrun`: a tick that took that long.
asio::awaitable<void> CountAndOverrun(Counts* counts, ManualMonotonicClock* clock,
                                      std::chrono::steady_clock::duration overrun) {
  ++counts->started;
  if (counts->started == 1) clock->Advance(overrun);
  ++counts->finished;
  co_return;
}

asio::awaitable<int> Numbered(std::atomic<int>* runs) { co_return ++*runs; }

asio::awaitable<int> Throwing() {
  throw std::runtime_error("broken");
  co_return 0;
}

// Requests a run of key 1 and records its answer.
struct Answers {
  std::vector<int> results;  // -1: no result.
  int joined = 0;
};
asio::awaitable<void> RequestInto(BackgroundService* service,
                                  std::function<asio::awaitable<int>()> work, Answers* answers) {
  BackgroundService::Answer<int> answer =
      co_await service->RunNowAndWait<int>(1, "a test run", std::move(work));
  answers->results.push_back(answer.result.value_or(-1));
  if (answer.joined) ++answers->joined;
}

bool WaitFor(const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + kTestDeadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

class BackgroundServiceTest : public ::testing::Test {
 protected:
  BackgroundService::Options Periodic(uint32_t interval_ms) {
    BackgroundService::Options options;
    options.name = "the test service";
    options.interval_ms = interval_ms;
    return options;
  }
  BackgroundService::Work Tick() {
    return [this] { return Count(&ticks_); };
  }
  // Runs every handler that is ready (none waits for real time here).
  void RunReady() {
    io_.restart();
    io_.poll();
  }
  // Moves manual time on, then runs what that made ready.
  void Advance(std::chrono::steady_clock::duration delta) {
    clock_.Advance(delta);
    RunReady();
  }

  ManualMonotonicClock clock_;
  Counts ticks_;
  asio::io_context io_;
};

TEST_F(BackgroundServiceTest, TicksComeEveryIntervalAfterTheLastTickEnded) {
  BackgroundService service(Periodic(100), clock_, Tick());
  ASSERT_TRUE(service.Start(io_.get_executor()));
  EXPECT_FALSE(service.idle());
  RunReady();
  Advance(milliseconds(99));
  EXPECT_EQ(ticks_.started, 0);
  Advance(milliseconds(1));
  EXPECT_EQ(ticks_.started, 1);
  Advance(milliseconds(100));
  EXPECT_EQ(ticks_.started, 2);
  // Fixed delay: a late wake-up runs one tick, and the next interval starts from its end.
  Advance(milliseconds(250));
  EXPECT_EQ(ticks_.started, 3);
  Advance(milliseconds(99));
  EXPECT_EQ(ticks_.started, 3);
  Advance(milliseconds(1));
  EXPECT_EQ(ticks_.started, 4);
  service.RequestStop();
  RunReady();
  EXPECT_TRUE(service.idle());
  service.Stop();
}

TEST_F(BackgroundServiceTest, FixedRateStartsAfterTheRandomOffsetAndNeverBursts) {
  SeededRandom random(7);
  SeededRandom same(7);
  const auto offset = milliseconds(same.Uniform(100));
  BackgroundService::Options options = Periodic(100);
  options.fixed_rate = true;
  options.first_offset = &random;
  const auto overrun = milliseconds(250);
  BackgroundService service(options, clock_,
                            [this, overrun] { return CountAndOverrun(&ticks_, &clock_, overrun); });
  ASSERT_TRUE(service.Start(io_.get_executor()));
  RunReady();
  if (offset > milliseconds(0)) {
    Advance(offset - milliseconds(1));
    EXPECT_EQ(ticks_.started, 0);
    clock_.Advance(milliseconds(1));
  }
  RunReady();
  // The first tick took 250 ms: the second, due 100 ms after the first began, comes at once,
  // and the ones it missed are not made up for.
  EXPECT_EQ(ticks_.started, 2);
  Advance(milliseconds(99));
  EXPECT_EQ(ticks_.started, 2);
  Advance(milliseconds(1));
  EXPECT_EQ(ticks_.started, 3);
  service.RequestStop();
  RunReady();
  EXPECT_TRUE(service.idle());
}

TEST_F(BackgroundServiceTest, RunNowRequestsCoalesceIntoAtMostOneMoreRun) {
  BackgroundService service(Periodic(0), clock_, nullptr);
  Counts runs;
  const auto hold = milliseconds(10);
  BackgroundService::Work work = [&runs, this, hold] { return CountAndHold(&runs, &clock_, hold); };
  EXPECT_FALSE(service.RunNow(1, "a test run", work)) << "ignored before Start()";
  ASSERT_TRUE(service.Start(io_.get_executor()));
  // A burst before the run begins: one run.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(service.RunNow(1, "a test run", work));
  EXPECT_TRUE(service.Running(1));
  RunReady();
  EXPECT_EQ(runs.started, 1);
  // Requests while it runs: one more run, after it.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(service.RunNow(1, "a test run", work));
  RunReady();
  EXPECT_EQ(runs.started, 1);
  Advance(hold);
  EXPECT_EQ(runs.finished, 1);
  EXPECT_EQ(runs.started, 2);
  Advance(hold);
  EXPECT_EQ(runs.finished, 2);
  EXPECT_FALSE(service.Running(1));
  // Keys are independent.
  EXPECT_TRUE(service.RunNow(2, "a test run", work));
  RunReady();
  EXPECT_EQ(runs.started, 3);
  EXPECT_TRUE(service.Running(2));
  EXPECT_FALSE(service.Running(1));
  Advance(hold);
  EXPECT_EQ(runs.finished, 3);
  service.RequestStop();
  EXPECT_FALSE(service.RunNow(1, "a test run", work));
  RunReady();
  EXPECT_TRUE(service.idle());
}

TEST_F(BackgroundServiceTest, RunNowAndWaitAnswersEveryRequestWithItsRunsResult) {
  BackgroundService service(Periodic(0), clock_, nullptr);  // Not started: runs on the caller's.
  std::atomic<int> runs{0};
  std::function<asio::awaitable<int>()> work = [&runs] { return Numbered(&runs); };
  Answers answers;
  for (int i = 0; i < 5; ++i) {
    asio::co_spawn(io_, RequestInto(&service, work, &answers), asio::detached);
  }
  RunReady();
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(answers.results, (std::vector<int>{1, 1, 1, 1, 1}));
  EXPECT_EQ(answers.joined, 4);
  // A run that throws answers with no result; the next request runs again.
  Answers failed;
  std::function<asio::awaitable<int>()> throwing = [] { return Throwing(); };
  asio::co_spawn(io_, RequestInto(&service, throwing, &failed), asio::detached);
  RunReady();
  EXPECT_EQ(failed.results, (std::vector<int>{-1}));
  asio::co_spawn(io_, RequestInto(&service, work, &answers), asio::detached);
  RunReady();
  EXPECT_EQ(answers.results.back(), 2);
  // Stopping: answered at once, with no run.
  service.Stop();
  Answers late;
  asio::co_spawn(io_, RequestInto(&service, work, &late), asio::detached);
  RunReady();
  EXPECT_EQ(late.results, (std::vector<int>{-1}));
  EXPECT_EQ(runs, 2);
}

TEST_F(BackgroundServiceTest, StopWhileATickRunsWaitsForItThenNothingRunsAgain) {
  const auto hold = std::chrono::hours(1);
  BackgroundService service(Periodic(100), clock_,
                            [this, hold] { return CountAndHold(&ticks_, &clock_, hold); });
  auto guard = asio::make_work_guard(io_);
  std::thread io_thread([this] { io_.run(); });
  ASSERT_TRUE(service.Start(io_.get_executor()));
  ASSERT_TRUE(WaitFor([this] { return clock_.waiting() == 1; })) << "the loop waits";
  clock_.Advance(milliseconds(100));
  ASSERT_TRUE(WaitFor([this] { return ticks_.started == 1 && clock_.waiting() == 1; }))
      << "the tick runs and holds";
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    service.Stop();
    stopped = true;
  });
  // A slot is refused as soon as the stop is requested; Stop() itself waits for the tick.
  ASSERT_TRUE(WaitFor([&] { return !service.TryEnter(); }));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(stopped) << "Stop() returned while a tick was running";
  EXPECT_EQ(ticks_.finished, 0);
  clock_.Advance(hold);
  ASSERT_TRUE(WaitFor([&] { return stopped.load(); }));
  stopper.join();
  EXPECT_EQ(ticks_.finished, 1);
  EXPECT_TRUE(service.idle());
  // Time goes on; the service does nothing more.
  clock_.Advance(std::chrono::hours(2));
  Counts runs;
  EXPECT_FALSE(service.RunNow(1, "a test run", [&runs] { return Count(&runs); }));
  EXPECT_FALSE(service.Start(io_.get_executor()));
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(ticks_.started, 1);
  EXPECT_EQ(runs.started, 0);
  EXPECT_EQ(clock_.waiting(), 0u);
  guard.reset();
  io_.stop();
  io_thread.join();
}

TEST_F(BackgroundServiceTest, StopDrainsRunsAndSlotsAndDropsRunsNotBegun) {
  BackgroundService service(Periodic(0), clock_, nullptr);
  Counts runs;
  const auto hold = milliseconds(10);
  BackgroundService::Work work = [&runs, this, hold] { return CountAndHold(&runs, &clock_, hold); };
  auto guard = asio::make_work_guard(io_);
  std::thread io_thread([this] { io_.run(); });
  ASSERT_TRUE(service.Start(io_.get_executor()));
  ASSERT_TRUE(service.RunNow(1, "a test run", work));
  ASSERT_TRUE(WaitFor([&] { return runs.started == 1; }));
  ASSERT_TRUE(service.RunNow(1, "a test run", work));  // The next run: dropped by the stop.
  std::optional<BackgroundService::Slot> slot(service.TryEnter());
  ASSERT_TRUE(*slot);
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    service.Stop();
    stopped = true;
  });
  ASSERT_TRUE(WaitFor([&] { return service.stopping(); }));
  clock_.Advance(hold);
  ASSERT_TRUE(WaitFor([&] { return runs.finished == 1; }));
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(stopped) << "Stop() returned while a slot was held";
  slot.reset();
  ASSERT_TRUE(WaitFor([&] { return stopped.load(); }));
  stopper.join();
  EXPECT_EQ(runs.started, 1);
  EXPECT_FALSE(service.Running(1));
  guard.reset();
  io_.stop();
  io_thread.join();
}

TEST_F(BackgroundServiceTest, StopBeforeStartAndStopTwiceReturnAtOnce) {
  BackgroundService service(Periodic(100), clock_, Tick());
  EXPECT_TRUE(service.idle());
  service.Stop();
  service.Stop();
  EXPECT_FALSE(service.Start(io_.get_executor())) << "no start after a stop";
  EXPECT_FALSE(service.TryEnter());
  RunReady();
  Advance(milliseconds(1000));
  EXPECT_EQ(ticks_.started, 0);
}

// The owner's destructor stops again after the io_context is gone: only the first stop may
// touch the executor.
TEST_F(BackgroundServiceTest, StopAgainAfterTheExecutorIsGoneDoesNotTouchIt) {
  BackgroundService service(Periodic(100), clock_, Tick());
  {
    asio::io_context io;
    ASSERT_TRUE(service.Start(io.get_executor()));
    io.poll();
    service.RequestStop();
    io.restart();
    io.poll();
    EXPECT_TRUE(service.idle());
  }
  service.Stop();
  service.Stop();
}

// Destroying the io_context destroys the loop unrun: its slot goes with it.
TEST_F(BackgroundServiceTest, DestroyingTheIoContextEndsTheLoop) {
  BackgroundService service(Periodic(100), clock_, Tick());
  {
    asio::io_context io;
    ASSERT_TRUE(service.Start(io.get_executor()));
    io.poll();
    EXPECT_FALSE(service.idle());
  }
  EXPECT_TRUE(service.idle());
  EXPECT_EQ(clock_.waiting(), 0u);
  service.Stop();
}

TEST(ManualMonotonicClockTest, AWaitEndsAtItsDeadlineOrWhenCancelled) {
  ManualMonotonicClock clock;
  asio::io_context io;
  std::unique_ptr<Timer> timer = clock.NewTimer(io.get_executor());
  std::vector<bool> outcomes;
  auto wait = [](Timer* t, std::chrono::steady_clock::time_point deadline,
                 std::vector<bool>* out) -> asio::awaitable<void> {
    out->push_back(co_await t->WaitUntil(deadline));
  };
  asio::co_spawn(io, wait(timer.get(), clock.Now() + milliseconds(5), &outcomes), asio::detached);
  io.poll();
  EXPECT_EQ(clock.waiting(), 1u);
  clock.Advance(milliseconds(4));
  io.restart();
  io.poll();
  EXPECT_TRUE(outcomes.empty());
  clock.Advance(milliseconds(1));
  io.restart();
  io.poll();
  EXPECT_EQ(outcomes, (std::vector<bool>{true}));
  asio::co_spawn(io, wait(timer.get(), clock.Now() + milliseconds(5), &outcomes), asio::detached);
  io.restart();
  io.poll();
  timer->Cancel();
  io.restart();
  io.poll();
  EXPECT_EQ(outcomes, (std::vector<bool>{true, false}));
  EXPECT_EQ(clock.waiting(), 0u);
  // A deadline already passed still resumes, through the executor.
  asio::co_spawn(io, wait(timer.get(), clock.Now(), &outcomes), asio::detached);
  io.restart();
  io.poll();
  EXPECT_EQ(outcomes, (std::vector<bool>{true, false, true}));
}

}  // namespace
}  // namespace dialkv
