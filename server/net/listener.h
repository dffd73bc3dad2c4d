#pragma once
// Pieces shared by the servers of server/net (FrameServer, HttpServer, RespServer): opening a
// listening socket with errors as values, the accept loop and the Start/Stop lifecycle of a
// listening socket, and the set of open connections that Stop() closes. Internal to server/net.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/common/status.h"
#include "server/net/io_pool.h"
#include "server/net/listen_address.h"

namespace dialkv::net::internal {

// "127.0.0.1:7379", "[::1]:7379".
std::string ToString(const asio::ip::tcp::endpoint& endpoint);

// How often a connection's watchdog checks its deadlines: a quarter of the shortest enabled
// (non-zero) timeout of `timeouts_ms`, so each is enforced at most 25% late without a timer
// armed for every read and write; once a minute when none is enabled; never below 1 ms.
std::chrono::milliseconds WatchdogPeriod(std::initializer_list<uint32_t> timeouts_ms);

// Opens, binds and listens on `address.endpoint`, with SO_REUSEADDR (a restarted node can rebind
// while old connections sit in TIME_WAIT; a port held by a live listener still fails); or, for
// an inherited socket, adopts it and listens on it.
// Errors: kUnavailable "cannot listen on 127.0.0.1:7379: Address already in use".
Result<asio::ip::tcp::acceptor> OpenAcceptor(asio::io_context& context,
                                             const ListenAddress& address);

// The connections of one server that are open, so that Stop() can close them. Holds weak
// references: a connection is owned by its coroutines. Thread-safe (mu_ guards everything).
template <typename Connection>
class ConnectionRegistry {
 public:
  // Registers `connection` and sets `*id` for Remove(). Returns false once CloseAll() ran: the
  // caller must then close the connection itself.
  bool Add(const std::shared_ptr<Connection>& connection, uint64_t* id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    *id = next_id_++;
    connections_.emplace(*id, connection);
    return true;
  }

  void Remove(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(id);
  }

  // Refuses further Add()s and returns the connections still alive, for the caller to close on
  // their own executors.
  std::vector<std::shared_ptr<Connection>> CloseAll() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    std::vector<std::shared_ptr<Connection>> alive;
    alive.reserve(connections_.size());
    for (const auto& [id, weak] : connections_) {
      if (auto connection = weak.lock()) alive.push_back(std::move(connection));
    }
    return alive;
  }

  // CloseAll(), then closes each connection still alive on its own executor
  // (Connection::executor, Connection::Close()). Does not wait.
  void PostCloseAll() {
    for (auto& connection : CloseAll()) {
      asio::post(connection->executor, [connection] { connection->Close(); });
    }
  }

  uint64_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_.size();
  }

  // Whether `limit` connections (0: no limit) are open already, so a new one is to be refused.
  bool AtLimit(uint32_t limit) const { return limit > 0 && size() >= limit; }

 private:
  mutable std::mutex mu_;
  bool closed_ = false;
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;
};

// The listening side of one server: its acceptor and the loop that accepts on it. Each accepted
// socket goes to the server's accept hook, on an io_context of the pool (round-robin); a failed
// accept (out of file descriptors, say) is logged, rate-limited, and retried after a pause. It
// owns no connection: the server closes its own in the stop hook.
// Threading: the acceptor lives on one io_context of the pool and is used there only; Start()
// and Stop() are thread-safe. The pool must outlive the listener.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  struct Hooks {
    // Takes each accepted socket, on the acceptor's thread: must not block or throw.
    std::function<void(asio::ip::tcp::socket socket)> accept;
    // Runs once, in the first Stop(), on its caller's thread, after the acceptor's close was
    // queued: closes the server's connections.
    std::function<void()> stop;
  };

  // Opens `address` (OpenAcceptor) on an io_context of `pool` and logs
  // "listening for <what> on <address>". `errors` limits the log lines of failed accepts; the
  // server may share it with the errors its clients cause. Accepting starts at Start().
  // Errors: as OpenAcceptor.
  static Result<std::shared_ptr<Listener>> Open(IoContextPool& pool,  // Not owned.
                                                const ListenAddress& address, std::string what,
                                                std::shared_ptr<LogLimiter> errors, Hooks hooks);

  // The bound address (with the port chosen when `address` had port 0).
  const asio::ip::tcp::endpoint& local_endpoint() const { return local_; }
  // Starts accepting. A second call, or a call after Stop(), does nothing.
  void Start();
  // Stops accepting (the acceptor closes on its own thread) and runs the stop hook. Idempotent;
  // returns without waiting.
  void Stop();

  // Use Open().
  Listener(IoContextPool& pool, asio::ip::tcp::acceptor acceptor, std::string what,
           std::shared_ptr<LogLimiter> errors, Hooks hooks);

 private:
  static asio::awaitable<void> AcceptLoop(std::shared_ptr<Listener> self);

  IoContextPool& pool_;
  asio::ip::tcp::acceptor acceptor_;
  const asio::ip::tcp::endpoint local_;
  const std::string what_;
  const std::shared_ptr<LogLimiter> errors_;
  const Hooks hooks_;
  spdlog::logger* const log_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
};

// What a server on a Listener holds: the state its connections share and its listener.
template <typename State>
struct ListeningServer {
  std::shared_ptr<State> state;
  std::shared_ptr<Listener> listener;
};

// Opens a Listener on `address` for a server whose connections share `state`, which holds
// them in a ConnectionRegistry named `connections`: each accepted socket goes to
// `accept(state, socket)` (on the acceptor's thread: must not block or throw), and Stop()
// closes every connection of the registry. `errors` names the state's LogLimiter that the
// accept loop logs through. Errors: as OpenAcceptor.
template <typename State>
Result<ListeningServer<State>> ListenFor(IoContextPool& pool,  // Not owned.
                                         const ListenAddress& address, std::string what,
                                         std::shared_ptr<State> state, LogLimiter State::*errors,
                                         void (*accept)(const std::shared_ptr<State>& state,
                                                        asio::ip::tcp::socket socket)) {
  Result<std::shared_ptr<Listener>> listener = Listener::Open(
      pool, address, std::move(what), std::shared_ptr<LogLimiter>(state, &((*state).*errors)),
      {.accept = [state,
                  accept](asio::ip::tcp::socket socket) { accept(state, std::move(socket)); },
       .stop = [state] { state->connections.PostCloseAll(); }});
  if (!listener.ok()) return listener.status();
  return ListeningServer<State>{std::move(state), std::move(listener).value()};
}

}  // namespace dialkv::net::internal
