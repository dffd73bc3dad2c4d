// Real clusters of dialkv-server processes on loopback: the CP/AP dial, quorums, hinted
// handoff, convergence, the skew guard and placement.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "server/cluster/ring.h"
#include "server/net/frame.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using testutil::Eventually;
using testutil::TestCluster;
using SteadyClock = std::chrono::steady_clock;

std::unique_ptr<TestCluster> StartCluster(int nodes, int rf,
                                          std::vector<std::string> extra_args = {}) {
  return TestCluster::StartOrFail(
      {.nodes = nodes, .replication_factor = rf, .extra_args = std::move(extra_args)});
}

TEST(ClusterTest, CpWriteAtAnyNodeIsReadByCpAtEveryNode200TimesInARow) {
  auto cluster = StartCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  std::vector<std::unique_ptr<Client>> clients;
  for (NodeId id = 1; id <= 3; ++id) clients.push_back(cluster->ClientFor(id, Consistency::kCp));
  for (int i = 0; i < 200; ++i) {
    const int writer = i % 3;
    const std::string value = "v" + std::to_string(i);
    auto put = clients[writer]->Put("register", value);
    ASSERT_OK(put);
    for (int reader = 0; reader < 3; ++reader) {
      if (reader == writer) continue;
      auto got = clients[reader]->Get("register");
      ASSERT_OK(got);
      ASSERT_EQ(got->value, value) << "write " << i << " at node " << writer + 1
                                   << " not seen by a CP read at node " << reader + 1;
      ASSERT_EQ(got->timestamp, put->timestamp);
    }
  }
}

TEST(ClusterTest, WithTwoOfThreeNodesDownCpIsUnavailableInTimeAndApServes) {
  auto cluster = StartCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  auto cp = cluster->ClientFor(1, Consistency::kCp, 1000);
  auto ap = cluster->ClientFor(1, Consistency::kAp, 1000);
  ASSERT_OK(cp->Put("k", "before"));
  cluster->node(2).Stop();
  cluster->node(3).Stop();

  auto start = SteadyClock::now();
  Result<WriteResult> put = cp->Put("k", "during");
  const auto put_elapsed = SteadyClock::now() - start;
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_LT(put_elapsed, milliseconds(1500)) << "CP put waited past its 1000 ms deadline";
  start = SteadyClock::now();
  Result<GetResult> get = cp->Get("k");
  const auto get_elapsed = SteadyClock::now() - start;
  ASSERT_CODE(get, Code::kUnavailable);
  EXPECT_LT(get_elapsed, milliseconds(1500)) << "CP get waited past its 1000 ms deadline";

  // AP on the survivor: reads its own data, accepts writes.
  auto ap_get = ap->Get("k");
  ASSERT_OK(ap_get);
  EXPECT_EQ(ap_get->value, "before");
  ASSERT_OK(ap->Put("ap-key", "ap-value"));
  auto ap_read_back = ap->Get("ap-key");
  ASSERT_OK(ap_read_back);
  EXPECT_EQ(ap_read_back->value, "ap-value");

  // The refused CP write changed nothing: once the nodes are back, CP reads the old value.
  ASSERT_OK(cluster->node(2).Restart());
  ASSERT_OK(cluster->node(3).Restart());
  auto after = cp->Get("k");
  ASSERT_OK(after);
  EXPECT_EQ(after->value, "before");
}

TEST(ClusterTest, StoppedNodeReceivesEveryApWriteThroughHintsAfterRestart) {
  auto cluster = StartCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  auto writer = cluster->ClientFor(1, Consistency::kAp, 2000);
  cluster->node(3).Stop();
  ASSERT_OK(cluster->WaitForAlivePeers(1, 1));  // Node 1 has noticed.
  constexpr int kWrites = 200;
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_OK(writer->Put("hinted:" + std::to_string(i), "value-" + std::to_string(i)));
  }
  ASSERT_OK(writer->Delete("hinted:0"));
  ASSERT_OK(cluster->node(3).Restart());

  // Node 3 is a replica of every key (RF = 3 of 3): an AP read there answers from its own
  // store. No anti-entropy exists, so only hints can bring these writes to it.
  auto reader = cluster->ClientFor(3, Consistency::kAp, 2000);
  std::string missing;
  const bool delivered = Eventually(
      [&] {
        for (int i = 0; i < kWrites; ++i) {
          Result<GetResult> r = reader->Get("hinted:" + std::to_string(i));
          const bool ok = i == 0 ? r.code() == Code::kNotFound
                                 : r.ok() && r->value == "value-" + std::to_string(i);
          if (!ok) {
            missing = "hinted:" + std::to_string(i) + " -> " + r.status().ToString();
            return false;
          }
        }
        return true;
      },
      milliseconds(15000));
  EXPECT_TRUE(delivered) << "node 3 still lacks " << missing << "; node 3 log:\n"
                         << cluster->node(3).ReadLog();
}

TEST(ClusterTest, ConcurrentApWritesToOneKeyConvergeToTheHighestTimestamp) {
  auto cluster = StartCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  std::vector<std::unique_ptr<Client>> clients;
  for (NodeId id = 1; id <= 3; ++id) clients.push_back(cluster->ClientFor(id, Consistency::kAp));
  constexpr int kWritesPerNode = 100;
  std::vector<Timestamp> highest(3);
  std::vector<std::thread> writers;
  writers.reserve(3);
  for (int n = 0; n < 3; ++n) {
    writers.emplace_back([&, n] {
      for (int i = 0; i < kWritesPerNode; ++i) {
        auto r =
            clients[n]->Put("contended", "node" + std::to_string(n + 1) + "-" + std::to_string(i));
        if (r.ok()) highest[n] = std::max(highest[n], r->timestamp);
      }
    });
  }
  for (auto& t : writers) t.join();
  const Timestamp winner = std::max({highest[0], highest[1], highest[2]});
  ASSERT_FALSE(winner.IsZero());
  // Every replica ends with the version of the highest acknowledged timestamp (AP reads at a
  // replica coordinator answer from its own store).
  for (NodeId id = 1; id <= 3; ++id) {
    Result<GetResult> last = Status::Internal("never read");
    const bool converged = Eventually(
        [&] {
          last = clients[id - 1]->Get("contended");
          return last.ok() && last->timestamp == winner;
        },
        milliseconds(10000));
    EXPECT_TRUE(converged) << "node " << id << " holds "
                           << (last.ok() ? ToString(last->timestamp) : last.status().ToString())
                           << ", the winner is " << ToString(winner);
  }
}

// Sends `request` alone on a new connection to a node's peer port, as an outsider can, and
// returns the one reply it gets.
v1::Envelope SendAsPeer(uint16_t peer_port, const v1::Envelope& request) {
  std::string frame;
  net::AppendFrame(request, &frame);
  return testutil::ExchangeOneFrame(peer_port, frame);
}

v1::Envelope ForgedReplicaWrite(NodeId from, const std::string& key, const Version& version) {
  v1::Envelope request;
  request.set_id(1);
  request.mutable_peer()->set_cluster_name("test");
  request.mutable_peer()->set_node_id(from);
  request.mutable_peer()->set_hlc(version.timestamp.hlc);
  auto* write = request.mutable_replica_write_request();
  write->set_key(key);
  write->mutable_version()->set_value(version.value);
  net::ToProto(version.timestamp, write->mutable_version()->mutable_timestamp());
  return request;
}

// Sends one ReplicaWriteRequest to a node's peer port as node `from` would, and returns the
// reply's status.
v1::Status SendForgedReplicaWrite(uint16_t peer_port, NodeId from, const std::string& key,
                                  const Version& version) {
  const v1::Envelope reply = SendAsPeer(peer_port, ForgedReplicaWrite(from, key, version));
  if (reply.has_error_reply()) return reply.error_reply().status();
  return reply.replica_write_reply().status();
}

TEST(ClusterTest, PeerWithAClockFarAheadCannotMakeItsVersionWin) {
  auto cluster = StartCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  auto client = cluster->ClientFor(1, Consistency::kCp);
  auto put = client->Put("skewed", "honest");
  ASSERT_OK(put);
  // Node 2 "with a clock an hour ahead" offers node 1 a version stamped an hour from now.
  const uint64_t hour_ahead_ms = put->timestamp.wall_ms() + 3600 * 1000;
  Version wild{"from-the-future", Timestamp{hour_ahead_ms << 16, 2}, false};
  const uint16_t peer_port = cluster->peer_port(1);
  v1::Status refused = SendForgedReplicaWrite(peer_port, 2, "skewed", wild);
  EXPECT_EQ(refused.code(), v1::STATUS_INVALID_ARGUMENT) << refused.message();
  EXPECT_NE(refused.message().find("skew"), std::string::npos) << refused.message();

  auto got = client->Get("skewed");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "honest");
  // A later honest write still wins over anything the wild clock offered.
  ASSERT_OK(client->Put("skewed", "later"));
  EXPECT_EQ(client->Get("skewed")->value, "later");
  // The refusal was logged with its reason.
  EXPECT_TRUE(
      Eventually([&] { return cluster->node(1).ReadLog().find("ahead") != std::string::npos; },
                 milliseconds(5000)))
      << cluster->node(1).ReadLog();
}

TEST(ClusterTest, OutsiderOnThePeerPortCannotStoreAKeyNorMarkAMemberDeadWithoutTheSecret) {
  testutil::TempDir dir;
  const std::string secret_file = dir.Sub("cluster.secret");
  { std::ofstream(secret_file) << "c2VjcmV0LXNoYXJlZC1ieS10aGUtdGhyZWUtbm9kZXMtb25seQ==\n"; }
  auto cluster = StartCluster(3, 3, {"--cluster-secret-file=" + secret_file});
  ASSERT_NE(cluster, nullptr);  // The nodes authenticated each other: every one sees all alive.
  auto client = cluster->ClientFor(1, Consistency::kCp);
  ASSERT_OK(client->Put("honest", "v"));
  ASSERT_OK(cluster->ClientFor(3, Consistency::kCp)->Get("honest"));

  // A replica write claiming to come from node 2, with the cluster name /health shows.
  const Timestamp now{static_cast<uint64_t>(std::chrono::duration_cast<milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count())
                          << 16,
                      2};
  v1::Status write = SendForgedReplicaWrite(cluster->peer_port(1), 2, "forged",
                                            Version{"from-outside", now, false});
  EXPECT_EQ(write.code(), v1::STATUS_UNAUTHENTICATED) << write.message();
  // Gossip claiming node 3 restarted with an unbeatable generation, which would otherwise
  // make its real heartbeats look stale until it is held dead.
  v1::Envelope gossip;
  gossip.set_id(2);
  gossip.mutable_peer()->set_cluster_name("test");
  gossip.mutable_peer()->set_node_id(2);
  v1::MemberState* forged = gossip.mutable_gossip_request()->add_members();
  forged->set_node_id(3);
  forged->set_generation(~uint64_t{0} >> 1);
  forged->set_heartbeat(1);
  const v1::Envelope gossip_reply = SendAsPeer(cluster->peer_port(1), gossip);
  ASSERT_TRUE(gossip_reply.has_error_reply()) << gossip_reply.DebugString();
  EXPECT_EQ(gossip_reply.error_reply().status().code(), v1::STATUS_UNAUTHENTICATED);

  for (NodeId id = 1; id <= 3; ++id) {
    ASSERT_CODE(cluster->ClientFor(id, Consistency::kAp)->Get("forged"), Code::kNotFound);
  }
  // Past the failure detector's dead-after (3 s), node 1 still holds every member alive.
  const auto until = SteadyClock::now() + milliseconds(4000);
  while (SteadyClock::now() < until) {
    ASSERT_OK(cluster->WaitForAlivePeers(1, 2, milliseconds(1000)));
    std::this_thread::sleep_for(milliseconds(200));  // Sampling the state over the window.
  }
  auto metrics = testutil::HttpGet(cluster->node(1).http_port(), "/metrics");
  ASSERT_OK(metrics);
  EXPECT_NE(metrics->find("dialkv_peer_auth_failures_total{reason=\"unauthenticated\"} 2"),
            std::string::npos)
      << *metrics;
  EXPECT_NE(cluster->node(1).ReadLog().find("refused a peer connection from 127.0.0.1"),
            std::string::npos);
}

uint64_t KeysStored(testutil::ServerProcess& node) {
  Result<double> keys = testutil::MetricValue(node.http_port(), "dialkv_keys_stored");
  return keys.ok() ? static_cast<uint64_t>(*keys) : ~uint64_t{0};
}

TEST(ClusterTest, FiveNodesRf3KeysLiveOnExactlyTheirRingReplicasAndCpSurvivesTwoDown) {
  auto cluster = StartCluster(5, 3);
  ASSERT_NE(cluster, nullptr);
  auto ring = cluster::Ring::Build({1, 2, 3, 4, 5}, {.vnodes = 16, .replication_factor = 3});
  ASSERT_OK(ring);
  constexpr int kKeys = 300;
  std::map<NodeId, uint64_t> expected;
  auto client = cluster->ClientFor(1, Consistency::kCp);
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "placed:" + std::to_string(i);
    ASSERT_OK(client->Put(key, "v"));
    for (NodeId replica : ring->ReplicasFor(key)) ++expected[replica];
  }
  // CP writes reach every live replica (the third one in the background): each node ends up
  // holding exactly the keys the ring gives it, and no node holds any other.
  for (NodeId id = 1; id <= 5; ++id) {
    uint64_t stored = 0;
    EXPECT_TRUE(Eventually([&] { return (stored = KeysStored(cluster->node(id))) == expected[id]; },
                           milliseconds(10000)))
        << "node " << id << " stores " << stored << " keys, the ring gives it " << expected[id];
  }

  // Any two nodes down: every key that keeps a quorum (2 of its 3 replicas) stays writable and
  // readable in CP through any live node; a key that lost two replicas is UNAVAILABLE, never
  // wrong.
  int served = 0, refused = 0;
  for (NodeId a = 1; a <= 5; ++a) {
    for (NodeId b = a + 1; b <= 5; ++b) {
      cluster->node(a).Stop();
      cluster->node(b).Stop();
      const NodeId via = (a != 1 && b != 1) ? 1 : (a != 2 && b != 2) ? 2 : 3;
      auto c = cluster->ClientFor(via, Consistency::kCp, 1500);
      for (int i = 0; i < 20; ++i) {
        const std::string key =
            "down:" + std::to_string(a) + std::to_string(b) + ":" + std::to_string(i);
        int live = 0;
        for (NodeId r : ring->ReplicasFor(key)) live += (r != a && r != b) ? 1 : 0;
        Result<WriteResult> put = c->Put(key, "x");
        if (live >= 2) {
          ASSERT_TRUE(put.ok()) << put.status().ToString() << " for key " << key << " with nodes "
                                << a << "," << b << " down";
          auto got = c->Get(key);
          ASSERT_OK(got);
          EXPECT_EQ(got->value, "x");
          ++served;
        } else {
          EXPECT_EQ(put.code(), Code::kUnavailable) << put.status().ToString();
          ++refused;
        }
      }
      ASSERT_OK(cluster->node(a).Restart());
      ASSERT_OK(cluster->node(b).Restart());
      // The next pair goes down from a healthy cluster: every node sees the others again.
      for (NodeId id = 1; id <= 5; ++id) ASSERT_OK(cluster->WaitForAlivePeers(id, 4));
    }
  }
  EXPECT_GT(served, 0);
  RecordProperty("cp_served_with_two_down", served);
  RecordProperty("cp_refused_with_two_down", refused);
}

}  // namespace
}  // namespace dialkv
