#pragma once
// The seam between the client-facing service and whatever owns the data.
//
// KvService (kv_service.h) validates a request, turns timeout_ms into a deadline, and hands
// the request to a KvBackend; the backend decides the write's timestamp, where the data
// lives, and how long it may wait. Today the only backend is LocalBackend (local_backend.h):
// this node's engine, one node, no replication.
//
// Where the replication coordinator plugs in: replication/ will provide a coordinator that
// performs these same two operations over the key's replicas (CP: quorum rounds; AP: local or
// first replica, hints). It will take one more parameter, the request's consistency mode, and
// api/ will adapt it to this interface (dependencies point api → replication, never back), so
// KvService keeps validating, timing and counting requests exactly as it does now.

#include <asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "dialkv/status.h"
#include "dialkv/types.h"

namespace dialkv::api {

// When a request must have been answered. Measured on the monotonic clock.
using Deadline = std::chrono::steady_clock::time_point;

// Implementations say which executors they may be called from and what they need to
// outlive; every method must complete by its deadline (within scheduling jitter).
class KvBackend {
 public:
  virtual ~KvBackend() = default;

  // The newest version of `key`, tombstones included.
  // Errors: kNotFound (no version at all); kTimeout (not read before the deadline);
  // kUnavailable (the data cannot be reached; nothing was read); kIOError, kCorruption.
  virtual asio::awaitable<Result<Version>> Read(std::string key, Deadline deadline) = 0;

  // Writes `value` to `key` (or, with `tombstone`, deletes it: `value` is then empty) under a
  // fresh timestamp the backend chooses, and returns that timestamp.
  // Errors: kUnavailable (definitely not applied; safe to retry); kUnknown (the deadline
  // passed after the write may have been applied); kIOError, kCorruption.
  virtual asio::awaitable<Result<Timestamp>> Write(std::string key, std::string value,
                                                   bool tombstone, Deadline deadline) = 0;
};

}  // namespace dialkv::api
