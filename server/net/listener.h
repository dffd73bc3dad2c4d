#pragma once
// Pieces shared by the servers of server/net (FrameServer, HttpServer): opening a listening
// socket with errors as values, the set of open connections that Stop() closes, and a
// limiter for log lines that clients can provoke. Internal to server/net.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/common/status.h"
#include "server/net/listen_address.h"

namespace dialkv::net::internal {

// "127.0.0.1:7379", "[::1]:7379".
std::string ToString(const asio::ip::tcp::endpoint& endpoint);

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

  uint64_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_.size();
  }

 private:
  mutable std::mutex mu_;
  bool closed_ = false;
  uint64_t next_id_ = 0;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections_;
};

}  // namespace dialkv::net::internal
