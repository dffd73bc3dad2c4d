// Which link changes each `dialkv fault` command sends to which node (client/cli/fault_plan.h).
#include "client/cli/fault_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialkv::cli {
namespace {

using Patches = std::vector<LinkFaultsPatch>;

const std::vector<NodeId> kNodes = {1, 2, 3};

LinkFaultsPatch Block(NodeId peer, std::optional<bool> out, std::optional<bool> in) {
  return LinkFaultsPatch{.peer = peer, .block_out = out, .block_in = in};
}

PartitionGroups Groups(std::vector<NodeId> a, std::vector<NodeId> b) {
  PartitionGroups groups;
  groups.a = std::move(a);
  groups.b = std::move(b);
  return groups;
}

TEST(FaultPlanTest, TwoWayPartitionBlocksBothDirectionsOnBothSides) {
  Result<FaultPlan> plan = PlanPartition(kNodes, Groups({1}, {2, 3}), /*one_way=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const FaultPlan want = {
      {1, Patches{Block(2, true, true), Block(3, true, true)}},
      {2, Patches{Block(1, true, true)}},
      {3, Patches{Block(1, true, true)}},
  };
  EXPECT_EQ(*plan, want);
}

TEST(FaultPlanTest, OneWayPartitionBlocksOutAtTheSendersAndInAtTheReceivers) {
  Result<FaultPlan> plan = PlanPartition(kNodes, Groups({1, 2}, {3}), /*one_way=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const FaultPlan want = {
      {1, Patches{Block(3, true, std::nullopt)}},
      {2, Patches{Block(3, true, std::nullopt)}},
      {3, Patches{Block(1, std::nullopt, true), Block(2, std::nullopt, true)}},
  };
  EXPECT_EQ(*plan, want);
}

TEST(FaultPlanTest, NodesInNeitherGroupAreLeftOut) {
  Result<FaultPlan> plan = PlanPartition({1, 2, 3, 4}, Groups({1}, {3}), /*one_way=*/false);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->size(), 2u);
  EXPECT_EQ(plan->count(2), 0u);
  EXPECT_EQ(plan->count(4), 0u);
}

TEST(FaultPlanTest, BadPartitionsAreInvalidArguments) {
  EXPECT_EQ(PlanPartition(kNodes, Groups({}, {1}), false).code(), Code::kInvalidArgument);
  EXPECT_EQ(PlanPartition(kNodes, Groups({1}, {}), false).code(), Code::kInvalidArgument);
  EXPECT_EQ(PlanPartition(kNodes, Groups({1, 2}, {2}), false).code(), Code::kInvalidArgument);
  Result<FaultPlan> unknown = PlanPartition(kNodes, Groups({1}, {4}), false);
  EXPECT_EQ(unknown.code(), Code::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(), "node 4 is not one of the endpoints' nodes (1, 2, 3)");
}

TEST(FaultPlanTest, IsolateIsATwoWayPartitionFromEveryOtherNode) {
  Result<FaultPlan> plan = PlanIsolate(kNodes, 2);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const FaultPlan want = {
      {1, Patches{Block(2, true, true)}},
      {2, Patches{Block(1, true, true), Block(3, true, true)}},
      {3, Patches{Block(2, true, true)}},
  };
  EXPECT_EQ(*plan, want);
  EXPECT_EQ(PlanIsolate(kNodes, 7).code(), Code::kInvalidArgument);
  EXPECT_EQ(PlanIsolate({1}, 1).code(), Code::kInvalidArgument);  // Nothing to isolate from.
}

TEST(FaultPlanTest, OutboundChangeGoesOnEveryLinkAtItsSender) {
  LinkFaultsPatch drop;
  drop.drop_out = 0.3;
  Result<FaultPlan> plan = PlanOutbound(kNodes, drop, std::nullopt);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->size(), 3u);
  for (const auto& [node, patches] : *plan) {
    ASSERT_EQ(patches.size(), 2u) << node;
    for (const LinkFaultsPatch& patch : patches) {
      EXPECT_NE(patch.peer, node);
      EXPECT_EQ(patch.drop_out, 0.3);
      EXPECT_FALSE(patch.drop_in.has_value());  // Judged once, at the sender.
      EXPECT_FALSE(patch.block_out.has_value());
    }
  }
}

TEST(FaultPlanTest, OutboundChangeWithAPeerTouchesOnlyLinksToAndFromIt) {
  LinkFaultsPatch delay;
  delay.delay_ms = 50;
  delay.jitter_ms = 20;
  Result<FaultPlan> plan = PlanOutbound(kNodes, delay, NodeId{2});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto with_peer = [&delay](NodeId peer) {
    LinkFaultsPatch patch = delay;
    patch.peer = peer;
    return patch;
  };
  const FaultPlan want = {
      {1, Patches{with_peer(2)}},
      {2, Patches{with_peer(1), with_peer(3)}},
      {3, Patches{with_peer(2)}},
  };
  EXPECT_EQ(*plan, want);
}

TEST(FaultPlanTest, BadOutboundChangesAreInvalidArguments) {
  LinkFaultsPatch drop;
  drop.drop_out = 1;
  EXPECT_EQ(PlanOutbound(kNodes, drop, NodeId{9}).code(), Code::kInvalidArgument);
  EXPECT_EQ(PlanOutbound({1}, drop, std::nullopt).code(), Code::kInvalidArgument);
  EXPECT_EQ(PlanOutbound({1}, drop, NodeId{1}).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace dialkv::cli
