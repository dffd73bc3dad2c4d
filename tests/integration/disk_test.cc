// A full or failing disk on real nodes (docs/operations.md, "When a disk fills"): the node
// keeps running, refuses writes with a clear error and a disk alarm (status, /health,
// /metrics), keeps serving reads, and takes writes again by itself once the disk works; in a
// cluster, writes go on through the other nodes and the faulted node catches up. The disk
// faults are injected through the fault-injection admin requests, so no mount is needed.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dialkv/client.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::seconds;
using testutil::Eventually;
using testutil::ServerProcess;
using testutil::TestCluster;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::unique_ptr<Client> ClientOf(std::vector<std::string> endpoints, Consistency mode) {
  ClientOptions o;
  o.endpoints = std::move(endpoints);
  o.default_consistency = mode;
  o.timeout_ms = 5000;
  auto c = Client::Create(o);
  EXPECT_OK(c);
  return c.ok() ? std::move(c.value()) : nullptr;
}

class DiskTest : public ::testing::Test {
 protected:
  void StartNode() {
    ServerProcess::Options o;
    o.data_dir = dir_.Sub("data");
    o.log_path = dir_.Sub("node.log");
    o.extra_args = {"--enable-fault-injection", "--replication-factor=1",
                    "--disk-check-interval-ms=100"};
    auto server = ServerProcess::Start(o);
    ASSERT_OK(server);
    server_ = std::move(server.value());
    client_ = ClientOf({server_->client_address()}, Consistency::kCp);
    ASSERT_NE(client_, nullptr);
  }

  DiskAlarm Alarm() {
    Result<ClusterStatus> status = client_->ClusterStatus();
    EXPECT_OK(status);
    return status.ok() ? status->disk_alarm : DiskAlarm{};
  }

  testutil::TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(DiskTest, AFullDiskRefusesWritesRaisesTheAlarmServesReadsAndRecoversByItself) {
  ASSERT_NO_FATAL_FAILURE(StartNode());
  for (int i = 0; i < 5; ++i) ASSERT_OK(client_->Put("k" + std::to_string(i), "v"));
  Result<FaultState> faulted = client_->SetDiskFault(DiskFault::kFull);
  ASSERT_OK(faulted);
  EXPECT_EQ(faulted->disk, DiskFault::kFull);
  ASSERT_TRUE(Eventually([&] { return Alarm().low_space; }, seconds(10)));

  for (Consistency mode : {Consistency::kCp, Consistency::kAp}) {
    Result<WriteResult> refused = client_->Put("new", "v", {.consistency = mode});
    ASSERT_CODE(refused, Code::kUnavailable);  // Definitely not applied.
    EXPECT_TRUE(Contains(refused.status().message(), "takes no writes"))
        << refused.status().ToString();
    EXPECT_TRUE(Contains(refused.status().message(), dir_.Sub("data")))
        << refused.status().ToString();
  }
  ASSERT_CODE(client_->Delete("k0"), Code::kUnavailable);
  for (int i = 0; i < 5; ++i) ASSERT_OK(client_->Get("k" + std::to_string(i)));
  ASSERT_CODE(client_->Get("new"), Code::kNotFound);

  const DiskAlarm alarm = Alarm();
  EXPECT_TRUE(Contains(alarm.message, "--min-free-disk-bytes")) << alarm.message;
  EXPECT_GT(alarm.since_ms, 0);
  Result<std::string> health = testutil::HttpGet(server_->http_port(), "/health");
  ASSERT_OK(health);
  EXPECT_TRUE(Contains(*health, "\"status\":\"degraded\"")) << *health;
  EXPECT_TRUE(Contains(*health, "\"cause\":\"low_space\"")) << *health;
  Result<double> metric = testutil::MetricValue(server_->http_port(), "dialkv_disk_alarm");
  ASSERT_OK(metric);
  EXPECT_EQ(*metric, 1);
  // The five disk gauges share one copy of the alarm per scrape: every scrape is fresh.
  for (int scrape = 0; scrape < 3; ++scrape) {
    metric = testutil::MetricValue(server_->http_port(), "dialkv_disk_alarm_low_space");
    ASSERT_OK(metric);
    EXPECT_EQ(*metric, 1);
    metric = testutil::MetricValue(server_->http_port(), "dialkv_disk_alarms_raised");
    ASSERT_OK(metric);
    EXPECT_EQ(*metric, 1);
  }

  // The disk works again: writes resume without a restart.
  ASSERT_OK(client_->SetDiskFault(DiskFault::kNone));
  ASSERT_TRUE(Eventually([&] { return client_->Put("new", "v").ok(); }, seconds(10)));
  EXPECT_FALSE(Alarm().raised());
  health = testutil::HttpGet(server_->http_port(), "/health");
  ASSERT_OK(health);
  EXPECT_TRUE(Contains(*health, "\"status\":\"ok\"")) << *health;
  metric = testutil::MetricValue(server_->http_port(), "dialkv_disk_alarm");
  ASSERT_OK(metric);
  EXPECT_EQ(*metric, 0);
  metric = testutil::MetricValue(server_->http_port(), "dialkv_disk_alarm_low_space");
  ASSERT_OK(metric);
  EXPECT_EQ(*metric, 0);
  metric = testutil::MetricValue(server_->http_port(), "dialkv_disk_alarms_raised");
  ASSERT_OK(metric);
  EXPECT_EQ(*metric, 1);
  EXPECT_TRUE(server_->running());
}

TEST_F(DiskTest, AFailingDiskNeverEndsTheProcessAndLosesNoAcknowledgedWrite) {
  ASSERT_NO_FATAL_FAILURE(StartNode());
  std::vector<std::string> acked;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(client_->Put("before" + std::to_string(i), "v"));
    acked.push_back("before" + std::to_string(i));
  }
  ASSERT_OK(client_->SetDiskFault(DiskFault::kIoError));
  // The first write meets the failing disk: an error that says it may have been applied
  // (AP reports the storage error, CP cannot tell), never a crash. Later ones are refused.
  Result<WriteResult> first = client_->Put("during", "v", {.consistency = Consistency::kAp});
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.code(), Code::kUnavailable) << first.status().ToString();
  Result<WriteResult> next = client_->Put("during2", "v");
  ASSERT_CODE(next, Code::kUnavailable);
  EXPECT_TRUE(Contains(next.status().message(), "storage engine failed to write"))
      << next.status().ToString();
  EXPECT_TRUE(Alarm().storage_error);
  for (const std::string& key : acked) ASSERT_OK(client_->Get(key));

  ASSERT_OK(client_->SetDiskFault(DiskFault::kNone));
  ASSERT_TRUE(Eventually([&] { return client_->Put("after", "v").ok(); }, seconds(10)));
  acked.push_back("after");
  EXPECT_TRUE(server_->running());

  // Everything acknowledged survives a crash after the recovery.
  server_->Kill();
  ASSERT_OK(server_->Restart());
  for (const std::string& key : acked) {
    EXPECT_OK(client_->Get(key));
  }
}

// One node of three has a full disk for a while: clients that list every node keep writing
// (AP and CP: every key's quorum still has space), reads work everywhere, and afterwards the
// node holds every write it missed.
TEST(DiskClusterTest, WritesGoOnWhileOneNodesDiskIsFullAndTheNodeCatchesUp) {
  auto cluster = TestCluster::StartOrFail(
      {.nodes = 3,
       .replication_factor = 3,
       .extra_args = {"--enable-fault-injection", "--disk-check-interval-ms=100"}});
  ASSERT_NE(cluster, nullptr);
  auto admin3 = cluster->ClientFor(3);
  ASSERT_OK(admin3->SetDiskFault(DiskFault::kFull));
  ASSERT_TRUE(Eventually(
      [&] {
        Result<ClusterStatus> s = admin3->ClusterStatus();
        return s.ok() && s->disk_alarm.raised();
      },
      seconds(10)));

  // Node 3 first: every write starts at the full node and fails over.
  const std::vector<std::string> endpoints = {cluster->node(3).client_address(),
                                              cluster->node(1).client_address(),
                                              cluster->node(2).client_address()};
  auto ap = ClientOf(endpoints, Consistency::kAp);
  auto cp = ClientOf(endpoints, Consistency::kCp);
  ASSERT_NE(ap, nullptr);
  ASSERT_NE(cp, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) {
    const std::string ap_key = "ap" + std::to_string(i);
    const std::string cp_key = "cp" + std::to_string(i);
    ASSERT_OK(ap->Put(ap_key, "v" + std::to_string(i)));
    ASSERT_OK(cp->Put(cp_key, "v" + std::to_string(i)));
    keys.push_back(ap_key);
    keys.push_back(cp_key);
  }
  // Reads work on every node, the full one included (CP through a quorum). An AP read at the
  // full node, which missed these writes, asks the other replicas first and sees them.
  auto ap3 = cluster->ClientFor(3, Consistency::kAp);
  for (int i = 0; i < 20; ++i) {
    Result<GetResult> got = ap3->Get("ap" + std::to_string(i));
    ASSERT_OK(got);
    EXPECT_EQ(got->value, "v" + std::to_string(i));
  }
  for (NodeId id = 1; id <= 3; ++id) {
    auto reader = cluster->ClientFor(id, Consistency::kCp);
    for (const std::string& key : keys) {
      EXPECT_OK(reader->Get(key));
    }
  }
  EXPECT_TRUE(cluster->node(3).running());

  ASSERT_OK(admin3->SetDiskFault(DiskFault::kNone));
  // Hints (and anti-entropy) bring node 3 every write it missed.
  for (const std::string& key : keys) {
    EXPECT_TRUE(Eventually([&] { return admin3->ReadLocal(key).ok(); }, seconds(30))) << key;
  }
}

}  // namespace
}  // namespace dialkv
