#pragma once
// A connection's byte stream: a TCP socket, carrying either the frames themselves or TLS
// (asio::ssl over OpenSSL) once StartTls() has run. The frame server, the calling side
// (frame_connection.h) and the handshakes read and write through it, so one code path serves
// both; it models asio's AsyncReadStream and AsyncWriteStream.
//
// TLS settings come from a TlsContext: a node's client port (its certificate), its peer port
// and peer calls (mutual: a certificate of the cluster's CA on both sides), and a client that
// checks the node's certificate against a CA file.
//
// Thread-compatible: a stream is used on its socket's executor only. At most one read and one
// write may be outstanding at a time (TLS allows no more), which the single reader and single
// writer of every connection respect.

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "dialkv/status.h"

namespace dialkv::net {

// Which side of a TLS handshake a stream takes.
enum class TlsRole { kClient, kServer };

// An OpenSSL context shared by the connections of one port or one transport (immutable after
// it is made, so any thread may start TLS with it).
class TlsContext {
 public:
  struct Files {
    std::string ca_file = {};    // Certificates a peer's must chain to (empty: none checked).
    std::string cert_file = {};  // This side's certificate chain, PEM (empty: none presented).
    std::string key_file = {};   // Its private key, PEM.
  };

  // A listening side: presents cert_file/key_file (both required); with ca_file, every
  // connecting side must present a certificate that chains to it (mutual TLS).
  // Errors: kInvalidArgument naming `flags` (the flag names the files came from) and the file
  // that could not be loaded, with OpenSSL's reason.
  static Result<std::shared_ptr<TlsContext>> ForServer(const Files& files, std::string_view flags);
  // A dialling side: checks the listening side's certificate against ca_file (required) and its
  // name against the host dialled; presents cert_file/key_file when given (mutual TLS).
  // Errors: as ForServer.
  static Result<std::shared_ptr<TlsContext>> ForClient(const Files& files, std::string_view flags);

  asio::ssl::context& native() { return context_; }
  TlsRole role() const { return role_; }

 private:
  TlsContext(asio::ssl::context::method method, TlsRole role) : context_(method), role_(role) {}

  asio::ssl::context context_;
  const TlsRole role_;
};

class Stream {
 public:
  using executor_type = asio::any_io_executor;

  explicit Stream(const asio::any_io_executor& executor) : socket_(executor) {}
  explicit Stream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  // Not movable: the TLS layer refers to the socket.
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  // The TCP socket under any TLS: connect, options, addresses, shutdown and close go there.
  asio::ip::tcp::socket& socket() { return socket_; }
  bool tls() const { return tls_ != nullptr; }

  // Runs the TLS handshake in `context`'s role; every later read and write goes through TLS.
  // `host` is the name or address dialled (a dialling side checks the certificate names it and
  // sends it for name-based certificate selection); unused by a listening side. The caller
  // bounds its time (WithDeadline). Call at most once, before any other read or write.
  // Errors: kUnavailable, "TLS handshake failed: <OpenSSL's reason>" (a certificate that does
  // not verify, a peer that does not speak TLS, a closed connection).
  asio::awaitable<Status> StartTls(std::shared_ptr<TlsContext> context, std::string host);

  // Closes the socket, aborting outstanding reads and writes (no TLS close_notify: frames are
  // length-prefixed, so a truncated stream is told from a complete one by the frame reader).
  void Close();

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_ != nullptr) {
            tls_->async_read_some(b, std::move(handler));
          } else {
            socket_.async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_ != nullptr) {
            tls_->async_write_some(b, std::move(handler));
          } else {
            socket_.async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  asio::ip::tcp::socket socket_;
  std::shared_ptr<TlsContext> context_;  // Kept alive while tls_ uses it.
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
};

// A read error that means the other side closed the connection: a TCP end of stream, or a TLS
// stream that ended without a close_notify (this project's sides never send one).
bool IsEndOfStream(const std::error_code& ec);

}  // namespace dialkv::net
