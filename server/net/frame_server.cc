#include "server/net/frame_server.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <exception>
#include <utility>

#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/frame_reader.h"
#include "server/net/handshake.h"
#include "server/net/io_common.h"
#include "server/net/listener.h"

namespace dialkv::net {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using tcp = asio::ip::tcp;

// After a protocol error the server shuts down its sending side and keeps discarding what the
// client still sends, for this long at most, before closing. Closing with unread bytes in
// the receive buffer would send a reset, which can destroy the error reply in flight before
// the client reads it.
constexpr milliseconds kLingerTimeout{1000};
constexpr size_t kLingerChunkBytes = 64 << 10;
constexpr int kMaxLingerReads = 4096;
// Client-caused errors: at most one log line per this interval.
constexpr milliseconds kClientErrorLogInterval{1000};

struct Connection;

// What every connection of one server shares. Holds no I/O object, so a connection's frame
// destroyed with its io_context never touches another io_context.
struct ServerState {
  ServerState(FrameServer::Options o, RequestHandler h)
      : options(o), handler(std::move(h)), log(&Log(Subsystem::kNet)) {}

  const FrameServer::Options options;
  const RequestHandler handler;
  spdlog::logger* const log;  // Log(Subsystem::kNet); not owned.
  internal::ConnectionRegistry<Connection> connections;
  LogLimiter client_errors{kClientErrorLogInterval};
};

// One client connection. Lives on one executor: every member below `executor` is touched only
// there, by the reader, the writer, the watchdog and the request handlers, each of which holds
// a shared_ptr (a handler may outlive the socket's close).
struct Connection {
  Connection(tcp::socket s, std::shared_ptr<ServerState> state)
      : server(std::move(state)),
        executor(s.get_executor()),
        stream(std::move(s)),
        writer_wake(executor, SteadyClock::time_point::max()),
        reader_wake(executor, SteadyClock::time_point::max()),
        space_wake(executor, SteadyClock::time_point::max()),
        watchdog(executor),
        reader(server->options.max_frame_bytes),
        handler(server->handler),
        last_activity(SteadyClock::now()) {
    asio::error_code ignored;
    peer = stream.socket().remote_endpoint(ignored);
  }

  // Closes the socket (aborting its reads and writes) and wakes every waiter. Idempotent.
  void Close() {
    if (closed) return;
    closed = true;
    stream.Close();
    writer_wake.cancel();
    reader_wake.cancel();
    space_wake.cancel();
    watchdog.cancel();
    std::string().swap(pending);  // `writing` may still be under an aborted write; left alone.
    ReleaseReplyBytes(unwritten);
    server->connections.Remove(registry_id);
  }

  // Whether replies already queued leave no room for more (max_connection_reply_bytes).
  bool ReplyRoomFull() const {
    const uint64_t limit = server->options.max_connection_reply_bytes;
    return limit > 0 && unwritten >= limit;
  }

  // `bytes` of queued replies were written or dropped: they no longer count.
  void ReleaseReplyBytes(uint64_t bytes) {
    unwritten -= bytes;
    if (server->options.budget != nullptr) server->options.budget->Release(bytes);
    space_wake.cancel();
  }

  // Ends one in-flight request that gets no reply.
  void Unanswered() {
    --inflight;
    reader_wake.cancel();  // Back-pressure may have paused reading.
    writer_wake.cancel();  // The writer closes a finished connection once nothing is in flight.
  }

  // Appends `reply` to the next write. Dropped once the connection is closed or closing.
  // `answers_request`: the reply ends one in-flight request (the ErrorReply does not).
  void QueueReply(const v1::Envelope& reply, bool answers_request) {
    if (closed || close_after_flush) return;
    const size_t start = pending.size();
    AppendFrame(reply, &pending);
    const size_t body_bytes = pending.size() - start - kFrameHeaderBytes;
    RequestBudget* const budget = server->options.budget.get();
    Status error;
    if (body_bytes > server->options.max_frame_bytes) {
      // The client would refuse the frame and drop the connection; answer this request only.
      error = Status::Internal("reply of " + std::to_string(body_bytes) +
                               " bytes is over the frame limit of " +
                               std::to_string(server->options.max_frame_bytes) + " bytes");
      uint64_t suppressed = 0;
      if (server->client_errors.Allow(&suppressed)) {
        server->log->error("peer={} request id={}: {}{}", internal::ToString(peer), reply.id(),
                           error.message(), LogLimiter::SuppressedNote(suppressed));
      }
    } else if (budget != nullptr && !budget->ReserveReply(pending.size() - start)) {
      // Only a read's reply is this big: refusing it loses no write.
      error = Status::Overloaded(
          "this node holds its limit of " + std::to_string(budget->options().max_bytes) +
          " bytes of requests and replies in flight; the reply of " + std::to_string(body_bytes) +
          " bytes was not sent: retry later or on another node");
    }
    if (!error.ok()) {
      pending.resize(start);
      v1::Envelope substitute;
      substitute.set_id(reply.id());
      ToProto(error, substitute.mutable_error_reply()->mutable_status());
      AppendFrame(substitute, &pending);
      if (budget != nullptr) budget->ReserveReply(pending.size() - start);  // Small: never fails.
    }
    unwritten += pending.size() - start;
    if (answers_request) ++pending_replies;
    writer_wake.cancel();
  }

  // Answers a frame that could not be served with an ErrorReply, then closes once it is
  // written. The reader stops. `nothing_read`: no frame was read from the connection at all.
  void FailProtocol(uint64_t id, const Status& status, bool nothing_read = false) {
    uint64_t suppressed = 0;
    if (server->client_errors.Allow(&suppressed)) {
      server->log->warn("closing connection from {}: {}{}", internal::ToString(peer),
                        status.message(), LogLimiter::SuppressedNote(suppressed));
    }
    v1::Envelope reply;
    reply.set_id(id);
    ToProto(status, reply.mutable_error_reply()->mutable_status());
    reply.mutable_error_reply()->set_nothing_read(nothing_read);
    QueueReply(reply, /*answers_request=*/false);
    close_after_flush = true;
    read_done = true;
  }

  // Answers request `id` OVERLOADED without starting it: the node's budget is spent.
  void Refuse(uint64_t id, const RequestBudget& budget) {
    const RequestBudget::Options& limits = budget.options();
    v1::Envelope reply;
    reply.set_id(id);
    ToProto(Status::Overloaded("this node is serving its limit of requests in flight (" +
                               std::to_string(limits.max_requests) + " requests, " +
                               std::to_string(limits.max_bytes) +
                               " bytes); the request was not started: retry later or on "
                               "another node"),
            reply.mutable_error_reply()->mutable_status());
    QueueReply(reply, /*answers_request=*/false);
  }

  // The client closed its side (or reading failed): write what is owed, then close.
  void EndOfInput() {
    read_done = true;
    writer_wake.cancel();
  }

  void OnException(const char* where, const std::exception_ptr& e) {
    server->log->error("connection from {}: {} threw: {}; closing it", internal::ToString(peer),
                       where, DescribeException(e));
    Close();
  }

  const std::shared_ptr<ServerState> server;
  const asio::any_io_executor executor;
  Stream stream;
  tcp::endpoint peer;
  // Timers used as condition variables: they never expire; cancel() wakes the waiter.
  asio::steady_timer writer_wake;
  asio::steady_timer reader_wake;
  asio::steady_timer space_wake;  // Requests waiting for room for their reply.
  asio::steady_timer watchdog;
  uint64_t registry_id = 0;

  FrameReader reader;            // Used by the handshake, then by the read loop only.
  RequestHandler handler;        // The server's, or the one its handshake returned.
  std::string pending;           // Framed replies waiting for the writer.
  std::string writing;           // The bytes of the write in progress; swapped with `pending`.
  uint32_t pending_replies = 0;  // Replies to requests in `pending`.
  uint32_t inflight = 0;         // Requests read whose reply is not written yet.
  uint64_t unwritten = 0;        // Bytes of replies queued (pending, writing) not yet written.

  bool closed = false;
  bool read_done = false;          // The reader exited; no more requests will come.
  bool close_after_flush = false;  // An ErrorReply was queued; close once it is written.
  bool write_active = false;
  bool read_paused = false;  // The reader waits for replies to be written (back-pressure).
  bool lingering = false;
  SteadyClock::time_point last_activity;
  SteadyClock::time_point write_progress;  // Last time a write moved bytes.
  SteadyClock::time_point linger_deadline;
};

// The id of a frame body that failed ParseEnvelope, when it parses at all (the envelope then
// carried unknown fields); else 0.
uint64_t ReadableId(std::string_view body) {
  v1::Envelope probe;
  if (!probe.ParseFromArray(body.data(), static_cast<int>(body.size()))) return 0;
  return probe.id();
}

// Gives a request's frame bytes back to the node's budget when its handler is done (or its
// coroutine is destroyed unfinished). The budget outlives it: the coroutine's connection
// parameter, destroyed after its locals, holds the server's options, which hold the budget.
class BudgetRelease {
 public:
  BudgetRelease(RequestBudget* budget, uint64_t bytes, bool client)
      : budget_(budget), bytes_(bytes), client_(client) {}
  BudgetRelease(const BudgetRelease&) = delete;
  BudgetRelease& operator=(const BudgetRelease&) = delete;
  ~BudgetRelease() {
    if (budget_ != nullptr) budget_->Finish(bytes_, client_);
  }

 private:
  RequestBudget* const budget_;
  const uint64_t bytes_;
  const bool client_;
};

asio::awaitable<void> HandleRequest(std::shared_ptr<Connection> c, v1::Envelope request,
                                    uint64_t request_bytes) {
  const BudgetRelease release(c->server->options.budget.get(), request_bytes,
                              c->server->options.admit_requests);
  // Requests read before the connection paused wait for room for their replies: a client
  // that pipelines reads of big values and does not read the replies gets them one batch at a
  // time, instead of making this node hold all of them.
  while (c->ReplyRoomFull() && !c->closed) co_await c->space_wake.async_wait(kAsTuple);
  if (c->closed) {
    c->Unanswered();
    co_return;
  }
  const uint64_t id = request.id();
  v1::Envelope reply = co_await c->handler(std::move(request));
  if (reply.body_case() == v1::Envelope::BODY_NOT_SET) {
    c->Unanswered();
    co_return;
  }
  reply.set_id(id);
  c->QueueReply(reply, /*answers_request=*/true);
}

// Whether a connection's first bytes open a TLS handshake record (RFC 8446, 5.1: type 0x16,
// then a legacy version 3.0 to 3.4). A plain frame starts with its body length, little-endian,
// which matches only for a first frame of exactly 66,326 + k * 16 MiB bytes.
bool LooksLikeTls(const unsigned char* bytes) {
  return bytes[0] == 0x16 && bytes[1] == 0x03 && bytes[2] <= 0x04;
}

// How long to wait before peeking again when a connection's first bytes came in pieces.
constexpr milliseconds kPeekRetry{5};

// Runs the TLS handshake of a new connection: true once TLS is on; false, without a handshake,
// when the client closed before sending anything (a port probe, say: nothing worth a warning).
// A client that sends plain frames instead (one without a CA file) gets kInvalidArgument, for
// an ErrorReply it can read, rather than a connection closed mid-request for no reason it can
// see. The caller bounds the time.
asio::awaitable<Result<bool>> StartTls(std::shared_ptr<Connection> c) {
  unsigned char first[3] = {};
  for (;;) {
    auto [ec, n] = co_await c->stream.socket().async_receive(asio::buffer(first),
                                                             tcp::socket::message_peek, kAsTuple);
    if (ec || n == 0) co_return false;
    if (n == sizeof first) break;
    asio::steady_timer pause(c->executor, kPeekRetry);  // Rare: a record split after 1-2 bytes.
    co_await pause.async_wait(kAsTuple);
  }
  if (!LooksLikeTls(first)) {
    co_return Status::InvalidArgument(
        "this port speaks TLS only: connect with TLS and the CA that signed the node's "
        "certificate (dialkv --tls-ca, ClientOptions::tls_ca_file; between nodes, "
        "--peer-tls-ca/--peer-tls-cert/--peer-tls-key)");
  }
  Status started = co_await c->stream.StartTls(c->server->options.tls, /*host=*/"");
  if (!started.ok()) co_return started;
  co_return true;
}

asio::awaitable<void> ReadLoop(std::shared_ptr<Connection> c) {
  const FrameServer::Options& options = c->server->options;
  if (options.tls != nullptr) {
    const Result<bool> tls =
        co_await WithDeadline(StartTls(c), options.tls_handshake_timeout_ms, "TLS handshake");
    if (c->closed) co_return;
    if (tls.status().code() == Code::kInvalidArgument) {  // Plain frames: answered in kind.
      c->FailProtocol(0, tls.status(), /*nothing_read=*/true);
      co_return;
    }
    if (!tls.ok() || !*tls) {
      uint64_t suppressed = 0;
      if (!tls.ok() && c->server->client_errors.Allow(&suppressed)) {
        c->server->log->warn("closing connection from {}: {}{}", internal::ToString(c->peer),
                             tls.status().message(), LogLimiter::SuppressedNote(suppressed));
      }
      c->Close();
      co_return;
    }
    c->last_activity = SteadyClock::now();
  }
  if (options.handshake) {
    Result<RequestHandler> handler = co_await options.handshake(c->stream, c->reader);
    if (c->closed) co_return;
    if (!handler.ok()) {
      c->Close();  // The handshake logged and counted it, and answered if it could.
      co_return;
    }
    c->handler = std::move(handler).value();
    c->last_activity = SteadyClock::now();
  }
  while (!c->closed) {
    // Back-pressure: wait until the writer has sent a reply. Bounded by the handlers' own
    // deadlines and the write timeout.
    bool pause_counted = false;
    while ((c->inflight >= options.max_inflight_per_connection || c->ReplyRoomFull()) &&
           !c->closed) {
      if (!pause_counted && c->ReplyRoomFull() && options.reply_pauses != nullptr) {
        options.reply_pauses->Inc();
        pause_counted = true;
      }
      c->read_paused = true;  // A partial frame cannot complete meanwhile: not the client's fault.
      co_await c->reader_wake.async_wait(kAsTuple);
      c->read_paused = false;
    }
    if (c->closed) break;
    std::string_view body;
    const Status read = co_await c->reader.Next(c->stream, &body);
    if (c->closed) break;
    if (!read.ok()) {
      if (read.code() == Code::kInvalidArgument) {
        c->FailProtocol(0, read);
      } else {
        c->EndOfInput();
      }
      break;
    }
    c->last_activity = SteadyClock::now();
    v1::Envelope request;
    const Status parsed = ParseEnvelope(body, &request);
    if (!parsed.ok()) {
      c->FailProtocol(ReadableId(body), parsed);
      break;
    }
    const uint64_t request_bytes = kFrameHeaderBytes + body.size();
    if (RequestBudget* budget = options.budget.get(); budget != nullptr) {
      if (!options.admit_requests) {
        budget->AdmitAlways(request_bytes);
      } else if (!budget->Admit(request_bytes)) {
        c->Refuse(request.id(), *budget);
        continue;
      }
    }
    ++c->inflight;
    asio::co_spawn(c->executor, HandleRequest(c, std::move(request), request_bytes),
                   [c](const std::exception_ptr& e) {
                     if (e) c->OnException("request handler", e);
                   });
  }
}

// Shuts down the sending side, then discards input until the client closes, an error, or
// the linger deadline (enforced by the watchdog).
asio::awaitable<void> Linger(std::shared_ptr<Connection> c) {
  asio::error_code ignored;
  c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  c->lingering = true;
  c->linger_deadline = SteadyClock::now() + kLingerTimeout;
  c->watchdog.cancel();  // Re-arms it for the linger deadline.
  std::string discard(kLingerChunkBytes, '\0');
  for (int i = 0; i < kMaxLingerReads && !c->closed; ++i) {
    // Under TLS too the raw bytes are read: nothing of them is wanted.
    auto [ec, n] = co_await c->stream.socket().async_read_some(asio::buffer(discard), kAsTuple);
    if (ec) break;
  }
}

asio::awaitable<void> WriteLoop(std::shared_ptr<Connection> c) {
  while (!c->closed) {
    if (c->pending.empty()) {
      if (c->close_after_flush) {
        co_await Linger(c);
        c->Close();
        break;
      }
      if (c->read_done && c->inflight == 0) {
        c->Close();
        break;
      }
      co_await c->writer_wake.async_wait(kAsTuple);
      continue;
    }
    c->writing.swap(c->pending);
    const uint32_t replies = c->pending_replies;
    c->pending_replies = 0;
    c->write_active = true;
    c->write_progress = SteadyClock::now();
    // async_write_some rather than async_write, to record progress: the write timeout is
    // about a client that stopped reading, not one reading a big batch slowly.
    asio::error_code ec;
    for (size_t written = 0; written < c->writing.size() && !c->closed;) {
      auto [error, n] = co_await c->stream.async_write_some(
          asio::buffer(c->writing.data() + written, c->writing.size() - written), kAsTuple);
      if (error) {
        ec = error;
        break;
      }
      written += n;
      c->write_progress = SteadyClock::now();
    }
    c->write_active = false;
    const size_t batch_bytes = c->writing.size();
    if (c->writing.capacity() > kKeepBufferBytes) {
      std::string().swap(c->writing);
    } else {
      c->writing.clear();
    }
    if (c->closed) break;  // Close() gave back every byte still counted.
    c->ReleaseReplyBytes(batch_bytes);
    if (ec) {
      DIALKV_LOG_DEBUG(*c->server->log, "connection from {}: write failed: {}",
                       internal::ToString(c->peer), ec.message());
      c->Close();
      break;
    }
    c->last_activity = SteadyClock::now();
    c->inflight -= replies;
    c->reader_wake.cancel();
  }
}

// Enforces the write timeout, the idle timeout and the linger deadline. Checks every quarter
// of the shortest timeout, so a deadline is enforced at most 25% late without re-arming a
// timer on every read and write; Linger() wakes it to wait for the linger deadline exactly.
asio::awaitable<void> Watchdog(std::shared_ptr<Connection> c) {
  const FrameServer::Options& options = c->server->options;
  const milliseconds write_timeout(options.write_timeout_ms);
  const milliseconds idle_timeout(options.idle_timeout_ms);
  const milliseconds frame_timeout(options.frame_read_timeout_ms);
  const milliseconds period = internal::WatchdogPeriod(
      {options.write_timeout_ms, options.idle_timeout_ms, options.frame_read_timeout_ms});
  while (!c->closed) {
    if (c->lingering) {
      c->watchdog.expires_at(c->linger_deadline);
    } else {
      c->watchdog.expires_after(period);
    }
    co_await c->watchdog.async_wait(kAsTuple);
    if (c->closed) break;
    const auto now = SteadyClock::now();
    if (c->lingering) {
      if (now >= c->linger_deadline) c->Close();
      continue;
    }
    if (frame_timeout.count() > 0 && !c->read_done && !c->read_paused && c->reader.partial() &&
        now - c->reader.partial_since() >= frame_timeout) {
      uint64_t suppressed = 0;
      if (c->server->client_errors.Allow(&suppressed)) {
        c->server->log->warn(
            "closing connection from {}: a frame begun {} ms ago is still incomplete ({} bytes "
            "so far){}",
            internal::ToString(c->peer),
            std::chrono::duration_cast<milliseconds>(now - c->reader.partial_since()).count(),
            c->reader.buffered(), LogLimiter::SuppressedNote(suppressed));
      }
      if (options.frame_timeouts != nullptr) options.frame_timeouts->Inc();
      c->Close();
    } else if (c->write_active && write_timeout.count() > 0 &&
               now - c->write_progress >= write_timeout) {
      uint64_t suppressed = 0;
      if (c->server->client_errors.Allow(&suppressed)) {
        c->server->log->warn(
            "closing connection from {}: no reply bytes could be written for {} ms (client "
            "not reading?){}",
            internal::ToString(c->peer), options.write_timeout_ms,
            LogLimiter::SuppressedNote(suppressed));
      }
      c->Close();
    } else if (idle_timeout.count() > 0 && c->inflight == 0 && !c->write_active &&
               c->pending.empty() && now - c->last_activity >= idle_timeout) {
      DIALKV_LOG_DEBUG(*c->server->log, "closing connection from {}: idle for {} ms",
                       internal::ToString(c->peer), options.idle_timeout_ms);
      c->Close();
    }
  }
}

// Completion of a connection's coroutine: an exception is logged and closes the connection.
auto CloseOnException(std::shared_ptr<Connection> c, const char* where) {
  return [c = std::move(c), where](const std::exception_ptr& e) {
    if (e) c->OnException(where, e);
  };
}

// Serves `socket` on its own executor. Called on the acceptor's thread; touches the new
// connection only before its coroutines start.
void StartConnection(const std::shared_ptr<ServerState>& state, tcp::socket socket) {
  asio::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // Failing costs latency only.
  auto c = std::make_shared<Connection>(std::move(socket), state);
  if (!state->connections.Add(c, &c->registry_id)) {  // Stop() ran meanwhile.
    c->stream.Close();
    return;
  }
  DIALKV_LOG_DEBUG(*state->log, "accepted connection from {}", internal::ToString(c->peer));
  asio::co_spawn(c->executor, ReadLoop(c), CloseOnException(c, "reader"));
  asio::co_spawn(c->executor, WriteLoop(c), CloseOnException(c, "writer"));
  asio::co_spawn(c->executor, Watchdog(c), CloseOnException(c, "watchdog"));
}

// Answers a connection over max_connections with an ErrorReply and closes it, from the
// acceptor's thread without waiting: the reply is a few bytes into an empty send buffer, so one
// non-blocking write takes it (or it is lost, and the client sees the close alone).
void RefuseConnection(ServerState& state, tcp::socket socket) {
  const uint32_t limit = state.options.max_connections;
  if (state.options.connections_refused != nullptr) state.options.connections_refused->Inc();
  asio::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  uint64_t suppressed = 0;
  if (state.client_errors.Allow(&suppressed)) {
    state.log->warn("refused a connection from {}: {} connections are open, the limit{}",
                    internal::ToString(peer), limit, LogLimiter::SuppressedNote(suppressed));
  }
  v1::Envelope reply;
  ToProto(Status::Overloaded("this node already serves its limit of " + std::to_string(limit) +
                             " connections on this port; retry later or on another node"),
          reply.mutable_error_reply()->mutable_status());
  reply.mutable_error_reply()->set_nothing_read(true);
  std::string frame;
  AppendFrame(reply, &frame);
  socket.non_blocking(true, ec);
  if (!ec) socket.write_some(asio::buffer(frame), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

// Serves `socket`, or refuses it when max_connections are open. On the acceptor's thread.
void AcceptConnection(const std::shared_ptr<ServerState>& state, tcp::socket socket) {
  if (state->connections.AtLimit(state->options.max_connections)) {
    RefuseConnection(*state, std::move(socket));
  } else {
    StartConnection(state, std::move(socket));
  }
}

}  // namespace

struct FrameServer::Impl : internal::ListeningServer<ServerState> {};

Result<std::unique_ptr<FrameServer>> FrameServer::Listen(IoContextPool& pool,
                                                         const ListenAddress& address,
                                                         Options options, RequestHandler handler) {
  if (!handler) return Status::InvalidArgument("FrameServer needs a request handler");
  if (options.max_frame_bytes == 0 || options.max_inflight_per_connection == 0) {
    return Status::InvalidArgument(
        "FrameServer needs max_frame_bytes and max_inflight_per_connection of at least 1");
  }
  Result<internal::ListeningServer<ServerState>> server = internal::ListenFor(
      pool, address, "clients", std::make_shared<ServerState>(options, std::move(handler)),
      &ServerState::client_errors, AcceptConnection);
  if (!server.ok()) return server.status();
  return std::unique_ptr<FrameServer>(
      new FrameServer(std::make_shared<Impl>(Impl{std::move(server).value()})));
}

FrameServer::FrameServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

FrameServer::~FrameServer() { Stop(); }

tcp::endpoint FrameServer::local_endpoint() const { return impl_->listener->local_endpoint(); }

void FrameServer::Start() { impl_->listener->Start(); }

void FrameServer::Stop() { impl_->listener->Stop(); }

uint64_t FrameServer::open_connections() const { return impl_->state->connections.size(); }

}  // namespace dialkv::net
