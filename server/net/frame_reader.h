#pragma once
// Reads frames (frame.h) from a socket through a buffer: one read takes whatever the socket
// holds, so a burst of pipelined frames costs one system call instead of two per frame (a
// header read and a body read), which is what the peer connections and busy client
// connections carry. Used by the frame server's connections and by the calling side
// (frame_connection.h).
//
// The buffer starts at 4 KiB, so idle connections cost little. It doubles, up to 64 KiB, while
// reads keep filling it (bursts of pipelined frames), and otherwise grows only as a large
// frame's bytes arrive (at most doubling per read), so a header announcing a large frame does
// not make it allocate that much before the bytes come; after a frame over 1 MiB it is freed
// once empty.
//
// Thread-compatible: one reader per connection, used by its reading coroutine only.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "dialkv/status.h"
#include "server/net/stream.h"

namespace dialkv::net {

class FrameReader {
 public:
  explicit FrameReader(uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Reads the next frame from `socket` (the caller's, alive across the call) and points *body
  // at its body, valid until the next call.
  // Errors: kUnavailable when the connection closed or failed (the message says which, and
  // whether it closed mid-frame); kInvalidArgument when a header announces more than
  // max_frame_bytes (nothing more is read, so the caller must close the connection).
  asio::awaitable<Status> Next(Stream& stream, std::string_view* body);

  // Bytes read from the socket and not yet returned as frames (tests).
  size_t buffered() const { return end_ - begin_; }

  // Whether part of a frame has arrived and the rest not yet, and since when (at the latest:
  // the read that brought its first byte). Lets the connection enforce a deadline on a frame
  // trickled in slowly, whose bytes keep the idle timeout from ever running out.
  bool partial() const { return end_ > begin_; }
  std::chrono::steady_clock::time_point partial_since() const { return partial_since_; }

 private:
  const uint32_t max_frame_bytes_;
  std::string buffer_;
  size_t begin_ = 0;               // The first byte not yet returned.
  size_t end_ = 0;                 // One past the last byte read.
  bool last_read_filled_ = false;  // The last read filled all the space it was given.
  std::chrono::steady_clock::time_point last_read_;      // When the last read returned.
  std::chrono::steady_clock::time_point partial_since_;  // See partial_since().
};

}  // namespace dialkv::net
