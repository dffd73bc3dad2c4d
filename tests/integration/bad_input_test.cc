// Bad input never takes a node down: garbage and oversized frames are refused on their own
// connection, bad flags and foreign data dirs stop the server with a clear message.
#include <gtest/gtest.h>

#include <string>

#include "dialkv/client.h"
#include "server/net/frame.h"
#include "tests/testutil/raw_connection.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv {
namespace {

using testutil::RawConnection;
using testutil::ServerProcess;

constexpr uint32_t kMaxFrameBytes = 64 * 1024;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options o;
    o.data_dir = dir_.Sub("data");
    o.log_path = dir_.Sub("node.log");
    o.extra_args = {"--max-frame-bytes=" + std::to_string(kMaxFrameBytes),
                    "--max-value-bytes=" + std::to_string(kMaxFrameBytes / 2)};
    auto server = ServerProcess::Start(o);
    ASSERT_OK(server);
    server_ = std::move(server.value());
    ClientOptions co;
    co.endpoints = {server_->client_address()};
    auto c = Client::Create(co);
    ASSERT_OK(c);
    client_ = std::move(c.value());
    ASSERT_OK(client_->Put("before", "1"));
  }

  // The node keeps serving a client that was connected all along.
  void ExpectStillServing() {
    ASSERT_OK(client_->Put("after", "2"));
    auto r = client_->Get("before");
    ASSERT_OK(r);
    EXPECT_EQ(r->value, "1");
  }

  testutil::TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(BadInputTest, GarbageFrameGetsAnErrorReplyAndItsConnectionIsClosed) {
  RawConnection raw(server_->client_port());
  const std::string garbage = "\xff\xff\xff\xff garbage that is not protobuf";
  raw.Send(testutil::RawFrame(garbage));
  v1::Envelope reply;
  ASSERT_TRUE(raw.ReadReply(&reply));
  ASSERT_TRUE(reply.has_error_reply()) << reply.DebugString();
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_FALSE(reply.error_reply().status().message().empty());
  EXPECT_TRUE(raw.ClosedByServer());
  ExpectStillServing();
}

TEST_F(BadInputTest, OversizedFrameGetsAnErrorReplyNamingTheLimitAndIsClosed) {
  RawConnection raw(server_->client_port());
  // Only the header is sent: the node must refuse on the announced length alone.
  std::string header(net::kFrameHeaderBytes, '\0');
  const uint32_t n = kMaxFrameBytes + 1;
  for (size_t i = 0; i < net::kFrameHeaderBytes; ++i) header[i] = static_cast<char>(n >> (8 * i));
  raw.Send(header);
  v1::Envelope reply;
  ASSERT_TRUE(raw.ReadReply(&reply));
  ASSERT_TRUE(reply.has_error_reply()) << reply.DebugString();
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_NE(reply.error_reply().status().message().find(std::to_string(kMaxFrameBytes)),
            std::string::npos)
      << reply.error_reply().status().message();
  EXPECT_TRUE(raw.ClosedByServer());
  ExpectStillServing();
}

TEST_F(BadInputTest, ValueOverTheFrameLimitIsRefusedByTheClientOrTheNode) {
  Result<WriteResult> r = client_->Put("big", std::string(kMaxFrameBytes * 2, 'x'));
  EXPECT_FALSE(r.ok());
  ExpectStillServing();
}

TEST_F(BadInputTest, UnknownFieldIsRefusedAndTheConnectionStaysUsable) {
  RawConnection raw(server_->client_port());
  v1::Envelope request;
  request.set_id(42);
  request.mutable_get_request()->set_key("before");
  std::string body = request.SerializeAsString();
  body += std::string("\xf8\x07\x01", 3);  // Field 127, varint 1: unknown to this node.
  raw.Send(testutil::RawFrame(body));
  v1::Envelope reply;
  ASSERT_TRUE(raw.ReadReply(&reply));
  ASSERT_TRUE(reply.has_error_reply()) << reply.DebugString();
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  ExpectStillServing();
}

TEST_F(BadInputTest, ReplyTypeSentAsARequestIsRefused) {
  RawConnection raw(server_->client_port());
  v1::Envelope request;
  request.set_id(7);
  request.mutable_get_reply()->set_value("nonsense");
  raw.Send(testutil::RawFrame(request.SerializeAsString()));
  v1::Envelope reply;
  ASSERT_TRUE(raw.ReadReply(&reply));
  EXPECT_EQ(reply.id(), 7u);
  ASSERT_TRUE(reply.has_error_reply()) << reply.DebugString();
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  ExpectStillServing();
}

class StartupTest : public ::testing::Test {
 protected:
  ServerProcess::Options Options(uint32_t node_id, const std::string& cluster) {
    ServerProcess::Options o;
    o.node_id = node_id;
    o.cluster_name = cluster;
    o.data_dir = dir_.Sub("data");
    o.log_path = dir_.Sub("node" + std::to_string(node_id) + "-" + cluster + ".log");
    return o;
  }
  testutil::TempDir dir_;
};

TEST_F(StartupTest, NodeOnAnotherNodesDataDirRefusesWithAClearMessage) {
  {
    auto first = ServerProcess::Start(Options(1, "test"));
    ASSERT_OK(first);
    EXPECT_EQ((*first)->Stop(), 0);
  }
  std::string output;
  auto code = ServerProcess::RunExpectingExit(Options(2, "test"), &output,
                                              std::chrono::milliseconds(20000));
  ASSERT_OK(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(output.find("belongs to node 1"), std::string::npos) << output;

  auto other_cluster = ServerProcess::RunExpectingExit(Options(1, "other"), &output,
                                                       std::chrono::milliseconds(20000));
  ASSERT_OK(other_cluster);
  EXPECT_NE(*other_cluster, 0);
  EXPECT_NE(output.find("cluster 'test'"), std::string::npos) << output;

  // The rightful owner still starts.
  auto owner = ServerProcess::Start(Options(1, "test"));
  ASSERT_OK(owner);
}

TEST_F(StartupTest, SecondServerOnALockedDataDirRefuses) {
  auto first = ServerProcess::Start(Options(1, "test"));
  ASSERT_OK(first);
  std::string output;
  auto code = ServerProcess::RunExpectingExit(Options(1, "test"), &output,
                                              std::chrono::milliseconds(20000));
  ASSERT_OK(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(output.find("in use"), std::string::npos) << output;
}

TEST_F(StartupTest, PortInUseRefusesWithTheAddress) {
  auto first = ServerProcess::Start(Options(1, "test"));
  ASSERT_OK(first);
  ServerProcess::Options o = Options(2, "test");
  o.data_dir = dir_.Sub("data2");
  o.client_port = (*first)->client_port();
  std::string output;
  auto code = ServerProcess::RunExpectingExit(o, &output, std::chrono::milliseconds(20000));
  ASSERT_OK(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(output.find("127.0.0.1:" + std::to_string(o.client_port)), std::string::npos) << output;
}

TEST_F(StartupTest, BadFlagExitsWithUsageError) {
  ServerProcess::Options o = Options(1, "test");
  o.extra_args = {"--no-such-flag"};
  std::string output;
  auto code = ServerProcess::RunExpectingExit(o, &output, std::chrono::milliseconds(20000));
  ASSERT_OK(code);
  EXPECT_EQ(*code, 2) << output;
  o.extra_args = {"--max-value-bytes=-5"};
  code = ServerProcess::RunExpectingExit(o, &output, std::chrono::milliseconds(20000));
  ASSERT_OK(code);
  EXPECT_EQ(*code, 2) << output;
}

}  // namespace
}  // namespace dialkv
