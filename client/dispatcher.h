#pragma once
// Runs one request against the endpoints: picks the endpoint, enforces the deadline, fails
// over, and decides what a failure means for the caller (DESIGN.md "Client library and CLI").
//
// Thread-compatible: lives on the client's I/O thread; Execute() and Shutdown() run there.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "dialkv/status.h"
#include "proto/dialkv.pb.h"
#include "server/net/endpoint.h"
#include "server/net/frame_connection.h"

namespace dialkv::client_internal {

using net::Call;
using net::Connection;
using net::Endpoint;
using net::SteadyClock;
using net::Waiter;

// What one request asks of the dispatcher beyond its envelope. The consistency mode joins
// here when it is added; it will also decide which failures are safe to retry.
struct RequestParams {
  uint32_t timeout_ms = 0;  // REQUIRES: > 0.
};

class Dispatcher {
 public:
  struct Options {
    uint32_t connect_timeout_ms = 1000;
    uint32_t reply_grace_ms = 100;
    uint32_t max_frame_bytes = 16u << 20;
    uint32_t max_inflight_requests = 65536;
  };

  // REQUIRES: !endpoints.empty().
  Dispatcher(asio::any_io_executor executor, std::vector<Endpoint> endpoints, Options options);
  ~Dispatcher();

  // Sends `request` (a get, put or delete request; its id and timeout_ms are set here) and
  // returns the node's reply envelope, whatever its status.
  // Failover: endpoints are tried in order from the last one that answered. One that cannot
  // be connected to is skipped. A read whose connection fails after it was sent is retried on
  // the next endpoint; a write is not.
  // Errors: kUnavailable (nothing reachable, each endpoint listed with its reason; or shut
  // down), kUnknown (a write sent whose connection failed or whose deadline passed),
  // kTimeout (a read whose deadline passed), kInvalidArgument (over max_frame_bytes),
  // kOverloaded (over max_inflight_requests).
  asio::awaitable<Result<v1::Envelope>> Execute(v1::Envelope request, RequestParams params);

  // Closes every connection: calls in flight fail, later calls fail with kUnavailable.
  void Shutdown();

 private:
  asio::any_io_executor executor_;
  const Options options_;
  std::vector<std::unique_ptr<Connection>> connections_;  // One per endpoint, in order.
  size_t preferred_ = 0;  // The endpoint that answered last: requests start there.
  uint64_t next_id_ = 1;  // 0 is the id of replies that belong to no request.
  uint32_t inflight_ = 0;
  bool shut_down_ = false;
};

}  // namespace dialkv::client_internal
