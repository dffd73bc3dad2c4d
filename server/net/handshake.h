#pragma once
// Frame I/O for the first messages of a connection, before its reader and writer loops run:
// the peer port's authentication (peer_auth.h) and a client presenting its token. Each step
// writes or reads one envelope directly on the socket; the caller bounds the whole exchange
// with WithDeadline.

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "dialkv/status.h"
#include "proto/dialkv.pb.h"
#include "server/net/frame_reader.h"
#include "server/net/stream.h"

namespace dialkv::net {

// Handshake messages are small; anything much larger is not one.
inline constexpr size_t kMaxHandshakeFrameBytes = 16384;

// Writes one frame. Errors: kUnavailable, "WHAT: <the socket's error>".
asio::awaitable<Status> WriteEnvelope(Stream& stream, const v1::Envelope& envelope,
                                      std::string_view what);

// Reads one frame of at most kMaxHandshakeFrameBytes with `reader`, which the connection goes
// on using. Errors: kUnavailable (the connection closed or failed), kUnauthenticated (a frame
// over the limit or one that is not an envelope), each prefixed "WHAT: ".
asio::awaitable<Result<v1::Envelope>> ReadEnvelope(Stream& stream, FrameReader& reader,
                                                   std::string_view what);

// Runs `steps`, or gives up after `timeout_ms` with kUnavailable ("WHAT not done within N ms").
// R is Status or a Result.
template <typename R>
asio::awaitable<R> WithDeadline(asio::awaitable<R> steps, uint32_t timeout_ms, std::string what) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::chrono::milliseconds(timeout_ms));
  auto outcome = co_await (std::move(steps) ||
                           timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable)));
  if (outcome.index() == 1) {
    co_return R(
        Status::Unavailable(what + " not done within " + std::to_string(timeout_ms) + " ms"));
  }
  co_return std::get<0>(std::move(outcome));
}

}  // namespace dialkv::net
