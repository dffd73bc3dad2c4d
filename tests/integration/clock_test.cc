// Time on real clusters: the HLC never goes back across a restart, and a node whose clock is
// off from a majority of its peers stops coordinating writes (docs/consistency.md, "Timestamps
// and clocks"). Clocks are skewed with the fault-injection clock offset.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/cluster/ring.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using testutil::Eventually;
using testutil::TestCluster;

int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The first key "<prefix>N" whose replicas (RF of `nodes` nodes) do or do not include `node`.
std::string KeyWhere(const std::string& prefix, int nodes, int rf, NodeId node, bool replica) {
  std::vector<NodeId> ids;
  for (int i = 1; i <= nodes; ++i) ids.push_back(static_cast<NodeId>(i));
  Result<cluster::Ring> ring =
      cluster::Ring::Build(ids, cluster::Ring::Options{16, static_cast<uint32_t>(rf)});
  EXPECT_OK(ring.status());
  for (int i = 0; ring.ok() && i < 10'000; ++i) {
    std::string key = prefix + std::to_string(i);
    bool found = false;
    for (NodeId r : ring->ReplicasFor(key)) found = found || r == node;
    if (found == replica) return key;
  }
  ADD_FAILURE() << "no key found";
  return prefix;
}

// The value of the series `series` (its name and labels, exactly) in /metrics of `port`.
std::optional<double> Metric(uint16_t port, const std::string& series) {
  Result<std::string> text = testutil::HttpGet(port, "/metrics");
  if (!text.ok()) return std::nullopt;
  const size_t at = text->find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(text->c_str() + at + series.size() + 2, nullptr);
}

bool IsClockSkewRefusal(const Status& s) {
  return s.code() == Code::kUnavailable && s.message().find("clock skew") != std::string::npos;
}

// Node 1 coordinates AP writes; its HLC was pushed 3 s ahead of its wall clock by node 2's
// clock (within the 5 s guard). It crashes and comes back with nothing pushing it any more:
// its peers drop its messages, so only what it kept on disk can order its next writes after
// the ones it acknowledged. Without that, its restarted clock would be about 2 s behind them.
TEST(ClockTest, ANodeRestartedAfterItsClockWasPushedAheadOrdersItsNextWritesAfterItsLast) {
  constexpr int kNodes = 4;
  constexpr int kRf = 3;
  auto cluster = TestCluster::StartOrFail(
      {.nodes = kNodes,
       .replication_factor = kRf,
       .extra_args = {"--enable-fault-injection", "--max-clock-skew-ms", "5000"}});
  ASSERT_NE(cluster, nullptr);
  std::vector<std::unique_ptr<Client>> admin;
  for (NodeId id = 1; id <= kNodes; ++id) admin.push_back(cluster->ClientFor(id));
  ASSERT_OK(admin[1]->SetClockOffset(3000));

  auto ap1 = cluster->ClientFor(1, Consistency::kAp, 8000);
  ASSERT_TRUE(Eventually(
      [&] {
        Result<WriteResult> probe = ap1->Put("probe", "x");
        return probe.ok() && static_cast<int64_t>(probe->timestamp.wall_ms()) > WallMs() + 2000;
      },
      milliseconds(10'000)))
      << "node 2's clock never pushed node 1's HLC ahead";

  const std::string on_replica = KeyWhere("own", kNodes, kRf, 1, true);
  const std::string elsewhere = KeyWhere("other", kNodes, kRf, 1, false);
  Result<WriteResult> before_own = ap1->Put(on_replica, "before");
  Result<WriteResult> before_other = ap1->Put(elsewhere, "before");
  ASSERT_OK(before_own);
  ASSERT_OK(before_other);
  ASSERT_GT(static_cast<int64_t>(before_other->timestamp.wall_ms()), WallMs() + 2000);

  ASSERT_OK(admin[1]->ClearFaults());
  for (NodeId id = 2; id <= kNodes; ++id) {
    ASSERT_OK(admin[id - 1]->SetFaults({{.peer = 1, .block_out = true, .block_in = true}}));
  }
  cluster->node(1).Kill();
  ASSERT_OK(cluster->node(1).Restart());
  ap1 = cluster->ClientFor(1, Consistency::kAp, 8000);

  Result<WriteResult> after_own = ap1->Put(on_replica, "after");
  Result<WriteResult> after_other = ap1->Put(elsewhere, "after");  // Hinted: replicas cut off.
  ASSERT_OK(after_own);
  ASSERT_OK(after_other);
  EXPECT_GT(after_own->timestamp, before_own->timestamp);
  EXPECT_GT(after_other->timestamp, before_other->timestamp);
  EXPECT_TRUE(after_other->hinted);

  // Once healed, the later writes win everywhere (hints delivered; none refused for good).
  for (NodeId id = 2; id <= kNodes; ++id) ASSERT_OK(admin[id - 1]->ClearFaults());
  auto cp2 = cluster->ClientFor(2, Consistency::kCp, 3000);
  for (const std::string& key : {on_replica, elsewhere}) {
    EXPECT_TRUE(Eventually(
        [&] {
          Result<GetResult> got = cp2->Get(key);
          return got.ok() && got->value == "after";
        },
        milliseconds(30'000)))
        << key;
  }
}

// Node `skewed` of three gets `offset_ms` (beyond the 500 ms guard): it refuses to coordinate
// writes with a "clock skew" error while still serving reads, the others keep writing, and it
// writes again once its clock is back.
void RefusesWritesWhileSkewed(NodeId skewed, int64_t offset_ms) {
  auto cluster = TestCluster::StartOrFail(
      {.nodes = 3, .replication_factor = 3, .extra_args = {"--enable-fault-injection"}});
  ASSERT_NE(cluster, nullptr);
  const NodeId other = skewed == 1 ? 2 : 1;
  auto cp = cluster->ClientFor(skewed, Consistency::kCp, 3000);
  auto ap = cluster->ClientFor(skewed, Consistency::kAp, 3000);
  auto cp_other = cluster->ClientFor(other, Consistency::kCp, 3000);
  ASSERT_OK(cp->Put("k", "v1"));

  ASSERT_OK(cp->SetClockOffset(offset_ms));
  ASSERT_TRUE(Eventually(
      [&] {
        Result<ClusterStatus> status = cp->ClusterStatus();
        return status.ok() && status->clock_skewed;
      },
      milliseconds(10'000)))
      << "node " << skewed << " never found its clock skewed";

  Result<WriteResult> refused_ap = ap->Put("k", "v2");
  ASSERT_FALSE(refused_ap.ok());
  EXPECT_TRUE(IsClockSkewRefusal(refused_ap.status())) << refused_ap.status().ToString();
  Result<WriteResult> refused_cp = cp->Delete("k");
  ASSERT_FALSE(refused_cp.ok());
  EXPECT_TRUE(IsClockSkewRefusal(refused_cp.status())) << refused_cp.status().ToString();
  // Reads keep working, and the refused writes left no trace. (A node behind takes a version
  // written less than offset - guard ago for one from the future, and refuses to answer it
  // until its clock passes it: that is the skew guard, not the refusal of writes.)
  EXPECT_TRUE(Eventually(
      [&] {
        Result<GetResult> read = cp->Get("k");
        return read.ok() && read->value == "v1";
      },
      milliseconds(10'000)));
  ASSERT_TRUE(IsClockSkewRefusal(ap->Put("k", "v2").status())) << "still refused";
  ASSERT_OK(cp_other->Put("k2", "fine"));  // The other nodes keep coordinating writes.

  // What an operator sees: the refusals counted, the skew flagged, the offset per peer.
  const uint16_t http = cluster->node(skewed).http_port();
  EXPECT_EQ(Metric(http, "dialkv_clock_skewed"), 1.0);
  EXPECT_GE(Metric(http, "dialkv_clock_skew_write_refusals_total").value_or(0), 2.0);
  const std::optional<double> seen =
      Metric(http, "dialkv_peer_clock_offset_ms{peer=\"" + std::to_string(other) + "\"}");
  ASSERT_TRUE(seen.has_value());
  EXPECT_NEAR(*seen, static_cast<double>(-offset_ms), 200.0);
  // The other nodes see the offset too (within samples_per_peer gossip rounds: an older sample
  // with a shorter round trip may hold the estimate until it rolls out), and are not skewed.
  EXPECT_TRUE(Eventually(
      [&] {
        Result<ClusterStatus> from_other = cp_other->ClusterStatus();
        if (!from_other.ok() || from_other->clock_skewed) return false;
        for (const NodeInfo& node : from_other->nodes) {
          if (node.node_id == skewed) {
            return node.clock_offset_known && std::llabs(node.clock_offset_ms - offset_ms) < 200;
          }
        }
        return false;
      },
      milliseconds(5000)));

  ASSERT_OK(cp->ClearFaults());
  // Back within the guard: writes are coordinated again (a node that ran ahead may see its
  // first CP writes refused by replicas until their clocks pass its HLC: retried here).
  EXPECT_TRUE(Eventually([&] { return ap->Put("k", "v3").ok() && cp->Put("k", "v4").ok(); },
                         milliseconds(20'000)));
  Result<GetResult> last = cp_other->Get("k");
  ASSERT_OK(last);
  EXPECT_EQ(last->value, "v4");
  EXPECT_EQ(Metric(http, "dialkv_clock_skewed"), 0.0);
}

TEST(ClockTest, ANodeAheadBeyondTheGuardRefusesWritesUntilItsClockIsBack) {
  RefusesWritesWhileSkewed(2, 3000);
}

TEST(ClockTest, ANodeBehindBeyondTheGuardRefusesWritesUntilItsClockIsBack) {
  RefusesWritesWhileSkewed(3, -3000);
}

}  // namespace
}  // namespace dialkv
