#include "server/net/peer_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "server/net/frame_server.h"
#include "server/net/io_pool.h"
#include "tests/testutil/status_matchers.h"
#include "tests/unit/net/test_client.h"

namespace dialkv::net {
namespace {

using nettest::Loopback;
using nettest::TestClient;
using ::testing::HasSubstr;

constexpr NodeId kAcceptor = 1;
constexpr NodeId kDialer = 2;
const std::string kSecret(40, 's');

PeerAuthenticator::Options AuthOptions(NodeId self, std::string secret = kSecret) {
  PeerAuthenticator::Options o;
  o.cluster_name = "test";
  o.self = self;
  o.secret = std::move(secret);
  o.is_member = [](NodeId id) { return id == 1 || id == 2 || id == 3; };
  o.timeout_ms = 2000;
  return o;
}

asio::awaitable<v1::Envelope> Echo(std::atomic<int>* served, v1::Envelope request) {
  served->fetch_add(1);
  co_return request;
}

// A ReplicaReadRequest from `from`, as a peer sends it.
v1::Envelope PeerRequest(uint64_t id, NodeId from) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_peer()->set_cluster_name("test");
  e.mutable_peer()->set_node_id(from);
  e.mutable_replica_read_request()->set_key("k");
  return e;
}

class PeerAuthTest : public ::testing::Test {
 protected:
  PeerAuthTest() : acceptor_(AuthOptions(kAcceptor)), dialer_(AuthOptions(kDialer)) {
    pool_.Start();
    FrameServer::Options options;
    const PeerAuthenticator* auth = &acceptor_;
    std::atomic<int>* served = &served_;
    options.handshake = [auth, served](Stream& socket, FrameReader& reader) {
      return Handshake(auth, served, socket, reader);
    };
    auto server = FrameServer::Listen(pool_, Loopback(), options, [served](v1::Envelope e) {
      return Echo(served, std::move(e));
    });
    EXPECT_OK(server);
    server_ = std::move(server).value();
    server_->Start();
  }
  ~PeerAuthTest() override {
    server_->Stop();
    pool_.Stop();
    pool_.Join();
  }

  static asio::awaitable<Result<RequestHandler>> Handshake(const PeerAuthenticator* auth,
                                                           std::atomic<int>* served, Stream& socket,
                                                           FrameReader& reader) {
    Result<NodeId> peer = co_await auth->Accept(socket, reader);
    if (!peer.ok()) co_return peer.status();
    co_return OnlyFrom(*peer, [served](v1::Envelope e) { return Echo(served, std::move(e)); });
  }

  void Connect(TestClient& client) {
    ASSERT_OK(client.Connect(Loopback(server_->local_endpoint().port())));
  }

  // Sends a hello from `from` to `to` with `nonce` and returns the answer.
  v1::Envelope Hello(TestClient& client, NodeId from, NodeId to, const std::string& nonce,
                     const std::string& cluster = "test") {
    v1::Envelope hello;
    hello.mutable_peer_auth_hello()->set_cluster(cluster);
    hello.mutable_peer_auth_hello()->set_from_node(from);
    hello.mutable_peer_auth_hello()->set_to_node(to);
    hello.mutable_peer_auth_hello()->set_nonce(nonce);
    EXPECT_OK(client.Send({hello}));
    v1::Envelope answer;
    EXPECT_OK(client.Read(&answer));
    return answer;
  }

  v1::Envelope SendProof(TestClient& client, const std::string& proof) {
    v1::Envelope message;
    message.mutable_peer_auth_proof()->set_proof(proof);
    EXPECT_OK(client.Send({message}));
    v1::Envelope answer;
    EXPECT_OK(client.Read(&answer));
    return answer;
  }

  // Expects an ErrorReply with `code`, then the close.
  static void ExpectRefusedAndClosed(TestClient& client, const v1::Envelope& answer, Code code,
                                     const std::string& text) {
    ASSERT_TRUE(answer.has_error_reply()) << answer.DebugString();
    const Status refused = FromProto(answer.error_reply().status());
    EXPECT_EQ(refused.code(), code) << refused.ToString();
    EXPECT_THAT(refused.message(), HasSubstr(text));
    std::string rest;
    EXPECT_OK(client.ReadToEnd(&rest));
    EXPECT_TRUE(rest.empty());
  }

  // Runs the dialing side of the handshake with `auth` against the server.
  Status DialWith(const PeerAuthenticator& auth) {
    asio::io_context io;
    Stream socket(io.get_executor());
    FrameReader reader(1 << 20);
    socket.socket().connect(Loopback(server_->local_endpoint().port()));
    Status result = Status::Internal("did not finish");
    asio::co_spawn(io, auth.Dial(socket, reader, kAcceptor),
                   [&result](const std::exception_ptr& e, Status s) {
                     result = e ? Status::Internal("threw") : std::move(s);
                   });
    io.run_for(std::chrono::seconds(10));
    return result;
  }

  const std::string nonce_ = std::string(PeerAuthenticator::kNonceBytes, 'n');
  IoContextPool pool_{1};
  PeerAuthenticator acceptor_;
  PeerAuthenticator dialer_;
  std::atomic<int> served_{0};
  std::unique_ptr<FrameServer> server_;
};

TEST_F(PeerAuthTest, ProvenPeerIsServedAndItsConnectionCannotSpeakForAnotherNode) {
  TestClient client;
  Connect(client);
  const v1::Envelope challenge = Hello(client, kDialer, kAcceptor, nonce_);
  ASSERT_TRUE(challenge.has_peer_auth_challenge()) << challenge.DebugString();
  const auto& c = challenge.peer_auth_challenge();
  EXPECT_EQ(c.from_node(), kAcceptor);
  // The acceptor proved it holds the secret.
  EXPECT_EQ(c.proof(), dialer_.Proof("acceptor", kDialer, kAcceptor, nonce_, c.nonce()));
  const v1::Envelope ok =
      SendProof(client, dialer_.Proof("dialer", kDialer, kAcceptor, nonce_, c.nonce()));
  ASSERT_TRUE(ok.has_peer_auth_ok()) << ok.DebugString();

  ASSERT_OK(client.Send({PeerRequest(7, kDialer)}));
  v1::Envelope echoed;
  ASSERT_OK(client.Read(&echoed));
  EXPECT_EQ(echoed.id(), 7u);
  EXPECT_TRUE(echoed.has_replica_read_request());
  EXPECT_EQ(served_.load(), 1);

  // Authenticated as node 2, a message claiming node 3 is refused and not served.
  ASSERT_OK(client.Send({PeerRequest(8, 3)}));
  v1::Envelope refused;
  ASSERT_OK(client.Read(&refused));
  ASSERT_TRUE(refused.has_error_reply());
  EXPECT_EQ(FromProto(refused.error_reply().status()).code(), Code::kPermissionDenied);
  EXPECT_EQ(served_.load(), 1);
}

TEST_F(PeerAuthTest, ProofWithoutTheSecretIsRefusedAndNothingIsServed) {
  PeerAuthenticator outsider(AuthOptions(kDialer, std::string(40, 'x')));
  TestClient client;
  Connect(client);
  const v1::Envelope challenge = Hello(client, kDialer, kAcceptor, nonce_);
  ASSERT_TRUE(challenge.has_peer_auth_challenge());
  const v1::Envelope answer =
      SendProof(client, outsider.Proof("dialer", kDialer, kAcceptor, nonce_,
                                       challenge.peer_auth_challenge().nonce()));
  ExpectRefusedAndClosed(client, answer, Code::kUnauthenticated, "--cluster-secret-file");
  EXPECT_EQ(served_.load(), 0);
}

TEST_F(PeerAuthTest, ARequestBeforeTheHandshakeIsRefusedUnserved) {
  TestClient client;
  Connect(client);
  ASSERT_OK(client.Send({PeerRequest(1, kDialer)}));
  v1::Envelope answer;
  ASSERT_OK(client.Read(&answer));
  ExpectRefusedAndClosed(client, answer, Code::kUnauthenticated, "requires authentication");
  EXPECT_EQ(served_.load(), 0);
}

TEST_F(PeerAuthTest, AReplayedTranscriptIsRefused) {
  std::string recorded;
  {
    TestClient client;
    Connect(client);
    const v1::Envelope challenge = Hello(client, kDialer, kAcceptor, nonce_);
    recorded = dialer_.Proof("dialer", kDialer, kAcceptor, nonce_,
                             challenge.peer_auth_challenge().nonce());
    ASSERT_TRUE(SendProof(client, recorded).has_peer_auth_ok());
  }
  TestClient replay;
  Connect(replay);
  const v1::Envelope challenge = Hello(replay, kDialer, kAcceptor, nonce_);
  ASSERT_TRUE(challenge.has_peer_auth_challenge());
  ExpectRefusedAndClosed(replay, SendProof(replay, recorded), Code::kUnauthenticated,
                         "could not prove");
  EXPECT_EQ(served_.load(), 0);
}

TEST_F(PeerAuthTest, StrangersImpostorsAndOtherClustersAreRefusedBeforeAnyProof) {
  struct Case {
    NodeId from;
    NodeId to;
    std::string cluster;
    std::string text;
  };
  for (const Case& c :
       {Case{7, kAcceptor, "test", "not another node in --peers"},
        Case{kAcceptor, kAcceptor, "test", "not another node in --peers"},
        Case{kDialer, 3, "test", "not node 3"}, Case{kDialer, kAcceptor, "other", "not 'other'"}}) {
    TestClient client;
    Connect(client);
    ExpectRefusedAndClosed(client, Hello(client, c.from, c.to, nonce_, c.cluster),
                           Code::kPermissionDenied, c.text);
  }
  EXPECT_EQ(served_.load(), 0);
}

TEST_F(PeerAuthTest, AConnectionThatNeverAuthenticatesIsClosed) {
  TestClient client;
  Connect(client);
  std::string rest;
  ASSERT_OK(client.ReadToEnd(&rest));  // Closed once the 2 s handshake deadline passed.
}

TEST_F(PeerAuthTest, DialerAuthenticatesWithTheSameSecretAndRefusesAnAcceptorWithout) {
  ASSERT_OK(DialWith(dialer_));
  const Status wrong = DialWith(PeerAuthenticator(AuthOptions(kDialer, std::string(40, 'x'))));
  ASSERT_CODE(wrong, Code::kUnauthenticated);
  EXPECT_THAT(wrong.message(), HasSubstr("same --cluster-secret-file"));
  EXPECT_EQ(served_.load(), 0);
}

}  // namespace
}  // namespace dialkv::net
