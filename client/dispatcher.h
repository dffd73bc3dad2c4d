#pragma once
// Runs one request against the endpoints: picks the endpoint, enforces the deadline, fails
// over, and decides what a failure means for the caller.
//
// Thread-compatible: lives on the client's I/O thread (or executor); Execute(), Shutdown() and
// idle() run there.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/net/endpoint.h"
#include "server/net/frame_connection.h"
#include "server/net/stream.h"

namespace dialkv::client_internal {

using net::Call;
using net::Connection;
using net::Endpoint;
using net::SteadyClock;
using net::Waiter;

// What one request asks of the dispatcher beyond its envelope.
struct RequestParams {
  uint32_t timeout_ms = 0;  // REQUIRES: > 0.
  // Written into a get, put or delete request (never CONSISTENCY_DEFAULT), and decides whether
  // a write whose connection was lost after sending may be resent. REQUIRES: kCp or kAp.
  Consistency consistency = Consistency::kCp;
};

class Dispatcher {
 public:
  struct Options {
    uint32_t connect_timeout_ms = 1000;
    uint32_t reply_grace_ms = 100;
    uint32_t max_frame_bytes = 16u << 20;
    uint32_t max_inflight_requests = 65536;
    std::string token;  // Presented first on each connection; empty: none.
    std::shared_ptr<net::TlsContext> tls = nullptr;  // Set: every connection runs TLS first.
  };

  // REQUIRES: !endpoints.empty().
  Dispatcher(asio::any_io_executor executor, std::vector<Endpoint> endpoints,
             const Options& options);
  ~Dispatcher();

  // Sends `request` (any request of the client port; its id, and for a get, put or delete its
  // timeout_ms and consistency, are set here) and returns the node's reply when it answers
  // with OK: an envelope whose body is that request's reply. Any other status the node gives
  // (in the reply, or in an ErrorReply) is returned as the error, except UNAVAILABLE, which is
  // retried.
  // Failover (the rules of dialkv/client.h): endpoints are tried in order from the last one
  // that answered, each at most once, until the deadline. The next one is tried after a
  // failure before sending; after the connection was lost once the request was sent, unless
  // it is a CP put or delete; and after an UNAVAILABLE reply. A fault-injection or ReadLocal
  // request is about one node: it goes to the first endpoint only and is never failed over.
  // Errors: the node's status; kUnavailable (nothing was applied: every endpoint tried, each
  // listed with what went wrong; or shut down), kUnknown (a write — a put, a delete or a
  // fault change — that was sent and whose connection failed or whose deadline passed, or
  // that was resent after such a failure and then failed), kTimeout (a read whose deadline
  // passed), kInvalidArgument (over max_frame_bytes), kOverloaded (over
  // max_inflight_requests), kInternal (a reply that does not answer the request).
  asio::awaitable<Result<v1::Envelope>> Execute(v1::Envelope request, RequestParams params);

  // Connections opened from now on present `token`; each open one presents it at once, and
  // this returns when every one has been answered (or `timeout_ms` passed). Errors: the first
  // refusal (kUnauthenticated, with the endpoint), kUnavailable (a connection lost meanwhile:
  // it presents the token when it reopens), kTimeout.
  asio::awaitable<Status> SetToken(std::string token, uint32_t timeout_ms);

  // Closes every connection: calls in flight fail, later calls fail with kUnavailable.
  void Shutdown();

  // After Shutdown(): no Execute() and no connection coroutine is left, so the dispatcher may
  // be destroyed while its executor goes on running.
  bool idle() const;

 private:
  // The handshake of every new connection: presents token_ (nothing when empty).
  asio::awaitable<Status> PresentToken(net::Stream& stream, net::FrameReader& reader);

  asio::any_io_executor executor_;
  const Options options_;
  std::string token_;  // The token connections present; SetToken replaces it.
  std::vector<std::unique_ptr<Connection>> connections_;  // One per endpoint, in order.
  size_t preferred_ = 0;  // The endpoint that last gave an answer: requests start there.
  uint64_t next_id_ = 1;  // 0 is the id of replies that belong to no request.
  uint32_t inflight_ = 0;
  bool shut_down_ = false;
};

}  // namespace dialkv::client_internal
