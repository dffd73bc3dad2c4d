#include "tests/testutil/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "server/net/frame.h"

namespace dialkv::testutil {
namespace {

void SetReceiveTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

}  // namespace

RawConnection::RawConnection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "connect");
  }
}

RawConnection::~RawConnection() {
  const linger reset{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  ::close(fd_);
}

void RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::system_error(errno, std::generic_category(), "send");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void RawConnection::Shutdown() { ::shutdown(fd_, SHUT_RDWR); }

bool RawConnection::ReadExactly(char* out, size_t size) {
  while (size > 0) {
    const ssize_t n = ::recv(fd_, out, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool RawConnection::ReadReply(v1::Envelope* reply, std::chrono::milliseconds timeout) {
  SetReceiveTimeout(fd_, timeout);
  unsigned char header[net::kFrameHeaderBytes];
  if (!ReadExactly(reinterpret_cast<char*>(header), sizeof header)) return false;
  std::string body(net::DecodeFrameLength(header), '\0');
  return ReadExactly(body.data(), body.size()) && reply->ParseFromString(body);
}

bool RawConnection::ClosedByServer(std::chrono::milliseconds timeout) {
  SetReceiveTimeout(fd_, timeout);
  char buffer[4096];
  for (;;) {  // Replies still on their way are skipped.
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    return n == 0 || errno == ECONNRESET;
  }
}

std::string RawFrame(std::string_view body) {
  std::string out(net::kFrameHeaderBytes, '\0');
  const auto n = static_cast<uint32_t>(body.size());
  for (size_t i = 0; i < net::kFrameHeaderBytes; ++i) out[i] = static_cast<char>(n >> (8 * i));
  out += body;
  return out;
}

}  // namespace dialkv::testutil
