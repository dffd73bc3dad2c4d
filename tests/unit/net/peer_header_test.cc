#include "server/net/peer_header.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "server/common/clock.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::net {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t kNowMs = 1'700'000'000'000;

bool OneTwoThree(NodeId id) { return id >= 1 && id <= 3; }

v1::Envelope Stamped(std::string_view cluster, NodeId node) {
  ManualClock clock(kNowMs);
  HybridLogicalClock hlc(clock, node, {});
  v1::Envelope e;
  e.mutable_gossip_request();
  StampPeerHeader(&e, cluster, node, hlc);
  return e;
}

TEST(PeerHeaderTest, StampSetsClusterNodeAndAFreshHlc) {
  ManualClock clock(kNowMs);
  HybridLogicalClock hlc(clock, 2, {});
  v1::Envelope e;
  e.mutable_peer()->set_cluster_name("stale");
  StampPeerHeader(&e, "prod", 2, hlc);
  EXPECT_EQ(e.peer().cluster_name(), "prod");
  EXPECT_EQ(e.peer().node_id(), 2u);
  EXPECT_EQ(e.peer().hlc(), hlc.Last());
  EXPECT_EQ(e.peer().hlc() >> 16, static_cast<uint64_t>(kNowMs));

  const uint64_t first = e.peer().hlc();
  StampPeerHeader(&e, "prod", 2, hlc);
  EXPECT_GT(e.peer().hlc(), first);  // Each stamp is a new hlc.Now().
}

TEST(PeerHeaderTest, AcceptsAMemberOfTheSameCluster) {
  EXPECT_OK(CheckPeerHeader(Stamped("prod", 3), "prod", OneTwoThree));
}

TEST(PeerHeaderTest, MessageWithoutHeaderIsInvalidArgument) {
  v1::Envelope e;
  e.mutable_get_request()->set_key("k");
  const Status s = CheckPeerHeader(e, "prod", OneTwoThree);
  ASSERT_CODE(s, Code::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("peer port expects peer messages"));
}

TEST(PeerHeaderTest, OtherClusterIsPermissionDeniedNamingBothClusters) {
  const Status s = CheckPeerHeader(Stamped("staging", 2), "prod", OneTwoThree);
  ASSERT_CODE(s, Code::kPermissionDenied);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("\"staging\""), HasSubstr("\"prod\"")));
}

TEST(PeerHeaderTest, NodeNotInPeersIsPermissionDeniedNamingIt) {
  const Status s = CheckPeerHeader(Stamped("prod", 9), "prod", OneTwoThree);
  ASSERT_CODE(s, Code::kPermissionDenied);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("node 9"), HasSubstr("not in --peers")));
}

TEST(PeerHeaderTest, ClusterIsCheckedBeforeMembership) {
  // A node of another cluster is refused for its cluster, not reported as an unknown node.
  const Status s = CheckPeerHeader(Stamped("staging", 9), "prod", OneTwoThree);
  ASSERT_CODE(s, Code::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("\"staging\""));
}

}  // namespace
}  // namespace dialkv::net
