#include "server/api/client_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <string>
#include <vector>

#include "server/api/node.h"
#include "server/common/metrics.h"
#include "server/net/frame.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::api {
namespace {

using ::testing::HasSubstr;

const std::string kSecret(40, 'z');
constexpr int64_t kStart = 1'800'000'000;

v1::Envelope Put(uint64_t id, std::string key) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_put_request()->set_key(std::move(key));
  e.mutable_put_request()->set_value("v");
  return e;
}

v1::Envelope Auth(uint64_t id, std::string token) {
  v1::Envelope e;
  e.set_id(id);
  e.mutable_auth_request()->set_token(std::move(token));
  return e;
}

std::string Token(auth::Scopes scopes, int64_t expires_at_s) {
  auth::TokenClaims claims;
  claims.subject = "unit";
  claims.scopes = scopes;
  claims.issued_at_s = kStart - 10;
  claims.expires_at_s = expires_at_s;
  return auth::CreateToken(kSecret, claims).value();
}

// A connection's handler from ClientAuth, driven request by request on one io_context, with
// the requests that reached the node's handler counted and a clock the test moves.
class ClientAuthTest : public ::testing::Test {
 protected:
  explicit ClientAuthTest(bool tokens = true)
      : auth_(
            tokens ? std::make_unique<auth::TokenVerifier>(kSecret, 0) : nullptr,
            [this](v1::Envelope request) { return Served(std::move(request)); }, metrics_,
            [this] { return now_.load(); }) {
    net::Stream socket(io_.get_executor());
    net::FrameReader reader(1 << 20);
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          handler_ = (co_await auth_.Handshake()(socket, reader)).value();
        },
        asio::detached);
    io_.run();
    io_.restart();
  }

  asio::awaitable<v1::Envelope> Served(v1::Envelope request) {
    served_.push_back(request.id());
    v1::Envelope reply;
    reply.mutable_put_reply()->mutable_status()->set_code(v1::STATUS_OK);
    co_return reply;
  }

  asio::awaitable<void> Deliver(v1::Envelope request, v1::Envelope* reply) {
    *reply = co_await handler_(std::move(request));
  }

  // Hands every request over in order, as a connection does, then runs them all.
  std::vector<v1::Envelope> Send(std::vector<v1::Envelope> requests) {
    std::vector<v1::Envelope> replies(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      asio::co_spawn(io_, Deliver(std::move(requests[i]), &replies[i]), asio::detached);
    }
    io_.run();
    io_.restart();
    return replies;
  }

  static Code CodeOf(const v1::Envelope& reply) {
    if (reply.has_put_reply()) return net::FromProto(reply.put_reply().status().code());
    if (reply.has_auth_reply()) return net::FromProto(reply.auth_reply().status().code());
    return net::FromProto(reply.error_reply().status().code());
  }

  asio::io_context io_;
  metrics::Registry metrics_;
  std::atomic<int64_t> now_{kStart};
  std::vector<uint64_t> served_;
  ClientAuth auth_;
  net::RequestHandler handler_;
};

TEST_F(ClientAuthTest, RequestsAreJudgedByTheTokenPresentedBeforeThemInReadOrder) {
  const std::vector<v1::Envelope> replies =
      Send({Put(1, "k"), Auth(2, Token(auth::kScopeWrite, kStart + 60)), Put(3, "k"),
            Auth(4, Token(auth::kScopeRead, kStart + 60)), Put(5, "k"), Auth(6, "garbage"),
            Put(7, "k")});
  EXPECT_EQ(CodeOf(replies[0]), Code::kUnauthenticated);
  EXPECT_EQ(CodeOf(replies[1]), Code::kOk);
  EXPECT_EQ(replies[1].auth_reply().scopes(), "kv:write");
  EXPECT_TRUE(replies[1].auth_reply().required());
  EXPECT_EQ(CodeOf(replies[2]), Code::kOk);
  EXPECT_EQ(CodeOf(replies[4]), Code::kPermissionDenied);
  EXPECT_EQ(CodeOf(replies[5]), Code::kUnauthenticated);
  EXPECT_EQ(CodeOf(replies[6]), Code::kUnauthenticated) << "a refused token left the old one";
  EXPECT_EQ(served_, std::vector<uint64_t>({3}));
  for (const v1::Envelope& reply : replies) EXPECT_FALSE(reply.has_error_reply());
}

TEST_F(ClientAuthTest, AnOpenConnectionStopsAtItsTokensExpiry) {
  Send({Auth(1, Token(auth::kScopeWrite, kStart + 10))});
  EXPECT_EQ(CodeOf(Send({Put(2, "k")})[0]), Code::kOk);
  now_ = kStart + 11;
  const v1::Envelope refused = Send({Put(3, "k")})[0];
  EXPECT_EQ(CodeOf(refused), Code::kUnauthenticated);
  EXPECT_THAT(refused.put_reply().status().message(), HasSubstr("expired"));
  EXPECT_EQ(served_, std::vector<uint64_t>({2}));
  const std::string text = metrics_.Expose();
  EXPECT_THAT(text, HasSubstr("dialkv_client_auth_failures_total{reason=\"expired\"} 1"));
}

class OpenClientAuthTest : public ClientAuthTest {
 protected:
  OpenClientAuthTest() : ClientAuthTest(false) {}
};

TEST_F(OpenClientAuthTest, WithoutASecretEverythingPassesAndATokenIsAcceptedUnread) {
  const std::vector<v1::Envelope> replies = Send({Put(1, "k"), Auth(2, "anything"), Put(3, "k")});
  EXPECT_EQ(CodeOf(replies[0]), Code::kOk);
  EXPECT_EQ(CodeOf(replies[1]), Code::kOk);
  EXPECT_FALSE(replies[1].auth_reply().required());
  EXPECT_EQ(served_, std::vector<uint64_t>({1, 3}));
}

TEST(ProtectedModeTest, ANetworkAddressNeedsBothSecretsOrInsecure) {
  const auto at = [](const char* address) {
    return asio::ip::tcp::endpoint(asio::ip::make_address(address), 7379);
  };
  Node::Options o;
  EXPECT_OK(CheckProtectedMode(o, at("127.0.0.1"), at("127.0.0.1")));
  EXPECT_OK(CheckProtectedMode(o, at("::1"), at("127.0.0.2")));
  const Status open = CheckProtectedMode(o, at("0.0.0.0"), at("127.0.0.1"));
  ASSERT_CODE(open, Code::kInvalidArgument);
  EXPECT_THAT(open.message(), HasSubstr("--listen 0.0.0.0:7379"));
  EXPECT_THAT(open.message(), HasSubstr("--auth-token-secret-file and --cluster-secret-file"));
  o.auth_token_secret_file = "token.secret";
  const Status peer = CheckProtectedMode(o, at("127.0.0.1"), at("10.0.0.5"));
  ASSERT_CODE(peer, Code::kInvalidArgument);
  EXPECT_THAT(peer.message(), HasSubstr("--peer-listen 10.0.0.5:7379"));
  EXPECT_THAT(peer.message(), HasSubstr("give --cluster-secret-file"));
  o.cluster_secret_file = "cluster.secret";
  EXPECT_OK(CheckProtectedMode(o, at("0.0.0.0"), at("::")));
  Node::Options insecure;
  insecure.insecure = true;
  EXPECT_OK(CheckProtectedMode(insecure, at("0.0.0.0"), at("0.0.0.0")));
}

TEST(ProtectedModeTest, TlsBetweenPeersStandsInForTheClusterSecret) {
  const auto at = [](const char* address) {
    return asio::ip::tcp::endpoint(asio::ip::make_address(address), 7379);
  };
  Node::Options o;
  o.auth_token_secret_file = "token.secret";
  o.peer_tls_ca_file = "ca.pem";
  o.peer_tls_cert_file = "node.pem";
  o.peer_tls_key_file = "node.key";
  EXPECT_OK(CheckProtectedMode(o, at("10.0.0.5"), at("10.0.0.5")));
  // Client TLS alone protects no key: the token secret is still needed.
  Node::Options tls_only = o;
  tls_only.auth_token_secret_file.clear();
  tls_only.tls_cert_file = "node.pem";
  tls_only.tls_key_file = "node.key";
  const Status refused = CheckProtectedMode(tls_only, at("10.0.0.5"), at("127.0.0.1"));
  ASSERT_CODE(refused, Code::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("give --auth-token-secret-file ("));
}

}  // namespace
}  // namespace dialkv::api
