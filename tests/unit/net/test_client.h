#pragma once
// A raw TCP client for the net tests: blocking calls on its own io_context, each bounded by
// a deadline, so a server bug fails a test instead of hanging it. Loopback only.

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/common/status.h"
#include "server/net/frame.h"

namespace dialkv::net::nettest {

inline constexpr std::chrono::seconds kTestDeadline{20};

// Calls `condition` until it holds or `deadline` passes; returns its last value.
inline bool PollUntil(const std::function<bool()>& condition,
                      std::chrono::milliseconds deadline = kTestDeadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= end) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline asio::ip::tcp::endpoint Loopback(uint16_t port = 0) {
  return {asio::ip::make_address_v4("127.0.0.1"), port};
}

class TestClient {
 public:
  TestClient() : socket_(io_) {}

  Status Connect(const asio::ip::tcp::endpoint& server) { return Run(ConnectOp(&socket_, server)); }

  // Writes `bytes` as they are (frames, garbage or HTTP).
  Status Write(std::string bytes) { return Run(WriteOp(&socket_, std::move(bytes))); }

  // Writes the frames of `envelopes` in one write.
  Status Send(const std::vector<v1::Envelope>& envelopes) {
    std::string bytes;
    for (const auto& e : envelopes) AppendFrame(e, &bytes);
    return Write(std::move(bytes));
  }

  // Reads one frame and parses it. kUnavailable once the server closed the connection.
  Status Read(v1::Envelope* envelope) {
    std::string body;
    DIALKV_RETURN_IF_ERROR(Run(ReadFrameOp(&socket_, &body)));
    return ParseEnvelope(body, envelope);
  }

  // Reads until the server closes; appends everything to `out`.
  Status ReadToEnd(std::string* out) { return Run(ReadToEndOp(&socket_, out)); }

  // Reads exactly `n` bytes into *out.
  Status ReadExactly(size_t n, std::string* out) { return Run(ReadExactlyOp(&socket_, n, out)); }

  void ShutdownSend() {
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }

 private:
  static constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

  // The socket pointers below point at socket_, which outlives every Run().
  static asio::awaitable<Status> ConnectOp(asio::ip::tcp::socket* socket,
                                           asio::ip::tcp::endpoint server) {
    auto [ec] = co_await socket->async_connect(server, kAsTuple);
    if (ec) co_return Status::Unavailable("connect failed: " + ec.message());
    co_return Status::Ok();
  }
  static asio::awaitable<Status> WriteOp(asio::ip::tcp::socket* socket, std::string bytes) {
    auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(bytes), kAsTuple);
    if (ec) co_return Status::Unavailable("write failed: " + ec.message());
    co_return Status::Ok();
  }
  static asio::awaitable<Status> ReadFrameOp(asio::ip::tcp::socket* socket, std::string* body) {
    co_return co_await ReadFrame(*socket, kDefaultMaxFrameBytes, body);
  }
  static asio::awaitable<Status> ReadExactlyOp(asio::ip::tcp::socket* socket, size_t n,
                                               std::string* out) {
    out->resize(n);
    auto [ec, got] = co_await asio::async_read(*socket, asio::buffer(*out), kAsTuple);
    if (ec) co_return Status::Unavailable("read failed: " + ec.message());
    co_return Status::Ok();
  }
  static asio::awaitable<Status> ReadToEndOp(asio::ip::tcp::socket* socket, std::string* out) {
    auto [ec, n] = co_await asio::async_read(*socket, asio::dynamic_buffer(*out), kAsTuple);
    if (ec == asio::error::eof) co_return Status::Ok();
    co_return Status::Unavailable("read failed: " + ec.message());
  }

  // Runs `op` to completion or until kTestDeadline, then aborts it (closing the socket).
  Status Run(asio::awaitable<Status> op) {
    // Shared: an aborted operation may complete during a later Run().
    auto result = std::make_shared<std::optional<Status>>();
    asio::co_spawn(io_, std::move(op), [result](const std::exception_ptr& e, Status s) {
      *result = e ? Status::Internal("test client operation threw") : std::move(s);
    });
    io_.restart();
    io_.run_for(kTestDeadline);
    if (result->has_value()) return **result;
    asio::error_code ignored;
    socket_.close(ignored);
    io_.restart();
    io_.run_for(kTestDeadline);
    return Status::Timeout("test client: no answer within the test deadline");
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

}  // namespace dialkv::net::nettest
