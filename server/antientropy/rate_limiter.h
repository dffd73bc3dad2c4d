#pragma once
// The repair rate limit (--ae-max-keys-per-s): a token bucket over versions moved by
// anti-entropy (pushed or pulled), so repair after a long partition cannot take the node's
// disk and network from client traffic.
//
// The bucket holds at most one second of tokens and may go into debt: a batch larger than
// what is left is let through at once and the next caller waits until the debt is repaid.
// Batches are thus never split, and the long-run rate is the limit.
//
// Thread-safe: one mutex guards the bucket; never held across co_await.

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>

#include "server/common/clock.h"

namespace dialkv::antientropy {

class RateLimiter {
 public:
  // `per_second` = 0: unlimited. `clock` (not owned) measures the refill and the waits.
  explicit RateLimiter(uint64_t per_second, const MonotonicClock& clock = MonotonicClock::Real());

  // How long the caller must wait before taking `n` tokens (zero: taken now). Call again after
  // waiting; the tokens are taken by the call that answers zero.
  std::chrono::steady_clock::duration TryTake(uint64_t n);

  // Waits (on the caller's executor) until `n` tokens are taken, or until `stopping()` is true.
  asio::awaitable<void> Take(uint64_t n, std::function<bool()> stopping);

 private:
  const uint64_t per_second_;
  const MonotonicClock& clock_;
  std::mutex mu_;
  double tokens_;                               // Guarded by mu_. May be negative (debt).
  std::chrono::steady_clock::time_point last_;  // Guarded by mu_.
};

}  // namespace dialkv::antientropy
