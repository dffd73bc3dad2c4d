// RespServer's deadlines (server/net/resp_server.h): a connection with nothing to do, a command
// trickled in slower than the command read timeout and a client that stops reading its
// replies are each closed, and only that connection.
#include "server/net/resp_server.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/unit/net/test_client.h"

namespace dialkv::net {
namespace {

using nettest::Loopback;
using nettest::PollUntil;
using nettest::TestClient;

// PING answers +PONG; BIG answers a bulk string of 1 MiB.
class FakeSession : public RespSession {
 public:
  asio::awaitable<void> Execute(std::vector<std::string> args, std::string* out) override {
    if (!args.empty() && args[0] == "BIG") {
      resp::Writer(out).Bulk(std::string(1 << 20, 'x'));
    } else {
      resp::Writer(out).SimpleString("PONG");
    }
    co_return;
  }
  bool closing() const override { return false; }
  int protocol() const override { return 2; }
};

class RespServerTest : public ::testing::Test {
 protected:
  RespServerTest() { pool_.Start(); }

  void StartServer(RespServer::Options options) {
    auto server = RespServer::Listen(
        pool_, Loopback(), std::move(options),
        [](const asio::ip::tcp::endpoint&) { return std::make_unique<FakeSession>(); });
    ASSERT_OK(server);
    server_ = std::move(server).value();
    server_->Start();
  }

  // Connects `client` and checks that a PING is answered.
  void ConnectAndPing(TestClient* client) {
    ASSERT_OK(client->Connect(server_->local_endpoint()));
    ASSERT_OK(client->Write("PING\r\n"));
    std::string reply;
    ASSERT_OK(client->ReadExactly(7, &reply));
    ASSERT_EQ(reply, "+PONG\r\n");
  }

  IoContextPool pool_{2};
  std::unique_ptr<RespServer> server_;  // Destroyed before pool_.
};

TEST_F(RespServerTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  RespServer::Options options;
  options.idle_timeout_ms = 100;
  StartServer(options);
  TestClient client;
  ConnectAndPing(&client);
  std::string rest;
  EXPECT_OK(client.ReadToEnd(&rest));  // The server closes: end of input, nothing more said.
  EXPECT_EQ(rest, "");
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(RespServerTest, ACommandTrickledPastTheReadTimeoutIsAnsweredAndClosed) {
  metrics::Counter timeouts;
  RespServer::Options options;
  options.command_read_timeout_ms = 200;
  options.command_timeouts = &timeouts;
  StartServer(options);
  TestClient slow;
  TestClient other;
  ConnectAndPing(&slow);
  ConnectAndPing(&other);
  ASSERT_OK(slow.Write("*1\r\n$4\r\nPI"));
  std::string rest;
  EXPECT_OK(slow.ReadToEnd(&rest));
  EXPECT_EQ(rest, "-ERR command not complete within 200 ms of its first byte\r\n");
  EXPECT_EQ(timeouts.Value(), 1u);
  // A connection whose commands come whole is not touched.
  ASSERT_OK(other.Write("PING\r\n"));
  std::string reply;
  ASSERT_OK(other.ReadExactly(7, &reply));
  EXPECT_EQ(reply, "+PONG\r\n");
}

TEST_F(RespServerTest, ClientThatStopsReadingIsClosedAfterTheWriteTimeout) {
  RespServer::Options options;
  options.write_timeout_ms = 100;
  options.max_connection_reply_bytes = 1 << 20;  // Each BIG reply is written before the next.
  StartServer(options);
  TestClient client;
  ConnectAndPing(&client);
  std::string commands;
  for (int i = 0; i < 64; ++i) commands += "BIG\r\n";
  ASSERT_OK(client.Write(commands));  // Owed 64 MiB of replies it does not read.
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 0; }));
  std::string rest;
  const Status end = client.ReadToEnd(&rest);
  EXPECT_TRUE(end.ok() || end.code() == Code::kUnavailable) << end.ToString();
  EXPECT_LT(rest.size(), 64u << 20);
}

}  // namespace
}  // namespace dialkv::net
