#include "server/net/http_server.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/read_until.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <chrono>
#include <exception>
#include <string_view>
#include <utility>
#include <variant>

#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/http_request.h"
#include "server/net/listener.h"

namespace dialkv::net {
namespace {

using std::chrono::milliseconds;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

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

// The listening side; the acceptor is used on its own executor only.
struct HttpListener : std::enable_shared_from_this<HttpListener> {
  HttpListener(IoContextPool& p, tcp::acceptor a, std::shared_ptr<HttpState> s)
      : pool(p), acceptor(std::move(a)), local(acceptor.local_endpoint()), state(std::move(s)) {}

  void Stop() {
    if (stopped.exchange(true)) return;
    asio::post(acceptor.get_executor(), [self = shared_from_this()] {
      asio::error_code ignored;
      self->acceptor.close(ignored);
      self->state->log->info("stopped http listening on {}", internal::ToString(self->local));
    });
    for (auto& c : state->connections.CloseAll()) {
      asio::post(c->executor, [c] { c->Close(); });
    }
  }

  IoContextPool& pool;
  tcp::acceptor acceptor;
  const tcp::endpoint local;
  const std::shared_ptr<HttpState> state;
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
};

constexpr milliseconds kAcceptRetryDelay{100};

asio::awaitable<void> AcceptLoop(std::shared_ptr<HttpListener> self) {
  asio::steady_timer retry(self->acceptor.get_executor());
  // Runs until Stop() closes the acceptor.
  while (self->acceptor.is_open()) {
    tcp::socket socket(self->pool.Next());
    auto [ec] = co_await self->acceptor.async_accept(socket, kAsTuple);
    if (!ec) {
      StartConnection(self->state, std::move(socket));
      continue;
    }
    if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) break;
    uint64_t suppressed = 0;
    if (self->state->errors.Allow(&suppressed)) {
      self->state->log->warn("http accept on {} failed: {}; retrying{}",
                             internal::ToString(self->local), ec.message(),
                             LogLimiter::SuppressedNote(suppressed));
    }
    retry.expires_after(kAcceptRetryDelay);
    co_await retry.async_wait(kAsTuple);
  }
}

}  // namespace

struct HttpServer::Impl : HttpListener {
  using HttpListener::HttpListener;
};

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
  Result<tcp::acceptor> acceptor = internal::OpenAcceptor(pool.Next(), address);
  if (!acceptor.ok()) return acceptor.status();
  auto state = std::make_shared<HttpState>(options, std::move(handler));
  auto impl = std::make_shared<Impl>(pool, std::move(acceptor).value(), std::move(state));
  impl->state->log->info("listening for http on {}", internal::ToString(impl->local));
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

tcp::endpoint HttpServer::local_endpoint() const { return impl_->local; }

void HttpServer::Start() {
  if (impl_->stopped.load() || impl_->started.exchange(true)) return;
  const auto log = impl_->state->log;
  const std::string where = internal::ToString(impl_->local);
  asio::co_spawn(impl_->acceptor.get_executor(), AcceptLoop(impl_),
                 [log, where](const std::exception_ptr& e) {
                   if (e) {
                     log->error("http accept loop on {} threw: {}; no longer accepting", where,
                                DescribeException(e));
                   }
                 });
}

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace dialkv::net
