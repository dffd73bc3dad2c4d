#pragma once
// A blocking raw connection to a node's port, for tests that send what no client would send
// (garbage, half frames, pipelines never read) and read the node's answers frame by frame.
// One descriptor each (no event loop), so a test can hold thousands.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/dialkv.pb.h"

namespace dialkv::testutil {

class RawConnection {
 public:
  // Connects to 127.0.0.1:port. Throws std::system_error if the connection fails.
  explicit RawConnection(uint16_t port);
  // Closes with a reset (SO_LINGER 0), so thousands of them leave no TIME_WAIT behind.
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // Throws std::system_error if the bytes cannot all be written.
  void Send(std::string_view bytes);
  // Shuts both directions down, which also wakes a Send() blocked in another thread (it then
  // throws). The connection stays open until destroyed.
  void Shutdown();
  // Reads one frame and parses it; false if the connection closed (or nothing came within
  // `timeout`) before a whole frame, or it does not parse.
  bool ReadReply(v1::Envelope* reply,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));
  // True once the server has closed the connection (a read returns end of file or a reset)
  // within `timeout`.
  bool ClosedByServer(std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));

 private:
  // Reads exactly `size` bytes; false on close, error or timeout.
  bool ReadExactly(char* out, size_t size);

  int fd_ = -1;
};

// A frame around `body` as it is (which need not be an envelope).
std::string RawFrame(std::string_view body);

}  // namespace dialkv::testutil
