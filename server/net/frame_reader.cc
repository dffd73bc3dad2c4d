#include "server/net/frame_reader.h"

#include <algorithm>
#include <cstring>

#include "server/net/frame.h"
#include "server/net/io_common.h"

namespace dialkv::net {
namespace {

// A connection starts with a small buffer, so many idle connections cost little; one whose
// reads keep filling the buffer (a burst of pipelined frames) doubles it up to kBurstBufferBytes.
constexpr size_t kInitialBufferBytes = 4 << 10;
constexpr size_t kBurstBufferBytes = 64 << 10;
// Unread bytes move to the front of the buffer when less than this is free behind them.
constexpr size_t kMinReadBytes = 4096;

}  // namespace

asio::awaitable<Status> FrameReader::Next(Stream& stream, std::string_view* body) {
  for (;;) {
    size_t have = end_ - begin_;
    size_t frame_bytes = kFrameHeaderBytes;  // What the frame at begin_ needs, as far as known.
    if (have >= kFrameHeaderBytes) {
      const uint32_t length =
          DecodeFrameLength(reinterpret_cast<const unsigned char*>(buffer_.data() + begin_));
      if (length > max_frame_bytes_) {
        co_return Status::InvalidArgument("frame of " + std::to_string(length) +
                                          " bytes is over the limit of " +
                                          std::to_string(max_frame_bytes_) + " bytes");
      }
      frame_bytes = kFrameHeaderBytes + length;
      if (have >= frame_bytes) {
        *body = std::string_view(buffer_.data() + begin_ + kFrameHeaderBytes, length);
        begin_ += frame_bytes;
        // Bytes left over came with the last read at the latest: the next frame began then.
        partial_since_ = last_read_;
        co_return Status::Ok();
      }
    }
    // More bytes are needed. Everything before begin_ was returned, so the caller's previous
    // body is no longer in use: the buffer may move.
    if (have == 0) {
      begin_ = end_ = 0;
      if (buffer_.size() > kKeepBufferBytes) std::string().swap(buffer_);
    }
    const size_t free_behind = buffer_.size() - end_;
    if (begin_ > 0 && (free_behind < kMinReadBytes || buffer_.size() - begin_ < frame_bytes)) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, have);
      begin_ = 0;
      end_ = have;
    }
    size_t want = buffer_.size();
    if (want < kInitialBufferBytes) {
      want = kInitialBufferBytes;
    } else if (buffer_.size() == end_) {  // Full of one frame's first bytes: grow toward it.
      want = std::min(std::max(frame_bytes, kInitialBufferBytes), 2 * buffer_.size());
    } else if (last_read_filled_ && buffer_.size() < kBurstBufferBytes) {
      want = 2 * buffer_.size();
    }
    if (want > buffer_.size()) buffer_.resize(want);
    const size_t space = buffer_.size() - end_;
    auto [ec, n] =
        co_await stream.async_read_some(asio::buffer(buffer_.data() + end_, space), kAsTuple);
    if (ec) {
      if (IsEndOfStream(ec)) {
        co_return Status::Unavailable(have == 0 ? "connection closed by peer"
                                                : "connection closed mid-frame");
      }
      co_return Status::Unavailable("read failed: " + ec.message());
    }
    last_read_ = std::chrono::steady_clock::now();
    if (have == 0) partial_since_ = last_read_;
    end_ += n;
    last_read_filled_ = n == space;
  }
}

}  // namespace dialkv::net
