#include "server/common/hlc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "tests/testutil/status_matchers.h"

namespace dialkv {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;

HybridLogicalClock::Options Skew(int64_t ms) {
  HybridLogicalClock::Options o;
  o.max_clock_skew_ms = ms;
  return o;
}

TEST(HybridLogicalClockTest, FollowsWallClockWhenItMoves) {
  ManualClock clock(kStartMs);
  HybridLogicalClock hlc(clock, 1, Skew(500));
  Timestamp a = hlc.Now();
  EXPECT_EQ(a.wall_ms(), static_cast<uint64_t>(kStartMs));
  EXPECT_EQ(a.logical(), 0);
  EXPECT_EQ(a.node_id, 1u);
  clock.Advance(5);
  Timestamp b = hlc.Now();
  EXPECT_EQ(b.wall_ms(), static_cast<uint64_t>(kStartMs + 5));
  EXPECT_EQ(b.logical(), 0);
}

TEST(HybridLogicalClockTest, LogicalCounterAdvancesWhileWallClockStandsStill) {
  ManualClock clock(kStartMs);
  HybridLogicalClock hlc(clock, 1, Skew(500));
  Timestamp prev = hlc.Now();
  for (int i = 1; i <= 100; ++i) {
    Timestamp next = hlc.Now();
    EXPECT_GT(next, prev);
    EXPECT_EQ(next.wall_ms(), static_cast<uint64_t>(kStartMs));
    EXPECT_EQ(next.logical(), i);
    prev = next;
  }
}

TEST(HybridLogicalClockTest, NeverGoesBackwardsWhenWallClockDoes) {
  ManualClock clock(kStartMs);
  HybridLogicalClock hlc(clock, 1, Skew(500));
  Timestamp before = hlc.Now();
  clock.Advance(-10'000);  // NTP step backwards.
  Timestamp after = hlc.Now();
  EXPECT_GT(after, before);
  EXPECT_EQ(after.wall_ms(), before.wall_ms());
}

TEST(HybridLogicalClockTest, ObservedRemoteTimestampOrdersLaterLocalEvents) {
  ManualClock clock_a(kStartMs);
  ManualClock clock_b(kStartMs - 300);  // b's clock runs 300 ms behind a's.
  HybridLogicalClock a(clock_a, 1, Skew(500));
  HybridLogicalClock b(clock_b, 2, Skew(500));
  // Message a -> b: b's next event must order after the send, despite b's slow clock.
  Timestamp sent = a.Now();
  ASSERT_OK(b.Observe(sent.hlc));
  Timestamp received = b.Now();
  EXPECT_GT(received.hlc, sent.hlc);
  // And back b -> a.
  ASSERT_OK(a.Observe(received.hlc));
  EXPECT_GT(a.Now().hlc, received.hlc);
}

TEST(HybridLogicalClockTest, RefusesRemoteTimestampBeyondSkewGuardAndStaysPut) {
  ManualClock clock(kStartMs);
  HybridLogicalClock hlc(clock, 1, Skew(500));
  const uint64_t before = hlc.Now().hlc;
  const uint64_t wild = static_cast<uint64_t>(kStartMs + 60'000) << 16;
  Status s = hlc.Observe(wild);
  ASSERT_CODE(s, Code::kInvalidArgument);
  EXPECT_NE(s.message().find("--max-clock-skew-ms"), std::string::npos) << s.message();
  EXPECT_EQ(hlc.Last(), before);
  EXPECT_LT(hlc.Now().hlc, wild);
}

TEST(HybridLogicalClockTest, AcceptsRemoteTimestampJustInsideSkewGuard) {
  ManualClock clock(kStartMs);
  HybridLogicalClock hlc(clock, 1, Skew(500));
  const uint64_t ahead = static_cast<uint64_t>(kStartMs + 500) << 16;
  ASSERT_OK(hlc.Observe(ahead));
  EXPECT_GT(hlc.Now().hlc, ahead);
  ASSERT_CODE(hlc.CheckSkew(static_cast<uint64_t>(kStartMs + 501) << 16), Code::kInvalidArgument);
}

TEST(HybridLogicalClockTest, ConcurrentCallersNeverGetTheSameTimestamp) {
  ManualClock clock(kStartMs);  // Frozen: every timestamp comes from the counter.
  HybridLogicalClock hlc(clock, 7, Skew(500));
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<uint64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) seen[t].push_back(hlc.Now().hlc);
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (const auto& v : seen) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);  // Monotonic per thread.
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
}

// What a bound keeper made durable, as a data dir would hold it across a restart.
struct DurableBound {
  uint64_t value = 0;
  int writes = 0;
  HybridLogicalClock::BoundKeeper Keeper() {
    return [this](uint64_t bound) {
      EXPECT_GT(bound, value);  // Bounds only grow.
      value = bound;
      ++writes;
      return Status::Ok();
    };
  }
};

TEST(HybridLogicalClockTest, NoValueBeyondTheDurableBoundIsIssuedOrObserved) {
  ManualClock clock(kStartMs);
  DurableBound durable;
  HybridLogicalClock hlc(clock, 1, Skew(500));
  hlc.SetBoundKeeper(0, durable.Keeper());
  for (int i = 0; i < 30'000; ++i) {
    clock.Advance(1);
    const Timestamp t = hlc.Now();
    ASSERT_LE(t.hlc, durable.value) << "issued beyond the durable bound at step " << i;
    if (i % 100 == 0) {
      const uint64_t remote = static_cast<uint64_t>(clock.NowMs() + 400) << 16;
      ASSERT_OK(hlc.Observe(remote));
      ASSERT_LE(hlc.Last(), durable.value) << "observed beyond the durable bound at step " << i;
    }
  }
  // 30 s of wall clock with a 10 s window: the bound was renewed a few times, not per value.
  EXPECT_GE(durable.writes, 3);
  EXPECT_LE(durable.writes, 5);
  EXPECT_EQ(hlc.bound_renewals(), static_cast<uint64_t>(durable.writes));
}

TEST(HybridLogicalClockTest, RestartWithClockSteppedBackOrdersAfterEverythingBefore) {
  ManualClock clock(kStartMs);
  DurableBound durable;
  uint64_t highest = 0;
  {
    HybridLogicalClock before(clock, 1, Skew(500));
    before.SetBoundKeeper(0, durable.Keeper());
    for (int i = 0; i < 1000; ++i) highest = before.Now().hlc;
    // A peer 400 ms ahead pulls the clock forward (within the guard).
    ASSERT_OK(before.Observe(static_cast<uint64_t>(kStartMs + 400) << 16));
    highest = std::max(highest, before.Now().hlc);
  }
  // The node restarts with its wall clock an hour back (an NTP step, a wrong offset).
  clock.Set(kStartMs - 3'600'000);
  HybridLogicalClock after(clock, 1, Skew(500));
  after.StartAbove(durable.value);
  after.SetBoundKeeper(durable.value, durable.Keeper());
  const int writes_before = durable.writes;
  Timestamp prev = after.Now();
  EXPECT_GT(prev.hlc, highest);
  for (int i = 0; i < 1000; ++i) {
    clock.Advance(1);
    const Timestamp next = after.Now();
    EXPECT_GT(next, prev);
    prev = next;
  }
  // Above the old bound from its first value: the new bound is renewed once, at that value.
  EXPECT_EQ(durable.writes, writes_before + 1);
  EXPECT_GE(durable.value, prev.hlc);
}

TEST(HybridLogicalClockTest, WithoutARestartAStepBackNeedsNoRenewal) {
  ManualClock clock(kStartMs);
  DurableBound durable;
  HybridLogicalClock hlc(clock, 1, Skew(500));
  hlc.SetBoundKeeper(0, durable.Keeper());
  const Timestamp before = hlc.Now();
  clock.Advance(-60'000);
  const Timestamp after = hlc.Now();
  EXPECT_GT(after, before);
  EXPECT_EQ(durable.writes, 1);
}

TEST(HybridLogicalClockTest, AFailingKeeperIsRetriedAndValuesStillAdvance) {
  ManualClock clock(kStartMs);
  int calls = 0;
  bool fail = true;
  HybridLogicalClock hlc(clock, 1, Skew(500));
  hlc.SetBoundKeeper(0, [&](uint64_t) {
    ++calls;
    return fail ? Status::IOError("disk gone") : Status::Ok();
  });
  const Timestamp a = hlc.Now();
  const Timestamp b = hlc.Now();
  EXPECT_GT(b, a);
  EXPECT_EQ(calls, 2);  // Every value beyond the bound asks again.
  EXPECT_EQ(hlc.bound_renewals(), 0u);
  fail = false;
  const Timestamp c = hlc.Now();
  EXPECT_GT(c, b);
  EXPECT_EQ(hlc.bound_renewals(), 1u);
  EXPECT_GE(hlc.bound(), c.hlc);
}

TEST(TimestampTest, OrdersByHlcThenNodeId) {
  EXPECT_LT((Timestamp{10, 9}), (Timestamp{11, 1}));
  EXPECT_LT((Timestamp{10, 1}), (Timestamp{10, 2}));
  EXPECT_EQ((Timestamp{10, 1}), (Timestamp{10, 1}));
  EXPECT_TRUE(Timestamp{}.IsZero());
  EXPECT_LT(Timestamp{}, (Timestamp{1, 0}));
  EXPECT_EQ(ToString(Timestamp{(uint64_t{1234} << 16) | 3, 2}), "1234.3@2");
}

}  // namespace
}  // namespace dialkv
