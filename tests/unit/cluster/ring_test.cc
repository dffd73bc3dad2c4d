#include "server/cluster/ring.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "server/common/check.h"
#include "server/common/hash.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::cluster {
namespace {

Ring::Options Opts(uint32_t vnodes, uint32_t rf) {
  Ring::Options o;
  o.vnodes = vnodes;
  o.replication_factor = rf;
  return o;
}

Ring MustBuild(std::vector<NodeId> nodes, Ring::Options options = {}) {
  Result<Ring> ring = Ring::Build(std::move(nodes), options);
  if (!ring.ok()) ADD_FAILURE() << ring.status().ToString();
  DIALKV_CHECK(ring.ok());
  return std::move(ring).value();
}

std::vector<NodeId> AsVector(std::span<const NodeId> s) { return {s.begin(), s.end()}; }

std::string Key(int i) { return "key-" + std::to_string(i); }

TEST(RingTest, SameRingWhateverTheMemberOrder) {
  const Ring a = MustBuild({1, 2, 3, 4, 5});
  const Ring b = MustBuild({5, 3, 1, 4, 2});
  ASSERT_EQ(a.tokens().size(), b.tokens().size());
  for (size_t i = 0; i < a.tokens().size(); ++i) {
    EXPECT_EQ(a.tokens()[i].position, b.tokens()[i].position);
    EXPECT_EQ(a.tokens()[i].node, b.tokens()[i].node);
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(AsVector(a.ReplicasFor(Key(i))), AsVector(b.ReplicasFor(Key(i)))) << Key(i);
  }
  EXPECT_EQ(b.nodes(), (std::vector<NodeId>{1, 2, 3, 4, 5}));
}

// Every node of every version must compute the same ring: token positions are part of the
// protocol, so they are pinned to the formula the header documents.
TEST(RingTest, TokenPositionsFollowTheDocumentedFormula) {
  const Ring ring = MustBuild({7, 300}, Opts(4, 1));
  std::vector<uint64_t> expected;
  for (NodeId node : {7u, 300u}) {
    for (uint32_t v = 0; v < 4; ++v) {
      const unsigned char bytes[8] = {
          static_cast<unsigned char>(node),       static_cast<unsigned char>(node >> 8),
          static_cast<unsigned char>(node >> 16), static_cast<unsigned char>(node >> 24),
          static_cast<unsigned char>(v),          static_cast<unsigned char>(v >> 8),
          static_cast<unsigned char>(v >> 16),    static_cast<unsigned char>(v >> 24)};
      expected.push_back(XXH64(bytes, sizeof(bytes), 0));
    }
  }
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(ring.tokens().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(ring.tokens()[i].position, expected[i]);
}

TEST(RingTest, ReplicationFactorIsCappedAtMemberCount) {
  const Ring ring = MustBuild({1, 2}, Opts(16, 3));
  EXPECT_EQ(ring.replication_factor(), 2u);
  EXPECT_EQ(ring.quorum(), 2u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ring.ReplicasFor(Key(i)).size(), 2u);

  const Ring single = MustBuild({9}, Opts(16, 3));
  EXPECT_EQ(single.replication_factor(), 1u);
  EXPECT_EQ(single.quorum(), 1u);
  EXPECT_EQ(AsVector(single.ReplicasFor("anything")), std::vector<NodeId>{9});
}

TEST(RingTest, ReplicasAreDistinctAndThePrimaryOwnsTheFirstTokenClockwise) {
  const Ring ring = MustBuild({1, 2, 3, 4}, Opts(8, 3));
  for (int i = 0; i < 2000; ++i) {
    const std::string key = Key(i);
    const std::vector<NodeId> replicas = AsVector(ring.ReplicasFor(key));
    ASSERT_EQ(replicas.size(), 3u);
    EXPECT_EQ(std::set<NodeId>(replicas.begin(), replicas.end()).size(), 3u) << key;
    // The primary owns the first token at or after the key's hash, wrapping around.
    const uint64_t h = KeyHash(key);
    auto it = std::find_if(ring.tokens().begin(), ring.tokens().end(),
                           [h](const Ring::Token& t) { return t.position >= h; });
    const NodeId owner = it == ring.tokens().end() ? ring.tokens().front().node : it->node;
    EXPECT_EQ(replicas.front(), owner) << key;
    // The others are the next distinct owners clockwise.
    std::vector<NodeId> walk;
    size_t idx = static_cast<size_t>(it - ring.tokens().begin()) % ring.tokens().size();
    while (walk.size() < 3) {
      const NodeId n = ring.tokens()[idx].node;
      if (std::find(walk.begin(), walk.end(), n) == walk.end()) walk.push_back(n);
      idx = (idx + 1) % ring.tokens().size();
    }
    EXPECT_EQ(replicas, walk) << key;
  }
}

TEST(RingTest, FiveNodesWithRf3GiveExactlyThreeReplicasPerKey) {
  const Ring ring = MustBuild({1, 2, 3, 4, 5}, Opts(16, 3));
  EXPECT_EQ(ring.replication_factor(), 3u);
  for (int i = 0; i < 5000; ++i) {
    const std::string key = Key(i);
    const auto replicas = ring.ReplicasFor(key);
    ASSERT_EQ(replicas.size(), 3u);
    EXPECT_EQ(std::set<NodeId>(replicas.begin(), replicas.end()).size(), 3u);
    int replica_count = 0;
    for (NodeId n : ring.nodes()) replica_count += ring.IsReplica(n, key) ? 1 : 0;
    EXPECT_EQ(replica_count, 3) << key;
  }
}

TEST(RingTest, PrimariesAreRoughlyBalancedOverTenThousandKeys) {
  const Ring ring = MustBuild({1, 2, 3, 4, 5}, Opts(16, 3));
  std::map<NodeId, int> primaries;
  constexpr int kKeys = 10'000;
  for (int i = 0; i < kKeys; ++i) ++primaries[ring.ReplicasFor(Key(i))[0]];
  ASSERT_EQ(primaries.size(), 5u);
  // Fair share is 2,000. 16 random tokens per node leave a spread of a few tens of percent;
  // the bound only catches a broken ring (one node owning almost nothing or almost all).
  for (const auto& [node, count] : primaries) {
    EXPECT_GT(count, kKeys / 5 / 3) << "node " << node;
    EXPECT_LT(count, kKeys / 5 * 2) << "node " << node;
  }
}

TEST(RingTest, LookupByHashWrapsAroundAndIncludesTheTokenItself) {
  const Ring ring = MustBuild({1, 2, 3}, Opts(4, 2));
  const auto& tokens = ring.tokens();
  ASSERT_TRUE(std::is_sorted(
      tokens.begin(), tokens.end(),
      [](const Ring::Token& a, const Ring::Token& b) { return a.position < b.position; }));
  // A hash equal to a token's position belongs to that token's range: (prev, position].
  for (size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(AsVector(ring.ReplicasForHash(tokens[i].position)),
              AsVector(ring.ReplicasOfRange(i)));
  }
  // Past the last token wraps to range 0, as does 0 itself when it is below the first token.
  if (tokens.back().position < UINT64_MAX) {
    EXPECT_EQ(AsVector(ring.ReplicasForHash(UINT64_MAX)), AsVector(ring.ReplicasOfRange(0)));
  }
  EXPECT_EQ(AsVector(ring.ReplicasForHash(0)), AsVector(ring.ReplicasOfRange(0)));
  EXPECT_EQ(AsVector(ring.ReplicasFor("k")), AsVector(ring.ReplicasForHash(KeyHash("k"))));
}

TEST(RingTest, RejectsNoNodesDuplicatesAndZeroOrHugeOptions) {
  ASSERT_CODE(Ring::Build({}, {}), Code::kInvalidArgument);
  Result<Ring> dup = Ring::Build({1, 2, 1}, {});
  ASSERT_CODE(dup, Code::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("node id 1"), std::string::npos) << dup.status().message();
  ASSERT_CODE(Ring::Build({1, 2}, Opts(0, 3)), Code::kInvalidArgument);
  ASSERT_CODE(Ring::Build({1, 2}, Opts(Ring::kMaxVnodes + 1, 3)), Code::kInvalidArgument);
  ASSERT_CODE(Ring::Build({1, 2}, Opts(16, 0)), Code::kInvalidArgument);
  EXPECT_OK(Ring::Build({1, 2}, Opts(Ring::kMaxVnodes, 3)));
}

TEST(RingTest, QuorumIsAMajorityOfTheReplicationFactor) {
  const std::vector<NodeId> nodes = {1, 2, 3, 4, 5, 6, 7};
  const std::map<uint32_t, uint32_t> expected = {{1, 1}, {2, 2}, {3, 2}, {4, 3},
                                                 {5, 3}, {6, 4}, {7, 4}};
  for (const auto& [rf, quorum] : expected) {
    const Ring ring = MustBuild(nodes, Opts(4, rf));
    EXPECT_EQ(ring.replication_factor(), rf);
    EXPECT_EQ(ring.quorum(), quorum) << "rf " << rf;
  }
  // Capped: RF 5 on three nodes is RF 3, quorum 2.
  EXPECT_EQ(MustBuild({1, 2, 3}, Opts(4, 5)).quorum(), 2u);
}

}  // namespace
}  // namespace dialkv::cluster
