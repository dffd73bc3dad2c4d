// Fuzzes the client protocol's framing as a node reads it: arbitrary bytes arrive on a
// connection, in reads split where the input says, and go through the real net::Stream and
// net::FrameReader (over one end of a socketpair) and then net::ParseEnvelope.
//
// Input: byte 0 picks the frame size limit (255: the default 16 MiB; else 16 * byte), byte 1 is
// the number N of chunk lengths that follow (each 1 + byte), and the rest is the byte stream,
// written in chunks of those lengths in turn (N = 0: all at once), each chunk read by the frame
// reader before the next is written, then the writing side is shut down.
//
// Checks: the frames returned are exactly those a plain reading of the stream finds, and the
// reader ends the way that reading says (closed cleanly, closed mid-frame, or a frame over the
// limit); every envelope that parses serializes to a frame that parses to the same envelope;
// the status reply to it (ReplyWithStatus) has a body.

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/dialkv.pb.h"
#include "server/common/check.h"
#include "server/net/frame.h"
#include "server/net/frame_reader.h"
#include "server/net/stream.h"

namespace dialkv::net {
namespace {

// How a plain reading of the stream ends.
enum class End { kClosed, kClosedMidFrame, kOverLimit };

struct Expected {
  std::vector<std::string_view> bodies;
  End end = End::kClosed;
};

Expected ReadPlainly(std::string_view stream, uint32_t max_frame_bytes) {
  Expected out;
  size_t at = 0;
  while (at < stream.size()) {
    if (stream.size() - at < kFrameHeaderBytes) {
      out.end = End::kClosedMidFrame;
      return out;
    }
    const uint32_t length = DecodeFrameLength(reinterpret_cast<const unsigned char*>(&stream[at]));
    if (length > max_frame_bytes) {
      out.end = End::kOverLimit;
      return out;
    }
    if (stream.size() - at - kFrameHeaderBytes < length) {
      out.end = End::kClosedMidFrame;
      return out;
    }
    out.bodies.push_back(stream.substr(at + kFrameHeaderBytes, length));
    at += kFrameHeaderBytes + length;
  }
  return out;
}

struct Outcome {
  std::vector<std::string> bodies;
  std::optional<Status> end;
};

asio::awaitable<void> ReadAll(Stream* stream, FrameReader* reader, Outcome* out) {
  for (;;) {
    std::string_view body;
    Status status = co_await reader->Next(*stream, &body);
    if (!status.ok()) {
      out->end = std::move(status);
      co_return;
    }
    out->bodies.emplace_back(body);
  }
}

// Runs what is ready until nothing is: the reader has taken everything written so far and
// waits for more (or has finished).
void Settle(asio::io_context& io) {
  while (io.poll() > 0) {
  }
}

// Writes `bytes` to the non-blocking descriptor `fd`, letting the reader drain the socket
// whenever its buffer is full, until the reader has stopped.
void WriteAll(int fd, std::string_view bytes, asio::io_context& io, const Outcome& outcome) {
  while (!bytes.empty() && !outcome.end.has_value()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      DIALKV_CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
      Settle(io);
      continue;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  Settle(io);
}

void CheckEnvelope(std::string_view body) {
  v1::Envelope envelope;
  if (!ParseEnvelope(body, &envelope).ok()) return;
  std::string frame;
  AppendFrame(envelope, &frame);
  DIALKV_CHECK(frame.size() >= kFrameHeaderBytes);
  DIALKV_CHECK(DecodeFrameLength(reinterpret_cast<const unsigned char*>(frame.data())) ==
               frame.size() - kFrameHeaderBytes);
  v1::Envelope again;
  DIALKV_CHECK(ParseEnvelope(std::string_view(frame).substr(kFrameHeaderBytes), &again).ok());
  DIALKV_CHECK(again.SerializeAsString() == envelope.SerializeAsString());
  const v1::Envelope reply = ReplyWithStatus(envelope, Status::InvalidArgument("fuzz"));
  DIALKV_CHECK(reply.id() == envelope.id());
  DIALKV_CHECK(reply.body_case() != v1::Envelope::BODY_NOT_SET);
}

void Run(const uint8_t* data, size_t size) {
  if (size < 2) return;
  const uint32_t max_frame_bytes = data[0] == 255 ? kDefaultMaxFrameBytes : 16u * data[0];
  const size_t num_lengths = data[1];
  if (size < 2 + num_lengths) return;
  const uint8_t* lengths = data + 2;
  const std::string_view stream(reinterpret_cast<const char*>(data + 2 + num_lengths),
                                size - 2 - num_lengths);

  int fds[2];
  DIALKV_CHECK(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  DIALKV_CHECK(::fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
  asio::io_context io;
  Outcome outcome;
  {
    asio::ip::tcp::socket socket(io);
    socket.assign(asio::ip::tcp::v4(), fds[0]);  // Closed with the socket.
    Stream reading(std::move(socket));
    FrameReader reader(max_frame_bytes);
    asio::co_spawn(io, ReadAll(&reading, &reader, &outcome), asio::detached);
    Settle(io);
    size_t at = 0;
    for (size_t i = 0; at < stream.size(); ++i) {
      const size_t chunk = num_lengths == 0 ? stream.size() : 1 + lengths[i % num_lengths];
      const std::string_view piece = stream.substr(at, chunk);
      WriteAll(fds[1], piece, io, outcome);
      at += piece.size();
      if (outcome.end.has_value()) break;  // A frame over the limit ends the reading.
    }
    ::shutdown(fds[1], SHUT_WR);
    io.run();
    DIALKV_CHECK(outcome.end.has_value());
  }
  ::close(fds[1]);

  const Expected expected = ReadPlainly(stream, max_frame_bytes);
  DIALKV_CHECK(outcome.bodies.size() == expected.bodies.size());
  for (size_t i = 0; i < expected.bodies.size(); ++i) {
    DIALKV_CHECK(outcome.bodies[i] == expected.bodies[i]);
  }
  const Status& end = *outcome.end;
  switch (expected.end) {
    case End::kClosed:
      DIALKV_CHECK(end.code() == Code::kUnavailable);
      DIALKV_CHECK(end.message() == "connection closed by peer");
      break;
    case End::kClosedMidFrame:
      DIALKV_CHECK(end.code() == Code::kUnavailable);
      DIALKV_CHECK(end.message() == "connection closed mid-frame");
      break;
    case End::kOverLimit:
      DIALKV_CHECK(end.code() == Code::kInvalidArgument);
      break;
  }
  for (const std::string& body : outcome.bodies) CheckEnvelope(body);
}

}  // namespace
}  // namespace dialkv::net

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dialkv::net::Run(data, size);
  return 0;
}
