#include "server/cluster/clock_offsets.h"

#include <gtest/gtest.h>

#include <string>

#include "server/common/metrics.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::cluster {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;

// Three nodes: this one (1) and peers 2 and 3, on manual clocks.
class ClockOffsetsTest : public ::testing::Test {
 protected:
  ClockOffsetsTest() : offsets_(Options(), 1, {1, 2, 3}, wall_, true_, &registry_) {}

  static PeerClockOffsets::Options Options() {
    PeerClockOffsets::Options o;
    o.max_clock_skew_ms = 500;
    o.samples_per_peer = 4;
    o.max_sample_age_ms = 5000;
    return o;
  }

  // One gossip call to `peer` whose clock is `offset_ms` ahead, with a round trip of `rtt_ms`
  // (the peer reads its clock half-way).
  void Sample(NodeId peer, int64_t offset_ms, int64_t rtt_ms) {
    const PeerClockOffsets::Probe probe = offsets_.Begin();
    const int64_t peer_wall = wall_.NowMs() + rtt_ms / 2 + offset_ms;
    wall_.Advance(rtt_ms);
    true_.Advance(rtt_ms);
    offsets_.Record(peer, probe, peer_wall);
  }

  ManualClock wall_{kStartMs};
  ManualClock true_{kStartMs};
  metrics::Registry registry_;
  PeerClockOffsets offsets_;
};

TEST_F(ClockOffsetsTest, TheEstimateIsTheSampleWithTheShortestRoundTripTheNewestOfEquals) {
  EXPECT_FALSE(offsets_.EstimateFor(2).has_value());
  Sample(2, 1000, 10);
  ASSERT_TRUE(offsets_.EstimateFor(2).has_value());
  EXPECT_EQ(offsets_.EstimateFor(2)->offset_ms, 1000);
  EXPECT_EQ(offsets_.EstimateFor(2)->rtt_ms, 10);
  Sample(2, 990, 2);
  EXPECT_EQ(offsets_.EstimateFor(2)->offset_ms, 990);
  Sample(2, 200, 40);  // A congested call does not move it.
  EXPECT_EQ(offsets_.EstimateFor(2)->offset_ms, 990);
  Sample(2, 0, 2);  // A clock step shows at the next quiet sample.
  EXPECT_EQ(offsets_.EstimateFor(2)->offset_ms, 0);
  EXPECT_EQ(offsets_.EstimateFor(3), std::nullopt);
  EXPECT_NE(registry_.Expose().find("dialkv_peer_clock_offset_ms{peer=\"2\"} 0"), std::string::npos)
      << registry_.Expose();
}

TEST_F(ClockOffsetsTest, SkewedOnlyWhenAMajorityOfThePeersHeardFromIsBeyondTheGuard) {
  Sample(2, 2000, 0);
  EXPECT_FALSE(offsets_.skewed()) << "one of two peers is not a majority, heard from or not";
  Sample(3, 0, 0);
  EXPECT_FALSE(offsets_.skewed()) << "one of two is not a majority";
  EXPECT_OK(offsets_.CheckWrites());
  Sample(3, -2000, 0);
  EXPECT_TRUE(offsets_.skewed());
  const Status refused = offsets_.CheckWrites();
  EXPECT_EQ(refused.code(), Code::kUnavailable);
  EXPECT_NE(refused.message().find("clock skew"), std::string::npos) << refused.ToString();
  EXPECT_NE(registry_.Expose().find("dialkv_clock_skew_write_refusals_total 1"), std::string::npos);
  EXPECT_NE(registry_.Expose().find("dialkv_clock_skewed 1"), std::string::npos);
  Sample(2, 100, 0);
  Sample(3, -100, 0);
  EXPECT_FALSE(offsets_.skewed());
  EXPECT_OK(offsets_.CheckWrites());
}

TEST_F(ClockOffsetsTest, AnOffsetWithinTheGuardAndTheSamplesErrorIsNotSkew) {
  Sample(2, 540, 80);
  Sample(3, 540, 80);
  EXPECT_FALSE(offsets_.skewed()) << "40 ms over, within a 41 ms error: not certain";
  Sample(2, 500, 0);
  Sample(3, 500, 0);
  EXPECT_FALSE(offsets_.skewed()) << "exactly the guard is allowed";
  Sample(2, 502, 0);
  Sample(3, 502, 0);
  EXPECT_TRUE(offsets_.skewed());
}

TEST_F(ClockOffsetsTest, EstimatesOfPeersNotHeardFromAgeOutAndTheSkewWithThem) {
  Sample(2, 3000, 0);
  Sample(3, 3000, 0);
  ASSERT_TRUE(offsets_.skewed());
  true_.Advance(4000);
  Sample(2, 3000, 0);
  true_.Advance(1001);
  offsets_.Refresh();
  EXPECT_FALSE(offsets_.skewed()) << "one peer's estimate aged out: one of two is no majority";
  EXPECT_TRUE(offsets_.EstimateFor(2).has_value());
  EXPECT_EQ(offsets_.EstimateFor(3), std::nullopt);
  true_.Advance(5000);
  offsets_.Refresh();
  EXPECT_FALSE(offsets_.skewed()) << "no current estimate: nothing shows the clock is wrong";
  EXPECT_EQ(offsets_.EstimateFor(2), std::nullopt);
}

TEST_F(ClockOffsetsTest, AnswersWithoutAClockAndStrangersAreIgnored) {
  offsets_.Record(2, offsets_.Begin(), 0);
  offsets_.Record(9, offsets_.Begin(), kStartMs + 5000);
  EXPECT_EQ(offsets_.EstimateFor(2), std::nullopt);
  EXPECT_EQ(offsets_.EstimateFor(9), std::nullopt);
  EXPECT_FALSE(offsets_.skewed());
}

}  // namespace
}  // namespace dialkv::cluster
