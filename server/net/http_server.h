#pragma once
// A minimal HTTP/1.1 server for operators: GET requests only, one response per request,
// "Connection: close". Serves /metrics and /health (routes supplied by the caller).
//
// The request line is parsed; headers are read but ignored; a request body is never read.
// Answers, besides the handler's: 400 for a malformed request line, 405 (with "Allow: GET")
// for any method but GET, 408 when the request head has not arrived within the read timeout,
// 431 when it is over max_header_bytes. Every response carries Content-Length and
// "Connection: close", and the connection is closed after it.
//
// Threading: each connection lives on one io_context of the pool (round-robin), where the
// handler runs. The pool must outlive the server.

#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/common/status.h"
#include "server/net/io_pool.h"
#include "server/net/listen_address.h"

namespace dialkv::net {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Maps a request path ("/metrics", query string removed) to a response. Called on an io
// thread, possibly on several at once; must be quick and must not throw (if it does, the
// exception is logged and the connection closed). Unknown paths should answer 404.
using HttpHandler = std::function<HttpResponse(const std::string& path)>;

class HttpServer {
 public:
  struct Options {
    uint32_t read_timeout_ms = 5'000;     // For the whole request head; then 408.
    uint32_t write_timeout_ms = 5'000;    // For the response; then the connection is dropped.
    uint32_t max_header_bytes = 8 << 10;  // Request line and headers; more is answered 431.
  };

  // Binds and listens on `address` (port 0 picks a free port; an inherited socket is adopted),
  // with default Options.
  // Accepting starts at Start().
  // Errors: kUnavailable with the address and the OS reason
  // ("cannot listen on 127.0.0.1:7381: Address already in use"); kInvalidArgument for an
  // empty handler.
  static Result<std::unique_ptr<HttpServer>> Listen(IoContextPool& pool,  // Not owned.
                                                    const ListenAddress& address,
                                                    HttpHandler handler);
  // As above, with explicit options. Errors also: kInvalidArgument for a zero option.
  static Result<std::unique_ptr<HttpServer>> Listen(IoContextPool& pool,  // Not owned.
                                                    const ListenAddress& address, Options options,
                                                    HttpHandler handler);
  ~HttpServer();  // Stop()s; REQUIRES: the pool is still alive.

  // The bound address (with the port chosen when Listen() was given port 0).
  asio::ip::tcp::endpoint local_endpoint() const;
  // Starts accepting. A second call, or a call after Stop(), does nothing. Thread-safe.
  void Start();
  // Stops accepting and closes every open connection. Thread-safe and idempotent; returns
  // without waiting.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace dialkv::net
