// Anti-entropy over the in-memory network: exchanges, convergence after partitions, concurrent
// writes during an exchange, and the tombstone collection rules. Every node runs on the test
// thread (storage_thread off); every wait is bounded by the cluster's deadline and every loop
// by a count.

#include "server/antientropy/anti_entropy.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/common/metrics.h"
#include "tests/testutil/in_memory_cluster.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::antientropy {
namespace {

using testutil::InMemoryCluster;

constexpr uint32_t kGraceS = 60;
constexpr int kMaxIterations = 5;  // Bounds every convergence loop.

std::string Key(int i) { return "key-" + std::to_string(i); }

class AntiEntropyTest : public ::testing::Test {
 protected:
  // Builds a 3-node cluster (hints off) and anti-entropy on every node.
  void Build(AntiEntropy::Options base = {}) {
    InMemoryCluster::Config config;
    config.hinted_handoff = false;
    cluster_ = std::make_unique<InMemoryCluster>(config);
    for (NodeId id : cluster_->ids()) {
      testutil::InMemoryNode& n = cluster_->node(id);
      AntiEntropy::Options options = base;
      options.self = id;
      options.interval_ms = 0;  // Rounds only when a test runs them.
      options.max_keys_per_s = 0;
      options.gc_grace_s = kGraceS;
      options.storage_thread = false;
      options.seed = id;
      registries_.push_back(std::make_unique<metrics::Registry>());
      Result<std::unique_ptr<AntiEntropy>> ae =
          AntiEntropy::Create(options, n.engine, cluster_->ring(), *n.membership, *n.transport,
                              *n.local, n.clock, registries_.back().get());
      ASSERT_OK(ae);
      AntiEntropy* raw = ae->get();
      n.peer->SetAntiEntropyHandler([raw](NodeId from, v1::Envelope request) {
        return raw->Handle(from, std::move(request));
      });
      aes_.push_back(std::move(ae).value());
    }
  }

  void TearDown() override {
    if (cluster_ == nullptr) return;
    cluster_->RunUntilIdle();
    cluster_->StopWhileRunning([this] {
      for (auto& ae : aes_) ae->Stop();
    });
  }

  InMemoryCluster& cluster() { return *cluster_; }
  AntiEntropy& ae(NodeId id) { return *aes_.at(id - 1); }

  void Write(NodeId coordinator, const std::string& key, const std::string& value) {
    ASSERT_OK(cluster().Write(coordinator, key, value, Consistency::kAp));
  }
  void Delete(NodeId coordinator, const std::string& key) {
    ASSERT_OK(cluster().Delete(coordinator, key, Consistency::kAp));
  }

  std::vector<AntiEntropy::RoundReport> Round(NodeId id) {
    return cluster().Run(ae(id).RunRoundNow());
  }
  // One round on every node, a second apart (rounds that start within the same millisecond as
  // a tombstone's arrival do not count for its collection, and a manual clock stands still).
  void RoundAll() {
    for (NodeId id : cluster().ids()) {
      AdvanceClocks(1000);
      Round(id);
    }
    cluster().RunUntilIdle();
  }

  // What each node stores for `key`: "<none>", "<tombstone>@ts" or "value@ts".
  std::string Describe(NodeId id, const std::string& key) {
    Result<Version> v = cluster().Stored(id, key);
    if (!v.ok()) return "<none>";
    return (v->tombstone ? std::string("<tombstone>") : v->value) + "@" + ToString(v->timestamp);
  }
  bool Converged(int keys) {
    for (int i = 0; i < keys; ++i) {
      const std::string first = Describe(1, Key(i));
      for (NodeId id : {2, 3}) {
        if (Describe(id, Key(i)) != first) return false;
      }
    }
    return true;
  }
  // The newest version any node holds of `key`, described.
  std::string Newest(const std::string& key) {
    std::optional<Version> best;
    for (NodeId id : cluster().ids()) {
      Result<Version> v = cluster().Stored(id, key);
      if (v.ok() && (!best || v->timestamp > best->timestamp)) best = *v;
    }
    if (!best) return "<none>";
    return (best->tombstone ? std::string("<tombstone>") : best->value) + "@" +
           ToString(best->timestamp);
  }

  // Every node's digests equal a fresh scan of its store (and, with `equal`, each other's).
  void ExpectDigestsExactAndEqual(bool equal = true) {
    for (NodeId id : cluster().ids()) {
      DigestTable fresh(cluster().ring(), ae(id).digests().buckets(), cluster().node(id).clock,
                        int64_t{kGraceS} * 1000);
      ASSERT_OK(fresh.Rebuild(cluster().node(id).engine));
      for (size_t r = 0; r < fresh.ranges(); ++r) {
        ASSERT_EQ(fresh.RangeDigest(r), ae(id).digests().RangeDigest(r)) << "node " << id;
        if (equal) {
          ASSERT_EQ(fresh.RangeDigest(r), ae(1).digests().RangeDigest(r))
              << "node " << id << " range " << r;
        }
      }
    }
  }

  void AdvanceClocks(int64_t ms) {
    for (NodeId id : cluster().ids()) cluster().node(id).clock.Advance(ms);
  }

  // Partitions node 3 from nodes 1 and 2.
  void IsolateNode3() {
    cluster().net().CutBoth(3, 1);
    cluster().net().CutBoth(3, 2);
  }

  // Writes different values for `keys` keys on both sides of a partition of node 3, and
  // deletes some on each side, then heals.
  void DivergeAndHeal(int keys) {
    IsolateNode3();
    for (int i = 0; i < keys; ++i) Write(1, Key(i), "left-" + std::to_string(i));
    for (int i = 0; i < keys; ++i) {
      if (i % 2 == 0) Write(3, Key(i), "right-" + std::to_string(i));
    }
    for (int i = 0; i < keys; i += 7) Delete(1, Key(i));
    for (int i = 0; i < keys; i += 11) Delete(3, Key(i));
    cluster().RunUntilIdle();
    cluster().net().HealAll();
  }

  std::unique_ptr<InMemoryCluster> cluster_;
  std::vector<std::unique_ptr<metrics::Registry>> registries_;
  std::vector<std::unique_ptr<AntiEntropy>> aes_;  // Destroyed before the cluster.
};

TEST_F(AntiEntropyTest, InSyncReplicasExchangeOnlyAFewHundredBytes) {
  Build();
  for (int i = 0; i < 200; ++i) Write(1, Key(i), "v");
  cluster().RunUntilIdle();
  ASSERT_TRUE(Converged(200));
  AntiEntropy::RoundReport report = cluster().Run(ae(1).ExchangeWith(2));
  ASSERT_OK(report.status);
  EXPECT_TRUE(report.complete);
  EXPECT_EQ(report.ranges_compared, cluster().ring().tokens().size());
  EXPECT_EQ(report.ranges_out_of_sync, 0u);
  EXPECT_EQ(report.keys_pushed + report.keys_pulled, 0u);
  EXPECT_LT(report.bytes_sent + report.bytes_received, 300u);
}

TEST_F(AntiEntropyTest, PartitionedReplicasConvergeOnTheNewestVersionOfEveryKey) {
  Build();
  constexpr int kKeys = 1000;
  DivergeAndHeal(kKeys);
  std::map<std::string, std::string> newest;
  for (int i = 0; i < kKeys; ++i) newest[Key(i)] = Newest(Key(i));
  ASSERT_FALSE(Converged(kKeys));
  int iterations = 0;
  while (!Converged(kKeys) && iterations < kMaxIterations) {
    RoundAll();
    ++iterations;
  }
  ASSERT_TRUE(Converged(kKeys));
  // One round per node suffices: node 1 reconciles with 2 and 3, then 2 with 1.
  EXPECT_EQ(iterations, 1);
  for (int i = 0; i < kKeys; ++i) {
    for (NodeId id : cluster().ids()) ASSERT_EQ(Describe(id, Key(i)), newest[Key(i)]) << Key(i);
  }
  ExpectDigestsExactAndEqual();
  // Converged replicas are in sync at the first level.
  AntiEntropy::RoundReport report = cluster().Run(ae(3).ExchangeWith(1));
  EXPECT_TRUE(report.complete);
  EXPECT_EQ(report.ranges_out_of_sync, 0u);
}

TEST_F(AntiEntropyTest, SmallMessagesSplitKeyListsAndStillConverge) {
  AntiEntropy::Options options;
  options.buckets = 1;               // One bucket per range: long key lists...
  options.max_message_bytes = 1024;  // ... cut into many pieces, on both sides.
  Build(options);
  constexpr int kKeys = 3000;
  DivergeAndHeal(kKeys);
  int iterations = 0;
  while (!Converged(kKeys) && iterations < kMaxIterations) {
    RoundAll();
    ++iterations;
  }
  ASSERT_TRUE(Converged(kKeys));
  ExpectDigestsExactAndEqual();
}

// Writes `count` keys through rotating coordinators, each after a short pause, while an
// exchange runs on the same io_context.
asio::awaitable<void> WriteDuring(InMemoryCluster* cluster, int count, bool* done) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < count; ++i) {
    timer.expires_after(std::chrono::microseconds(200));
    co_await timer.async_wait(asio::use_awaitable);
    const NodeId coordinator = static_cast<NodeId>(1 + i % 3);
    const bool tombstone = i % 9 == 0;
    std::string key = Key(i % 400);
    std::string value = tombstone ? std::string() : "during-" + std::to_string(i);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    (void)co_await cluster->node(coordinator)
        .coordinator->Write(std::move(key), std::move(value), tombstone, Consistency::kAp,
                            deadline);
  }
  *done = true;
}

asio::awaitable<void> RoundInto(AntiEntropy* ae, bool* done) {
  (void)co_await ae->RunRoundNow();
  *done = true;
}

TEST_F(AntiEntropyTest, ConcurrentWritesDuringAnExchangeLeaveExactDigestsAndConverge) {
  Build();
  DivergeAndHeal(400);
  // Slow links so the writes interleave with the exchange's steps.
  for (NodeId a : {1, 2, 3}) {
    for (NodeId b : {1, 2, 3}) {
      if (a != b) cluster().net().SetDelay(a, b, std::chrono::milliseconds(1));
    }
  }
  bool writes_done = false;
  bool round_done = false;
  asio::co_spawn(cluster().io(), WriteDuring(&cluster(), 300, &writes_done), asio::detached);
  asio::co_spawn(cluster().io(), RoundInto(&ae(1), &round_done), asio::detached);
  ASSERT_TRUE(cluster().RunUntil([&] { return writes_done && round_done; }));
  cluster().RunUntilIdle();
  // Exact on every node, whatever interleaving happened (not yet equal: writes went on).
  ExpectDigestsExactAndEqual(/*equal=*/false);
  int iterations = 0;
  while (!Converged(400) && iterations < kMaxIterations) {
    RoundAll();
    ++iterations;
  }
  ASSERT_TRUE(Converged(400));
  ExpectDigestsExactAndEqual();
}

TEST_F(AntiEntropyTest, TombstoneIsKeptUntilItsGraceEndsThenCollectedEverywhere) {
  Build();
  Write(1, "gone", "v");
  cluster().RunUntilIdle();
  Delete(2, "gone");
  cluster().RunUntilIdle();
  for (int i = 0; i < 2; ++i) RoundAll();
  for (NodeId id : cluster().ids()) {
    ASSERT_TRUE(cluster().Stored(id, "gone")->tombstone) << "node " << id << " before grace";
  }
  AdvanceClocks(int64_t{kGraceS} * 1000 / 2);
  RoundAll();
  for (NodeId id : cluster().ids()) {
    ASSERT_TRUE(cluster().Stored(id, "gone").ok()) << "node " << id << " purged within grace";
  }
  AdvanceClocks(int64_t{kGraceS} * 1000);
  int iterations = 0;
  auto purged_everywhere = [&] {
    for (NodeId id : cluster().ids()) {
      if (cluster().Stored(id, "gone").ok()) return false;
    }
    return true;
  };
  while (!purged_everywhere() && iterations < kMaxIterations) {
    RoundAll();
    ++iterations;
  }
  EXPECT_TRUE(purged_everywhere());
  EXPECT_LE(iterations, 2);
  // Collected replicas do not hand the tombstone back to each other.
  for (int i = 0; i < 2; ++i) RoundAll();
  EXPECT_TRUE(purged_everywhere());
  ExpectDigestsExactAndEqual();
}

TEST_F(AntiEntropyTest, DeleteMadeWhileAReplicaWasPartitionedDoesNotComeBack) {
  Build();
  Write(1, "zombie", "alive");
  cluster().RunUntilIdle();
  ASSERT_EQ(cluster().StoredValue(3, "zombie"), "alive");
  IsolateNode3();
  Delete(1, "zombie");
  cluster().RunUntilIdle();
  ASSERT_EQ(cluster().StoredValue(2, "zombie"), "<tombstone>");
  ASSERT_EQ(cluster().StoredValue(3, "zombie"), "alive");

  // Grace has long passed, but node 3 has not seen the delete: nobody may collect it.
  AdvanceClocks(int64_t{kGraceS} * 1000 * 3);
  for (int i = 0; i < 3; ++i) {
    Round(1);
    Round(2);
  }
  EXPECT_EQ(cluster().StoredValue(1, "zombie"), "<tombstone>");
  EXPECT_EQ(cluster().StoredValue(2, "zombie"), "<tombstone>");
  EXPECT_EQ(ae(1).GetStatus().oldest_full_round_ms, 0) << "no complete round with node 3 yet";

  cluster().net().HealAll();
  auto deleted_everywhere = [&] {
    for (NodeId id : cluster().ids()) {
      Result<Version> v = cluster().Stored(id, "zombie");
      if (v.ok() && !v->tombstone) return false;
    }
    return true;
  };
  auto purged_everywhere = [&] {
    for (NodeId id : cluster().ids()) {
      if (cluster().Stored(id, "zombie").ok()) return false;
    }
    return true;
  };
  for (int i = 0; i < kMaxIterations && !purged_everywhere(); ++i) {
    RoundAll();
    ASSERT_TRUE(deleted_everywhere()) << "the deleted value came back after iteration " << i;
  }
  EXPECT_TRUE(purged_everywhere());
  for (int i = 0; i < 3; ++i) {
    RoundAll();
    ASSERT_TRUE(purged_everywhere()) << "the key came back";
  }
  for (NodeId id : cluster().ids()) {
    Result<Version> read = cluster().Read(id, "zombie", Consistency::kAp);
    EXPECT_EQ(read.code(), Code::kNotFound) << "node " << id;
  }
  ExpectDigestsExactAndEqual();
}

TEST_F(AntiEntropyTest, TombstoneIsNotCollectedWhileAReplicaIsUnreachable) {
  Build();
  Delete(1, "pending");
  cluster().RunUntilIdle();
  cluster().net().CutBoth(1, 3);
  AdvanceClocks(int64_t{kGraceS} * 1000 * 2);
  for (int i = 0; i < 3; ++i) Round(1);
  EXPECT_EQ(cluster().StoredValue(1, "pending"), "<tombstone>");
  // Node 2 reaches everyone: it may collect its own copy; node 1 still holds its one.
  Round(2);
  EXPECT_EQ(cluster().StoredValue(1, "pending"), "<tombstone>");
  cluster().net().HealAll();
  Round(1);
  EXPECT_FALSE(cluster().Stored(1, "pending").ok());
}

TEST_F(AntiEntropyTest, StatusReportsWhenEachRangeLastCompletedAFullRound) {
  Build();
  const AntiEntropy::StatusReport before = ae(1).GetStatus();
  EXPECT_EQ(before.oldest_full_round_ms, 0);
  EXPECT_EQ(before.ranges.size(), cluster().ring().tokens().size());  // RF 3 of 3 nodes.
  const int64_t started = cluster().node(1).clock.NowMs();
  Round(1);
  const AntiEntropy::StatusReport after = ae(1).GetStatus();
  EXPECT_EQ(after.oldest_full_round_ms, started);
  for (const auto& range : after.ranges) EXPECT_EQ(range.last_full_round_ms, started);
  EXPECT_EQ(after.rounds, 2u);
}

TEST_F(AntiEntropyTest, PeersWithADifferentBucketCountAreRefused) {
  Build();
  // Node 1 asks with a bucket count node 2 does not use.
  v1::Envelope request;
  request.mutable_ae_digests_request()->set_ring_fingerprint(ae(1).ring_fingerprint());
  request.mutable_ae_digests_request()->set_buckets(7);
  v1::Envelope reply = cluster().Run(ae(2).Handle(1, request));
  EXPECT_EQ(reply.ae_digests_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  request.mutable_ae_digests_request()->set_ring_fingerprint(ae(1).ring_fingerprint() + 1);
  request.mutable_ae_digests_request()->set_buckets(64);
  reply = cluster().Run(ae(2).Handle(1, request));
  EXPECT_EQ(reply.ae_digests_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
}

// ---- Repair requests coalesce ----

struct RepairAnswers {
  int answered = 0;
  std::vector<size_t> exchanges;  // Per answer: how many exchanges its report lists.
};

asio::awaitable<void> RepairInto(AntiEntropy* ae, RepairAnswers* answers) {
  std::vector<AntiEntropy::RoundReport> reports = co_await ae->RunRoundNow();
  answers->exchanges.push_back(reports.size());
  ++answers->answered;
}

TEST_F(AntiEntropyTest, AThousandConcurrentRepairRequestsCostOneRound) {
  Build();
  for (int i = 0; i < 50; ++i) Write(1, Key(i), "v");
  cluster().RunUntilIdle();
  constexpr int kRequests = 1000;
  RepairAnswers answers;
  for (int i = 0; i < kRequests; ++i) {
    asio::co_spawn(cluster().io(), RepairInto(&ae(1), &answers), asio::detached);
  }
  ASSERT_TRUE(cluster().RunUntil([&] { return answers.answered == kRequests; }));
  const AntiEntropy::StatusReport status = ae(1).GetStatus();
  EXPECT_EQ(status.repair_rounds, 1u);
  EXPECT_EQ(status.repair_requests_coalesced, static_cast<uint64_t>(kRequests - 1));
  EXPECT_EQ(status.rounds, 2u) << "one exchange with each of the two peers";
  for (size_t n : answers.exchanges) ASSERT_EQ(n, 2u) << "every request gets the round's report";
  const std::string exposed = registries_[0]->Expose();
  EXPECT_NE(exposed.find("dialkv_ae_repair_rounds_total 1\n"), std::string::npos) << exposed;
  EXPECT_NE(exposed.find("dialkv_ae_repair_requests_coalesced_total 999\n"), std::string::npos);
}

// A round that already started may have compared ranges before a request arrived: requests
// arriving then share the next round, which sees what was written before they arrived.
TEST_F(AntiEntropyTest, RepairRequestsArrivingDuringARunningRoundShareTheNextRound) {
  Build();
  // Slow links: the first round is still running when the later requests arrive.
  for (NodeId peer : {2, 3}) {
    cluster().net().SetDelay(1, peer, std::chrono::milliseconds(30));
  }
  RepairAnswers first;
  asio::co_spawn(cluster().io(), RepairInto(&ae(1), &first), asio::detached);
  ASSERT_TRUE(cluster().RunUntil([&] { return ae(1).GetStatus().repair_rounds == 1; }));
  ASSERT_EQ(first.answered, 0);
  // Written on node 1 alone after the first round started, before the later requests.
  const Version late{"late", cluster().node(1).hlc.Now(), false};
  ASSERT_OK(cluster().node(1).engine.ApplyIfNewer("late-key", late));
  RepairAnswers later;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(cluster().io(), RepairInto(&ae(1), &later), asio::detached);
  }
  ASSERT_TRUE(cluster().RunUntil([&] { return first.answered == 1 && later.answered == 3; }));
  const AntiEntropy::StatusReport status = ae(1).GetStatus();
  EXPECT_EQ(status.repair_rounds, 2u);
  EXPECT_EQ(status.repair_requests_coalesced, 2u);
  for (NodeId id : {2, 3}) EXPECT_EQ(Describe(id, "late-key"), Describe(1, "late-key"));
}

}  // namespace
}  // namespace dialkv::antientropy
