#pragma once
// Token checks on the client port (docs/security.md). Each client connection gets a handler of
// its own that remembers the token the connection presented (AuthRequest) and checks every
// request against it before the node's handler sees the request:
//
//   get, status                                  kv:read
//   put, del                                     kv:write
//   repair, fault injection, ReadLocal           admin (fault injection also needs the flag)
//
// plus, for a request that names a key, the token's key prefix. A request without a token, or
// whose token expired since (an open connection does not outlive its token), is answered
// UNAUTHENTICATED; one the token does not allow, PERMISSION_DENIED; both in the reply type of
// the request, and nothing is applied. A refused AuthRequest also forgets the connection's
// earlier token. The connection stays open either way, so a client may present a fresh token.
//
// Without a verifier (no --auth-token-secret-file) every request passes and an AuthRequest is
// answered OK with required = false, so clients configured with a token work with open nodes.
//
// The checks and the token change of an AuthRequest happen when the connection hands a request
// over, in the order the requests were read: a request read after an AuthRequest is judged by
// that request's token. Allowed requests go to the node's handler with no other cost.
//
// Metrics: dialkv_client_auth_failures_total{reason}, reason = missing (a request before any
// token), invalid (a token refused), expired (on an open connection), denied (scope or prefix).
// Refusals are logged with the client's address, at most one line per second.
//
// Thread-safe: connections may be served on any io thread; each connection's state lives on its
// own. Must outlive the client port's connections (destroy it after the io threads stop).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "server/auth/token.h"
#include "server/common/log_limiter.h"
#include "server/common/metrics.h"
#include "server/net/frame_server.h"
#include "server/net/stream.h"

namespace dialkv::api {

class ClientAuth {
 public:
  // Seconds since the Unix epoch (the real clock: fault injection's skew does not apply).
  using NowFn = std::function<int64_t()>;

  // `verifier`: null when tokens are not required. `inner`: the node's handler, for the requests
  // that pass. `now`: empty for the system clock.
  ClientAuth(std::unique_ptr<auth::TokenVerifier> verifier, net::RequestHandler inner,
             metrics::Registry& metrics, NowFn now = {});

  bool required() const { return verifier_ != nullptr; }

  // The client port's per-connection step (net::FrameServer::Options::handshake): reads
  // nothing, and returns a handler that checks each request and passes the allowed ones to
  // the inner handler.
  net::ConnectionHandshake Handshake();

  // The same per-connection handler, for a connection served by another protocol (the RESP
  // port): `client` ("host:port") names it in log lines. Call on the connection's io thread.
  net::RequestHandler ForConnection(std::string client);

 private:
  struct Session;
  enum Reason : uint8_t { kMissing, kInvalid, kExpired, kDenied, kNumReasons };

  asio::awaitable<Result<net::RequestHandler>> Open(net::Stream& stream);
  static asio::awaitable<v1::Envelope> Ready(v1::Envelope reply);
  // Checks one request of `session`; returns the refusal to send, or nullopt to serve it.
  std::optional<v1::Envelope> Check(Session& session, const v1::Envelope& request);
  v1::Envelope Authenticate(Session& session, const v1::Envelope& request);
  v1::Envelope Refuse(Reason reason, const Session& session, const v1::Envelope& request,
                      const Status& status);

  const std::unique_ptr<auth::TokenVerifier> verifier_;
  const net::RequestHandler inner_;
  const NowFn now_;
  metrics::Counter* failures_[kNumReasons] = {};
  LogLimiter log_limiter_{std::chrono::seconds(1)};
};

}  // namespace dialkv::api
