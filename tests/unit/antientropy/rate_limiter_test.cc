// RateLimiter: the long-run rate is the limit, a batch is never split, and 0 means unlimited.

#include "server/antientropy/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>

#include "server/common/clock.h"

namespace dialkv::antientropy {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

TEST(RateLimiterTest, ZeroMeansUnlimited) {
  RateLimiter limiter(0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.TryTake(1'000'000), Clock::duration::zero());
}

TEST(RateLimiterTest, ABurstOfOneSecondPassesThenCallersWaitForTheDebt) {
  ManualMonotonicClock clock;
  RateLimiter limiter(100, clock);
  EXPECT_EQ(limiter.TryTake(60), Clock::duration::zero());
  EXPECT_EQ(limiter.TryTake(60), Clock::duration::zero());  // Into debt: 100 - 120 = -20.
  const Clock::duration wait = limiter.TryTake(1);
  EXPECT_GE(wait, milliseconds(200));  // 20 tokens at 100/s.
  EXPECT_LE(wait, milliseconds(201));
  clock.Advance(milliseconds(200));
  EXPECT_EQ(limiter.TryTake(1), Clock::duration::zero());
}

TEST(RateLimiterTest, LongRunRateIsTheLimit) {
  ManualMonotonicClock clock;
  RateLimiter limiter(1000, clock);
  uint64_t taken = 0;
  // Ten simulated seconds of a caller that takes 50 whenever allowed and otherwise waits.
  for (int step = 0; step < 100'000 && clock.Now() < Clock::time_point{} + std::chrono::seconds(10);
       ++step) {
    const Clock::duration wait = limiter.TryTake(50);
    if (wait == Clock::duration::zero()) {
      taken += 50;
    } else {
      clock.Advance(wait);
    }
  }
  // One second of burst plus ten seconds at the rate, give or take one batch.
  EXPECT_GE(taken, 10'000u);
  EXPECT_LE(taken, 11'050u);
}

}  // namespace
}  // namespace dialkv::antientropy
