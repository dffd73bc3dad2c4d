// A single real dialkv-server process on loopback, driven through the client library.
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <string>
#include <vector>

#include "dialkv/client.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv {
namespace {

using testutil::ServerProcess;

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options o;
    o.data_dir = dir_.Sub("data");
    o.log_path = dir_.Sub("node.log");
    auto server = ServerProcess::Start(o);
    ASSERT_OK(server);
    server_ = std::move(server.value());
  }

  std::unique_ptr<Client> Connect(uint32_t timeout_ms = 5000) {
    ClientOptions o;
    o.endpoints = {server_->client_address()};
    o.timeout_ms = timeout_ms;
    auto c = Client::Create(o);
    EXPECT_OK(c);
    return c.ok() ? std::move(c.value()) : nullptr;
  }

  testutil::TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(NodeTest, PutGetDeleteRoundTrip) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_CODE(client->Get("k"), Code::kNotFound);

  auto put = client->Put("k", "v1");
  ASSERT_OK(put);
  auto got = client->Get("k");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "v1");
  EXPECT_EQ(got->timestamp, put->timestamp);
  EXPECT_EQ(got->timestamp.node_id, 1u);

  auto put2 = client->Put("k", std::string(1000, 'x'));
  ASSERT_OK(put2);
  EXPECT_GT(put2->timestamp, put->timestamp);
  EXPECT_EQ(client->Get("k")->value, std::string(1000, 'x'));

  auto del = client->Delete("k");
  ASSERT_OK(del);
  EXPECT_GT(del->timestamp, put2->timestamp);
  ASSERT_CODE(client->Get("k"), Code::kNotFound);

  // Empty values are values, not deletes.
  ASSERT_OK(client->Put("empty", ""));
  auto empty = client->Get("empty");
  ASSERT_OK(empty);
  EXPECT_EQ(empty->value, "");
}

TEST_F(NodeTest, InvalidKeysAndValuesAreRefusedWithTheLimit) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  Result<WriteResult> empty_key = client->Put("", "v");
  ASSERT_CODE(empty_key, Code::kInvalidArgument);
  Result<WriteResult> long_key = client->Put(std::string(4097, 'k'), "v");
  ASSERT_CODE(long_key, Code::kInvalidArgument);
  EXPECT_NE(long_key.status().message().find("4096"), std::string::npos)
      << long_key.status().message();
  ASSERT_OK(client->Put(std::string(4096, 'k'), "v"));  // The limit itself is allowed.
}

TEST_F(NodeTest, ThousandPipelinedRequestsOnOneConnectionAreAllAnswered) {
  auto client = Connect(20000);
  ASSERT_NE(client, nullptr);
  constexpr int kRequests = 1000;
  asio::io_context io;
  std::vector<Status> put_status(kRequests, Status::Internal("not answered"));
  std::vector<std::string> read_back(kRequests);
  int done = 0;
  // All 1,000 puts are in flight at once on the client's single connection to the node.
  for (int i = 0; i < kRequests; ++i) {
    asio::co_spawn(
        io,
        [](Client* c, int i, Status* out, int* done) -> asio::awaitable<void> {
          auto r = co_await c->AsyncPut("pipe:" + std::to_string(i), "value-" + std::to_string(i));
          *out = r.status();
          ++*done;
        }(client.get(), i, &put_status[i], &done),
        asio::detached);
  }
  io.run();
  ASSERT_EQ(done, kRequests);
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(put_status[i].ok()) << "request " << i << ": " << put_status[i].ToString();
  }

  io.restart();
  int read = 0;
  for (int i = 0; i < kRequests; ++i) {
    asio::co_spawn(
        io,
        [](Client* c, int i, std::string* out, int* read) -> asio::awaitable<void> {
          auto r = co_await c->AsyncGet("pipe:" + std::to_string(i));
          *out = r.ok() ? r->value : r.status().ToString();
          ++*read;
        }(client.get(), i, &read_back[i], &read),
        asio::detached);
  }
  io.run();
  ASSERT_EQ(read, kRequests);
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(read_back[i], "value-" + std::to_string(i));
}

TEST_F(NodeTest, RestartAfterCrashKeepsEveryAcknowledgedWrite) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  constexpr int kKeys = 500;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_OK(client->Put("durable:" + std::to_string(i), "v" + std::to_string(i)));
  }
  ASSERT_OK(client->Delete("durable:7"));
  server_->Kill();  // kill -9: no clean shutdown, only the write-ahead log.
  ASSERT_OK(server_->Restart());
  for (int i = 0; i < kKeys; ++i) {
    auto r = client->Get("durable:" + std::to_string(i));
    if (i == 7) {
      ASSERT_CODE(r, Code::kNotFound);
      continue;
    }
    ASSERT_OK(r);
    EXPECT_EQ(r->value, "v" + std::to_string(i));
  }
  // Timestamps keep growing across the restart: a new write beats the old ones.
  auto before = client->Get("durable:1");
  ASSERT_OK(before);
  auto after = client->Put("durable:1", "new");
  ASSERT_OK(after);
  EXPECT_GT(after->timestamp, before->timestamp);
}

TEST_F(NodeTest, CleanShutdownOnSigtermExitsZeroAndKeepsData) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->Put("k", "v"));
  EXPECT_EQ(server_->Stop(), 0) << server_->ReadLog();
  ASSERT_OK(server_->Restart());
  auto r = client->Get("k");
  ASSERT_OK(r);
  EXPECT_EQ(r->value, "v");
}

TEST_F(NodeTest, MetricsCountRequestsByOpAndStatus) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->Put("m1", "v"));
  ASSERT_OK(client->Put("m2", "v"));
  ASSERT_OK(client->Get("m1"));
  ASSERT_CODE(client->Get("absent"), Code::kNotFound);
  auto health = testutil::HttpGet(server_->http_port(), "/health");
  ASSERT_OK(health);
  auto metrics = testutil::HttpGet(server_->http_port(), "/metrics");
  ASSERT_OK(metrics);
  const std::string& m = *metrics;
  EXPECT_NE(m.find("dialkv_requests_total{op=\"put\",mode=\"cp\",status=\"OK\"} 2"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("dialkv_requests_total{op=\"get\",mode=\"cp\",status=\"NOT_FOUND\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("dialkv_keys_stored 2"), std::string::npos) << m;
  EXPECT_NE(m.find("dialkv_request_duration_seconds_bucket"), std::string::npos) << m;
  EXPECT_NE(m.find("\ndialkv_storage_wal_bytes "), std::string::npos) << m;
  EXPECT_NE(m.find("\ndialkv_storage_sst_bytes{cf=\"data\"} "), std::string::npos) << m;
}

// A wrapper (the harness, the benchmark scripts) gives its defaults first and its caller's
// flags after them: the last value of a repeated flag wins.
TEST(NodeFlagsTest, AFlagGivenTwiceTakesItsLastValue) {
  testutil::TempDir dir;
  ServerProcess::Options o;
  o.data_dir = dir.Sub("data");
  o.log_path = dir.Sub("node.log");
  o.extra_args = {"--cluster-name=first", "--cluster-name=second"};
  auto server = ServerProcess::Start(o);
  ASSERT_OK(server);
  auto health = testutil::HttpGet((*server)->http_port(), "/health");
  ASSERT_OK(health);
  EXPECT_NE(health->find("second"), std::string::npos) << *health;
  EXPECT_EQ(health->find("first"), std::string::npos) << *health;
}

}  // namespace
}  // namespace dialkv
