#include "server/antientropy/rate_limiter.h"

#include <algorithm>
#include <asio/this_coro.hpp>
#include <memory>

namespace dialkv::antientropy {
namespace {

// Bounds one wait, so a stop request is noticed soon.
constexpr auto kMaxWait = std::chrono::milliseconds(100);

}  // namespace

RateLimiter::RateLimiter(uint64_t per_second, const MonotonicClock& clock)
    : per_second_(per_second),
      clock_(clock),
      tokens_(static_cast<double>(per_second)),
      last_(clock.Now()) {}

std::chrono::steady_clock::duration RateLimiter::TryTake(uint64_t n) {
  if (per_second_ == 0) return std::chrono::steady_clock::duration::zero();
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = clock_.Now();
  const double elapsed_s = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  const auto rate = static_cast<double>(per_second_);
  tokens_ = std::min(rate, tokens_ + std::max(0.0, elapsed_s) * rate);
  if (tokens_ >= 0) {
    tokens_ -= static_cast<double>(n);
    return std::chrono::steady_clock::duration::zero();
  }
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
             std::chrono::duration<double>(-tokens_ / rate)) +
         std::chrono::microseconds(1);
}

asio::awaitable<void> RateLimiter::Take(uint64_t n, std::function<bool()> stopping) {
  // Bounded by the debt: each wait repays part of it.
  for (;;) {
    const auto wait = TryTake(n);
    if (wait == std::chrono::steady_clock::duration::zero() || stopping()) co_return;
    std::unique_ptr<Timer> timer = clock_.NewTimer(co_await asio::this_coro::executor);
    (void)co_await timer->WaitUntil(clock_.Now() +
                                    std::min<std::chrono::steady_clock::duration>(wait, kMaxWait));
  }
}

}  // namespace dialkv::antientropy
