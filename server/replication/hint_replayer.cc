#include "server/replication/hint_replayer.h"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "server/common/check.h"
#include "server/common/hash.h"
#include "server/common/logging.h"
#include "server/replication/wire.h"

namespace dialkv::replication {
namespace {

// At most one replay per peer runs at a time (plus the periodic retry), so this is only a
// backstop against a membership of thousands.
constexpr size_t kMaxConcurrentReplays = 1024;

void LogException(std::exception_ptr error, std::string_view what) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    Log(Subsystem::kRepl).error("{} threw: {}", what, e.what());
  } catch (...) {
    Log(Subsystem::kRepl).error("{} threw a non-standard exception", what);
  }
}

}  // namespace

HintReplayer::HintReplayer(Options options, HintStore& hints, cluster::Membership& membership,
                           net::Transport& transport)
    : options_(options),
      hints_(hints),
      membership_(membership),
      transport_(transport),
      link_(std::make_shared<Link>()),
      tracker_(kMaxConcurrentReplays) {
  link_->replayer = this;
  membership_.AddListener(
      [link = link_](NodeId node, cluster::MemberState, cluster::MemberState to) {
        if (to != cluster::MemberState::kAlive) return;
        std::lock_guard<std::mutex> lock(link->mu);
        if (link->replayer != nullptr) link->replayer->Replay(node);
      });
}

HintReplayer::~HintReplayer() {
  {
    std::lock_guard<std::mutex> lock(link_->mu);
    link_->replayer = nullptr;
  }
  Stop();
}

void HintReplayer::Start(asio::any_io_executor executor) {
  std::shared_ptr<asio::steady_timer> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    DIALKV_CHECK(!started_);
    started_ = true;
    executor_ = executor;
    retry_timer_ = std::make_shared<asio::steady_timer>(executor);
    timer = retry_timer_;
  }
  if (tracker_.TryAcquire()) {
    auto retry = RetryPeriodically(std::move(timer));
    asio::co_spawn(executor, std::move(retry), [this](std::exception_ptr error) {
      if (error) LogException(error, "the periodic hint replay");
      tracker_.Release();  // Last: Stop() may return and destroy this object.
    });
  }
  for (NodeId peer : hints_.PeersWithHints()) {
    if (membership_.IsAlive(peer)) Replay(peer);
  }
}

void HintReplayer::Stop() {
  tracker_.RefuseNew();
  std::shared_ptr<asio::steady_timer> timer;
  asio::any_io_executor executor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Only the first call touches the executor: later ones (the destructor's) may come after
    // it was destroyed.
    timer = std::exchange(retry_timer_, nullptr);
    executor = executor_;
  }
  // The timer belongs to the executor: cancel it there. The handler owns the timer, not this.
  if (timer != nullptr) asio::post(executor, [timer] { timer->cancel(); });
  tracker_.WaitIdle();
}

void HintReplayer::Replay(NodeId peer) {
  if (peer == options_.self) return;
  asio::any_io_executor executor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) return;
    if (running_.count(peer) > 0) {
      again_.insert(peer);
      return;
    }
    // Refused when stopping; past the bound, the periodic retry gets to it.
    if (!tracker_.TryAcquire()) return;
    running_.insert(peer);
    executor = executor_;
  }
  auto replay = ReplayPeer(peer);
  asio::co_spawn(executor, std::move(replay), [this, peer](std::exception_ptr error) {
    if (error) LogException(error, "a hint replay");
    Finished(peer);
  });
}

void HintReplayer::Finished(NodeId peer) {
  bool again = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(peer);
    again = again_.erase(peer) > 0;
  }
  if (again) Replay(peer);  // Before our slot is released, while this object surely lives.
  tracker_.Release();
}

bool HintReplayer::Removed(NodeId peer, const HintStore::Hint& hint) {
  Status removed = hints_.Remove(peer, hint);
  if (!removed.ok()) {
    Log(Subsystem::kRepl)
        .error("node={} peer={} hint {} could not be deleted (it will be sent again): {}",
               options_.self, peer, hint.sequence, removed.ToString());
    return false;
  }
  return true;
}

bool HintReplayer::Dropped(NodeId peer, const HintStore::Hint& hint) {
  Status dropped = hints_.Drop(peer, hint, HintStore::DropReason::kExpired);
  if (!dropped.ok()) {
    Log(Subsystem::kRepl)
        .error("node={} peer={} expired hint {} could not be deleted (it will be tried again): {}",
               options_.self, peer, hint.sequence, dropped.ToString());
    return false;
  }
  return true;
}

asio::awaitable<void> HintReplayer::ReplayPeer(NodeId peer) {
  // Leave the caller's stack first: Replay() may run in a membership listener, which must not
  // block (co_spawn starts a coroutine inline when called on its executor's thread).
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  uint64_t delivered = 0;
  uint64_t expired = 0;
  uint64_t refused = 0;
  Status failure;
  bool stop = false;
  // Each round removes hints or stops; hints added meanwhile are picked up by the next scan.
  while (!stop && !tracker_.stopping() && membership_.IsAlive(peer)) {
    Result<std::vector<HintStore::Hint>> batch = hints_.Peek(peer, options_.batch_hints);
    if (!batch.ok()) {
      failure = batch.status();
      break;
    }
    if (batch->empty()) break;
    for (const HintStore::Hint& hint : *batch) {
      if (tracker_.stopping()) {
        stop = true;
        break;
      }
      if (hints_.Expired(hint)) {
        if (!Dropped(peer, hint)) {
          stop = true;
          break;
        }
        ++expired;
        continue;
      }
      v1::Envelope request = ReplicaWriteEnvelope(hint.key, hint.version);
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.call_timeout_ms);
      Result<v1::Envelope> reply = co_await transport_.Call(peer, std::move(request), deadline);
      Status written = ReplicaWriteResult(reply);
      if (!written.ok()) {
        // Also when the replica's skew guard refused it: the hint is kept, and sent again
        // later. Its timestamp is ahead of the replica's clock, which catches up (or the
        // writer's skew is fixed); deleting it would lose an acknowledged write. The hints
        // behind it wait meanwhile, in order.
        if (RefusedByClockGuard(reply)) {
          ++refused;
          uint64_t suppressed = 0;
          if (clock_refusal_log_limiter_.Allow(&suppressed)) {
            Log(Subsystem::kRepl)
                .warn(
                    "node={} peer={} key_hash={:016x} hint {} refused by the peer's clock-skew "
                    "guard; kept and retried later: {}{}",
                    options_.self, peer, KeyHash(hint.key), hint.sequence, written.ToString(),
                    LogLimiter::SuppressedNote(suppressed));
          }
        }
        failure = std::move(written);
        stop = true;
        break;
      }
      if (!Removed(peer, hint)) {
        stop = true;
        break;
      }
      ++delivered;
    }
  }
  replayed_.fetch_add(delivered, std::memory_order_relaxed);
  expired_.fetch_add(expired, std::memory_order_relaxed);
  refused_.fetch_add(refused, std::memory_order_relaxed);
  if (delivered + expired + refused > 0 || !failure.ok()) {
    const HintStore::PeerStats left = hints_.StatsFor(peer);
    Log(Subsystem::kRepl)
        .info(
            "node={} peer={} hint replay: {} delivered, {} dropped as older than {} ms, {} refused "
            "by the peer's clock guard (kept); {} left{}",
            options_.self, peer, delivered, expired, hints_.options().max_age.count(), refused,
            left.hints,
            failure.ok() ? "" : "; stopped at " + failure.ToString() + ", retried later");
  }
  if (!failure.ok()) failures_.fetch_add(1, std::memory_order_relaxed);
}

void HintReplayer::DropExpired(NodeId peer) {
  uint64_t expired = 0;
  bool more = true;
  while (more) {
    Result<std::vector<HintStore::Hint>> batch = hints_.Peek(peer, options_.batch_hints);
    if (!batch.ok() || batch->empty()) break;
    for (const HintStore::Hint& hint : *batch) {
      // Sequence order is the order hints were added: the first young one ends the sweep.
      if (!hints_.Expired(hint) || !Dropped(peer, hint)) {
        more = false;
        break;
      }
      ++expired;
    }
  }
  if (expired == 0) return;
  expired_.fetch_add(expired, std::memory_order_relaxed);
  Log(Subsystem::kRepl)
      .info("node={} peer={} dropped {} hints older than {} ms (peer not alive)", options_.self,
            peer, expired, hints_.options().max_age.count());
}

asio::awaitable<void> HintReplayer::RetryPeriodically(std::shared_ptr<asio::steady_timer> timer) {
  while (!tracker_.stopping()) {
    timer->expires_after(std::chrono::milliseconds(options_.replay_interval_ms));
    co_await timer->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (tracker_.stopping()) break;
    for (NodeId peer : hints_.PeersWithHints()) {
      if (membership_.IsAlive(peer)) {
        Replay(peer);
        continue;
      }
      bool running = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        running = running_.count(peer) > 0;
      }
      // A replay still running owns the hints it read; it stops at its next step.
      if (!running) DropExpired(peer);
    }
  }
}

HintReplayer::Stats HintReplayer::stats() const {
  Stats s;
  s.replayed = replayed_.load(std::memory_order_relaxed);
  s.expired = expired_.load(std::memory_order_relaxed);
  s.refused = refused_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace dialkv::replication
