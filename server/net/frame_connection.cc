#include "server/net/frame_connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "server/common/logging.h"
#include "server/net/frame.h"
#include "server/net/frame_reader.h"
#include "server/net/handshake.h"
#include "server/net/io_common.h"

namespace dialkv::net {
namespace {

using Endpoints = std::vector<asio::ip::tcp::endpoint>;

Result<Endpoints> SystemLookup(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) return Status::Unavailable("cannot resolve " + host + ": " + gai_strerror(rc));
  Endpoints endpoints;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    asio::ip::tcp::endpoint endpoint;
    if (a->ai_addrlen > endpoint.capacity()) continue;
    std::memcpy(endpoint.data(), a->ai_addr, a->ai_addrlen);
    endpoint.resize(a->ai_addrlen);
    endpoints.push_back(endpoint);
  }
  freeaddrinfo(found);
  if (endpoints.empty()) return Status::Unavailable(host + " has no address");
  return endpoints;
}

// One lookup, shared by its thread and the coroutine waiting for it (which may give up first).
struct Lookup {
  std::mutex mu;
  std::optional<Result<Endpoints>> result;  // Guarded by mu.
  asio::steady_timer* waiter = nullptr;     // Guarded by mu: the waiting coroutine's timer.
};

}  // namespace

// One TCP connection, from connect to failure. A new connection to the same endpoint is a new
// Session, so coroutines still finishing on a failed one never touch its successor.
struct Connection::Session {
  Session(const asio::any_io_executor& executor, uint32_t max_frame_bytes)
      : stream(executor), reader(max_frame_bytes) {}

  Stream stream;
  FrameReader reader;  // Used by the handshake, then by the read loop only.
  std::unordered_map<uint64_t, Call*> pending;  // Sent, waiting for their replies.
  // Batches sent and not answered: batch id -> the ids of its items (in `pending`).
  std::unordered_map<uint64_t, std::vector<uint64_t>> batches;
  std::string outbox;         // Frames queued for the next write, written as one.
  std::string in_write;       // The bytes of the write in progress.
  bool writing = false;       // A WriteLoop is running.
  bool nothing_read = false;  // The node refused the connection before reading any frame.
  bool dead = false;          // Failed; every call it carried was woken.
};

asio::awaitable<bool> Waiter::Wait() {
  while (!woken_) {
    auto [ec] = co_await timer_.async_wait(kAsTuple);
    if (!ec) break;  // The deadline. Cancellation without Wake() waits again.
  }
  co_return woken_;
}

void Waiter::Wake() {
  woken_ = true;
  timer_.cancel();
}

Backoff::Backoff(uint32_t initial_ms, uint32_t max_ms)
    : initial_ms_(initial_ms), max_ms_(std::max(initial_ms, max_ms)) {}

std::chrono::milliseconds Backoff::Failed() {
  if (!enabled()) return std::chrono::milliseconds(0);
  current_ms_ =
      current_ms_ == 0
          ? initial_ms_
          : static_cast<uint32_t>(std::min<uint64_t>(uint64_t{current_ms_} * 2, uint64_t{max_ms_}));
  return std::chrono::milliseconds(current_ms_);
}

Connection::Connection(asio::any_io_executor executor, Endpoint endpoint, Options options)
    : executor_(std::move(executor)),
      endpoint_(std::move(endpoint)),
      options_(std::move(options)),
      log_(Log(options_.log_subsystem)),
      backoff_(options_.backoff_initial_ms, options_.backoff_max_ms) {}

// Every coroutine that uses `this` has finished by now: the client joins its I/O thread,
// whose run() returns only once no work is left, before destroying its connections.
Connection::~Connection() = default;

asio::awaitable<Status> Connection::Connect(Waiter* waiter) {
  if (session_ != nullptr) co_return Status::Ok();
  if (!close_reason_.ok()) co_return close_reason_;
  if (dialing_ == nullptr) {
    if (const auto now = SteadyClock::now(); now < next_attempt_) {
      if (next_attempt_ < waiter->deadline()) {
        // The pause ends before this caller's deadline: the attempt that follows it is the
        // caller's best chance (a peer that just restarted is back by then). Failing now
        // would report a peer as unreachable while there was time to reach it.
        asio::steady_timer pause(executor_);
        pause.expires_at(next_attempt_);
        co_await pause.async_wait(kAsTuple);
        co_return co_await Connect(waiter);  // Someone may have dialed, or closed, meanwhile.
      }
      const auto pause = std::chrono::ceil<std::chrono::milliseconds>(next_attempt_ - now);
      co_return Status::Unavailable(last_error_.message() + "; next connection attempt in " +
                                    std::to_string(pause.count()) + " ms");
    }
    if (options_.connect_attempts != nullptr) options_.connect_attempts->Inc();
    dialing_ = std::make_shared<Session>(executor_, options_.max_frame_bytes);
    auto session = dialing_;
    ++coroutines_;
    asio::co_spawn(executor_, Dial(session), [this, session](std::exception_ptr e) {
      if (e) {
        log_.error("endpoint={} connect failed: {}", name(), DescribeException(e));
        if (dialing_ == session) dialing_.reset();
        DialFailed(Status::Internal("connect failed: " + DescribeException(e)));
        for (Waiter* w : std::exchange(connect_waiters_, {})) w->Wake();
      }
      --coroutines_;  // The last use of `this` (idle()).
    });
  }
  waiter->Arm();
  connect_waiters_.push_back(waiter);
  const bool woken = co_await waiter->Wait();
  if (!woken) {
    std::erase(connect_waiters_, waiter);
    co_return Status::Timeout("the deadline passed while connecting");
  }
  if (session_ != nullptr) co_return Status::Ok();
  co_return last_error_.ok() ? Status::Unavailable("connection closed") : last_error_;
}

asio::awaitable<void> Connection::Dial(std::shared_ptr<Session> session) {
  Status status = co_await Open(&session->stream.socket());
  if (status.ok() && close_reason_.ok() && options_.tls != nullptr) {
    status = co_await WithDeadline(session->stream.StartTls(options_.tls, endpoint_.host),
                                   options_.connect_timeout_ms, "TLS handshake");
    if (!status.ok()) DIALKV_LOG_DEBUG(log_, "endpoint={} {}", name(), status.message());
  }
  if (status.ok() && close_reason_.ok() && options_.handshake) {
    status = co_await options_.handshake(session->stream, session->reader);
    if (!status.ok()) log_.warn("endpoint={} handshake failed: {}", name(), status.message());
  }
  // Close() during the attempt: whatever the attempt says, its reason is the answer.
  if (!close_reason_.ok()) status = close_reason_;
  dialing_.reset();
  if (status.ok()) {
    session_ = session;
    ++sessions_;
    last_error_ = Status::Ok();
    backoff_.Succeeded();
    ++coroutines_;
    asio::co_spawn(executor_, ReadLoop(session), [this, session](std::exception_ptr e) {
      if (e) {
        log_.error("endpoint={} reader failed: {}", name(), DescribeException(e));
        Fail(session, Status::Internal("reader failed: " + DescribeException(e)));
      }
      --coroutines_;  // The last use of `this` (idle()).
    });
  } else {
    session->stream.Close();
    DIALKV_LOG_DEBUG(log_, "endpoint={} connect failed: {}", name(), status.message());
    DialFailed(std::move(status));
  }
  for (Waiter* w : std::exchange(connect_waiters_, {})) w->Wake();
}

void Connection::ResetBackoff() {
  backoff_.Succeeded();
  next_attempt_ = SteadyClock::time_point();
}

void Connection::DialFailed(Status reason) {
  last_error_ = std::move(reason);
  if (!close_reason_.ok()) return;  // Not the endpoint's fault; no attempt will follow.
  if (options_.connect_failures != nullptr) options_.connect_failures->Inc();
  next_attempt_ = SteadyClock::now() + backoff_.Failed();
}

asio::awaitable<Status> Connection::Open(asio::ip::tcp::socket* socket) {
  std::vector<asio::ip::tcp::endpoint> targets;
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(endpoint_.host, ec);
  if (!ec) {
    targets.emplace_back(address, endpoint_.port);
  } else {
    Result<Endpoints> found = co_await LookUp();
    if (!found.ok()) co_return found.status();
    targets = std::move(found).value();
  }
  if (!close_reason_.ok()) co_return close_reason_;

  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  asio::steady_timer timer(executor_, std::chrono::milliseconds(options_.connect_timeout_ms));
  auto outcome =
      co_await (asio::async_connect(*socket, targets, kAsTuple) || timer.async_wait(kAsTuple));
  if (outcome.index() == 1) {
    co_return Status::Unavailable("connect timed out after " +
                                  std::to_string(options_.connect_timeout_ms) + " ms");
  }
  const asio::error_code connect_ec = std::get<0>(std::get<0>(outcome));
  if (connect_ec) co_return Status::Unavailable(connect_ec.message());
  // Requests are small and latency-bound; the writer already coalesces what is queued.
  socket->set_option(asio::ip::tcp::no_delay(true), ec);
  if (ec) co_return Status::Unavailable("cannot set TCP_NODELAY: " + ec.message());
  if (options_.unacked_timeout_ms > 0) {
    const unsigned int ms = options_.unacked_timeout_ms;
    if (setsockopt(socket->native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms) != 0) {
      co_return Status::Unavailable(std::string("cannot set TCP_USER_TIMEOUT: ") +
                                    std::strerror(errno));
    }
  }
  co_return Status::Ok();
}

asio::awaitable<Result<Endpoints>> Connection::LookUp() {
  auto lookup = std::make_shared<Lookup>();
  asio::steady_timer timer(executor_, std::chrono::milliseconds(options_.lookup_timeout_ms));
  lookup->waiter = &timer;
  // However this frame ends (it may be destroyed unresumed when its io_context goes away),
  // the lookup's thread no longer touches the timer afterwards.
  struct Unlink {
    Lookup& lookup;
    ~Unlink() {
      std::lock_guard<std::mutex> lock(lookup.mu);
      lookup.waiter = nullptr;
    }
  } unlink{*lookup};
  using LookupFn = std::function<Result<Endpoints>(const std::string&, uint16_t)>;
  LookupFn fn = options_.lookup ? options_.lookup : LookupFn(&SystemLookup);
  try {
    std::thread([lookup, fn = std::move(fn), host = endpoint_.host, port = endpoint_.port,
                 executor = executor_] {
      Result<Endpoints> found = fn(host, port);
      std::lock_guard<std::mutex> lock(lookup->mu);
      lookup->result.emplace(std::move(found));
      if (lookup->waiter == nullptr) return;  // Nobody waits any more: the result is dropped.
      // The timer belongs to the waiting coroutine's thread: cancel it there.
      asio::post(executor, [lookup] {
        std::lock_guard<std::mutex> lock(lookup->mu);
        if (lookup->waiter != nullptr) lookup->waiter->cancel();
      });
    }).detach();
  } catch (const std::system_error& e) {
    co_return Status::Unavailable(std::string("cannot start a lookup of ") + endpoint_.host + ": " +
                                  e.what());
  }
  lookup_timer_ = &timer;
  co_await timer.async_wait(kAsTuple);  // Cancelled when the result is in, or by Close().
  lookup_timer_ = nullptr;
  std::optional<Result<Endpoints>> result;
  {
    std::lock_guard<std::mutex> lock(lookup->mu);
    result = std::move(lookup->result);
  }
  if (!close_reason_.ok()) co_return close_reason_;
  if (!result.has_value()) {
    co_return Status::Unavailable("no answer looking up " + endpoint_.host + " within " +
                                  std::to_string(options_.lookup_timeout_ms) + " ms");
  }
  co_return std::move(*result);
}

Status Connection::Send(uint64_t id, const v1::Envelope& request, Call* call) {
  if (session_ == nullptr) {
    return last_error_.ok() ? Status::Unavailable("connection closed") : last_error_;
  }
  AppendFrame(request, &session_->outbox);
  Queued(id, call);
  return Status::Ok();
}

Status Connection::SendBatch(uint64_t id, const v1::Envelope& batch,
                             std::span<const BatchedCall> calls) {
  if (session_ == nullptr) {
    return last_error_.ok() ? Status::Unavailable("connection closed") : last_error_;
  }
  AppendFrame(batch, &session_->outbox);
  std::vector<uint64_t>& ids = session_->batches[id];
  ids.reserve(calls.size());
  for (const BatchedCall& batched : calls) {
    batched.call->reply.reset();
    batched.call->lost = Status::Ok();
    batched.call->not_read = false;
    session_->pending.emplace(batched.id, batched.call);
    ids.push_back(batched.id);
  }
  StartWriter();
  return Status::Ok();
}

void Connection::Queued(uint64_t id, Call* call) {
  call->reply.reset();
  call->lost = Status::Ok();
  call->not_read = false;
  call->waiter.Arm();
  session_->pending.emplace(id, call);
  StartWriter();
}

void Connection::StartWriter() {
  if (session_->writing) return;  // The running writer takes this frame in its next write.
  // The writer first yields to the handlers already queued on this thread (WriteLoop), so
  // the frames they queue go out in its first write.
  session_->writing = true;
  auto session = session_;
  ++coroutines_;
  asio::co_spawn(executor_, WriteLoop(session), [this, session](std::exception_ptr e) {
    if (e) {
      log_.error("endpoint={} writer failed: {}", name(), DescribeException(e));
      Fail(session, Status::Internal("writer failed: " + DescribeException(e)));
    }
    --coroutines_;  // The last use of `this` (idle()).
  });
}

void Connection::Forget(uint64_t id) {
  if (session_ != nullptr) session_->pending.erase(id);
}

void Connection::Close(const Status& reason) {
  close_reason_ = reason.ok() ? Status::Unavailable("connection closed") : reason;
  if (lookup_timer_ != nullptr) lookup_timer_->cancel();
  if (dialing_ != nullptr) {
    dialing_->stream.Close();
  }
  if (session_ != nullptr) Fail(session_, close_reason_);
}

asio::awaitable<void> Connection::ReadLoop(std::shared_ptr<Session> session) {
  for (;;) {
    std::string_view body;
    Status status = co_await session->reader.Next(session->stream, &body);
    if (session->dead) co_return;
    if (status.code() == Code::kInvalidArgument) {  // Over the frame limit.
      Fail(session, Status::Internal("reply " + status.message() + "; is " + name() +
                                     " the right dialkv port?"));
      co_return;
    }
    if (!status.ok()) {
      Fail(session, std::move(status));
      co_return;
    }
    // Not net::ParseEnvelope: its refusal of unknown fields keeps a node from misreading a
    // newer client's request. A reply from a newer node may carry fields this client does not
    // know, and proto3 lets a reader ignore them.
    v1::Envelope reply;
    if (!reply.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      Fail(session, Status::Internal("reply frame of " + std::to_string(body.size()) +
                                     " bytes is not a dialkv.v1.Envelope"));
      co_return;
    }
    if (reply.id() == 0) {
      // The node could not read a frame of ours, or refused the connection (too many, TLS
      // only); it closes the connection after this.
      Status why = reply.has_error_reply() ? net::FromProto(reply.error_reply().status())
                                           : Status::Internal("reply without a request id");
      session->nothing_read = reply.error_reply().nothing_read();
      Fail(session, Status(why.ok() ? Code::kInternal : why.code(),
                           "node closed the connection: " + why.message()));
      co_return;
    }
    Deliver(*session, std::move(reply));
  }
}

void Connection::Deliver(Session& session, v1::Envelope reply) {
  if (auto batch = session.batches.find(reply.id()); batch != session.batches.end()) {
    const std::vector<uint64_t> ids = std::move(batch->second);
    session.batches.erase(batch);
    if (!reply.has_peer_batch_reply()) {
      // The frame as a whole was refused: that is every item's answer.
      for (const uint64_t id : ids) {
        v1::Envelope copy = reply;
        copy.set_id(id);
        Deliver(session, std::move(copy));
      }
      return;
    }
    v1::PeerBatch& items = *reply.mutable_peer_batch_reply();
    for (v1::Envelope& item : *items.mutable_items()) {
      // The batch's header stands for each item's (the peer transport checks it per reply).
      if (reply.has_peer()) *item.mutable_peer() = reply.peer();
      Deliver(session, std::move(item));
    }
    return;  // An item the reply left out waits for its deadline, as an unanswered request.
  }
  auto it = session.pending.find(reply.id());
  if (it == session.pending.end()) return;  // Its request's deadline passed.
  Call* call = it->second;
  session.pending.erase(it);
  call->reply = std::move(reply);
  call->waiter.Wake();
}

asio::awaitable<void> Connection::WriteLoop(std::shared_ptr<Session> session) {
  // Let the handlers that are ready now run first: requests sent by them (many callers woken
  // by one batch of replies or client requests) join this write instead of each costing a
  // send of its own. Posting to this thread's own queue costs no system call.
  co_await asio::post(executor_, kAsTuple);
  while (!session->dead && !session->outbox.empty()) {
    session->in_write.clear();
    session->in_write.swap(session->outbox);
    ++writes_;
    auto [ec, n] =
        co_await asio::async_write(session->stream, asio::buffer(session->in_write), kAsTuple);
    if (ec) {
      Fail(session, Status::Unavailable("write failed: " + ec.message()));
      break;
    }
  }
  session->writing = false;
}

void Connection::Fail(std::shared_ptr<Session> session, Status reason) {
  if (session->dead) return;
  session->dead = true;
  if (reason.ok()) reason = Status::Unavailable("connection closed");
  session->stream.Close();
  if (session_ == session) {
    session_.reset();
    last_error_ = reason;
  }
  DIALKV_LOG_DEBUG(log_, "endpoint={} connection failed: {} ({} requests in flight)", name(),
                   reason.message(), session->pending.size());
  session->batches.clear();
  for (auto& [id, call] : std::exchange(session->pending, {})) {
    call->lost = reason;
    call->not_read = session->nothing_read;
    call->waiter.Wake();
  }
}

}  // namespace dialkv::net
