#include "server/net/http_server.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <exception>
#include <string_view>
#include <utility>
#include <variant>

#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/http_request.h"
#include "server/net/io_common.h"
#include "server/net/listener.h"

namespace dialkv::net {
namespace {

using std::chrono::milliseconds;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

// After the response the server shuts down its sending side and discards what the client
// still sends (an unread POST body, say) for this long at most: closing with unread bytes
// would send a reset, which can destroy the response before the client reads it.
constexpr milliseconds kLingerTimeout{1000};
constexpr size_t kLingerChunkBytes = 4096;
constexpr int kMaxLingerReads = 256;
constexpr milliseconds kErrorLogInterval{1000};

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

HttpResponse Error(int status, std::string message) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(message) + "\n";
  return response;
}

std::string Serialize(const HttpResponse& response) {
  std::string out;
  out.reserve(160 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += Reason(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  if (response.status == 405) out += "\r\nAllow: GET";
  out += "\r\nConnection: close\r\n\r\n";
  out += response.body;
  return out;
}

// What every connection of one server shares. Holds no I/O object (see frame_server.cc).
struct HttpConnection;
struct HttpState {
  HttpState(HttpServer::Options o, HttpHandler h)
      : options(o), handler(std::move(h)), log(&Log(Subsystem::kNet)) {}

  const HttpServer::Options options;
  const HttpHandler handler;
  spdlog::logger* const log;  // Log(Subsystem::kNet); not owned.
  internal::ConnectionRegistry<HttpConnection> connections;
  LogLimiter errors{kErrorLogInterval};
};

// One request's connection. Lives on one executor: its members are touched only there.
struct HttpConnection {
  HttpConnection(tcp::socket s, std::shared_ptr<HttpState> st)
      : state(std::move(st)), executor(s.get_executor()), socket(std::move(s)), timer(executor) {}

  void Close() {
    if (closed) return;
    closed = true;
    asio::error_code ignored;
    socket.close(ignored);
    timer.cancel();
    state->connections.Remove(registry_id);
  }

  const std::shared_ptr<HttpState> state;
  const asio::any_io_executor executor;
  tcp::socket socket;
  asio::steady_timer timer;  // The deadline of the current step.
  uint64_t registry_id = 0;
  bool closed = false;
};

asio::awaitable<void> ServeHttp(std::shared_ptr<HttpConnection> c) {
  const HttpServer::Options& options = c->state->options;
  std::string head;
  c->timer.expires_after(milliseconds(options.read_timeout_ms));
  auto read = co_await (asio::async_read_until(c->socket,
                                               asio::dynamic_buffer(head, options.max_header_bytes),
                                               "\r\n\r\n", kAsTuple) ||
                        c->timer.async_wait(kAsTuple));
  if (c->closed) co_return;
  HttpResponse response;
  if (read.index() == 1) {
    response = Error(
        408, "request not received within " + std::to_string(options.read_timeout_ms) + " ms");
  } else {
    const auto [ec, n] = std::get<0>(read);
    if (ec == asio::error::not_found) {
      response = Error(431, "request line and headers are over the limit of " +
                                std::to_string(options.max_header_bytes) + " bytes");
    } else if (ec) {  // The client left before sending a whole request.
      c->Close();
      co_return;
    } else {
      response = RespondToHttpRequest(std::string_view(head).substr(0, n), c->state->handler);
    }
  }
  if (c->state->log->should_log(spdlog::level::debug)) {
    DIALKV_LOG_DEBUG(*c->state->log, "http {:?} -> {}",
                     head.substr(0, std::min(head.find("\r\n"), size_t{200})), response.status);
  }

  const std::string out = Serialize(response);
  c->timer.expires_after(milliseconds(options.write_timeout_ms));
  auto wrote = co_await (asio::async_write(c->socket, asio::buffer(out), kAsTuple) ||
                         c->timer.async_wait(kAsTuple));
  if (c->closed || wrote.index() == 1 || std::get<0>(std::get<0>(wrote))) {
    c->Close();
    co_return;
  }

  asio::error_code ignored;
  c->socket.shutdown(tcp::socket::shutdown_send, ignored);
  c->timer.expires_after(kLingerTimeout);
  char chunk[kLingerChunkBytes];
  for (int i = 0; i < kMaxLingerReads && !c->closed; ++i) {
    auto drained = co_await (c->socket.async_read_some(asio::buffer(chunk), kAsTuple) ||
                             c->timer.async_wait(kAsTuple));
    if (drained.index() == 1 || std::get<0>(std::get<0>(drained))) break;
  }
  c->Close();
}

// Serves `socket` on its own executor. Called on the acceptor's thread.
void StartConnection(const std::shared_ptr<HttpState>& state, tcp::socket socket) {
  auto c = std::make_shared<HttpConnection>(std::move(socket), state);
  if (!state->connections.Add(c, &c->registry_id)) {  // Stop() ran meanwhile.
    asio::error_code ignored;
    c->socket.close(ignored);
    return;
  }
  asio::co_spawn(c->executor, ServeHttp(c), [c](const std::exception_ptr& e) {
    if (!e) return;
    c->state->log->error("http connection threw: {}; closing it", DescribeException(e));
    c->Close();
  });
}

}  // namespace

struct HttpServer::Impl : internal::ListeningServer<HttpState> {};

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(IoContextPool& pool,
                                                       const ListenAddress& address,
                                                       HttpHandler handler) {
  return Listen(pool, address, Options{}, std::move(handler));
}

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(IoContextPool& pool,
                                                       const ListenAddress& address,
                                                       Options options, HttpHandler handler) {
  if (!handler) return Status::InvalidArgument("HttpServer needs a handler");
  if (options.read_timeout_ms == 0 || options.write_timeout_ms == 0 ||
      options.max_header_bytes == 0) {
    return Status::InvalidArgument("HttpServer options must all be at least 1");
  }
  Result<internal::ListeningServer<HttpState>> server = internal::ListenFor(
      pool, address, "http", std::make_shared<HttpState>(options, std::move(handler)),
      &HttpState::errors, StartConnection);
  if (!server.ok()) return server.status();
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::make_shared<Impl>(Impl{std::move(server).value()})));
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

tcp::endpoint HttpServer::local_endpoint() const { return impl_->listener->local_endpoint(); }

void HttpServer::Start() { impl_->listener->Start(); }

void HttpServer::Stop() { impl_->listener->Stop(); }

}  // namespace dialkv::net
