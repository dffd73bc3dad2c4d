#pragma once
// A minimal HTTP/1.1 server for operators: GET requests only, one response per request,
// "Connection: close". Serves /metrics and /health (routes supplied by the caller). Requests
// over 8 KiB of headers or slower than the read deadline are answered 400/408 and closed.

#include <asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "server/common/status.h"
#include "server/net/io_pool.h"

namespace dialkv::net {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Maps a request path ("/metrics") to a response. Called on an io thread; must be quick and
// must not throw. Unknown paths should answer 404.
using HttpHandler = std::function<HttpResponse(const std::string& path)>;

class HttpServer {
 public:
  // Errors: kUnavailable with the address and the OS reason.
  static Result<std::unique_ptr<HttpServer>> Listen(IoContextPool& pool,  // Not owned.
                                                    const asio::ip::tcp::endpoint& endpoint,
                                                    HttpHandler handler);
  ~HttpServer();
  asio::ip::tcp::endpoint local_endpoint() const;
  void Start();
  void Stop();  // Thread-safe; returns without waiting.

 private:
  struct Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace dialkv::net
