#include "server/replication/hint_replayer.h"

#include <string>
#include <utility>
#include <vector>

#include "server/common/hash.h"
#include "server/common/logging.h"
#include "server/replication/wire.h"

namespace dialkv::replication {
namespace {

// At most one replay per peer runs at a time (plus the periodic retry), so this is only a
// backstop against a membership of thousands.
constexpr size_t kMaxConcurrentReplays = 1024;

BackgroundService::Options ServiceOptions(const HintReplayer::Options& options) {
  BackgroundService::Options service;
  service.name = "the periodic hint replay";
  service.subsystem = Subsystem::kRepl;
  service.interval_ms = options.replay_interval_ms;
  service.max_tasks = kMaxConcurrentReplays;
  return service;
}

}  // namespace

HintReplayer::HintReplayer(Options options, HintStore& hints, cluster::Membership& membership,
                           net::Transport& transport, const MonotonicClock& steady)
    : options_(options),
      hints_(hints),
      membership_(membership),
      transport_(transport),
      steady_(steady),
      link_(std::make_shared<Link>()),
      service_(ServiceOptions(options), steady, [this] { return Retry(); }) {
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
  if (!service_.Start(executor)) return;
  for (NodeId peer : hints_.PeersWithHints()) {
    if (membership_.IsAlive(peer)) Replay(peer);
  }
}

void HintReplayer::Stop() { service_.Stop(); }

void HintReplayer::Replay(NodeId peer) {
  if (peer == options_.self) return;
  // Ignored before Start() and when stopping; past the bound, the periodic retry gets to it.
  (void)service_.RunNow(peer, "a hint replay", [this, peer] { return ReplayPeer(peer); });
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
  uint64_t delivered = 0;
  uint64_t expired = 0;
  uint64_t refused = 0;
  Status failure;
  bool stop = false;
  // Each round removes hints or stops; hints added meanwhile are picked up by the next scan.
  while (!stop && !service_.stopping() && membership_.IsAlive(peer)) {
    Result<std::vector<HintStore::Hint>> batch = hints_.Peek(peer, options_.batch_hints);
    if (!batch.ok()) {
      failure = batch.status();
      break;
    }
    if (batch->empty()) break;
    for (const HintStore::Hint& hint : *batch) {
      if (service_.stopping()) {
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
      const auto deadline = steady_.Now() + std::chrono::milliseconds(options_.call_timeout_ms);
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

asio::awaitable<void> HintReplayer::Retry() {
  for (NodeId peer : hints_.PeersWithHints()) {
    if (membership_.IsAlive(peer)) {
      Replay(peer);
      continue;
    }
    // A replay still running owns the hints it read; it stops at its next step.
    if (!service_.Running(peer)) DropExpired(peer);
  }
  co_return;
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
