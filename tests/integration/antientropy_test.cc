// Anti-entropy on real clusters (docs/anti-entropy.md): with hinted handoff off, only
// anti-entropy can bring replicas together after a partition, and a tombstone is collected
// without letting the deleted value come back.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using testutil::TestCluster;
using SteadyClock = std::chrono::steady_clock;

std::unique_ptr<TestCluster> StartCluster(std::vector<std::string> extra_args) {
  extra_args.push_back("--enable-fault-injection");
  extra_args.push_back("--hinted-handoff=false");
  return TestCluster::StartOrFail(
      {.nodes = 3, .replication_factor = 3, .extra_args = std::move(extra_args)});
}

// Blocks every message between node `alone` and the others, both ways.
void Isolate(TestCluster& cluster, NodeId alone, bool blocked) {
  for (NodeId id = 1; id <= 3; ++id) {
    std::vector<LinkFaultsPatch> patches;
    for (NodeId peer = 1; peer <= 3; ++peer) {
      if (peer == id || (id != alone && peer != alone)) continue;
      patches.push_back({.peer = peer, .block_out = blocked, .block_in = blocked});
    }
    EXPECT_OK(cluster.ClientFor(id)->SetFaults(patches));
  }
}

struct Expected {
  std::string value;  // Empty with tombstone.
  bool tombstone = false;
  Timestamp timestamp;
};

TEST(AntiEntropyTest, WithoutHintsDivergentSidesOfAPartitionConvergeOnTheHighestTimestamps) {
  auto cluster = StartCluster({"--ae-interval-ms=300"});
  ASSERT_NE(cluster, nullptr);
  Isolate(*cluster, 3, true);
  auto side_a = cluster->ClientFor(1, Consistency::kAp, 3000);
  auto side_b = cluster->ClientFor(3, Consistency::kAp, 3000);
  constexpr int kKeys = 1000;
  std::map<std::string, Expected> expected;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "split:" + std::to_string(i);
    // Alternate which side writes first, so either side may hold the newest version.
    Client* first = i % 2 == 0 ? side_a.get() : side_b.get();
    Client* second = i % 2 == 0 ? side_b.get() : side_a.get();
    auto w1 = first->Put(key, "first-" + std::to_string(i));
    ASSERT_OK(w1);
    Result<WriteResult> w2 =
        i % 10 == 0 ? second->Delete(key) : second->Put(key, "second-" + std::to_string(i));
    ASSERT_OK(w2);
    Expected e;
    if (w2->timestamp > w1->timestamp) {
      e = {i % 10 == 0 ? "" : "second-" + std::to_string(i), i % 10 == 0, w2->timestamp};
    } else {
      e = {"first-" + std::to_string(i), false, w1->timestamp};
    }
    expected[key] = e;
  }
  Isolate(*cluster, 3, false);

  std::string mismatch;
  auto converged = [&] {
    for (NodeId id = 1; id <= 3; ++id) {
      auto admin = cluster->ClientFor(id, Consistency::kAp, 3000);
      for (const auto& [key, e] : expected) {
        Result<LocalVersion> v = admin->ReadLocal(key);
        if (!v.ok() || v->timestamp != e.timestamp || v->tombstone != e.tombstone ||
            v->value != e.value) {
          mismatch = "node " + std::to_string(id) + " key " + key + ": " +
                     (v.ok() ? v->value + "@" + std::to_string(v->timestamp.hlc) +
                                   (v->tombstone ? " (tombstone)" : "")
                             : v.status().ToString()) +
                     ", expected " + e.value + "@" + std::to_string(e.timestamp.hlc);
          return false;
        }
      }
    }
    return true;
  };
  // Bounded: 60 s is 200 intervals; at the default rate limit the 1,000 keys need well under 1 s.
  const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
  bool done = false;
  while (!(done = converged()) && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(300));  // One interval; polling with a deadline.
  }
  EXPECT_TRUE(done) << mismatch;

  // In sync now: a repair round moves nothing and finds no range out of sync.
  auto repaired = cluster->ClientFor(2)->Repair();
  ASSERT_OK(repaired);
  ASSERT_EQ(repaired->exchanges.size(), 2u);
  for (const RepairExchange& e : repaired->exchanges) {
    EXPECT_OK(e.status);
    EXPECT_TRUE(e.complete);
    EXPECT_EQ(e.ranges_out_of_sync, 0u) << "peer " << e.peer;
    EXPECT_EQ(e.keys_pushed + e.keys_pulled, 0u);
  }

  // A restart rebuilds the digests from the store: they still match the peers'.
  ASSERT_EQ(cluster->node(3).Stop(), 0);
  ASSERT_OK(cluster->node(3).Restart());
  ASSERT_OK(cluster->WaitForAlivePeers(3, 2));
  auto after_restart = cluster->ClientFor(3)->Repair();
  ASSERT_OK(after_restart);
  ASSERT_EQ(after_restart->exchanges.size(), 2u);
  for (const RepairExchange& e : after_restart->exchanges) {
    EXPECT_OK(e.status);
    EXPECT_EQ(e.ranges_out_of_sync, 0u) << "peer " << e.peer;
  }
}

TEST(AntiEntropyTest, DeleteMissedByAPartitionedReplicaStaysDeletedThroughCollection) {
  // Rounds only on demand (repair), so the test decides when each happens.
  auto cluster = StartCluster({"--ae-interval-ms=600000", "--gc-grace-s=1"});
  ASSERT_NE(cluster, nullptr);
  auto cp = cluster->ClientFor(1, Consistency::kCp, 3000);
  ASSERT_OK(cp->Put("doomed", "alive"));
  for (NodeId id = 1; id <= 3; ++id) {
    auto v = cluster->ClientFor(id)->ReadLocal("doomed");
    ASSERT_TRUE(v.ok() && v->value == "alive") << "node " << id;
  }
  Isolate(*cluster, 3, true);
  auto ap = cluster->ClientFor(1, Consistency::kAp, 3000);
  ASSERT_OK(ap->Delete("doomed"));
  std::this_thread::sleep_for(milliseconds(1500));  // Past the grace period.

  // Node 3 has not seen the tombstone: rounds on nodes 1 and 2 cannot complete with it, so
  // the tombstone is kept.
  for (NodeId id : {1u, 2u}) ASSERT_OK(cluster->ClientFor(id)->Repair());
  for (NodeId id : {1u, 2u}) {
    auto v = cluster->ClientFor(id)->ReadLocal("doomed");
    ASSERT_OK(v);
    EXPECT_TRUE(v->tombstone) << "node " << id << " purged a tombstone node 3 has not seen";
  }
  auto stale = cluster->ClientFor(3)->ReadLocal("doomed");
  ASSERT_OK(stale);
  EXPECT_EQ(stale->value, "alive");

  Isolate(*cluster, 3, false);
  ASSERT_OK(cluster->WaitForAlivePeers(1, 2));
  ASSERT_OK(cluster->WaitForAlivePeers(3, 2));
  // Rounds everywhere: the tombstone reaches node 3 and, once every replica has completed a
  // round after it, is collected. At no point may the value come back.
  bool purged_everywhere = false;
  for (int round = 0; round < 6 && !purged_everywhere; ++round) {
    for (NodeId id = 1; id <= 3; ++id) ASSERT_OK(cluster->ClientFor(id)->Repair());
    purged_everywhere = true;
    for (NodeId id = 1; id <= 3; ++id) {
      auto v = cluster->ClientFor(id)->ReadLocal("doomed");
      if (v.ok()) {
        ASSERT_TRUE(v->tombstone) << "the deleted value came back on node " << id;
        purged_everywhere = false;
      } else {
        ASSERT_CODE(v, Code::kNotFound);
      }
      ASSERT_CODE(cluster->ClientFor(id, Consistency::kAp)->Get("doomed"), Code::kNotFound);
    }
    std::this_thread::sleep_for(milliseconds(1100));  // Rounds must start after the tombstone ages.
  }
  EXPECT_TRUE(purged_everywhere) << "the tombstone was never collected";
  ASSERT_CODE(cp->Get("doomed"), Code::kNotFound);
}

}  // namespace
}  // namespace dialkv
