#pragma once
// dialkv client library: reads and writes keys of a dialkv cluster over its client port.
//
//   auto client = dialkv::Client::Create({.endpoints = {"10.0.0.1:7379", "10.0.0.2:7379"}});
//   if (!client.ok()) return client.status();
//   dialkv::Result<dialkv::WriteResult> put = (*client)->Put("user:42", "Ada");
//   dialkv::Result<dialkv::GetResult> got = (*client)->Get("user:42");
//   if (got.ok()) Use(got->value); else if (got.code() == dialkv::Code::kNotFound) Missing();
//
// Every call returns a Result whose code says what is known about the request:
//   kUnavailable  it was definitely not applied (no endpoint reachable, its deadline passed
//                 before it could be sent, or the cluster said so); safe to retry.
//   kUnknown      a write that may have been applied: the connection was lost after it was
//                 sent, or no answer came before its deadline. Retrying may apply it twice;
//                 read the key to find out.
//   kTimeout      a read that did not finish before its deadline.
//   anything else the status the cluster returned (kNotFound, kInvalidArgument, ...), with
//                 its message.

#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"

namespace dialkv {

// Client-wide settings. Per-request settings in RequestOptions override the defaults here.
struct ClientOptions {
  // "host:port" of every node the client may send requests to, e.g. "10.0.0.1:7379" or
  // "[::1]:7379". Requests go to one endpoint at a time, the last one that answered first,
  // and fail over to the next in this order. Host names are resolved at each connect.
  std::vector<std::string> endpoints;

  // Default deadline of a request, from the call until its result. Sent to the node, which
  // answers within it; the client gives up reply_grace_ms later. REQUIRES: > 0.
  uint32_t timeout_ms = 5000;

  // How long one connection attempt to one endpoint may take before the client moves on to
  // the next endpoint. Lower fails over faster from an unreachable host; too low gives up
  // on a slow but healthy network. REQUIRES: > 0.
  uint32_t connect_timeout_ms = 1000;

  // How long past a request's deadline the client still waits for the node's own answer,
  // which says whether a write was applied, before reporting kUnknown or kTimeout itself.
  uint32_t reply_grace_ms = 100;

  // Largest frame sent or accepted. A request larger than this fails with kInvalidArgument
  // and is not sent; a larger reply closes the connection. Match the nodes' --max-frame-bytes.
  uint32_t max_frame_bytes = 16u << 20;

  // Requests in flight at once across the whole client. Past it, calls fail at once with
  // kOverloaded and nothing is sent.
  uint32_t max_inflight_requests = 65536;

  // A later change adds the default consistency mode (CP or AP) here; RequestOptions will
  // carry an optional per-request override, like timeout_ms.
};

// Per-request settings. An unset field takes the client-wide default from ClientOptions.
struct RequestOptions {
  // Deadline of this request. REQUIRES: > 0 when set.
  std::optional<uint32_t> timeout_ms;
};

// A value read, and the timestamp of the version it came from.
struct GetResult {
  std::string value;
  Timestamp timestamp;
};

// The timestamp a put or delete (a tombstone) was written with.
struct WriteResult {
  Timestamp timestamp;
};

// A connection to a dialkv cluster: one TCP connection per endpoint, opened on first use,
// each carrying many requests at once. The client owns one I/O thread.
//
// Failover: a request tries the endpoints in order, starting from the last one that answered.
// An endpoint that cannot be connected to (nothing was sent) is skipped. A read whose
// connection fails after it was sent is retried on the next endpoint; a write is not (it
// may have been applied) and returns kUnknown. Statuses the cluster returns are not retried.
//
// Errors of every call: kInvalidArgument (bad option, or a request over max_frame_bytes),
// kUnavailable (no endpoint reachable: the message names each with its reason; or the client
// is being destroyed), kUnknown (writes, see above), kTimeout (reads), kOverloaded (over
// max_inflight_requests), and any status the cluster returns, with its message.
//
// Thread-safe: every method may be called from any number of threads at once. The sync
// calls block the calling thread until the result is known (at most the deadline plus
// reply_grace_ms); do not call them from an io thread whose progress the caller needs.
//
// Destruction closes every connection, completes every pending call (writes that were sent
// with kUnknown, everything else with kUnavailable), and joins the I/O thread. REQUIRES: no
// call is started once destruction begins, and every coroutine returned by AsyncGet /
// AsyncPut / AsyncDelete has been co_awaited (started) by then. A started Async call may
// still be pending: it completes with the error above on its caller's executor, which must
// outlive it.
class Client {
 public:
  // Validates the options and starts the I/O thread; connects on first use, not here.
  // Errors: kInvalidArgument naming the bad endpoint or option; kInternal when the thread
  // cannot be started.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The value of `key` and its version's timestamp. kNotFound when the key was never
  // written or was deleted.
  Result<GetResult> Get(std::string_view key, const RequestOptions& options = {});

  // Writes `value` under `key`; returns the timestamp it was written with.
  Result<WriteResult> Put(std::string_view key, std::string_view value,
                          const RequestOptions& options = {});

  // Deletes `key` (writes a tombstone); returns the tombstone's timestamp.
  Result<WriteResult> Delete(std::string_view key, const RequestOptions& options = {});

  // Coroutine forms of the calls above, with the same results. They may be co_awaited from a
  // coroutine on any executor; the request runs on the client's I/O thread and the caller
  // resumes on its own executor. Cancelling the awaiting coroutine does not cancel the
  // request: it completes by its deadline.
  asio::awaitable<Result<GetResult>> AsyncGet(std::string key, RequestOptions options = {});
  asio::awaitable<Result<WriteResult>> AsyncPut(std::string key, std::string value,
                                                RequestOptions options = {});
  asio::awaitable<Result<WriteResult>> AsyncDelete(std::string key, RequestOptions options = {});

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dialkv
