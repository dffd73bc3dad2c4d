#pragma once
// The client-port server: accepts TCP connections and serves framed Envelope requests on
// each, many in flight per connection, replies written as they finish (out of order when
// they finish out of order), each carrying its request's id.
//
// A frame that is over max_frame_bytes or does not parse gets an ErrorReply
// (INVALID_ARGUMENT, id 0 unless the id could be read) and that connection is closed; every
// other connection is unaffected. An envelope that parses but carries no request the handler
// knows is answered by the handler (it returns an ErrorReply), and the connection stays open.
// Past max_inflight_per_connection, the connection stops reading until a reply is written
// (back-pressure; nothing is refused).

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/common/status.h"
#include "server/net/frame.h"
#include "server/net/io_pool.h"

namespace dialkv::net {

// Serves one request; returns the reply. The connection sets the reply's id. Runs on the
// connection's executor; may co_await. Must not throw.
using RequestHandler = std::function<asio::awaitable<v1::Envelope>(v1::Envelope request)>;

class FrameServer {
 public:
  struct Options {
    uint32_t max_frame_bytes = kDefaultMaxFrameBytes;  // Larger frames close the connection.
    uint32_t max_inflight_per_connection = 1024;       // Then reading pauses.
  };

  // Binds and listens on `endpoint` (port 0 picks a free port). Accepting starts at Start().
  // Errors: kUnavailable with the address and the OS reason (e.g. "address already in use").
  static Result<std::unique_ptr<FrameServer>> Listen(IoContextPool& pool,  // Not owned.
                                                     const asio::ip::tcp::endpoint& endpoint,
                                                     Options options, RequestHandler handler);
  ~FrameServer();

  asio::ip::tcp::endpoint local_endpoint() const;
  void Start();
  // Stops accepting and closes every connection; in-flight handlers finish but their replies
  // are dropped. Thread-safe; returns without waiting.
  void Stop();

  uint64_t open_connections() const;

 private:
  struct Impl;
  explicit FrameServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace dialkv::net
