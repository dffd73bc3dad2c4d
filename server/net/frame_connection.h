#pragma once
// The calling side of the frame protocol: one endpoint as seen from one I/O thread, a lazily
// opened TCP connection that multiplexes many requests (Envelope ids; replies matched by id,
// in any order), with one reader coroutine and coalesced writes. Used by the client library
// and by the peer transport. A lost connection is reopened by the next Connect(); with a
// backoff configured, failed attempts are spaced out and Connect() fails fast in between.
//
// Thread-compatible: every object here lives on one I/O thread (one io_context run by one
// thread). The coroutines a Connection spawns use `this`; it must outlive them: its owner
// destroys it only after that thread has run out of work, or, after Close(), once idle().

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dialkv/status.h"
#include "proto/dialkv.pb.h"
#include "server/common/logging.h"
#include "server/common/metrics.h"
#include "server/net/endpoint.h"
#include "server/net/frame_reader.h"
#include "server/net/stream.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace dialkv::net {

using SteadyClock = std::chrono::steady_clock;

// One coroutine's wait for an event, bounded by a deadline. The event's producer calls
// Wake(); the waiter learns whether it was woken or hit the deadline. The wait is a timer, so
// it never blocks the thread.
class Waiter {
 public:
  explicit Waiter(const asio::any_io_executor& executor) : timer_(executor) {}

  void set_deadline(SteadyClock::time_point deadline) { timer_.expires_at(deadline); }
  SteadyClock::time_point deadline() const { return timer_.expiry(); }

  // Forgets an earlier Wake(): call before handing the waiter to a producer.
  void Arm() { woken_ = false; }
  // Suspends until Wake() or the deadline. Returns true when woken (a Wake() that races the
  // deadline counts as woken), false at the deadline.
  asio::awaitable<bool> Wait();
  void Wake();

 private:
  asio::steady_timer timer_;
  bool woken_ = false;
};

// A request sent on a connection, waiting for its reply.
struct Call {
  explicit Call(const asio::any_io_executor& executor) : waiter(executor) {}

  Waiter waiter;
  std::optional<v1::Envelope> reply;  // Set by the reader when the reply arrives.
  Status lost;  // Set (non-OK) when the connection failed after the request was sent.
  // With `lost`: the node said it read nothing from the connection, so the request was
  // definitely not applied.
  bool not_read = false;
  // With `lost`: its sender dropped the request before it went out (its deadline passed while
  // it waited for a batch), so it was definitely not delivered.
  bool not_sent = false;
};

// Exponential backoff between failed connection attempts: the first failure is followed by
// a pause of initial_ms, each further consecutive failure doubles it, up to max_ms; a
// successful attempt resets it. No jitter: a node has a handful of peers, and exact delays
// keep tests and fault-injection runs reproducible. initial_ms == 0 disables it (every
// failure may be retried at once).
class Backoff {
 public:
  // A max_ms below initial_ms is taken as initial_ms.
  Backoff(uint32_t initial_ms, uint32_t max_ms);

  bool enabled() const { return initial_ms_ > 0; }
  // Records one more failed attempt and returns the pause before the next one (0 when
  // disabled).
  std::chrono::milliseconds Failed();
  // Records a successful attempt: the next failure pauses initial_ms again.
  void Succeeded() { current_ms_ = 0; }

 private:
  uint32_t initial_ms_;
  uint32_t max_ms_;
  uint32_t current_ms_ = 0;  // The last pause; 0 after a success.
};

class Connection {
 public:
  struct Options {
    uint32_t connect_timeout_ms = 1000;
    uint32_t max_frame_bytes = 16u << 20;
    // Pauses between failed connection attempts (see Backoff); 0 retries at once, as a client
    // that fails over to another endpoint wants. A peer transport sets them so that a dead
    // peer costs one attempt per pause, not one per call.
    uint32_t backoff_initial_ms = 0;
    uint32_t backoff_max_ms = 0;
    // A connection whose sent bytes stay unacknowledged by the other side's kernel this long
    // is closed by the kernel (TCP_USER_TIMEOUT), failing its calls, so the next Connect()
    // resolves the host again and opens a new one. Without it a peer whose address vanished
    // (a container moved to another network address, a host gone without a reset) keeps the
    // connection for the kernel's retransmission limit, many minutes. 0: the kernel default.
    uint32_t unacked_timeout_ms = 0;
    // A host name is looked up afresh for each connection attempt, on a thread of its own, and
    // an attempt gives up waiting for its lookup after lookup_timeout_ms. A lookup that hangs
    // (a DNS server that lets queries for a vanished name time out: 20 s were seen for a
    // container cut off its network) then delays neither this endpoint's next attempt nor
    // other endpoints, as a resolver that answers lookups one at a time would.
    uint32_t lookup_timeout_ms = 2000;
    // The lookup (blocking, off the I/O thread). Empty: the system's (getaddrinfo). Tests
    // replace it; it may outlive this Connection, so it must own what it uses.
    std::function<Result<std::vector<asio::ip::tcp::endpoint>>(const std::string& host,
                                                               uint16_t port)>
        lookup = {};
    // Runs on each new connection (after TLS) before it carries any call (the peer transport's
    // authentication, peer_auth.h), reading with `reader`, which the connection goes on using.
    // An error fails the attempt as a refused connection would (and the backoff applies).
    std::function<asio::awaitable<Status>(Stream& stream, FrameReader& reader)> handshake = {};
    // Set: every new connection runs a TLS handshake in this context's dialling role first,
    // checking the certificate against the endpoint's host, within connect_timeout_ms; a
    // failure fails the attempt as a refused connection would. Null: plain TCP.
    std::shared_ptr<TlsContext> tls = nullptr;
    // Whose logger this connection's lines go to: the client library's or the peer transport's.
    Subsystem log_subsystem = Subsystem::kClient;
    // Counted when set (not owned; they must outlive this object): connection attempts
    // started, and those that failed.
    metrics::Counter* connect_attempts = nullptr;
    metrics::Counter* connect_failures = nullptr;
  };

  Connection(asio::any_io_executor executor, Endpoint endpoint, Options options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "host:port" as the user gave it.
  const std::string& name() const { return endpoint_.name; }

  // Returns once connected, opening the connection if needed (concurrent callers share one
  // attempt). `waiter` bounds the wait; it lives in the caller's frame, which stays
  // suspended here until this returns.
  // Errors: kUnavailable with the reason the attempt failed ("Connection refused", "connect
  // timed out after 1000 ms", or Close()'s reason); during a backoff pause that ends after
  // the waiter's deadline, kUnavailable at once, without an attempt, saying the last error and
  // when the next attempt is ("Connection refused; next connection attempt in 40 ms") — a
  // pause that ends before the deadline is waited out and followed by an attempt; kTimeout
  // when the waiter's deadline passed first (the attempt goes on for later callers).
  asio::awaitable<Status> Connect(Waiter* waiter);

  // Queues `request` (whose id is `id`), framed straight into the bytes of the next write,
  // and registers `call` (not owned; it must stay alive until woken or Forget(id)) to be woken
  // by its reply or by the connection's failure. Arms call->waiter. Requests queued while a
  // write is in progress, or by handlers that run before the writer starts, go out together
  // in one write, in the order they were queued.
  // Errors: kUnavailable when the connection is not open (then nothing was sent).
  Status Send(uint64_t id, const v1::Envelope& request, Call* call);

  // A call of a batch: the id of its item in the batch, and the call waiting for its reply.
  struct BatchedCall {
    uint64_t id;
    Call* call;
  };
  // Queues `batch` (an envelope whose body is a peer_batch_request, whose id is `id`, and whose
  // items are the requests of `calls`) as Send does one request, and registers each call
  // (already armed by its sender, which waits on it) to be woken by its item of the batch's
  // reply. A reply to `id` that is not a batch (a refusal of the frame as a whole) answers
  // every call of the batch with that reply.
  // Errors: kUnavailable when the connection is not open (then nothing was sent).
  Status SendBatch(uint64_t id, const v1::Envelope& batch, std::span<const BatchedCall> calls);

  // Stops waiting for the reply to `id` (its deadline passed); a late reply is dropped.
  void Forget(uint64_t id);

  // Closes the connection for good: fails every call sent on it, a connection attempt in
  // progress, and every later Connect() with `reason` (kUnavailable if `reason` is OK).
  void Close(const Status& reason);

  // Ends a backoff pause now and starts the next one from the initial pause: call it on a
  // sign that the endpoint is back (the peer's own messages reached us), so callers need not
  // wait out a pause that grew while it was down.
  void ResetBackoff();

  // A connection is open (Connect() would return at once).
  bool connected() const { return session_ != nullptr; }

  // Connections opened so far: it changes when the one open now is not the one open before.
  uint64_t sessions() const { return sessions_; }

  // No coroutine of this connection is running or pending (connecting, reading, writing):
  // after Close(), once this holds, the connection may be destroyed while its thread goes on.
  bool idle() const { return coroutines_ == 0; }

  // Writes started on this connection's sockets so far, each carrying every frame queued
  // before it (tests).
  uint64_t writes() const { return writes_; }

 private:
  struct Session;

  asio::awaitable<void> Dial(std::shared_ptr<Session> session);
  asio::awaitable<Status> Open(asio::ip::tcp::socket* socket);
  asio::awaitable<Result<std::vector<asio::ip::tcp::endpoint>>> LookUp();
  asio::awaitable<void> ReadLoop(std::shared_ptr<Session> session);
  asio::awaitable<void> WriteLoop(std::shared_ptr<Session> session);
  // Registers `call` for the reply to `id` and starts the writer if need be, once the frame
  // is in the outbox.
  void Queued(uint64_t id, Call* call);
  // Starts the writer unless it runs.
  void StartWriter();
  // Hands `reply` to the call waiting for it, if any; a reply to a batch goes to the batch's
  // calls.
  void Deliver(Session& session, v1::Envelope reply);
  void Fail(std::shared_ptr<Session> session, Status reason);
  void DialFailed(Status reason);

  asio::any_io_executor executor_;
  const Endpoint endpoint_;
  const Options options_;
  spdlog::logger& log_;                         // Log(options_.log_subsystem).
  asio::steady_timer* lookup_timer_ = nullptr;  // While Open() waits for a lookup.
  std::shared_ptr<Session> session_;            // The open connection, if any.
  std::shared_ptr<Session> dialing_;            // The connection being opened, if any.
  std::vector<Waiter*> connect_waiters_;        // Callers of Connect() waiting for Dial().
  Status last_error_;                           // Why the last attempt or connection failed.
  Backoff backoff_;
  SteadyClock::time_point next_attempt_;  // During a backoff pause: when it ends.
  Status close_reason_;                   // Set (non-OK) by Close().
  uint32_t coroutines_ = 0;               // Spawned and not yet finished (idle()).
  uint64_t writes_ = 0;
  uint64_t sessions_ = 0;
};

}  // namespace dialkv::net
