#pragma once
// The Redis-protocol port: accepts TCP connections and serves RESP commands on each
// (resp.h), one command at a time per connection, in the order they were sent, replies in the
// same order. What a command does is the session's business (api/resp_service.h); this file
// owns the sockets and the limits:
//
// - connections open at once: max_connections; one more is answered
//   "-OVERLOADED ..." and closed;
// - pipelining is bounded: the connection reads only when every command already read has been
//   served, and writes its replies once max_connection_reply_bytes of them are queued (or no
//   complete command is left), so a client that sends and never reads pins at most one read
//   chunk, one command and that many reply bytes;
// - a command must arrive whole within command_read_timeout_ms of its first byte, and a
//   connection with nothing to do is closed after idle_timeout_ms; a reply that cannot be
//   written for write_timeout_ms closes the connection;
// - a command over the parser's limits (resp::Limits) is a protocol error: answered
//   "-ERR Protocol error: ..." and the connection is closed, as Redis does;
// - every command counts against the node's RequestBudget like a native request: past it, the
//   command is answered "-OVERLOADED ..." without being run.
// Other connections are never affected by one connection's errors.
//
// Threading: each connection lives on one io_context of the pool; its session runs there too.
// The pool must outlive the server.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/common/metrics.h"
#include "server/common/status.h"
#include "server/net/io_pool.h"
#include "server/net/listen_address.h"
#include "server/net/request_budget.h"
#include "server/net/resp.h"

namespace dialkv::net {

// The commands of one RESP connection. Lives on the connection's executor and is used there
// only, one Execute at a time.
class RespSession {
 public:
  virtual ~RespSession() = default;
  // Runs one command (args[0] is its name) and appends its reply to `out`. Never throws.
  virtual asio::awaitable<void> Execute(std::vector<std::string> args, std::string* out) = 0;
  // True after QUIT: the connection closes once the replies are written.
  virtual bool closing() const = 0;
  // The protocol version replies are encoded in: 2, or 3 after HELLO 3.
  virtual int protocol() const = 0;
};

// Makes the session of a new connection from `client`.
using RespSessionFactory =
    std::function<std::unique_ptr<RespSession>(const asio::ip::tcp::endpoint& client)>;

class RespServer {
 public:
  struct Options {
    resp::Limits limits = {};
    uint32_t max_connections = 10'000;              // 0: no limit.
    uint32_t idle_timeout_ms = 600'000;             // 0: never.
    uint32_t command_read_timeout_ms = 30'000;      // 0: never.
    uint32_t write_timeout_ms = 30'000;             // 0: never.
    uint64_t max_connection_reply_bytes = 8 << 20;  // Replies queued before they are written.
    // The node's budget, shared with its other ports; null: none.
    std::shared_ptr<RequestBudget> budget = nullptr;
    // Counted when set (not owned; they must outlive the server).
    metrics::Counter* connections_refused = nullptr;
    metrics::Counter* command_timeouts = nullptr;
    metrics::Counter* protocol_errors = nullptr;
  };

  // Binds and listens on `address` (port 0: any free port; an inherited socket is adopted).
  // Errors: kUnavailable with the address and the OS reason; kInvalidArgument for an empty
  // factory.
  static Result<std::unique_ptr<RespServer>> Listen(IoContextPool& pool,  // Not owned.
                                                    const ListenAddress& address, Options options,
                                                    RespSessionFactory factory);

  ~RespServer();  // Stop()s; REQUIRES: the pool is still alive.

  asio::ip::tcp::endpoint local_endpoint() const;
  // Starts accepting. A second call, or a call after Stop(), does nothing. Thread-safe.
  void Start();
  // Stops accepting and closes every connection; a command running finishes but its reply is
  // dropped. Thread-safe, idempotent, does not wait.
  void Stop();
  // Connections open now. Thread-safe.
  uint64_t open_connections() const;

  struct Impl;

 private:
  explicit RespServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace dialkv::net
