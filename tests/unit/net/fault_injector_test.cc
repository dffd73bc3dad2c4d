#include "server/net/fault_injector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "server/common/metrics.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::net {
namespace {

using ::testing::HasSubstr;

FaultInjector::Options ThreeNodes(uint64_t seed = 7) {
  FaultInjector::Options options;
  options.self = 1;
  options.peers = {1, 2, 3};
  options.seed = seed;
  return options;
}

LinkFaultsPatch DropOut(NodeId peer, double p) {
  LinkFaultsPatch patch;
  patch.peer = peer;
  patch.drop_out = p;
  return patch;
}

// Which of `n` messages to `peer` were lost, as a string of 0/1.
std::string Pattern(FaultInjector& injector, NodeId peer, int n) {
  std::string lost;
  for (int i = 0; i < n; ++i) lost += injector.Judge(peer, Direction::kOut).lost ? '1' : '0';
  return lost;
}

TEST(FaultInjectorTest, CleanLinksPassEveryMessageUntouched) {
  FaultInjector injector(ThreeNodes(), nullptr);
  for (int i = 0; i < 100; ++i) {
    for (Direction d : {Direction::kOut, Direction::kIn}) {
      const FaultVerdict v = injector.Judge(2, d);
      EXPECT_FALSE(v.lost);
      EXPECT_EQ(v.delay.count(), 0);
    }
  }
  EXPECT_TRUE(injector.Links().empty());
}

TEST(FaultInjectorTest, BlockedDirectionLosesEveryMessageAndOnlyThatDirection) {
  FaultInjector injector(ThreeNodes(), nullptr);
  LinkFaultsPatch patch;
  patch.peer = 2;
  patch.block_out = true;  // One-way: 2 no longer hears this node; this node still hears 2.
  ASSERT_OK(injector.Apply({patch}, std::nullopt));
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(injector.Judge(2, Direction::kOut).lost);
    EXPECT_FALSE(injector.Judge(2, Direction::kIn).lost);
    EXPECT_FALSE(injector.Judge(3, Direction::kOut).lost);
  }
}

TEST(FaultInjectorTest, DropProbabilityIsHonouredOverManyMessages) {
  FaultInjector injector(ThreeNodes(), nullptr);
  ASSERT_OK(injector.Apply({DropOut(2, 0.3)}, std::nullopt));
  constexpr int kMessages = 20'000;
  int lost = 0;
  for (int i = 0; i < kMessages; ++i) lost += injector.Judge(2, Direction::kOut).lost ? 1 : 0;
  // 0.3 ± 5 standard deviations (σ ≈ 0.0032).
  EXPECT_NEAR(static_cast<double>(lost) / kMessages, 0.3, 0.017);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(injector.Judge(2, Direction::kIn).lost);
}

TEST(FaultInjectorTest, TheSameSeedGivesTheSameChoicesAndReseedingReplaysThem) {
  FaultInjector a(ThreeNodes(42), nullptr);
  FaultInjector b(ThreeNodes(42), nullptr);
  ASSERT_OK(a.Apply({DropOut(2, 0.5)}, std::nullopt));
  ASSERT_OK(b.Apply({DropOut(2, 0.5)}, std::nullopt));
  const std::string first = Pattern(a, 2, 200);
  EXPECT_EQ(first, Pattern(b, 2, 200));
  ASSERT_OK(a.Apply({}, 42));  // Reseeding starts the sequence again.
  EXPECT_EQ(first, Pattern(a, 2, 200));
  EXPECT_EQ(a.seed(), 42u);

  FaultInjector other(ThreeNodes(43), nullptr);
  ASSERT_OK(other.Apply({DropOut(2, 0.5)}, std::nullopt));
  EXPECT_NE(first, Pattern(other, 2, 200));
}

TEST(FaultInjectorTest, NodesGivenOneSeedChooseIndependently) {
  FaultInjector::Options node2 = ThreeNodes(42);
  node2.self = 2;
  FaultInjector a(ThreeNodes(42), nullptr);
  FaultInjector b(node2, nullptr);
  ASSERT_OK(a.Apply({DropOut(3, 0.5)}, std::nullopt));
  ASSERT_OK(b.Apply({DropOut(3, 0.5)}, std::nullopt));
  EXPECT_NE(Pattern(a, 3, 200), Pattern(b, 3, 200));
}

TEST(FaultInjectorTest, DelayIsFixedPlusJitterWithinItsBoundsAndOutboundOnly) {
  FaultInjector injector(ThreeNodes(), nullptr);
  LinkFaultsPatch patch;
  patch.peer = 3;
  patch.delay_ms = 50;
  patch.jitter_ms = 20;
  ASSERT_OK(injector.Apply({patch}, std::nullopt));
  bool saw_low = false;
  bool saw_high = false;
  for (int i = 0; i < 2'000; ++i) {
    const FaultVerdict v = injector.Judge(3, Direction::kOut);
    ASSERT_FALSE(v.lost);
    ASSERT_GE(v.delay.count(), 50);
    ASSERT_LE(v.delay.count(), 70);
    saw_low |= v.delay.count() < 55;
    saw_high |= v.delay.count() > 65;
    EXPECT_EQ(injector.Judge(3, Direction::kIn).delay.count(), 0);
  }
  EXPECT_TRUE(saw_low && saw_high) << "jitter should spread over 0..20 ms";
}

TEST(FaultInjectorTest, PatchesMergeFieldByFieldAndACleanLinkIsForgotten) {
  FaultInjector injector(ThreeNodes(), nullptr);
  LinkFaultsPatch block;
  block.peer = 2;
  block.block_in = true;
  block.block_out = true;
  ASSERT_OK(injector.Apply({block}, std::nullopt));
  ASSERT_OK(injector.Apply({DropOut(2, 0.25)}, std::nullopt));  // Keeps the partition.
  std::vector<LinkFaults> links = injector.Links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_TRUE(links[0].block_in);
  EXPECT_TRUE(links[0].block_out);
  EXPECT_EQ(links[0].drop_out, 0.25);

  LinkFaultsPatch heal;
  heal.peer = 2;
  heal.block_in = false;
  heal.block_out = false;
  heal.drop_out = 0.0;
  ASSERT_OK(injector.Apply({heal}, std::nullopt));
  EXPECT_TRUE(injector.Links().empty());
  EXPECT_FALSE(injector.Judge(2, Direction::kOut).lost);
}

TEST(FaultInjectorTest, ClearHealsEveryLinkAndKeepsTheSeed) {
  FaultInjector injector(ThreeNodes(9), nullptr);
  ASSERT_OK(injector.Apply({DropOut(2, 1.0), DropOut(3, 1.0)}, std::nullopt));
  EXPECT_TRUE(injector.Judge(3, Direction::kOut).lost);
  injector.Clear();
  EXPECT_TRUE(injector.Links().empty());
  EXPECT_FALSE(injector.Judge(2, Direction::kOut).lost);
  EXPECT_FALSE(injector.Judge(3, Direction::kOut).lost);
  EXPECT_EQ(injector.seed(), 9u);
}

TEST(FaultInjectorTest, BadPatchesAreRefusedAsAWholeAndChangeNothing) {
  FaultInjector injector(ThreeNodes(), nullptr);
  LinkFaultsPatch too_long;
  too_long.peer = 3;
  too_long.delay_ms = FaultInjector::kMaxDelayMs + 1;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    std::vector<LinkFaultsPatch> patches;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{DropOut(1, 0.5)}, "is this node"},
      {{DropOut(9, 0.5)}, "not a member"},
      {{DropOut(2, 0.5), DropOut(2, 0.1)}, "appears twice"},
      {{DropOut(2, 0.5), DropOut(3, 1.5)}, "a probability is 0 to 1"},
      {{DropOut(2, -0.1)}, "a probability is 0 to 1"},
      {{DropOut(2, nan)}, "a probability is 0 to 1"},
      {{DropOut(2, 0.5), too_long}, "at most 60000 ms"},
  };
  for (const Case& c : cases) {
    Status s = injector.Apply(c.patches, 5);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(c.message));
    EXPECT_TRUE(injector.Links().empty()) << "a refused request changed a link";
    EXPECT_EQ(injector.seed(), 7u) << "a refused request changed the seed";
  }
}

TEST(FaultInjectorTest, MessagesOfNonMembersAreNeverFaulted) {
  FaultInjector injector(ThreeNodes(), nullptr);
  ASSERT_OK(injector.Apply({DropOut(2, 1.0)}, std::nullopt));
  EXPECT_FALSE(injector.Judge(0, Direction::kIn).lost);
  EXPECT_FALSE(injector.Judge(99, Direction::kOut).lost);
}

TEST(FaultInjectorTest, CountsDroppedAndDelayedMessagesPerPeerDirectionAndCause) {
  metrics::Registry registry;
  FaultInjector injector(ThreeNodes(), &registry);
  LinkFaultsPatch to2;
  to2.peer = 2;
  to2.block_in = true;
  to2.drop_out = 1.0;
  LinkFaultsPatch to3;
  to3.peer = 3;
  to3.delay_ms = 5;
  ASSERT_OK(injector.Apply({to2, to3}, std::nullopt));
  for (int i = 0; i < 3; ++i) {
    (void)injector.Judge(2, Direction::kOut);
    (void)injector.Judge(2, Direction::kIn);
    (void)injector.Judge(3, Direction::kOut);
  }
  const std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr("dialkv_fault_messages_dropped_total{peer=\"2\",direction=\"out\","
                              "cause=\"drop\"} 3"));
  EXPECT_THAT(text, HasSubstr("dialkv_fault_messages_dropped_total{peer=\"2\",direction=\"in\","
                              "cause=\"partition\"} 3"));
  EXPECT_THAT(text,
              HasSubstr("dialkv_fault_messages_delayed_total{peer=\"3\",direction=\"out\"} 3"));
  EXPECT_THAT(text, HasSubstr("dialkv_fault_messages_dropped_total{peer=\"3\",direction=\"out\","
                              "cause=\"drop\"} 0"));
}

}  // namespace
}  // namespace dialkv::net
