#pragma once
// The node-wide budget of work in flight, shared by the client port and the peer port
// (docs/architecture.md, "Budgets"): how many client requests are being served at once, and
// how many bytes requests and replies pin in memory. Every request frame counts from the
// moment it is read until its handler finishes; every reply counts from the moment it is
// queued until its bytes are written to the socket (or its connection closes).
//
// What happens past each budget:
// - a client request that would go past max_requests, or whose frame would take the bytes past
//   max_bytes, is not started: it is answered OVERLOADED (nothing done, nothing applied);
// - a reply bigger than kSmallReplyBytes that would take the bytes past max_bytes is replaced
//   by an OVERLOADED error reply. Only reads have replies that big (a write's reply carries a
//   status and a timestamp), so no applied write is ever reported as failed;
// - smaller replies always count and are never refused: their number is bounded by the
//   requests in flight.
// Peer requests count their bytes but are never refused at admission: a replica that refused
// its coordinator's writes would only turn the node's overload into the cluster's.
//
// Thread-safe and lock-free.

#include <atomic>
#include <cstdint>

#include "server/common/metrics.h"

namespace dialkv::net {

class RequestBudget {
 public:
  // A reply of at most this many bytes is never refused.
  static constexpr uint64_t kSmallReplyBytes = 64 << 10;

  struct Options {
    uint64_t max_requests = 16'384;  // Client requests being served at once (0: no limit).
    uint64_t max_bytes = uint64_t{256} << 20;  // Request and reply bytes held (0: no limit).
  };
  // Counted when set (not owned; they must outlive the budget).
  struct Counters {
    metrics::Counter* refused_requests = nullptr;  // Requests refused for max_requests.
    metrics::Counter* refused_bytes = nullptr;     // Requests refused for max_bytes.
    metrics::Counter* refused_replies = nullptr;   // Large replies replaced for max_bytes.
  };

  RequestBudget(Options options, Counters counters) : options_(options), counters_(counters) {}

  // Admits a client request whose frame is `bytes` long: true and counted, or false (counted as
  // refused) when it would go past a budget. A request is always admitted when nothing else is
  // in flight, so any frame the port accepts can be served. Finish() must follow a true.
  bool Admit(uint64_t bytes);
  // Counts a peer request's frame; never refused. Finish() must follow.
  void AdmitAlways(uint64_t bytes) { bytes_.fetch_add(bytes, std::memory_order_relaxed); }
  // The request admitted with `bytes` (and `client` = by Admit) is done.
  void Finish(uint64_t bytes, bool client);

  // Reserves room for a reply of `bytes`: small ones always; a large one only if it fits (else
  // false, counted). Release() must follow a true once its bytes are written or dropped.
  bool ReserveReply(uint64_t bytes);
  void Release(uint64_t bytes) { bytes_.fetch_sub(bytes, std::memory_order_relaxed); }

  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  const Options& options() const { return options_; }

 private:
  const Options options_;
  const Counters counters_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace dialkv::net
