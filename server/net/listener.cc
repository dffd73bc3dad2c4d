#include "server/net/listener.h"

#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>
#include <asio/steady_timer.hpp>
#include <exception>
#include <utility>

#include "server/net/io_common.h"

namespace dialkv::net::internal {
namespace {

// How long the accept loop pauses after a failed accept (out of file descriptors, say).
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

}  // namespace

std::chrono::milliseconds WatchdogPeriod(std::initializer_list<uint32_t> timeouts_ms) {
  std::chrono::milliseconds period{60'000};
  for (uint32_t timeout_ms : timeouts_ms) {
    if (timeout_ms > 0) period = std::min(period, std::chrono::milliseconds(timeout_ms) / 4);
  }
  return std::max(period, std::chrono::milliseconds(1));
}

std::string ToString(const asio::ip::tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

Result<asio::ip::tcp::acceptor> OpenAcceptor(asio::io_context& context,
                                             const ListenAddress& address) {
  const asio::ip::tcp::endpoint& endpoint = address.endpoint;
  asio::ip::tcp::acceptor acceptor(context);
  asio::error_code ec;
  const auto fail = [&](const asio::error_code& error) {
    return Status::Unavailable("cannot listen on " + net::ToString(address) + ": " +
                               error.message());
  };
  if (address.inherited_fd >= 0) {
    // Bound already by whoever passed it on; listen() on a listening socket is harmless.
    // SO_REUSEADDR too, as below: connections accepted here inherit it, and once this process
    // is gone their TIME_WAIT remnants must not keep a restarted node from binding the port.
    if (acceptor.assign(endpoint.protocol(), address.inherited_fd, ec); ec) return fail(ec);
    if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
    return acceptor;
  }
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail(ec);
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
  if (acceptor.bind(endpoint, ec); ec) return fail(ec);
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
  return acceptor;
}

Listener::Listener(IoContextPool& pool, asio::ip::tcp::acceptor acceptor, std::string what,
                   std::shared_ptr<LogLimiter> errors, Hooks hooks)
    : pool_(pool),
      acceptor_(std::move(acceptor)),
      local_(acceptor_.local_endpoint()),
      what_(std::move(what)),
      errors_(std::move(errors)),
      hooks_(std::move(hooks)),
      log_(&Log(Subsystem::kNet)) {}

Result<std::shared_ptr<Listener>> Listener::Open(IoContextPool& pool, const ListenAddress& address,
                                                 std::string what,
                                                 std::shared_ptr<LogLimiter> errors, Hooks hooks) {
  Result<asio::ip::tcp::acceptor> acceptor = OpenAcceptor(pool.Next(), address);
  if (!acceptor.ok()) return acceptor.status();
  auto listener = std::make_shared<Listener>(pool, std::move(acceptor).value(), std::move(what),
                                             std::move(errors), std::move(hooks));
  listener->log_->info("listening for {} on {}", listener->what_, ToString(listener->local_));
  return listener;
}

void Listener::Start() {
  if (stopped_.load() || started_.exchange(true)) return;
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(shared_from_this()),
                 [log = log_, where = ToString(local_)](const std::exception_ptr& e) {
                   if (e) {
                     log->error("accept loop on {} threw: {}; no longer accepting", where,
                                DescribeException(e));
                   }
                 });
}

void Listener::Stop() {
  if (stopped_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    asio::error_code ignored;
    self->acceptor_.close(ignored);
    self->log_->info("stopped listening for {} on {}", self->what_, ToString(self->local_));
  });
  if (hooks_.stop) hooks_.stop();
}

asio::awaitable<void> Listener::AcceptLoop(std::shared_ptr<Listener> self) {
  asio::steady_timer retry(self->acceptor_.get_executor());
  // Runs until Stop() closes the acceptor.
  while (self->acceptor_.is_open()) {
    asio::ip::tcp::socket socket(self->pool_.Next());
    auto [ec] = co_await self->acceptor_.async_accept(socket, kAsTuple);
    if (!ec) {
      self->hooks_.accept(std::move(socket));
      continue;
    }
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) break;
    uint64_t suppressed = 0;
    if (self->errors_->Allow(&suppressed)) {
      self->log_->warn("accept on {} failed: {}; retrying in {} ms{}", ToString(self->local_),
                       ec.message(), kAcceptRetryDelay.count(),
                       LogLimiter::SuppressedNote(suppressed));
    }
    retry.expires_after(kAcceptRetryDelay);
    co_await retry.async_wait(kAsTuple);
  }
}

}  // namespace dialkv::net::internal
