#include "server/api/client_auth.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "server/api/node.h"
#include "server/common/logging.h"
#include "server/net/frame.h"

namespace dialkv::api {
namespace {

constexpr const char* kReasonNames[] = {"missing", "invalid", "expired", "denied"};

// What a request needs of a token: a scope, and the key it names (empty: none).
struct Need {
  auth::Scopes scope = 0;
  std::string_view key;
  const char* operation = "";
};

// nullopt: not a request of the client port (the node's handler answers it as it does without
// tokens, once the connection has one).
std::optional<Need> NeedOf(const v1::Envelope& request) {
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest:
      return Need{auth::kScopeRead, request.get_request().key(), "get"};
    case v1::Envelope::kPutRequest:
      return Need{auth::kScopeWrite, request.put_request().key(), "put"};
    case v1::Envelope::kDeleteRequest:
      return Need{auth::kScopeWrite, request.delete_request().key(), "del"};
    case v1::Envelope::kClusterStatusRequest:
      return Need{auth::kScopeRead, {}, "status"};
    case v1::Envelope::kRepairRequest:
      return Need{auth::kScopeAdmin, {}, "repair"};
    case v1::Envelope::kSetFaultsRequest:
    case v1::Envelope::kClearFaultsRequest:
    case v1::Envelope::kGetFaultsRequest:
    case v1::Envelope::kSetClockOffsetRequest:
      return Need{auth::kScopeAdmin, {}, "fault injection"};
    case v1::Envelope::kReadLocalRequest:
      return Need{auth::kScopeAdmin, request.read_local_request().key(), "ReadLocal"};
    default:
      return std::nullopt;
  }
}

int64_t SystemNowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One connection's view: the token it presented, if any. Lives on the connection's io thread.
struct ClientAuth::Session {
  std::string client;  // "host:port", for log lines.
  std::optional<auth::TokenClaims> claims;
};

ClientAuth::ClientAuth(std::unique_ptr<auth::TokenVerifier> verifier, net::RequestHandler inner,
                       metrics::Registry& metrics, NowFn now)
    : verifier_(std::move(verifier)),
      inner_(std::move(inner)),
      now_(now ? std::move(now) : NowFn(SystemNowSeconds)) {
  auto& failures = metrics.AddCounter(
      "dialkv_client_auth_failures_total",
      "Client requests refused by token checks, by reason (missing: no token yet; invalid: a "
      "token refused; expired: on an open connection; denied: scope or key prefix).",
      {"reason"});
  for (int r = 0; r < kNumReasons; ++r) failures_[r] = &failures.WithLabels({kReasonNames[r]});
}

net::ConnectionHandshake ClientAuth::Handshake() {
  return [this](net::Stream& stream, net::FrameReader&) { return Open(stream); };
}

asio::awaitable<Result<net::RequestHandler>> ClientAuth::Open(net::Stream& stream) {
  asio::error_code ec;
  const asio::ip::tcp::endpoint from = stream.socket().remote_endpoint(ec);
  co_return ForConnection(ec ? std::string("?") : FormatHostPort(from));
}

net::RequestHandler ClientAuth::ForConnection(std::string client) {
  if (verifier_ == nullptr) {
    // Nothing to check: the node's handler serves the connection, and only an AuthRequest
    // (from a client configured with a token) is answered here.
    return net::RequestHandler([this](v1::Envelope request) {
      if (request.has_auth_request()) return Ready(net::ReplyWithStatus(request, Status::Ok()));
      return inner_(std::move(request));
    });
  }
  auto session = std::make_shared<Session>();
  session->client = std::move(client);
  // Not a coroutine: the token is checked, or changed, when the connection hands over the
  // request, in the order requests were read (see the header).
  return net::RequestHandler([this, session](v1::Envelope request) {
    if (request.has_auth_request()) return Ready(Authenticate(*session, request));
    if (std::optional<v1::Envelope> refused = Check(*session, request)) {
      return Ready(std::move(*refused));
    }
    return inner_(std::move(request));
  });
}

asio::awaitable<v1::Envelope> ClientAuth::Ready(v1::Envelope reply) { co_return reply; }

v1::Envelope ClientAuth::Authenticate(Session& session, const v1::Envelope& request) {
  v1::Envelope reply = net::ReplyWithStatus(request, Status::Ok());
  v1::AuthReply* out = reply.mutable_auth_reply();
  out->set_required(true);
  session.claims.reset();
  Result<auth::TokenClaims> claims = verifier_->Verify(request.auth_request().token(), now_());
  if (!claims.ok()) return Refuse(kInvalid, session, request, claims.status());
  out->set_subject(claims->subject);
  out->set_scopes(auth::FormatScopes(claims->scopes, ' '));
  out->set_prefix(claims->prefix.value_or(""));
  out->set_expires_at_s(claims->expires_at_s);
  DIALKV_LOG_DEBUG(Log(Subsystem::kApi), "client={} authenticated as '{}' ({})", session.client,
                   claims->subject, out->scopes());
  session.claims = std::move(claims).value();
  return reply;
}

std::optional<v1::Envelope> ClientAuth::Check(Session& session, const v1::Envelope& request) {
  if (!session.claims.has_value()) {
    return Refuse(kMissing, session, request,
                  Status::Unauthenticated("this node requires a token: send one first "
                                          "(dialkv --token or DIALKV_TOKEN; "
                                          "ClientOptions::token)"));
  }
  if (Status valid = auth::CheckTime(*session.claims, now_(), verifier_->leeway_s()); !valid.ok()) {
    session.claims.reset();
    return Refuse(kExpired, session, request, valid);
  }
  const std::optional<Need> need = NeedOf(request);
  if (!need.has_value()) return std::nullopt;
  if (Status allowed = auth::Permit(*session.claims, need->scope, need->operation, need->key);
      !allowed.ok()) {
    return Refuse(kDenied, session, request, allowed);
  }
  return std::nullopt;
}

v1::Envelope ClientAuth::Refuse(Reason reason, const Session& session, const v1::Envelope& request,
                                const Status& status) {
  failures_[reason]->Inc();
  uint64_t suppressed = 0;
  if (log_limiter_.Allow(&suppressed)) {
    Log(Subsystem::kApi)
        .warn("refused a request from client {}{}: {}{}", session.client,
              session.claims ? " ('" + session.claims->subject + "')" : std::string(),
              status.message(), LogLimiter::SuppressedNote(suppressed));
  }
  v1::Envelope reply = net::ReplyWithStatus(request, status);
  if (reply.has_auth_reply()) reply.mutable_auth_reply()->set_required(true);
  return reply;
}

}  // namespace dialkv::api
