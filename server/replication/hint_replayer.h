#pragma once
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "dialkv/types.h"
#include "server/cluster/membership.h"
#include "server/common/background_service.h"
#include "server/common/clock.h"
#include "server/common/log_limiter.h"
#include "server/net/transport.h"
#include "server/replication/hint_store.h"

namespace dialkv::replication {

// Delivers hints (HintStore) to peers that came back. For one peer at a time it sends that
// peer's hints as ReplicaWriteRequests in sequence order, one after another, and removes each
// once acknowledged (the reply is OK when the replica holds that version or a newer one). At
// the first failure it stops; it tries again when told the peer is alive (Membership going
// to kAlive), and every replay_interval_ms while the peer is alive and has hints. A hint older
// than HintStore::Options::max_age is dropped instead of sent (anti-entropy repairs), counted
// and logged by HintStore::Drop. A hint the peer refuses because its timestamp is beyond the
// peer's clock-skew guard is kept: the replay stops there and is retried like any failure
// (the peer's clock catches up, or the skew is fixed), since deleting it would lose an
// acknowledged write. Hints of peers that are not alive are also dropped once expired, at
// each interval.
//
// It never decides whether a peer is alive: Membership does.
//
// Threading: replays run on a strand of the executor given to Start(), one coroutine per peer
// at most (a BackgroundService: its header has the lifecycle and lifetime rules). Their engine
// calls (scanning and deleting hints) run inline there, so with --sync give it an executor
// that may block (the storage pool); without, an io_context is fine. Replay() and the
// membership listener may be called from any thread. The store, membership, transport and
// monotonic clock must outlive this object.
class HintReplayer {
 public:
  struct Options {
    NodeId self = 0;
    // Retry period while a live peer has hints (a replay stopped at a failure, or hints added
    // while it was alive). Lower delivers sooner after transient failures; each round rescans.
    uint32_t replay_interval_ms = 10'000;
    // Deadline of one replayed write.
    uint32_t call_timeout_ms = 1000;
    // Hints read per scan of the store: bounds the memory of one replay step.
    uint32_t batch_hints = 64;
  };

  struct Stats {
    uint64_t replayed = 0;  // Acknowledged by the peer and removed.
    uint64_t expired = 0;   // Older than max_age: dropped, not sent.
    uint64_t refused = 0;   // Refused by the peer's clock-skew guard: kept, retried later.
    uint64_t failures = 0;  // Replay runs stopped at a failed call (retried later).
  };

  // Subscribes to `membership` (a peer going to kAlive is replayed): construct before the
  // node starts serving (Membership::AddListener).
  HintReplayer(Options options, HintStore& hints,  // Not owned.
               cluster::Membership& membership,    // Not owned.
               net::Transport& transport,          // Not owned.
               // Not owned; times the periodic retry and the calls' deadlines.
               const MonotonicClock& steady = MonotonicClock::Real());
  HintReplayer(const HintReplayer&) = delete;
  HintReplayer& operator=(const HintReplayer&) = delete;
  ~HintReplayer();  // Stops, and unsubscribes (later state changes are ignored).

  // Starts the periodic retry on `executor` and replays every live peer that has hints.
  // REQUIRES: called once.
  void Start(asio::any_io_executor executor);

  // Stops the periodic retry and waits for running replays to end (each stops after its
  // current call, bounded by call_timeout_ms). Hints not sent stay for the next run.
  // REQUIRES: the executor keeps running until this returns, and this thread does not run
  // it. Idempotent: later calls (the destructor's) do not touch the executor, which may be
  // gone by then.
  void Stop();

  // Replays `peer`'s hints now if it is alive and not already being replayed (then it runs
  // again once that replay ends). Any thread. Ignored before Start() and after Stop().
  void Replay(NodeId peer);

  Stats stats() const;

 private:
  // What the membership listener holds: it outlives this object, which detaches at
  // destruction.
  struct Link {
    std::mutex mu;
    HintReplayer* replayer = nullptr;  // Guarded by mu.
  };

  asio::awaitable<void> ReplayPeer(NodeId peer);
  // The periodic retry: replays live peers with hints, drops expired hints of the others.
  asio::awaitable<void> Retry();
  // Removes `peer`'s hints that are older than max_age, oldest first, up to the first one
  // that is not. Runs inline.
  void DropExpired(NodeId peer);
  bool Removed(NodeId peer, const HintStore::Hint& hint);  // Logs a failure.
  bool Dropped(NodeId peer, const HintStore::Hint& hint);  // As expired; logs a failure.

  const Options options_;
  HintStore& hints_;
  cluster::Membership& membership_;
  net::Transport& transport_;
  const MonotonicClock& steady_;
  std::shared_ptr<Link> link_;

  std::atomic<uint64_t> replayed_{0};
  std::atomic<uint64_t> expired_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> failures_{0};
  LogLimiter clock_refusal_log_limiter_{std::chrono::seconds(1)};
  // The periodic retry, and one run-now key per peer (its replay). Last: destroyed first.
  BackgroundService service_;
};

}  // namespace dialkv::replication
