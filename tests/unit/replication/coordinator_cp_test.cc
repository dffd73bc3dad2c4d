// CP requests (docs/consistency.md): ABD quorum writes and reads with read repair, over a
// cluster in one io_context.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

#include "tests/testutil/in_memory_cluster.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::replication::testing {
namespace {

using testutil::Hlc;
using testutil::InMemoryCluster;
using testutil::kStartMs;

using std::chrono::milliseconds;

constexpr Consistency kCp = Consistency::kCp;

milliseconds Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

TEST(CoordinatorCpTest, CpWriteThenCpReadFromEveryNodeReturnsIt) {
  InMemoryCluster c({});
  Result<WriteOutcome> put = c.Write(1, "k", "v1", kCp);
  ASSERT_OK(put);
  EXPECT_FALSE(put->hinted);
  EXPECT_EQ(put->timestamp.node_id, 1u);
  for (NodeId id : c.ids()) {
    Result<Version> got = c.Read(id, "k", kCp);
    ASSERT_OK(got);
    EXPECT_EQ(got->value, "v1") << "read from node " << id;
    EXPECT_EQ(got->timestamp, put->timestamp);
  }
  ASSERT_OK(c.Delete(2, "k", kCp));
  for (NodeId id : c.ids()) {
    Result<Version> got = c.Read(id, "k", kCp);
    ASSERT_OK(got);
    EXPECT_TRUE(got->tombstone) << "read from node " << id;
  }
  ASSERT_CODE(c.Read(3, "never-written", kCp), Code::kNotFound);
}

TEST(CoordinatorCpTest, FiveNodesWithThreeReplicasServeCpFromEveryNode) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) {
    return std::find(r.begin(), r.end(), NodeId{1}) == r.end();
  });
  Result<WriteOutcome> put = c.Write(1, key, "from-a-non-replica", kCp);
  ASSERT_OK(put);
  c.RunUntilIdle();
  size_t holders = 0;
  for (NodeId id : c.ids()) {
    holders += c.StoredValue(id, key) == "from-a-non-replica" ? 1 : 0;
    EXPECT_EQ(c.ring().IsReplica(id, key), c.Stored(id, key).ok()) << "node " << id;
  }
  EXPECT_EQ(holders, 3u);
  for (NodeId id : c.ids()) {
    Result<Version> got = c.Read(id, key, kCp);
    ASSERT_OK(got);
    EXPECT_EQ(got->value, "from-a-non-replica") << "read from node " << id;
  }
}

TEST(CoordinatorCpTest, CpWriteWithOneReplicaBlackHoledSucceedsOnceTheQuorumAnswers) {
  InMemoryCluster c({.replica_timeout_ms = 400});
  c.net().BlackHole(1, 3);
  c.net().SetDelay(1, 2, milliseconds(50));  // The quorum completes with the slower replica.
  const auto start = std::chrono::steady_clock::now();
  Result<WriteOutcome> put = c.Write(1, "k", "v", kCp, std::chrono::seconds(5));
  const milliseconds elapsed = Since(start);
  ASSERT_OK(put);
  // Two rounds of 50 ms to node 2; the black-holed replica's 400 ms timeout is not awaited.
  EXPECT_GE(elapsed, milliseconds(100));
  EXPECT_LT(elapsed, milliseconds(400));
  EXPECT_EQ(c.StoredValue(1, "k"), "v");
  EXPECT_EQ(c.StoredValue(2, "k"), "v");
  EXPECT_EQ(c.StoredValue(3, "k"), "<none>");
  // The black-holed replica's write times out in the background and leaves a hint.
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, 1u);
}

TEST(CoordinatorCpTest, CpWriteWithTwoOfThreeReplicasDownIsUnavailableAndWritesNothing) {
  InMemoryCluster c({});
  c.net().Down(2);
  c.net().Down(3);
  const auto start = std::chrono::steady_clock::now();
  Result<WriteOutcome> put = c.Write(1, "k", "v", kCp, std::chrono::seconds(5));
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_LT(Since(start), milliseconds(1000)) << "a quorum that became impossible fails early";
  EXPECT_NE(put.status().message().find("not applied"), std::string::npos)
      << put.status().message();
  c.net().Up(2);
  c.net().Up(3);
  ASSERT_TRUE(c.RunUntilIdle());
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "<none>") << "node " << id;
  EXPECT_EQ(c.node(1).hints->PeersWithHints(), std::vector<NodeId>{});
}

TEST(CoordinatorCpTest, CpWriteWithTwoReplicasBlackHoledIsUnavailableAtTheDeadline) {
  InMemoryCluster c({.replica_timeout_ms = 5000});
  c.net().BlackHole(1, 2);
  c.net().BlackHole(1, 3);
  const auto start = std::chrono::steady_clock::now();
  Result<WriteOutcome> put = c.Write(1, "k", "v", kCp, milliseconds(150));
  const milliseconds elapsed = Since(start);
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_GE(elapsed, milliseconds(150));
  EXPECT_LT(elapsed, milliseconds(1500)) << "never waits past its deadline";
  ASSERT_TRUE(c.RunUntilIdle());
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "<none>") << "node " << id;
}

// Delivers peer requests to `service`; a replica write is dropped (kept: applied) and its
// reply lost, so the coordinator hears nothing back.
asio::awaitable<v1::Envelope> LoseWriteReplies(PeerService* service, testutil::FakeNetwork* net,
                                               NodeId from, NodeId self, bool apply,
                                               v1::Envelope request) {
  const bool write = request.has_replica_write_request();
  if (write) net->LoseReplies(from, self);
  if (write && !apply) co_return v1::Envelope();
  co_return co_await service->Handle(std::move(request));
}

TEST(CoordinatorCpTest, CpWriteWhosePhaseTwoReachesOnlyOneReplicaIsUnknownNeverUnavailable) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3, .replica_timeout_ms = 100});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) {
    return std::find(r.begin(), r.end(), NodeId{1}) == r.end();
  });
  const std::span<const NodeId> replicas = c.ring().ReplicasFor(key);
  ASSERT_OK(c.Write(1, key, "old", kCp));
  // replicas[0] acks; replicas[1] applies but its reply is lost; replicas[2] never gets it.
  PeerService* s1 = c.node(replicas[1]).peer.get();
  PeerService* s2 = c.node(replicas[2]).peer.get();
  testutil::FakeNetwork* net = &c.net();
  const NodeId r1 = replicas[1];
  const NodeId r2 = replicas[2];
  c.net().Register(
      r1, [=](v1::Envelope e) { return LoseWriteReplies(s1, net, 1, r1, true, std::move(e)); },
      &c.node(r1).hlc);
  c.net().Register(
      r2, [=](v1::Envelope e) { return LoseWriteReplies(s2, net, 1, r2, false, std::move(e)); },
      &c.node(r2).hlc);

  Result<WriteOutcome> put = c.Write(1, key, "new", kCp, std::chrono::seconds(2));
  ASSERT_CODE(put, Code::kUnknown);
  EXPECT_NE(put.status().message().find("may have been applied"), std::string::npos)
      << put.status().message();
  EXPECT_EQ(c.StoredValue(replicas[0], key), "new");
  EXPECT_EQ(c.StoredValue(replicas[1], key), "new");
  EXPECT_EQ(c.StoredValue(replicas[2], key), "old");

  // Indeterminate, and visible: once healed, every CP read returns it (any quorum meets a
  // holder, and read repair spreads it).
  ASSERT_TRUE(c.RunUntilIdle());
  c.net().HealAll();
  c.net().Register(r1, c.HandlerOf(r1), &c.node(r1).hlc);
  c.net().Register(r2, c.HandlerOf(r2), &c.node(r2).hlc);
  for (NodeId id : c.ids()) {
    Result<Version> got = c.Read(id, key, kCp);
    ASSERT_OK(got);
    EXPECT_EQ(got->value, "new") << "read from node " << id;
  }
}

// A replica cut off by a partition the failure detector has noticed is not called while the
// others make a quorum: every call to it would wait out the replica timeout, and enough of them
// fill max_replica_calls_in_flight, after which requests are refused with OVERLOADED. Node 1
// is made to hold node 3 in `state` by `hold_back`; node 3 gets requests (they are counted)
// but its replies never return.
void ExpectCpRequestsLeaveOutReplicaHeldBack(void (InMemoryCluster::*hold_back)(NodeId, NodeId),
                                             cluster::MemberState state) {
  InMemoryCluster c({.replica_timeout_ms = 5000});
  c.net().LoseReplies(1, 3);
  (c.*hold_back)(1, 3);
  ASSERT_EQ(c.node(1).membership->StateOf(3), state);
  ASSERT_OK(c.Write(1, "k", "v", kCp));
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v");
  EXPECT_EQ(c.net().delivered(1, 3), 0) << "no request was sent to the replica held back";
  // It gets the write as a hint instead, delivered once it is heard from again.
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, 1u);
  EXPECT_EQ(c.StoredValue(3, "k"), "<none>");
}

TEST(CoordinatorCpTest, CpRequestsDoNotCallAReplicaHeldDeadWhileTheOthersMakeAQuorum) {
  ExpectCpRequestsLeaveOutReplicaHeldBack(&InMemoryCluster::MarkDead, cluster::MemberState::kDead);
}

// The failure detector suspects a cut-off replica well before it holds it dead, and calls to it
// in between would each wait out the replica timeout as well.
TEST(CoordinatorCpTest, CpRequestsDoNotCallASuspectReplicaWhileTheOthersMakeAQuorum) {
  ExpectCpRequestsLeaveOutReplicaHeldBack(&InMemoryCluster::MarkSuspect,
                                          cluster::MemberState::kSuspect);
}

TEST(CoordinatorCpTest, CpRequestsAskAReplicaWronglyHeldDeadWhenTheOthersCannotMakeAQuorum) {
  InMemoryCluster c({});
  c.MarkDead(1, 3);  // Wrongly: node 3 is up.
  c.net().Down(2);
  ASSERT_OK(c.Write(1, "k", "v", kCp));
  EXPECT_EQ(c.StoredValue(3, "k"), "v");
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v");
}

TEST(CoordinatorCpTest, CpRequestsAskAReplicaWronglyHeldDeadOnceALiveOneHasNotAnswered) {
  InMemoryCluster c({.replica_timeout_ms = 200});
  c.MarkDead(1, 3);         // Wrongly: node 3 is up.
  c.net().BlackHole(1, 2);  // Node 2 is held alive but never answers; it would be retried.
  Result<WriteOutcome> put = c.Write(1, "k", "v", kCp, std::chrono::seconds(2));
  ASSERT_OK(put);
  EXPECT_EQ(c.StoredValue(3, "k"), "v");
  Result<Version> got = c.Read(1, "k", kCp, std::chrono::seconds(2));
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v");
  EXPECT_EQ(got->timestamp, put->timestamp);
}

TEST(CoordinatorCpTest, CpReadRepairsAStaleReplica) {
  InMemoryCluster c({});
  c.net().Cut(1, 3);
  ASSERT_OK(c.Write(1, "k", "v1", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.StoredValue(3, "k"), "<none>");
  c.net().HealAll();
  // Node 3's quorum is itself (stale) and node 1 (current): they disagree.
  c.net().Cut(3, 2);
  Result<Version> got = c.Read(3, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v1");
  EXPECT_EQ(c.StoredValue(3, "k"), "v1") << "the write-back reached the stale replica";
}

TEST(CoordinatorCpTest, CpReadAfterAnIndeterminateWriteNeverReturnsOlderData) {
  InMemoryCluster c({.replica_timeout_ms = 100});
  ASSERT_OK(c.Write(1, "k", "old", kCp));
  // Phase 2 reaches only node 1 itself: nodes 2 and 3 drop the write and the reply is lost.
  for (NodeId id : {NodeId{2}, NodeId{3}}) {
    PeerService* s = c.node(id).peer.get();
    testutil::FakeNetwork* net = &c.net();
    c.net().Register(
        id, [=](v1::Envelope e) { return LoseWriteReplies(s, net, 1, id, false, std::move(e)); },
        &c.node(id).hlc);
  }
  ASSERT_CODE(c.Write(1, "k", "new", kCp), Code::kUnknown);
  ASSERT_TRUE(c.RunUntilIdle());
  c.net().HealAll();
  for (NodeId id : {NodeId{2}, NodeId{3}}) c.net().Register(id, c.HandlerOf(id), &c.node(id).hlc);

  // Node 2 asks itself (old) and node 1 (new): it returns new, after repairing node 2.
  c.net().Cut(2, 3);
  Result<Version> first = c.Read(2, "k", kCp);
  ASSERT_OK(first);
  EXPECT_EQ(first->value, "new");
  c.net().HealAll();
  // Node 3 now asks itself (old) and node 2, never node 1: it must not go back to old.
  c.net().Cut(3, 1);
  Result<Version> second = c.Read(3, "k", kCp);
  ASSERT_OK(second);
  EXPECT_EQ(second->value, "new");
}

TEST(CoordinatorCpTest, CpReadsAfterCpWritesNeverReturnOlderDataWhateverTheQuorum) {
  InMemoryCluster c({});
  // Each round cuts one coordinator -> replica link for the writer and another for the
  // reader, so writes and reads land on different quorums.
  for (int round = 0; round < 12; ++round) {
    const NodeId writer = static_cast<NodeId>(round % 3 + 1);
    const NodeId reader = static_cast<NodeId>((round + 1) % 3 + 1);
    const NodeId writer_cut = writer % 3 + 1;
    const NodeId reader_cut = (reader + round) % 3 + 1;
    SCOPED_TRACE("round " + std::to_string(round));
    c.net().HealAll();
    c.net().Cut(writer, writer_cut);
    const std::string value = "v" + std::to_string(round);
    ASSERT_OK(c.Write(writer, "k", value, kCp));
    c.net().HealAll();
    if (reader_cut != reader) c.net().Cut(reader, reader_cut);
    Result<Version> got = c.Read(reader, "k", kCp);
    ASSERT_OK(got);
    EXPECT_EQ(got->value, value) << "round " << round << ": read from " << reader;
    ASSERT_TRUE(c.RunUntilIdle());
  }
}

TEST(CoordinatorCpTest, CpReadWithoutAQuorumIsUnavailable) {
  InMemoryCluster c({});
  ASSERT_OK(c.Write(1, "k", "v", kCp));
  c.net().Down(2);
  c.net().Down(3);
  ASSERT_CODE(c.Read(1, "k", kCp), Code::kUnavailable);
}

TEST(CoordinatorCpTest, CpWriteOrdersAfterTheHighestTimestampAQuorumHolds) {
  InMemoryCluster c({});
  // Node 2 holds a version from node 3 stamped 400 ms ahead of node 1's clock (within the
  // guard), which node 1 has never heard of.
  const Version ahead{"ahead", Timestamp{Hlc(kStartMs + 400), 3}, false};
  ASSERT_OK(c.node(2).engine.ApplyIfNewer("k", ahead));
  ASSERT_OK(c.node(3).engine.ApplyIfNewer("k", ahead));
  Result<WriteOutcome> put = c.Write(1, "k", "later", kCp);
  ASSERT_OK(put);
  EXPECT_GT(put->timestamp, ahead.timestamp);
  EXPECT_EQ(put->timestamp.node_id, 1u);
  for (NodeId id : c.ids()) EXPECT_EQ(c.Read(id, "k", kCp)->value, "later");
}

// ---- Fast failure: the failure detector holds too many replicas dead for a quorum ----

// Makes node `on` hold every other node dead: time passes everywhere and `on` hears no one.
void HoldEveryPeerDead(InMemoryCluster& c, NodeId on) {
  for (NodeId id : c.ids()) {
    c.node(id).clock.Advance(cluster::Membership::Options().dead_after_ms + 1);
  }
  c.node(on).membership->Tick(0);
}

TEST(CoordinatorCpTest, CpRequestsFailFastWithoutSendingWhenTheDetectorHoldsNoQuorumAlive) {
  InMemoryCluster c({});
  ASSERT_OK(c.Write(1, "k", "before", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  HoldEveryPeerDead(c, 1);
  ASSERT_EQ(c.node(1).membership->StateOf(2), cluster::MemberState::kDead);
  ASSERT_EQ(c.node(1).membership->StateOf(3), cluster::MemberState::kDead);
  const int to2 = c.net().delivered(1, 2);
  const int to3 = c.net().delivered(1, 3);

  Result<WriteOutcome> put = c.Write(1, "k", "refused", kCp);
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_NE(put.status().message().find("failure detector holds 2 of 3 replicas dead"),
            std::string::npos)
      << put.status().ToString();
  EXPECT_NE(put.status().message().find("the write was not applied"), std::string::npos);
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_CODE(got, Code::kUnavailable);
  EXPECT_NE(got.status().message().find("failure detector holds 2 of 3 replicas dead"),
            std::string::npos)
      << got.status().ToString();
  ASSERT_CODE(c.Delete(1, "k", kCp), Code::kUnavailable);

  EXPECT_EQ(c.net().delivered(1, 2), to2) << "nothing was sent";
  EXPECT_EQ(c.net().delivered(1, 3), to3) << "nothing was sent";
  EXPECT_EQ(c.node(1).coordinator->fast_failures(), 3u);
  ASSERT_TRUE(c.RunUntilIdle());
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "before") << "node " << id;
  EXPECT_EQ(c.node(1).hints->StatsFor(2).hints, 0u);

  // AP is not refused; and once the peers are heard from again, CP is served.
  ASSERT_OK(c.Read(1, "k", Consistency::kAp));
  c.MarkAlive(1, {2, 3});
  ASSERT_OK(c.Write(1, "k", "after", kCp));
  EXPECT_EQ(c.node(1).coordinator->fast_failures(), 3u);
}

TEST(CoordinatorCpTest, CpRequestsDoNotFailFastWhileAQuorumIsNotHeldDead) {
  InMemoryCluster c({});
  c.MarkDead(1, 3);  // One dead of three: a quorum is left.
  ASSERT_OK(c.Write(1, "k", "v", kCp));
  ASSERT_OK(c.Read(1, "k", kCp));
  // Suspects do not count: both peers suspected, both are still asked (and are up).
  for (NodeId id : c.ids()) {
    c.node(id).clock.Advance(cluster::Membership::Options().suspect_after_ms + 1);
  }
  c.node(1).membership->Tick(0);
  ASSERT_EQ(c.node(1).membership->StateOf(2), cluster::MemberState::kSuspect);
  ASSERT_OK(c.Write(1, "k", "v2", kCp));
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v2");
  EXPECT_EQ(c.node(1).coordinator->fast_failures(), 0u);
}

asio::awaitable<void> HoldEveryPeerDeadAfter(InMemoryCluster* c, NodeId on, milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
  HoldEveryPeerDead(*c, on);
}

// Phase 1 can last long enough for the detector to find replicas dead; phase 2 then refuses
// before sending the version anywhere, so the refusal is still definite.
TEST(CoordinatorCpTest, CpWriteFailsFastBeforePhaseTwoWhenReplicasWereFoundDeadDuringPhaseOne) {
  InMemoryCluster c({});
  c.net().Down(3);
  c.net().SetDelay(1, 2, milliseconds(100));  // Node 2's timestamp completes the quorum late.
  asio::co_spawn(c.io(), HoldEveryPeerDeadAfter(&c, 1, milliseconds(20)), asio::detached);
  Result<WriteOutcome> put = c.Write(1, "k", "v", kCp);
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_NE(put.status().message().find("failure detector holds 2 of 3 replicas dead"),
            std::string::npos)
      << put.status().ToString();
  EXPECT_EQ(c.net().delivered(1, 2), 1) << "the timestamp read only";
  EXPECT_EQ(c.node(1).coordinator->fast_failures(), 1u);
  ASSERT_TRUE(c.RunUntilIdle());
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "<none>") << "node " << id;
}

// ---- Quorum first: CP reads and a CP write's timestamp read ask a quorum, then the rest ----

// Of a key's three replicas, the one a quorum-first request coordinated by `coordinator` (a
// replica of it) asks besides itself, and the one it holds back: the ring order after it.
struct QuorumFirst {
  NodeId asked;
  NodeId held_back;
};
QuorumFirst QuorumFirstOf(const InMemoryCluster& c, NodeId coordinator, const std::string& key) {
  const std::span<const NodeId> r = c.ring().ReplicasFor(key);
  const auto i = static_cast<size_t>(std::find(r.begin(), r.end(), coordinator) - r.begin());
  return {r[(i + 1) % r.size()], r[(i + 2) % r.size()]};
}

// Delivers peer requests to `service`, but answers every replica read with a reply the
// coordinator takes as failed (not a replica read reply). Writes are served.
asio::awaitable<v1::Envelope> FailReads(PeerService* service, v1::Envelope request) {
  if (request.has_replica_read_request()) co_return v1::Envelope();
  co_return co_await service->Handle(std::move(request));
}

void FailReadsAt(InMemoryCluster& c, NodeId id) {
  PeerService* service = c.node(id).peer.get();
  c.net().Register(
      id, [service](v1::Envelope e) { return FailReads(service, std::move(e)); }, &c.node(id).hlc);
}

TEST(CoordinatorCpTest, HealthyCpRequestsAskAQuorumAndWritesReachEveryReplica) {
  // A speculative delay no healthy exchange comes near, even on a loaded machine.
  InMemoryCluster c({.speculative_retry_ms = 5000});
  const QuorumFirst q = QuorumFirstOf(c, 1, "k");
  ASSERT_OK(c.Write(1, "k", "v", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.net().delivered(1, q.asked), 2) << "the timestamp read, then the write";
  EXPECT_EQ(c.net().delivered(1, q.held_back), 1) << "the write only";
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v");
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.net().delivered(1, q.asked), 3);
  EXPECT_EQ(c.net().delivered(1, q.held_back), 1) << "the read did not ask it";
  // The same order every time: a second read asks the same replica.
  ASSERT_OK(c.Read(1, "k", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.net().delivered(1, q.asked), 4);
  EXPECT_EQ(c.net().delivered(1, q.held_back), 1);
}

TEST(CoordinatorCpTest, HealthyCpRequestsAtANonReplicaAskTheFirstQuorumInRingOrder) {
  InMemoryCluster c({.nodes = 5, .replication_factor = 3, .speculative_retry_ms = 5000});
  const std::string key = c.KeyWhere([](std::span<const NodeId> r) {
    return std::find(r.begin(), r.end(), NodeId{1}) == r.end();
  });
  const std::span<const NodeId> r = c.ring().ReplicasFor(key);
  ASSERT_OK(c.Write(1, key, "v", kCp));
  Result<Version> got = c.Read(1, key, kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v");
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.net().delivered(1, r[0]), 3);
  EXPECT_EQ(c.net().delivered(1, r[1]), 3);
  EXPECT_EQ(c.net().delivered(1, r[2]), 1) << "the write only";
}

TEST(CoordinatorCpTest, CpRequestsAskTheHeldBackReplicaWhenOneOfTheQuorumIsSlow) {
  InMemoryCluster c({.replica_timeout_ms = 2000, .speculative_retry_ms = 20});
  const QuorumFirst q = QuorumFirstOf(c, 1, "k");
  ASSERT_OK(c.Write(1, "k", "v1", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  const int held_back_before = c.net().delivered(1, q.held_back);
  c.net().SetDelay(1, q.asked, milliseconds(1000));

  auto start = std::chrono::steady_clock::now();
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v1");
  EXPECT_LT(Since(start), milliseconds(500)) << "neither the slow replica nor its timeout";
  EXPECT_EQ(c.net().delivered(1, q.held_back), held_back_before + 1);

  start = std::chrono::steady_clock::now();
  ASSERT_OK(c.Write(1, "k", "v2", kCp));
  EXPECT_LT(Since(start), milliseconds(500));
  EXPECT_EQ(c.net().delivered(1, q.held_back), held_back_before + 3)
      << "the timestamp read after the delay, then the write";
  EXPECT_EQ(c.StoredValue(q.held_back, "k"), "v2");
  ASSERT_TRUE(c.RunUntilIdle());
}

TEST(CoordinatorCpTest, CpRequestsAskTheHeldBackReplicaAtOnceWhenOneOfTheQuorumFails) {
  // The delay alone would outlast the requests' deadline: only the failure can start the
  // second wave.
  InMemoryCluster c({.speculative_retry_ms = 60'000});
  const QuorumFirst q = QuorumFirstOf(c, 1, "k");
  ASSERT_OK(c.Write(1, "k", "v1", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  FailReadsAt(c, q.asked);
  const int held_back_before = c.net().delivered(1, q.held_back);

  const auto start = std::chrono::steady_clock::now();
  Result<Version> got = c.Read(1, "k", kCp, std::chrono::seconds(5));
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v1");
  Result<WriteOutcome> put = c.Write(1, "k", "v2", kCp, std::chrono::seconds(5));
  ASSERT_OK(put);
  EXPECT_LT(Since(start), milliseconds(2000));
  EXPECT_EQ(c.net().delivered(1, q.held_back), held_back_before + 3)
      << "the read, the timestamp read, the write";
  ASSERT_TRUE(c.RunUntilIdle());
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "v2") << "node " << id;
}

TEST(CoordinatorCpTest, CpRequestsCountALateReplyOfTheQuorumAskedFirst) {
  InMemoryCluster c({.replica_timeout_ms = 2000, .speculative_retry_ms = 20});
  const QuorumFirst q = QuorumFirstOf(c, 1, "k");
  ASSERT_OK(c.Write(1, "k", "v1", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  // The replica asked first answers after 200 ms; the one asked at 20 ms fails at once. The
  // quorum is this node and the first, whose reply arrives after the second wave started.
  c.net().SetDelay(1, q.asked, milliseconds(200));
  FailReadsAt(c, q.held_back);
  const int held_back_before = c.net().delivered(1, q.held_back);

  auto start = std::chrono::steady_clock::now();
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v1");
  milliseconds elapsed = Since(start);
  EXPECT_GE(elapsed, milliseconds(200));
  EXPECT_LT(elapsed, milliseconds(1500)) << "no replica timeout was awaited";
  EXPECT_EQ(c.net().delivered(1, q.held_back), held_back_before + 1);

  start = std::chrono::steady_clock::now();
  Result<WriteOutcome> put = c.Write(1, "k", "v2", kCp);
  ASSERT_OK(put);
  elapsed = Since(start);
  EXPECT_GE(elapsed, milliseconds(200));
  EXPECT_LT(elapsed, milliseconds(1500));
  EXPECT_EQ(c.net().delivered(1, q.held_back), held_back_before + 3);
  ASSERT_TRUE(c.RunUntilIdle());
  for (NodeId id : c.ids()) EXPECT_EQ(c.StoredValue(id, "k"), "v2") << "node " << id;
}

TEST(CoordinatorCpTest, CpRequestsWithoutSpeculativeRetryAskEveryReplicaAtOnce) {
  InMemoryCluster c({.speculative_retry_ms = 0});
  ASSERT_OK(c.Write(1, "k", "v", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.net().delivered(1, 2), 2) << "the timestamp read, then the write";
  EXPECT_EQ(c.net().delivered(1, 3), 2) << "the timestamp read, then the write";
  ASSERT_OK(c.Read(1, "k", kCp));
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.net().delivered(1, 2), 3);
  EXPECT_EQ(c.net().delivered(1, 3), 3);
}

// A read repair also writes to the replica the read did not ask, and answers once a quorum
// holds the newest version.
TEST(CoordinatorCpTest, CpReadRepairAlsoWritesTheReplicaItDidNotAsk) {
  InMemoryCluster c({.speculative_retry_ms = 5000});
  const QuorumFirst q = QuorumFirstOf(c, 1, "k");
  // Only the replica asked first holds a version.
  const Version v{"only-there", Timestamp{Hlc(kStartMs), 2}, false};
  ASSERT_OK(c.node(q.asked).engine.ApplyIfNewer("k", v));
  Result<Version> got = c.Read(1, "k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "only-there");
  ASSERT_TRUE(c.RunUntilIdle());
  EXPECT_EQ(c.StoredValue(1, "k"), "only-there");
  EXPECT_EQ(c.StoredValue(q.held_back, "k"), "only-there");
}

}  // namespace
}  // namespace dialkv::replication::testing
