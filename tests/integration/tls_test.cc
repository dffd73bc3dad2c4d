// TLS on real nodes: clients that check the node's certificate reach it; peers that run mutual
// TLS form the cluster and replicate; clients and peers without TLS, or with another CA's
// certificate, are refused, and nothing they sent is applied.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "server/auth/pki.h"
#include "server/net/frame.h"
#include "tests/testutil/command.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using testutil::CommandResult;
using testutil::Eventually;
using testutil::RunCommand;
using testutil::TestCluster;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<pki::TlsFiles> files = pki::WriteClusterTlsFiles(dir_.Sub("tls"), {"127.0.0.1"});
    ASSERT_OK(files);
    tls_ = *files;
    Result<pki::TlsFiles> other = pki::WriteClusterTlsFiles(dir_.Sub("other"), {"127.0.0.1"});
    ASSERT_OK(other);
    other_ = *other;
    cluster_ = TestCluster::StartOrFail(
        {.nodes = 3,
         .replication_factor = 3,
         .extra_args = {"--tls-cert=" + tls_.cert_file, "--tls-key=" + tls_.key_file,
                        "--peer-tls-ca=" + tls_.ca_file, "--peer-tls-cert=" + tls_.cert_file,
                        "--peer-tls-key=" + tls_.key_file, "--enable-fault-injection"},
         .tls_ca_file = tls_.ca_file});
    // Started means every node saw every other alive: gossip ran over mutual TLS.
    ASSERT_NE(cluster_, nullptr);
  }

  std::unique_ptr<Client> ClientWithCa(const std::string& ca_file, NodeId id = 1) const {
    ClientOptions options;
    options.endpoints = {cluster_->node(id).client_address()};
    options.timeout_ms = 2000;
    options.tls_ca_file = ca_file;
    Result<std::unique_ptr<Client>> client = Client::Create(options);
    EXPECT_OK(client);
    return client.ok() ? std::move(client).value() : nullptr;
  }

  testutil::TempDir dir_;
  pki::TlsFiles tls_;
  pki::TlsFiles other_;
  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(TlsTest, WritesReplicateOverMutualTlsAndEveryNodeServesThemOverTls) {
  ASSERT_OK(cluster_->ClientFor(1, Consistency::kCp)->Put("k", "over-tls"));
  for (NodeId id = 1; id <= 3; ++id) {
    Result<GetResult> cp = cluster_->ClientFor(id, Consistency::kCp)->Get("k");
    ASSERT_OK(cp);
    EXPECT_EQ(cp->value, "over-tls");
    // A local read shows the copy each replica holds itself: the write reached all three.
    Result<LocalVersion> local = cluster_->ClientFor(id, Consistency::kAp)->ReadLocal("k");
    ASSERT_OK(local);
    EXPECT_EQ(local->value, "over-tls") << "node " << id;
  }
}

TEST_F(TlsTest, APlainClientIsToldTheNodeSpeaksTlsAndNothingIsApplied) {
  auto plain = ClientWithCa("");
  const Result<WriteResult> put = plain->Put("plain", "v");
  // The node read nothing from the connection: definitely not applied.
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_THAT(put.status().message(), HasSubstr("speaks TLS only"));
  EXPECT_THAT(plain->Get("plain").status().message(), HasSubstr("speaks TLS only"));
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_CODE(cluster_->ClientFor(id, Consistency::kAp)->ReadLocal("plain"), Code::kNotFound);
  }
  // The node goes on serving TLS clients.
  EXPECT_OK(cluster_->ClientFor(1)->Put("after", "v"));
}

TEST_F(TlsTest, AClientRefusesANodeWhoseCertificateItsCaDidNotSign) {
  auto wrong_ca = ClientWithCa(other_.ca_file);
  const Result<WriteResult> put = wrong_ca->Put("k", "v");
  // Refused during the handshake, before the request was sent: definitely not applied.
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_THAT(put.status().message(), HasSubstr("certificate verify failed"));
  EXPECT_CODE(cluster_->ClientFor(1)->Get("k"), Code::kNotFound);
}

TEST_F(TlsTest, AClientRefusesACertificateThatDoesNotNameTheHostItDialled) {
  ClientOptions options;
  // The node's certificate names 127.0.0.1 only.
  options.endpoints = {"localhost:" + std::to_string(cluster_->node(1).client_port())};
  options.timeout_ms = 2000;
  options.tls_ca_file = tls_.ca_file;
  Result<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_OK(client);
  const Result<WriteResult> put = (*client)->Put("k", "v");
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_THAT(put.status().message(), HasSubstr("hostname mismatch"));
}

TEST_F(TlsTest, ACaFileThatCannotBeLoadedFailsCreate) {
  ClientOptions options;
  options.endpoints = {cluster_->node(1).client_address()};
  options.tls_ca_file = dir_.Sub("missing.pem");
  const Result<std::unique_ptr<Client>> client = Client::Create(options);
  ASSERT_CODE(client, Code::kInvalidArgument);
  EXPECT_THAT(client.status().message(), HasSubstr("missing.pem"));
}

TEST_F(TlsTest, TheCliUsesTlsWithACaFileAndExplainsAPlainAttempt) {
  const std::string endpoint = cluster_->node(1).client_address();
  CommandResult put = RunCommand({"/usr/bin/env", "DIALKV_TLS_CA=" + tls_.ca_file, DIALKV_CLI_PATH,
                                  "--endpoints", endpoint, "put", "cli", "v"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  CommandResult get = RunCommand(
      {DIALKV_CLI_PATH, "--endpoints", endpoint, "--tls-ca", tls_.ca_file, "get", "cli"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "v");
  CommandResult plain = RunCommand({DIALKV_CLI_PATH, "--endpoints", endpoint, "put", "cli", "p"});
  EXPECT_EQ(plain.exit_code, 3) << plain.err;  // UNAVAILABLE: definitely not applied.
  EXPECT_THAT(plain.err, HasSubstr("speaks TLS only"));
  CommandResult wrong = RunCommand(
      {DIALKV_CLI_PATH, "--endpoints", endpoint, "--tls-ca", other_.ca_file, "put", "cli", "w"});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.err;  // UNAVAILABLE: definitely not applied.
  EXPECT_THAT(wrong.err, HasSubstr("certificate verify failed"));
  EXPECT_EQ(cluster_->ClientFor(1)->Get("cli")->value, "v");
}

TEST_F(TlsTest, ANodeWithUnusableTlsFilesRefusesToStartAndSaysWhich) {
  const std::vector<std::string> base = {testutil::ServerBinary(),
                                         "--node-id=1",
                                         "--data-dir=" + dir_.Sub("d"),
                                         "--listen=127.0.0.1:0",
                                         "--peer-listen=127.0.0.1:0",
                                         "--http-listen=127.0.0.1:0",
                                         "--resp-listen=off"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    CommandResult result = RunCommand(argv, "", milliseconds(20000));
    EXPECT_NE(result.exit_code, 0);
    return result.err + result.out;
  };
  EXPECT_THAT(run({"--tls-cert=" + dir_.Sub("none.pem"), "--tls-key=" + tls_.key_file}),
              HasSubstr("--tls-cert/--tls-key: cannot load certificate"));
  EXPECT_THAT(run({"--tls-cert=" + tls_.cert_file}), HasSubstr("needs both"));
  EXPECT_THAT(run({"--tls-cert=" + tls_.cert_file, "--tls-key=" + other_.key_file}),
              HasSubstr("key values mismatch"));
  EXPECT_THAT(run({"--peer-tls-ca=" + tls_.ca_file}), HasSubstr("needs all three"));
  EXPECT_THAT(run({"--peer-tls-ca=" + tls_.cert_file + ".missing",
                   "--peer-tls-cert=" + tls_.cert_file, "--peer-tls-key=" + tls_.key_file}),
              HasSubstr("cannot load CA certificates"));
}

// What came of sending one replica write to a peer port over TLS: the reply, or the stage at
// which the connection failed.
struct PeerAttempt {
  std::optional<v1::Envelope> reply;
  std::string failed;  // "handshake: ...", "write: ...", "read: ..." when there is no reply.
};

// Sends a replica write of `key`, stamped now and claiming to come from node 2, to a peer
// port over TLS made with `context`: what an outsider holding `context`'s certificate can do.
PeerAttempt WriteOverTls(uint16_t peer_port, asio::ssl::context& context, const std::string& key) {
  PeerAttempt attempt;
  asio::io_context io;
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, context);
  stream.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), peer_port});
  std::error_code ec;
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) {
    attempt.failed = "handshake: " + ec.message();
    return attempt;
  }
  const auto now_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  v1::Envelope request;
  request.set_id(1);
  request.mutable_peer()->set_cluster_name("test");
  request.mutable_peer()->set_node_id(2);
  request.mutable_peer()->set_hlc(now_ms << 16);
  v1::ReplicaWriteRequest* write = request.mutable_replica_write_request();
  write->set_key(key);
  write->mutable_version()->set_value("from-outside");
  net::ToProto(Timestamp{now_ms << 16, 2}, write->mutable_version()->mutable_timestamp());
  std::string frame;
  net::AppendFrame(request, &frame);
  asio::write(stream, asio::buffer(frame), ec);
  if (ec) {
    attempt.failed = "write: " + ec.message();
    return attempt;
  }
  unsigned char header[net::kFrameHeaderBytes];
  asio::read(stream, asio::buffer(header), ec);
  std::string body(ec ? 0 : net::DecodeFrameLength(header), '\0');
  if (!ec) asio::read(stream, asio::buffer(body), ec);
  if (ec) {
    attempt.failed = "read: " + ec.message();
    return attempt;
  }
  attempt.reply.emplace();
  attempt.reply->ParseFromString(body);
  return attempt;
}

TEST_F(TlsTest, ThePeerPortServesOnlyPeersWithACertificateOfTheClustersCa) {
  const uint16_t peer_port = cluster_->peer_port(1);
  // The control: the cluster's own certificate gets a replica write applied, so the refusals
  // below are the certificates' doing and not a malformed request's.
  asio::ssl::context member(asio::ssl::context::tls_client);
  member.use_certificate_chain_file(tls_.cert_file);
  member.use_private_key_file(tls_.key_file, asio::ssl::context::pem);
  const PeerAttempt control = WriteOverTls(peer_port, member, "control");
  ASSERT_TRUE(control.reply.has_value()) << control.failed;
  EXPECT_EQ(control.reply->replica_write_reply().status().code(), v1::STATUS_OK)
      << control.reply->ShortDebugString();
  Result<LocalVersion> stored = cluster_->ClientFor(1, Consistency::kAp)->ReadLocal("control");
  ASSERT_OK(stored);
  EXPECT_EQ(stored->value, "from-outside");

  // TLS that shows no certificate of its own.
  asio::ssl::context anonymous(asio::ssl::context::tls_client);
  const PeerAttempt without = WriteOverTls(peer_port, anonymous, "forged");
  EXPECT_FALSE(without.reply.has_value()) << without.reply->ShortDebugString();
  // A certificate of another CA.
  asio::ssl::context stranger(asio::ssl::context::tls_client);
  stranger.use_certificate_chain_file(other_.cert_file);
  stranger.use_private_key_file(other_.key_file, asio::ssl::context::pem);
  const PeerAttempt foreign = WriteOverTls(peer_port, stranger, "forged");
  EXPECT_FALSE(foreign.reply.has_value()) << foreign.reply->ShortDebugString();
  // Plain frames, among them one whose first byte is a TLS record's (a 22-byte body):
  // answered in plain frames, before any handler sees them.
  v1::Envelope request;
  request.set_id(1);
  request.mutable_replica_write_request()->set_key("forged");
  std::string frame;
  net::AppendFrame(request, &frame);
  EXPECT_THAT(testutil::ExchangeOneFrame(peer_port, frame).error_reply().status().message(),
              HasSubstr("speaks TLS only"));
  const std::string odd = std::string("\x16\0\0\0", 4) + std::string(22, 'x');
  const v1::Envelope odd_reply = testutil::ExchangeOneFrame(peer_port, odd);
  EXPECT_THAT(odd_reply.error_reply().status().message(), HasSubstr("speaks TLS only"));
  EXPECT_TRUE(odd_reply.error_reply().nothing_read());

  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_CODE(cluster_->ClientFor(id, Consistency::kAp)->ReadLocal("forged"), Code::kNotFound);
  }
  EXPECT_TRUE(Eventually(
      [&] { return cluster_->node(1).ReadLog().find("TLS handshake failed") != std::string::npos; },
      milliseconds(5000)))
      << cluster_->node(1).ReadLog();
}

TEST(TlsAddressTest, AClientRefusesACertificateThatDoesNotNameTheAddressItDialled) {
  testutil::TempDir dir;
  Result<pki::TlsFiles> named = pki::WriteClusterTlsFiles(dir.Sub("tls"), {"localhost"});
  ASSERT_OK(named);
  testutil::ServerProcess::Options options;
  options.data_dir = dir.Sub("data");
  options.log_path = dir.Sub("server.log");
  options.extra_args = {"--tls-cert=" + named->cert_file, "--tls-key=" + named->key_file};
  Result<std::unique_ptr<testutil::ServerProcess>> node =
      testutil::ServerProcess::Start(std::move(options));
  ASSERT_OK(node);
  ClientOptions client_options;
  client_options.endpoints = {(*node)->client_address()};  // 127.0.0.1, which it does not name.
  client_options.timeout_ms = 2000;
  client_options.tls_ca_file = named->ca_file;
  Result<std::unique_ptr<Client>> client = Client::Create(client_options);
  ASSERT_OK(client);
  const Result<WriteResult> put = (*client)->Put("k", "v");
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_THAT(put.status().message(), HasSubstr("IP address mismatch"));
  // Dialled by the name it holds, the same node is reached.
  client_options.endpoints = {"localhost:" + std::to_string((*node)->client_port())};
  Result<std::unique_ptr<Client>> by_name = Client::Create(client_options);
  ASSERT_OK(by_name);
  EXPECT_OK((*by_name)->Put("k", "v"));
}

}  // namespace
}  // namespace dialkv
