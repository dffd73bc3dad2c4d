#pragma once
// Blocking loopback clients for api tests, written against raw POSIX sockets so that they
// share nothing with the server's code. Every receive is bounded by a timeout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <string>

#include "proto/dialkv.pb.h"
#include "server/common/status.h"
#include "server/net/frame.h"

namespace dialkv::api::testing {

// One TCP connection to 127.0.0.1:port; closed on destruction.
class LoopbackSocket {
 public:
  explicit LoopbackSocket(uint16_t port, int timeout_s = 5) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval tv{timeout_s, 0};  // Bounds every recv and send below.
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) Close();
  }
  ~LoopbackSocket() { Close(); }
  LoopbackSocket(const LoopbackSocket&) = delete;
  LoopbackSocket& operator=(const LoopbackSocket&) = delete;

  bool connected() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  Status SendAll(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return Status::Unavailable("send failed");
      sent += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  // Exactly `size` bytes, or an error on close or timeout.
  Result<std::string> ReceiveExactly(size_t size) {
    std::string out(size, '\0');
    size_t got = 0;
    while (got < size) {
      const ssize_t n = ::recv(fd_, out.data() + got, size - got, 0);
      if (n <= 0) return Status::Unavailable("connection closed or timed out");
      got += static_cast<size_t>(n);
    }
    return out;
  }

  // Everything until the peer closes (or the timeout).
  std::string ReceiveAll() {
    std::string out;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::recv(fd_, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  // Sends one framed envelope and reads one framed reply.
  Result<v1::Envelope> RoundTrip(const v1::Envelope& request) {
    std::string frame;
    net::AppendFrame(request, &frame);
    DIALKV_RETURN_IF_ERROR(SendAll(frame));
    Result<std::string> header = ReceiveExactly(net::kFrameHeaderBytes);
    if (!header.ok()) return header.status();
    const uint32_t length =
        net::DecodeFrameLength(reinterpret_cast<const unsigned char*>(header->data()));
    Result<std::string> body = ReceiveExactly(length);
    if (!body.ok()) return body.status();
    v1::Envelope reply;
    DIALKV_RETURN_IF_ERROR(net::ParseEnvelope(*body, &reply));
    return reply;
  }

 private:
  int fd_ = -1;
};

struct HttpReply {
  int status = 0;
  std::string head;
  std::string body;
};

// GET `path` from 127.0.0.1:port over a fresh connection (the server closes it after one
// response).
inline Result<HttpReply> HttpGet(uint16_t port, const std::string& path) {
  LoopbackSocket socket(port);
  if (!socket.connected()) return Status::Unavailable("cannot connect to the HTTP port");
  DIALKV_RETURN_IF_ERROR(socket.SendAll("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string response = socket.ReceiveAll();
  const size_t body_at = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 ", 0) != 0 || body_at == std::string::npos) {
    return Status::Internal("not an HTTP response: " + response.substr(0, 200));
  }
  HttpReply reply;
  std::from_chars(response.data() + 9, response.data() + 12, reply.status);
  reply.head = response.substr(0, body_at);
  reply.body = response.substr(body_at + 4);
  return reply;
}

}  // namespace dialkv::api::testing
