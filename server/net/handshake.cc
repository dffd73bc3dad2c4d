#include "server/net/handshake.h"

#include <asio/write.hpp>

#include "server/net/frame.h"

namespace dialkv::net {

asio::awaitable<Status> WriteEnvelope(Stream& stream, const v1::Envelope& envelope,
                                      std::string_view what) {
  std::string frame;
  AppendFrame(envelope, &frame);
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(frame),
                                            asio::experimental::as_tuple(asio::use_awaitable));
  if (ec) co_return Status::Unavailable(std::string(what) + ": " + ec.message());
  co_return Status::Ok();
}

asio::awaitable<Result<v1::Envelope>> ReadEnvelope(Stream& stream, FrameReader& reader,
                                                   std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  std::string_view body;
  if (Status read = co_await reader.Next(stream, &body); !read.ok()) {
    co_return read.code() == Code::kInvalidArgument
        ? Status::Unauthenticated(prefix + read.message())
        : Status::Unavailable(prefix + read.message());
  }
  v1::Envelope envelope;
  if (body.size() > kMaxHandshakeFrameBytes || !ParseEnvelope(body, &envelope).ok()) {
    co_return Status::Unauthenticated(prefix + "expected a handshake message, got " +
                                      std::to_string(body.size()) + " bytes of something else");
  }
  co_return envelope;
}

}  // namespace dialkv::net
