#pragma once
// A TCP connection whose replies come back in request order (RESP, HTTP/1.1 keep-alive),
// shared by the Redis and etcd backends: requests from many workers are queued and written
// together, one reader parses replies as they arrive and hands each to the oldest waiting
// request. A request may expect several replies (Redis SET followed by WAIT).
//
// A timeout or a broken reply fails the connection: every waiting request ends (kTimeout for
// the one that timed out, kUnavailable for the others), and the next request reconnects.
// Threading: lives on one executor, used only there.

#include <asio/ip/tcp.hpp>
#include <deque>
#include <string>

#include "bench/load/backend.h"
#include "bench/load/protocol.h"
#include "server/net/frame_connection.h"

namespace dialkv::bench {

class OrderedConnection : public BenchConnection {
 public:
  OrderedConnection(const asio::any_io_executor& executor, std::string endpoint,
                    uint32_t timeout_ms);

  asio::awaitable<Status> Open() override;
  void Close() override;

 protected:
  // Parses one reply at the start of `in`, judged by `expect` (the subclass's tag of what the
  // request expects); on kDone sets *consumed and *code.
  virtual Parse ParseReply(std::string_view in, int expect, size_t* consumed, Code* code) = 0;

  // Sends `request`, which expects one reply judged by `expect` and, when `then_expect` is not
  // kNoReply, a second one, and returns the first non-OK code among them (kOk when both were).
  static constexpr int kNoReply = -1;
  asio::awaitable<Code> RoundTrip(std::string request, int expect, int then_expect = kNoReply);

  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Pending {
    net::Waiter* waiter;
    int expects[2];
    int count;
    int received = 0;
    Code code = Code::kOk;
  };

  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  void Fail(Code code);

  asio::any_io_executor executor_;
  const std::string endpoint_;
  const uint32_t timeout_ms_;
  asio::ip::tcp::socket socket_;
  bool open_ = false;
  bool connecting_ = false;
  bool writing_ = false;
  uint64_t generation_ = 0;  // Grows at every Fail(), so an old reader stops.
  std::deque<Pending*> pending_;
  std::string outbox_, in_write_;
};

}  // namespace dialkv::bench
