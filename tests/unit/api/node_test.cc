#include "server/api/node.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "server/common/version.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/api/loopback.h"

namespace dialkv::api {
namespace {

using testing::HttpGet;
using testing::LoopbackSocket;

Node::Options TestOptions(const testutil::TempDir& dir, NodeId node_id = 1) {
  Node::Options o;
  o.node_id = node_id;
  o.cluster_name = "test";
  o.listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.peer_listen = "127.0.0.1:0";
  o.data_dir = dir.Sub("data");
  o.threads = 2;
  o.storage_threads = 2;
  o.min_free_disk_bytes = 16 << 20;  // Tests write little; a fuller machine still runs them.
  return o;
}

v1::Envelope Put(uint64_t id, std::string key, std::string value) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_put_request()->set_key(std::move(key));
  e.mutable_put_request()->set_value(std::move(value));
  return e;
}

v1::Envelope Get(uint64_t id, std::string key) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_get_request()->set_key(std::move(key));
  return e;
}

// Polls /metrics until it contains `line` or 5 s pass.
bool MetricsEventuallyContain(uint16_t http_port, const std::string& line) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (int i = 0; i < 10000 && std::chrono::steady_clock::now() < deadline; ++i) {
    Result<testing::HttpReply> metrics = HttpGet(http_port, "/metrics");
    if (metrics.ok() && metrics->body.find(line) != std::string::npos) return true;
  }
  return false;
}

TEST(NodeTest, ServesRequestsHealthAndMetricsOnPortsTheOsChose) {
  testutil::TempDir dir;
  Result<std::unique_ptr<Node>> node = Node::Start(TestOptions(dir));
  ASSERT_OK(node);
  const Node::Endpoints& endpoints = (*node)->endpoints();
  ASSERT_NE(endpoints.client.port(), 0);
  ASSERT_NE(endpoints.http.port(), 0);
  EXPECT_TRUE(endpoints.client.address().is_loopback());

  LoopbackSocket client(endpoints.client.port());
  ASSERT_TRUE(client.connected());
  Result<v1::Envelope> put = client.RoundTrip(Put(41, "k", "v"));
  ASSERT_OK(put);
  EXPECT_EQ(put->id(), 41u);
  EXPECT_EQ(put->put_reply().status().code(), v1::STATUS_OK);
  EXPECT_EQ(put->put_reply().timestamp().node_id(), 1u);
  Result<v1::Envelope> get = client.RoundTrip(Get(42, "k"));
  ASSERT_OK(get);
  EXPECT_EQ(get->id(), 42u);
  EXPECT_EQ(get->get_reply().value(), "v");
  Result<v1::Envelope> missing = client.RoundTrip(Get(43, "missing"));
  ASSERT_OK(missing);
  EXPECT_EQ(missing->get_reply().status().code(), v1::STATUS_NOT_FOUND);

  Result<testing::HttpReply> health = HttpGet(endpoints.http.port(), "/health");
  ASSERT_OK(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "{\"status\":\"ok\",\"node_id\":1,\"cluster\":\"test\",\"alarms\":[]}\n");
  EXPECT_NE(health->head.find("application/json"), std::string::npos) << health->head;

  Result<testing::HttpReply> metrics = HttpGet(endpoints.http.port(), "/metrics");
  ASSERT_OK(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->head.find("text/plain; version=0.0.4"), std::string::npos) << metrics->head;
  const std::string& m = metrics->body;
  EXPECT_NE(m.find("dialkv_requests_total{op=\"put\",mode=\"cp\",status=\"OK\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("dialkv_requests_total{op=\"get\",mode=\"cp\",status=\"OK\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("dialkv_requests_total{op=\"get\",mode=\"cp\",status=\"NOT_FOUND\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("dialkv_request_duration_seconds_count{op=\"get\",mode=\"cp\"} 2\n"),
            std::string::npos);
  EXPECT_NE(m.find("\ndialkv_keys_stored 1\n"), std::string::npos);
  EXPECT_NE(m.find("\ndialkv_connections_open 1\n"), std::string::npos);
  EXPECT_NE(m.find("dialkv_node_info{node_id=\"1\",cluster=\"test\",generation=\"1\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("dialkv_build_info{version=\"" + std::string(Version()) + "\",commit=\"" +
                   std::string(GitCommit()) + "\"} 1\n"),
            std::string::npos);

  client.Close();
  EXPECT_TRUE(MetricsEventuallyContain(endpoints.http.port(), "\ndialkv_connections_open 0\n"));
  EXPECT_EQ(HttpGet(endpoints.http.port(), "/nope")->status, 404);
}

TEST(NodeTest, MetricsAndStatusReportTheStorageEngine) {
  testutil::TempDir dir;
  Result<std::unique_ptr<Node>> node = Node::Start(TestOptions(dir));
  ASSERT_OK(node);
  const Node::Endpoints& endpoints = (*node)->endpoints();
  LoopbackSocket client(endpoints.client.port());
  ASSERT_TRUE(client.connected());
  ASSERT_OK(client.RoundTrip(Put(1, "k", std::string(1000, 'v'))));

  Result<testing::HttpReply> metrics = HttpGet(endpoints.http.port(), "/metrics");
  ASSERT_OK(metrics);
  const std::string& m = metrics->body;
  for (const char* line :
       {"\ndialkv_storage_sst_bytes{cf=\"data\"} ", "\ndialkv_storage_sst_bytes{cf=\"meta\"} ",
        "\ndialkv_storage_memtable_bytes{cf=\"data\"} ",
        "\ndialkv_storage_pending_compaction_bytes{cf=\"data\"} ",
        "\ndialkv_storage_l0_files{cf=\"hints\"} ", "\ndialkv_storage_data_dir_bytes ",
        "\ndialkv_storage_wal_files ", "\ndialkv_storage_write_stalls_total 0\n",
        "\ndialkv_storage_longest_write_stall_seconds 0\n", "\ndialkv_storage_write_stalled 0\n",
        "\ndialkv_storage_recovery_seconds "}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << " missing from:\n" << m;
  }
  // The write is in the WAL and the memtable: neither reads 0.
  EXPECT_EQ(m.find("\ndialkv_storage_wal_bytes 0\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("\ndialkv_storage_memtable_bytes{cf=\"data\"} 0\n"), std::string::npos) << m;

  v1::Envelope request;
  request.set_id(2);
  request.mutable_cluster_status_request();
  Result<v1::Envelope> status = client.RoundTrip(request);
  ASSERT_OK(status);
  const v1::StorageStatus& storage = status->cluster_status_reply().storage();
  EXPECT_GT(storage.data_dir_bytes(), 0u);
  EXPECT_GT(storage.wal_bytes(), 0u);
  EXPECT_GT(storage.memtable_bytes(), 0u);
  EXPECT_EQ(storage.write_stalls(), 0u);
}

TEST(NodeTest, RefusesRocksDbOptionsRocksDbRejects) {
  testutil::TempDir dir;
  Node::Options options = TestOptions(dir);
  options.storage_tuning.data_cf_options = "write_buffer_size=lots";
  Result<std::unique_ptr<Node>> node = Node::Start(options);
  ASSERT_CODE(node, Code::kInvalidArgument);
  EXPECT_NE(node.status().message().find("write_buffer_size=lots"), std::string::npos)
      << node.status().message();
}

TEST(NodeTest, WithSyncWritesGoThroughTheStoragePool) {
  testutil::TempDir dir;
  Node::Options options = TestOptions(dir);
  options.sync = true;
  Result<std::unique_ptr<Node>> node = Node::Start(options);
  ASSERT_OK(node);
  LoopbackSocket client((*node)->endpoints().client.port());
  for (uint64_t i = 0; i < 20; ++i) {
    Result<v1::Envelope> put = client.RoundTrip(Put(i, "k" + std::to_string(i % 3), "v"));
    ASSERT_OK(put);
    EXPECT_EQ(put->put_reply().status().code(), v1::STATUS_OK);
  }
  Result<v1::Envelope> get = client.RoundTrip(Get(99, "k1"));
  ASSERT_OK(get);
  EXPECT_EQ(get->get_reply().value(), "v");
  (*node)->Stop();
}

TEST(NodeTest, StopReleasesTheDataDirAndTheDataSurvivesARestart) {
  testutil::TempDir dir;
  {
    Result<std::unique_ptr<Node>> node = Node::Start(TestOptions(dir));
    ASSERT_OK(node);
    LoopbackSocket client((*node)->endpoints().client.port());
    ASSERT_OK(client.RoundTrip(Put(1, "kept", "yes")));
    (*node)->Stop();
    (*node)->Stop();  // Idempotent; the destructor calls it a third time.
  }
  Result<std::unique_ptr<Node>> again = Node::Start(TestOptions(dir));
  ASSERT_OK(again);
  LoopbackSocket client((*again)->endpoints().client.port());
  Result<v1::Envelope> get = client.RoundTrip(Get(2, "kept"));
  ASSERT_OK(get);
  EXPECT_EQ(get->get_reply().value(), "yes");
  EXPECT_NE(
      HttpGet((*again)->endpoints().http.port(), "/metrics")->body.find("\ndialkv_keys_stored 1\n"),
      std::string::npos);
}

TEST(NodeTest, StopWithAClientConnectedAndRequestsInFlightReturns) {
  testutil::TempDir dir;
  Result<std::unique_ptr<Node>> node = Node::Start(TestOptions(dir));
  ASSERT_OK(node);
  LoopbackSocket client((*node)->endpoints().client.port());
  std::string frames;
  for (uint64_t i = 0; i < 200; ++i)
    net::AppendFrame(Put(i, "k" + std::to_string(i), "v"), &frames);
  ASSERT_OK(client.SendAll(frames));
  (*node)->Stop();
  // The connection was closed by the server: the read ends (after any replies it wrote).
  client.ReceiveAll();
}

TEST(NodeTest, RefusesADataDirClaimedByAnotherNode) {
  testutil::TempDir dir;
  ASSERT_OK(Node::Start(TestOptions(dir, 1)));  // Claims the dir, then stops.
  Result<std::unique_ptr<Node>> other = Node::Start(TestOptions(dir, 2));
  ASSERT_CODE(other, Code::kInvalidArgument);
  const std::string message = other.status().message();
  EXPECT_NE(message.find("belongs to node 1 of cluster 'test', not to node 2"), std::string::npos)
      << message;
  EXPECT_NE(message.find(dir.Sub("data")), std::string::npos) << message;
}

TEST(NodeTest, RefusesADataDirOfAnotherCluster) {
  testutil::TempDir dir;
  ASSERT_OK(Node::Start(TestOptions(dir, 1)));
  Node::Options options = TestOptions(dir, 1);
  options.cluster_name = "prod";
  Result<std::unique_ptr<Node>> other = Node::Start(options);
  ASSERT_CODE(other, Code::kInvalidArgument);
  EXPECT_NE(other.status().message().find("of cluster 'test', not to node 1 of cluster 'prod'"),
            std::string::npos)
      << other.status().message();
}

TEST(NodeTest, RefusesADataDirLockedByARunningNode) {
  testutil::TempDir dir;
  Result<std::unique_ptr<Node>> running = Node::Start(TestOptions(dir));
  ASSERT_OK(running);
  Result<std::unique_ptr<Node>> second = Node::Start(TestOptions(dir));
  ASSERT_CODE(second, Code::kUnavailable);
  EXPECT_NE(second.status().message().find(dir.Sub("data")), std::string::npos)
      << second.status().message();
}

TEST(NodeTest, RefusesAClientPortInUseAndReleasesItsDataDir) {
  testutil::TempDir dir;
  testutil::TempDir other_dir;
  Result<std::unique_ptr<Node>> running = Node::Start(TestOptions(dir));
  ASSERT_OK(running);
  Node::Options options = TestOptions(other_dir, 2);
  options.listen = FormatHostPort((*running)->endpoints().client);
  Result<std::unique_ptr<Node>> second = Node::Start(options);
  ASSERT_CODE(second, Code::kUnavailable);
  EXPECT_NE(second.status().message().find(options.listen), std::string::npos)
      << second.status().message();
  // The failed start closed its engine: the same options with a free port now work.
  options.listen = "127.0.0.1:0";
  EXPECT_OK(Node::Start(options));
}

TEST(NodeTest, RefusesAnHttpPortInUse) {
  testutil::TempDir dir;
  testutil::TempDir other_dir;
  Result<std::unique_ptr<Node>> running = Node::Start(TestOptions(dir));
  ASSERT_OK(running);
  Node::Options options = TestOptions(other_dir, 2);
  options.http_listen = FormatHostPort((*running)->endpoints().http);
  ASSERT_CODE(Node::Start(options), Code::kUnavailable);
}

TEST(NodeOptionsTest, ValidateOptionsNamesTheFlagAndTheBounds) {
  testutil::TempDir dir;
  const Node::Options good = TestOptions(dir);
  EXPECT_OK(Node::ValidateOptions(good));

  auto message = [](const Node::Options& o) {
    Status s = Node::ValidateOptions(o);
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    return s.message();
  };
  Node::Options o = good;
  o.threads = 0;
  EXPECT_EQ(message(o), "--threads must be 1 to 1024, not 0");
  o = good;
  o.data_dir.clear();
  EXPECT_NE(message(o).find("--data-dir is required"), std::string::npos);
  o = good;
  o.cluster_name.clear();
  EXPECT_NE(message(o).find("--cluster-name"), std::string::npos);
  o = good;
  o.default_timeout_ms = 0;
  EXPECT_EQ(message(o), "--default-timeout-ms must be 1 to --max-timeout-ms (60000), not 0");
  o = good;
  o.max_timeout_ms = 1000;
  o.default_timeout_ms = 5000;
  EXPECT_EQ(message(o), "--default-timeout-ms must be 1 to --max-timeout-ms (1000), not 5000");
  o = good;
  o.max_timeout_ms = 600'001;
  EXPECT_EQ(message(o), "--max-timeout-ms must be 1 to 600000, not 600001");
  o = good;
  o.speculative_retry_ms = 60'001;
  EXPECT_EQ(message(o), "--speculative-retry-ms must be 0 to 60000, not 60001");
  o = good;
  o.speculative_retry_ms = 0;  // Every replica at once.
  EXPECT_OK(Node::ValidateOptions(o));
  o = good;
  o.max_inflight_bytes = 1u << 20;
  EXPECT_NE(message(o).find("--max-inflight-bytes 1048576 must hold at least one frame"),
            std::string::npos)
      << message(o);
  o = good;
  o.max_clock_skew_ms = -1;
  EXPECT_NE(message(o).find("--max-clock-skew-ms"), std::string::npos);
  o = good;
  o.max_frame_bytes = 1u << 20;
  o.max_value_bytes = 1u << 20;
  EXPECT_NE(message(o).find("must fit in --max-frame-bytes 1048576"), std::string::npos)
      << message(o);
  o = good;
  o.listen = "7379";
  EXPECT_EQ(message(o), "--listen '7379' is not HOST:PORT (the port is missing)");
  o = good;
  o.http_listen = "127.0.0.1:99999";
  EXPECT_NE(message(o).find("--http-listen '127.0.0.1:99999'"), std::string::npos);
}

TEST(NodeOptionsTest, ParseHostPortAcceptsAddressesAndNames) {
  Result<HostPort> v4 = ParseHostPort("127.0.0.1:7379", "--listen");
  ASSERT_OK(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 7379);
  Result<HostPort> v6 = ParseHostPort("[::1]:0", "--listen");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  Result<HostPort> name = ParseHostPort("node-1.example:65535", "--listen");
  ASSERT_OK(name);
  EXPECT_EQ(name->host, "node-1.example");
  for (const char* bad : {"", ":7379", "host", "host:", "host:-1", "host:65536", "host:7x",
                          "::1:7379", "[::1]7379", "[::1"}) {
    EXPECT_EQ(ParseHostPort(bad, "--listen").code(), Code::kInvalidArgument) << bad;
  }
}

TEST(NodeOptionsTest, ResolveHostPortFormatsBack) {
  Result<asio::ip::tcp::endpoint> v4 = ResolveHostPort("127.0.0.1:7379", "--listen");
  ASSERT_OK(v4);
  EXPECT_EQ(FormatHostPort(*v4), "127.0.0.1:7379");
  Result<asio::ip::tcp::endpoint> v6 = ResolveHostPort("[::1]:80", "--listen");
  ASSERT_OK(v6);
  EXPECT_EQ(FormatHostPort(*v6), "[::1]:80");
  Result<asio::ip::tcp::endpoint> local = ResolveHostPort("localhost:1", "--listen");
  ASSERT_OK(local);
  EXPECT_TRUE(local->address().is_loopback());
}

}  // namespace
}  // namespace dialkv::api
