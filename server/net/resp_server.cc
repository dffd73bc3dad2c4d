#include "server/net/resp_server.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/io_common.h"
#include "server/net/listener.h"

namespace dialkv::net {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using tcp = asio::ip::tcp;

// Bytes asked of the socket per read.
constexpr size_t kReadChunkBytes = 64 << 10;
// After a protocol error the connection shuts its sending side and discards what the client
// still sends, for this long and this many reads at most, before closing: closing with unread
// bytes would send a reset, which can destroy the error reply before the client reads it.
constexpr milliseconds kLingerTimeout{1000};
constexpr int kMaxLingerReads = 64;
constexpr milliseconds kClientErrorLogInterval{1000};

SteadyClock::time_point After(SteadyClock::time_point from, uint32_t ms) {
  return ms == 0 ? SteadyClock::time_point::max() : from + milliseconds(ms);
}

struct RespConnection;

struct RespState {
  RespState(RespServer::Options o, RespSessionFactory f)
      : options(std::move(o)), factory(std::move(f)), log(&Log(Subsystem::kNet)) {}

  const RespServer::Options options;
  const RespSessionFactory factory;
  spdlog::logger* const log;  // Log(Subsystem::kNet); not owned.
  internal::ConnectionRegistry<RespConnection> connections;
  LogLimiter client_errors{kClientErrorLogInterval};

  void Warn(const tcp::endpoint& peer, const std::string& what) {
    uint64_t suppressed = 0;
    if (client_errors.Allow(&suppressed)) {
      log->warn("closing RESP connection from {}: {}{}", internal::ToString(peer), what,
                LogLimiter::SuppressedNote(suppressed));
    }
  }
};

void Count(metrics::Counter* counter) {
  if (counter != nullptr) counter->Inc();
}

// One connection: its socket, used on its executor only, by Serve and by the watchdog.
struct RespConnection {
  RespConnection(tcp::socket s, std::shared_ptr<RespState> st)
      : state(std::move(st)),
        executor(s.get_executor()),
        socket(std::move(s)),
        watchdog(executor),
        read_buffer(std::make_unique_for_overwrite<char[]>(kReadChunkBytes)) {
    asio::error_code ignored;
    peer = socket.remote_endpoint(ignored);
  }

  void Close() {
    if (closed) return;
    closed = true;
    asio::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    watchdog.cancel();
    state->connections.Remove(registry_id);
  }

  const std::shared_ptr<RespState> state;
  const asio::any_io_executor executor;
  tcp::socket socket;
  tcp::endpoint peer;
  uint64_t registry_id = 0;
  bool closed = false;
  // Reads and writes arm no timer of their own: they set these deadlines and the watchdog
  // enforces them (max(): none). Past the read deadline it cancels the read and sets
  // read_timed_out; past the write deadline it closes the connection.
  asio::steady_timer watchdog;
  SteadyClock::time_point read_deadline = SteadyClock::time_point::max();
  SteadyClock::time_point write_deadline = SteadyClock::time_point::max();
  bool read_timed_out = false;
  // What one read receives, before it is appended to the connection's input.
  const std::unique_ptr<char[]> read_buffer;
};

// Gives a command's bytes back to the budget when it is done (or its coroutine destroyed).
class BudgetGuard {
 public:
  BudgetGuard(RequestBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
  BudgetGuard(const BudgetGuard&) = delete;
  BudgetGuard& operator=(const BudgetGuard&) = delete;
  ~BudgetGuard() {
    if (budget_ != nullptr) budget_->Finish(bytes_, /*client=*/true);
  }

 private:
  RequestBudget* const budget_;
  const uint64_t bytes_;
};

// Reads into the tail of `in`. Returns false on end of input, an error or the deadline
// (*timed_out set).
asio::awaitable<bool> ReadMore(RespConnection& c, std::string* in, SteadyClock::time_point deadline,
                               bool* timed_out) {
  c.read_deadline = deadline;
  auto [ec, got] = co_await c.socket.async_read_some(
      asio::buffer(c.read_buffer.get(), kReadChunkBytes), kAsTuple);
  c.read_deadline = SteadyClock::time_point::max();
  if (c.read_timed_out) {
    c.read_timed_out = false;
    *timed_out = true;
    co_return false;
  }
  if (ec || got == 0) co_return false;
  in->append(c.read_buffer.get(), got);
  co_return true;
}

// Writes `out` whole and clears it. False when the write failed or took too long.
asio::awaitable<bool> Flush(RespConnection& c, std::string* out) {
  c.write_deadline = After(SteadyClock::now(), c.state->options.write_timeout_ms);
  auto [ec, written] = co_await asio::async_write(c.socket, asio::buffer(*out), kAsTuple);
  c.write_deadline = SteadyClock::time_point::max();
  if (out->capacity() > kKeepBufferBytes) {
    std::string().swap(*out);
  } else {
    out->clear();
  }
  co_return !ec;
}

// Enforces the read and write deadlines Serve sets, every WatchdogPeriod.
asio::awaitable<void> Watchdog(std::shared_ptr<RespConnection> c) {
  const RespServer::Options& options = c->state->options;
  const milliseconds period = internal::WatchdogPeriod(
      {options.idle_timeout_ms, options.command_read_timeout_ms, options.write_timeout_ms});
  while (!c->closed) {
    c->watchdog.expires_after(period);
    co_await c->watchdog.async_wait(kAsTuple);
    if (c->closed) break;
    const SteadyClock::time_point now = SteadyClock::now();
    if (now >= c->write_deadline) {
      c->state->Warn(c->peer, "no reply byte could be written for " +
                                  std::to_string(options.write_timeout_ms) + " ms");
      c->Close();
      break;
    }
    if (now >= c->read_deadline && !c->read_timed_out) {
      c->read_timed_out = true;
      asio::error_code ignored;
      c->socket.cancel(ignored);  // Serve's read ends with operation_aborted.
    }
  }
}

std::string OverloadedMessage(const RequestBudget& budget) {
  return "OVERLOADED this node is serving its limit of requests in flight (" +
         std::to_string(budget.options().max_requests) + " requests, " +
         std::to_string(budget.options().max_bytes) +
         " bytes); the command was not run: retry later or on another node";
}

asio::awaitable<void> Serve(std::shared_ptr<RespConnection> c) {
  const RespServer::Options& options = c->state->options;
  std::unique_ptr<RespSession> session = c->state->factory(c->peer);
  std::string in;
  std::string out;
  std::vector<std::string> args;
  // When the first byte of the incomplete command at the front of `in` arrived.
  std::optional<SteadyClock::time_point> partial_since;
  SteadyClock::time_point last_read = SteadyClock::now();
  bool stop = false;
  bool protocol_error = false;
  while (!stop && !c->closed) {
    // Serve every complete command read so far, in order.
    size_t offset = 0;
    bool served = false;
    while (!c->closed) {
      size_t consumed = 0;
      std::string error;
      const resp::ParseResult parsed = resp::ParseCommand(std::string_view(in).substr(offset),
                                                          options.limits, &args, &consumed, &error);
      offset += consumed;
      served = served || consumed > 0;
      if (parsed == resp::ParseResult::kNeedMore) {
        if (consumed > 0 && offset < in.size()) continue;  // Skipped an empty line.
        break;
      }
      if (parsed == resp::ParseResult::kError) {
        Count(options.protocol_errors);
        c->state->Warn(c->peer, error);
        resp::Writer(&out, session->protocol()).Error("ERR " + error);
        protocol_error = true;
        stop = true;
        break;
      }
      RequestBudget* const budget = options.budget.get();
      if (budget != nullptr && !budget->Admit(consumed)) {
        resp::Writer(&out, session->protocol()).Error(OverloadedMessage(*budget));
      } else {
        const BudgetGuard guard(budget, consumed);
        co_await session->Execute(std::move(args), &out);
      }
      if (session->closing()) {
        stop = true;
        break;
      }
      if (options.max_connection_reply_bytes > 0 &&
          out.size() >= options.max_connection_reply_bytes) {
        if (!co_await Flush(*c, &out)) {
          c->Close();
          co_return;
        }
      }
    }
    if (offset > 0) in.erase(0, offset);
    if (in.capacity() > kKeepBufferBytes && in.size() < kKeepBufferBytes) in.shrink_to_fit();
    if (in.empty()) {
      partial_since.reset();
    } else if (served || !partial_since.has_value()) {
      partial_since = last_read;  // What is left began in the last read.
    }
    if (!out.empty() && !c->closed && !co_await Flush(*c, &out)) break;
    if (stop || c->closed) break;
    const bool idle = !partial_since.has_value();
    const SteadyClock::time_point deadline =
        idle ? After(SteadyClock::now(), options.idle_timeout_ms)
             : After(*partial_since, options.command_read_timeout_ms);
    bool timed_out = false;
    if (!co_await ReadMore(*c, &in, deadline, &timed_out)) {
      if (timed_out && !idle) {
        Count(options.command_timeouts);
        c->state->Warn(c->peer, "a command was not complete within " +
                                    std::to_string(options.command_read_timeout_ms) +
                                    " ms of its first byte");
        resp::Writer(&out, session->protocol())
            .Error("ERR command not complete within " +
                   std::to_string(options.command_read_timeout_ms) + " ms of its first byte");
        co_await Flush(*c, &out);
      }
      break;
    }
    last_read = SteadyClock::now();
  }
  if (protocol_error && !c->closed) {
    asio::error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_send, ignored);
    const SteadyClock::time_point deadline = SteadyClock::now() + kLingerTimeout;
    bool timed_out = false;
    for (int i = 0; i < kMaxLingerReads && !c->closed; ++i) {
      in.clear();
      if (!co_await ReadMore(*c, &in, deadline, &timed_out)) break;
    }
  }
  c->Close();
}

void StartConnection(const std::shared_ptr<RespState>& state, tcp::socket socket) {
  asio::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  auto c = std::make_shared<RespConnection>(std::move(socket), state);
  if (!state->connections.Add(c, &c->registry_id)) {
    asio::error_code ignored;
    c->socket.close(ignored);
    return;
  }
  const auto close_on_exception = [c](const char* part) {
    return [c, part](const std::exception_ptr& e) {
      if (e) {
        c->state->log->error("RESP connection from {} threw in its {}: {}; closing it",
                             internal::ToString(c->peer), part, DescribeException(e));
        c->Close();
      }
    };
  };
  asio::co_spawn(c->executor, Serve(c), close_on_exception("reader"));
  asio::co_spawn(c->executor, Watchdog(c), close_on_exception("watchdog"));
}

// Refuses a connection over max_connections with one non-blocking write of an error.
void RefuseConnection(RespState& state, tcp::socket socket) {
  const uint32_t limit = state.options.max_connections;
  Count(state.options.connections_refused);
  asio::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  state.Warn(peer, std::to_string(limit) + " connections are open, the limit");
  std::string reply;
  resp::Writer(&reply).Error("OVERLOADED this node already serves its limit of " +
                             std::to_string(limit) +
                             " connections on this port; retry later or on another node");
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(asio::buffer(reply), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

// Serves `socket`, or refuses it when max_connections are open. On the acceptor's thread.
void AcceptConnection(const std::shared_ptr<RespState>& state, tcp::socket socket) {
  if (state->connections.AtLimit(state->options.max_connections)) {
    RefuseConnection(*state, std::move(socket));
  } else {
    StartConnection(state, std::move(socket));
  }
}

}  // namespace

struct RespServer::Impl : internal::ListeningServer<RespState> {};

Result<std::unique_ptr<RespServer>> RespServer::Listen(IoContextPool& pool,
                                                       const ListenAddress& address,
                                                       Options options,
                                                       RespSessionFactory factory) {
  if (!factory) return Status::InvalidArgument("RespServer needs a session factory");
  Result<internal::ListeningServer<RespState>> server =
      internal::ListenFor(pool, address, "Redis-protocol clients",
                          std::make_shared<RespState>(std::move(options), std::move(factory)),
                          &RespState::client_errors, AcceptConnection);
  if (!server.ok()) return server.status();
  return std::unique_ptr<RespServer>(
      new RespServer(std::make_shared<Impl>(Impl{std::move(server).value()})));
}

RespServer::RespServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

RespServer::~RespServer() { Stop(); }

tcp::endpoint RespServer::local_endpoint() const { return impl_->listener->local_endpoint(); }

void RespServer::Start() { impl_->listener->Start(); }

void RespServer::Stop() { impl_->listener->Stop(); }

uint64_t RespServer::open_connections() const { return impl_->state->connections.size(); }

}  // namespace dialkv::net
