#pragma once
// The client-port server: accepts TCP connections and serves framed Envelope requests on
// each, many in flight per connection, replies written as they finish (out of order when
// they finish out of order), each carrying its request's id.
//
// A frame that is over max_frame_bytes or does not parse gets an ErrorReply
// (INVALID_ARGUMENT, id 0 unless the id could be read), written after the replies already
// queued; then that connection is closed (replies of requests still in flight are dropped).
// Every other connection is unaffected. An envelope that parses but carries no request the
// handler knows is answered by the handler (it returns an ErrorReply), and the connection
// stays open. Past max_inflight_per_connection, or with max_connection_reply_bytes of replies
// not yet written, the connection stops reading until a reply is written (back-pressure;
// nothing is refused). Past the node's RequestBudget, requests and big replies are answered
// OVERLOADED (request_budget.h).
//
// When the client closes its side, the replies of requests already read are still written,
// then the connection is closed. Replies are coalesced: all replies that finish while a write
// is in progress go out in the next single write.
//
// Threading: each connection lives on one io_context of the pool (round-robin), and its
// reader, writer and request handlers run there, so they never race; the acceptor lives on
// one io_context of the pool too. The pool must outlive the server.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/common/metrics.h"
#include "server/common/status.h"
#include "server/net/frame.h"
#include "server/net/frame_reader.h"
#include "server/net/io_pool.h"
#include "server/net/listen_address.h"
#include "server/net/request_budget.h"
#include "server/net/stream.h"

namespace dialkv::net {

// Serves one request; returns the reply. The connection sets the reply's id. A reply with no
// body is not sent at all: the request stays unanswered (fault injection loses it). Runs on the
// connection's executor, many at once per connection; may co_await. Must not throw (if it
// does, the exception is logged and the connection closed). It may finish after the
// connection closed: its reply is then dropped. The server keeps a copy until its last
// connection is gone.
using RequestHandler = std::function<asio::awaitable<v1::Envelope>(v1::Envelope request)>;

// Runs on a new connection before any request is read (after TLS, when the port has it): it
// may read frames with `reader` and write to `stream` itself (the peer port's authentication), or
// read nothing and return a handler with state of the connection's own (the client port's token
// checks); it bounds its own time. It returns the handler for the connection's requests, or an
// error, and then the connection is closed without reading anything more.
using ConnectionHandshake =
    std::function<asio::awaitable<Result<RequestHandler>>(Stream& stream, FrameReader& reader)>;

class FrameServer {
 public:
  struct Options {
    uint32_t max_frame_bytes = kDefaultMaxFrameBytes;  // Larger frames close the connection.
    uint32_t max_inflight_per_connection = 1024;       // Then reading pauses.
    // A connection with nothing in flight that sends no frame for this long is closed
    // (0: never). A client must treat a close without reply as it treats any lost
    // connection: a write sent just as the server closed may or may not have been read.
    uint32_t idle_timeout_ms = 600'000;
    // A connection where no reply byte could be written for this long (the client stopped
    // reading) is closed, so it cannot pin the replies' memory forever (0: never).
    uint32_t write_timeout_ms = 30'000;
    // A frame whose first byte arrived this long ago and which is still incomplete closes its
    // connection (0: never), so a client trickling bytes cannot hold a connection and its
    // buffer for the idle timeout. Generous enough for a max_frame_bytes frame on a slow link.
    uint32_t frame_read_timeout_ms = 30'000;
    // Connections open at once; one accepted beyond is answered with an ErrorReply
    // (OVERLOADED, id 0) and closed (0: no limit). Bounds the memory and descriptors that
    // clients, authenticated or not, can pin.
    uint32_t max_connections = 10'000;
    // Reply bytes of one connection queued and not yet written (its client reads slowly, or
    // not at all) at which the connection stops reading and its requests already read wait
    // before they start (0: no limit). One reply may take it past the limit, so any value can
    // be served; pipelined reads of big values cannot pile up behind a client that does not
    // read. The write timeout closes a connection that stays stuck.
    uint64_t max_connection_reply_bytes = 8 << 20;
    // The node's budget of requests and bytes in flight, shared with its other ports; null:
    // none. With admit_requests, a request past it is answered OVERLOADED without being
    // started (the client port); without, requests only count (the peer port).
    std::shared_ptr<RequestBudget> budget = nullptr;
    bool admit_requests = true;
    // Counted when set (not owned; they must outlive the server): connections refused for
    // max_connections, connections closed for frame_read_timeout_ms, and the times a
    // connection stopped reading for max_connection_reply_bytes.
    metrics::Counter* connections_refused = nullptr;
    metrics::Counter* frame_timeouts = nullptr;
    metrics::Counter* reply_pauses = nullptr;
    // Empty: every connection is served by the server's handler at once.
    ConnectionHandshake handshake;
    // Set: every connection starts with a TLS handshake in this context's listening role
    // (before `handshake`), which must end within tls_handshake_timeout_ms; a connection that
    // fails it is logged (rate-limited) and closed. Null: plain TCP.
    std::shared_ptr<TlsContext> tls = nullptr;
    uint32_t tls_handshake_timeout_ms = 10'000;
  };

  // Binds and listens on `address` (port 0 picks a free port; an inherited socket is adopted).
  // Accepting starts at Start().
  // Errors: kUnavailable with the address and the OS reason
  // ("cannot listen on 127.0.0.1:7379: Address already in use"); kInvalidArgument for an
  // empty handler or a zero limit.
  static Result<std::unique_ptr<FrameServer>> Listen(IoContextPool& pool,  // Not owned.
                                                     const ListenAddress& address, Options options,
                                                     RequestHandler handler);

  ~FrameServer();  // Stop()s; REQUIRES: the pool is still alive.

  // The bound address (with the port chosen when Listen() was given port 0).
  asio::ip::tcp::endpoint local_endpoint() const;
  // Starts accepting. A second call, or a call after Stop(), does nothing. Thread-safe.
  void Start();
  // Stops accepting and closes every connection; in-flight handlers finish but their replies
  // are dropped. Thread-safe and idempotent; returns without waiting (the closes run on the
  // connections' io threads).
  void Stop();

  // Connections accepted and not yet closed. Thread-safe.
  uint64_t open_connections() const;

 private:
  struct Impl;
  explicit FrameServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace dialkv::net
