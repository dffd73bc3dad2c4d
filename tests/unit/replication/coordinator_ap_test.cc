// AP requests (docs/consistency.md), hinted handoff from the coordinator's side, the clock
// guard and HLC ordering across nodes, LWW convergence, and Stop().
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

#include "tests/testutil/in_memory_cluster.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::replication::testing {
namespace {

using testutil::Hlc;
using testutil::InMemoryCluster;
using testutil::kStartMs;
using testutil::StoreResult;

using std::chrono::milliseconds;

constexpr Consistency kAp = Consistency::kAp;
constexpr Consistency kCp = Consistency::kCp;

bool Contains(std::span<const NodeId> replicas, NodeId node) {
  return std::find(replicas.begin(), replicas.end(), node) != replicas.end();
}

TEST(CoordinatorApTest, ApWriteOnAReplicaAnswersWithoutWaitingAndReplicatesInBackground) {
  InMemoryCluster c({.replica_timeout_ms = 2000});
  c.net().SetDelay(1, 2, milliseconds(100));
  c.net().SetDelay(1, 3, milliseconds(100));
  Result<WriteOutcome> put = c.Write(1, "k", "v", kAp);
  ASSERT_OK(put);
  EXPECT_FALSE(put->hinted);
  // Answered before either copy was even delivered.
  EXPECT_EQ(c.StoredValue(1, "k"), "v");
  EXPECT_EQ(c.net().delivered(1, 2), 0);
  EXPECT_EQ(c.net().delivered(1, 3), 0);
  EXPECT_EQ(c.node(1).coordinator->calls_in_flight(), 2u);
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.StoredValue(2, "k"), "v");
  EXPECT_EQ(c.StoredValue(3, "k"), "v");
  EXPECT_EQ(c.Stored(2, "k")->timestamp, put->timestamp);
  EXPECT_EQ(c.node(1).hints->PeersWithHints(), std::vector<NodeId>{});
}

TEST(CoordinatorApTest, ApWriteFromANonReplicaAnswersAtTheFirstAck) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3, .replica_timeout_ms = 2000});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) { return !Contains(r, 1); });
  const std::span<const NodeId> replicas = c.ring().ReplicasFor(key);
  c.net().SetDelay(1, replicas[1], milliseconds(300));
  c.net().BlackHole(1, replicas[2]);
  Result<WriteOutcome> put = c.Write(1, key, "v", kAp);
  ASSERT_OK(put);
  EXPECT_FALSE(put->hinted);
  EXPECT_EQ(c.StoredValue(replicas[0], key), "v");
  EXPECT_EQ(c.StoredValue(replicas[1], key), "<none>") << "not waited for";
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.StoredValue(replicas[1], key), "v");
  // The black-holed replica did not ack in time: it gets a hint.
  EXPECT_EQ(c.node(1).hints->PeersWithHints(), std::vector<NodeId>{replicas[2]});
}

TEST(CoordinatorApTest, ApWriteWithEveryReplicaUnreachableIsHintedAndStoresHints) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) { return !Contains(r, 1); });
  const std::span<const NodeId> replicas = c.ring().ReplicasFor(key);
  for (NodeId r : replicas) c.net().Down(r);
  Result<WriteOutcome> put = c.Write(1, key, "v", kAp);
  ASSERT_OK(put);
  EXPECT_TRUE(put->hinted);
  std::vector<NodeId> expected(replicas.begin(), replicas.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(c.node(1).hints->PeersWithHints(), expected);
  for (NodeId r : replicas) {
    Result<std::vector<HintStore::Hint>> hints = c.node(1).hints->Peek(r, 10);
    ASSERT_OK(hints);
    ASSERT_EQ(hints->size(), 1u);
    EXPECT_EQ((*hints)[0].key, key);
    EXPECT_EQ((*hints)[0].version.value, "v");
    EXPECT_EQ((*hints)[0].version.timestamp, put->timestamp);
  }
}

TEST(CoordinatorApTest, ApWriteWithoutHintedHandoffAndWithoutAnAckIsUnknown) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3, .hinted_handoff = false});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) { return !Contains(r, 1); });
  for (NodeId r : c.ring().ReplicasFor(key)) c.net().Down(r);
  ASSERT_CODE(c.Write(1, key, "v", kAp), Code::kUnknown);
  EXPECT_EQ(c.node(1).hints->PeersWithHints(), std::vector<NodeId>{});
}

TEST(CoordinatorApTest, ApWriteHintsADeadReplicaWithoutTryingIt) {
  InMemoryCluster c({});
  c.MarkDead(1, 3);
  ASSERT_EQ(c.node(1).membership->StateOf(3), cluster::MemberState::kDead);
  ASSERT_OK(c.Write(1, "k", "v", kAp));
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.net().delivered(1, 3), 0);
  EXPECT_EQ(c.StoredValue(2, "k"), "v");
  EXPECT_EQ(c.StoredValue(3, "k"), "<none>");
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, 1u);
}

// Runs `n` AP writes on `coordinator` together (keys "k0".."k{n-1}", value "v"), so that they
// run in one pass of the io_context, until they answered and no replica call is left; returns
// their outcomes.
std::vector<Result<WriteOutcome>> WriteTogether(InMemoryCluster& c, NodeId coordinator, int n) {
  std::vector<std::optional<Result<WriteOutcome>>> results(static_cast<size_t>(n));
  for (size_t i = 0; i < results.size(); ++i) {
    auto op = c.node(coordinator)
                  .coordinator->Write("k" + std::to_string(i), "v", false, kAp,
                                      std::chrono::steady_clock::now() + std::chrono::seconds(5));
    asio::co_spawn(c.io(), StoreResult(std::move(op), &results[i]), asio::detached);
  }
  EXPECT_TRUE(c.RunUntil([&] {
    return std::all_of(results.begin(), results.end(), [](auto& r) { return r.has_value(); });
  }));
  EXPECT_TRUE(c.RunUntilIdle());
  std::vector<Result<WriteOutcome>> answered;
  for (auto& result : results) {
    answered.push_back(result.has_value() ? std::move(*result)
                                          : Result<WriteOutcome>(Status::Internal("no answer")));
  }
  return answered;
}

// The background copies of AP writes made together go to each replica in one call (its
// stream), and every copy arrives.
TEST(CoordinatorApTest, BackgroundCopiesOfWritesMadeTogetherTravelInOneCallPerReplica) {
  InMemoryCluster c({.replica_timeout_ms = 2000});
  for (const Result<WriteOutcome>& put : WriteTogether(c, 1, 10)) ASSERT_OK(put);
  EXPECT_EQ(c.net().delivered(1, 2), 1);
  EXPECT_EQ(c.net().delivered(1, 3), 1);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(c.StoredValue(2, "k" + std::to_string(i)), "v");
    EXPECT_EQ(c.StoredValue(3, "k" + std::to_string(i)), "v");
  }
  EXPECT_EQ(c.node(1).hints->PeersWithHints(), std::vector<NodeId>{});
}

// A peer of an older release (it does not serve batches) gets each copy in a call of its own.
TEST(CoordinatorApTest, BackgroundCopiesGoOneCallEachToAPeerThatDoesNotServeBatches) {
  InMemoryCluster c({.replica_timeout_ms = 2000});
  c.net().SetServesBatches(false);
  for (const Result<WriteOutcome>& put : WriteTogether(c, 1, 10)) ASSERT_OK(put);
  EXPECT_EQ(c.net().delivered(1, 2), 10);
  EXPECT_EQ(c.StoredValue(2, "k9"), "v");
}

// A streamed call that fails as a whole (here: its request lost, so it times out) leaves every
// write it carried hinted for that replica (hint replay, tested with the replayer, delivers
// them later), and the other replica's copies unaffected.
TEST(CoordinatorApTest, AStreamedCallThatFailsAsAWholeHintsEveryWriteItCarried) {
  InMemoryCluster c({.replica_timeout_ms = 200});
  c.net().BlackHole(1, 2);
  for (const Result<WriteOutcome>& put : WriteTogether(c, 1, 10)) {
    ASSERT_OK(put);
    EXPECT_FALSE(put->hinted) << "answered by the coordinator's own replica";
  }
  EXPECT_EQ(c.node(1).hints->StatsFor(2).hints, 10u);
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, 0u);
  EXPECT_EQ(c.StoredValue(2, "k0"), "<none>");
  EXPECT_EQ(c.StoredValue(3, "k0"), "v");
}

TEST(CoordinatorApTest, ApReadOnAReplicaAnswersFromItsOwnStoreEvenWhenNotFound) {
  InMemoryCluster c({});
  const Version v{"elsewhere", Timestamp{Hlc(kStartMs), 2}, false};
  ASSERT_OK(c.node(2).engine.ApplyIfNewer("k", v));
  ASSERT_OK(c.node(3).engine.ApplyIfNewer("k", v));
  ASSERT_CODE(c.Read(1, "k", kAp), Code::kNotFound);
  EXPECT_EQ(c.net().delivered(1, 2) + c.net().delivered(1, 3), 0);
  EXPECT_EQ(c.Read(2, "k", kAp)->value, "elsewhere");
}

TEST(CoordinatorApTest, ApReadOnANonReplicaReturnsTheFirstAnswerAskingAliveReplicasFirst) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) { return !Contains(r, 1); });
  const std::span<const NodeId> replicas = c.ring().ReplicasFor(key);
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  for (NodeId r : replicas) ASSERT_OK(c.node(r).engine.ApplyIfNewer(key, v));
  c.MarkDead(1, replicas[0]);
  c.net().Down(replicas[1]);
  Result<Version> got = c.Read(1, key, kAp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v");
  EXPECT_EQ(c.net().delivered(1, replicas[0]), 0) << "the dead replica was not needed";
  // Once every alive replica failed, the dead one is asked too.
  c.net().Down(replicas[2]);
  got = c.Read(1, key, kAp);
  ASSERT_OK(got);
  EXPECT_EQ(c.net().delivered(1, replicas[0]), 1);
}

TEST(CoordinatorApTest, ApReadWithNoReplicaReachableIsUnavailableOrTimeout) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3, .replica_timeout_ms = 5000});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) { return !Contains(r, 1); });
  const std::span<const NodeId> replicas = c.ring().ReplicasFor(key);
  for (NodeId r : replicas) c.net().Down(r);
  ASSERT_CODE(c.Read(1, key, kAp), Code::kUnavailable);
  c.net().HealAll();
  for (NodeId r : replicas) {
    c.net().Up(r);
    c.net().BlackHole(1, r);
  }
  const auto start = std::chrono::steady_clock::now();
  ASSERT_CODE(c.Read(1, key, kAp, milliseconds(100)), Code::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
}

TEST(CoordinatorApTest, AVersionFromANodeWhoseClockIsFarAheadIsRefusedAndCannotWin) {
  InMemoryCluster c({});
  c.node(3).clock.Advance(3'600'000);  // An hour ahead: far beyond the 500 ms guard.
  Result<WriteOutcome> wild = c.Write(3, "k", "wild", kAp);
  ASSERT_OK(wild);  // Node 3 applies its own write; nobody else takes it.
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.StoredValue(1, "k"), "<none>");
  EXPECT_EQ(c.StoredValue(2, "k"), "<none>");
  EXPECT_EQ(c.node(3).hints->PeersWithHints(), std::vector<NodeId>{})
      << "a refusal by the guard is not hinted";
  EXPECT_LT(c.node(1).hlc.Last(), wild->timestamp.hlc) << "the clock was not dragged along";

  // Later writes win on the sane nodes; reads there never return the wild version.
  ASSERT_OK(c.Write(1, "k", "sane", kCp));
  for (NodeId id : {NodeId{1}, NodeId{2}}) {
    Result<Version> got = c.Read(id, "k", kCp);
    ASSERT_OK(got);
    EXPECT_EQ(got->value, "sane") << "read from node " << id;
    EXPECT_EQ(c.Read(id, "k", kAp)->value, "sane");
  }
  EXPECT_EQ(c.StoredValue(1, "k"), "sane");
  EXPECT_EQ(c.StoredValue(2, "k"), "sane");
}

TEST(CoordinatorApTest, ANodeWithASlowClockOrdersItsNextWriteAfterAVersionItReceived) {
  InMemoryCluster c({});
  c.node(2).clock.Advance(-400);  // Behind, within the guard.
  Result<WriteOutcome> first = c.Write(1, "k", "from-1", kAp);
  ASSERT_OK(first);
  ASSERT_TRUE(c.RunUntilIdle());
  Result<WriteOutcome> second = c.Write(2, "k", "from-2", kAp);
  ASSERT_OK(second);
  EXPECT_GT(second->timestamp, first->timestamp);
  EXPECT_LT(static_cast<uint64_t>(c.node(2).clock.NowMs()), first->timestamp.wall_ms())
      << "node 2's wall clock really is behind; the HLC's order is causal";
  ASSERT_TRUE(c.RunUntilIdle());
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "from-2") << "node " << id;
}

TEST(CoordinatorApTest, ConcurrentApWritesToOneKeyFromEveryNodeConvergeToTheMaxTimestamp) {
  InMemoryCluster c({});
  for (NodeId a : c.ids()) {
    for (NodeId b : c.ids()) {
      if (a != b) c.net().SetDelay(a, b, milliseconds(10 * a + b));
    }
  }
  std::vector<std::optional<Result<WriteOutcome>>> outcomes(3);
  for (NodeId id : c.ids()) {
    auto op = c.node(id).coordinator->Write("k", "from-" + std::to_string(id), false, kAp,
                                            std::chrono::steady_clock::now() + milliseconds(5000));
    asio::co_spawn(c.io(), StoreResult(std::move(op), &outcomes[id - 1]), asio::detached);
  }
  ASSERT_TRUE(c.RunUntil([&] {
    return std::all_of(outcomes.begin(), outcomes.end(), [](auto& o) { return o.has_value(); });
  }));
  ASSERT_TRUE(c.RunUntilIdle());
  Timestamp max;
  NodeId winner = 0;
  for (NodeId id : c.ids()) {
    ASSERT_OK(*outcomes[id - 1]);
    if ((*outcomes[id - 1])->timestamp > max) {
      max = (*outcomes[id - 1])->timestamp;
      winner = id;
    }
  }
  for (NodeId id : c.ids()) {
    Result<Version> stored = c.Stored(id, "k");
    ASSERT_OK(stored);
    EXPECT_EQ(stored->timestamp, max) << "node " << id;
    EXPECT_EQ(stored->value, "from-" + std::to_string(winner)) << "node " << id;
  }
}

TEST(CoordinatorApTest, EqualHlcWritesConvergeToTheHighestNodeId) {
  InMemoryCluster c({});
  // No message has moved any clock: every node's first timestamp is the same hlc. Cut every
  // link so the writes only meet later, through hints.
  for (NodeId a : c.ids()) {
    for (NodeId b : c.ids()) {
      if (a != b) c.net().Cut(a, b);
    }
  }
  std::vector<Timestamp> stamps;
  for (NodeId id : {NodeId{3}, NodeId{1}, NodeId{2}}) {
    Result<WriteOutcome> put = c.Write(id, "k", "from-" + std::to_string(id), kAp);
    ASSERT_OK(put);
    stamps.push_back(put->timestamp);
  }
  EXPECT_EQ(stamps[0].hlc, stamps[1].hlc);
  EXPECT_EQ(stamps[1].hlc, stamps[2].hlc);
  ASSERT_TRUE(c.RunUntilIdle());
  c.net().HealAll();
  for (NodeId id : c.ids()) {
    for (NodeId peer : c.ids()) c.node(id).replayer->Replay(peer);
  }
  ASSERT_TRUE(c.RunUntil([&] {
    for (NodeId id : c.ids()) {
      if (!c.node(id).hints->PeersWithHints().empty()) return false;
    }
    return true;
  }));
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "from-3") << "node " << id;
}

TEST(CoordinatorApTest, StopWaitsForBackgroundReplicationAndThenRefusesRequests) {
  InMemoryCluster c({.replica_timeout_ms = 2000});
  c.net().SetDelay(1, 2, milliseconds(100));
  ASSERT_OK(c.Write(1, "k", "v", kAp));
  ASSERT_GT(c.node(1).coordinator->calls_in_flight(), 0u);
  c.StopWhileRunning([&] { c.node(1).coordinator->Stop(); });
  EXPECT_EQ(c.node(1).coordinator->calls_in_flight(), 0u);
  EXPECT_EQ(c.StoredValue(2, "k"), "v") << "the delayed copy was delivered before Stop returned";
  ASSERT_CODE(c.Write(1, "k", "after", kAp), Code::kUnavailable);
  ASSERT_CODE(c.Read(1, "k", kCp), Code::kUnavailable);
}

}  // namespace
}  // namespace dialkv::replication::testing
