#pragma once
// Anti-entropy: replicas converge on their own, and deleted keys stay deleted (the design and
// its reasons are in docs/anti-entropy.md).
//
// What it does:
//   - keeps a DigestTable over this node's store, exact under concurrent writes (it is the
//     engine's ChangeObserver), rebuilt by a scan when created;
//   - every interval_ms picks a live peer (a random order over the peers it shares ranges
//     with, each visited once per cycle) and runs an exchange: for every range both replicate,
//     range digests, then bucket digests of the ranges that differ, then (key, timestamp)
//     lists of the buckets that differ; it pushes its newer versions and pulls the peer's,
//     last writer wins, at most max_keys_per_s versions per second;
//   - records, per range and peer, when the last *complete* exchange started (every differing
//     bucket reconciled, every push acknowledged, every pull applied);
//   - collects tombstones: one is purged only when, for every other replica of its range, a
//     complete exchange started after the tombstone became older than gc_grace_s and after the
//     last tombstone of that range that arrived already older than the grace period; and only
//     if it is still the stored version (Engine::PurgeTombstone);
//   - serves the peer side of the exchange (Handle, installed in PeerService).
// It never decides who is alive (Membership does) and never writes but through LocalReplica
// (skew guard, HLC) and Engine::PurgeTombstone.
//
// Threading: periodic rounds run on a strand of the executor given to Start(); RunRoundNow
// and Handle on the caller's. The periodic rounds, the repair rounds and the tracking that lets
// Stop() drain them are a BackgroundService (its header has the lifecycle and lifetime rules),
// timed on the MonotonicClock given to Create(). Engine scans and reads run on a thread owned by
// this object (Options:: storage_thread), never on an io thread; applies go through LocalReplica,
// which follows the node's rule. Shared state is atomics (digests, counters) or guarded by mu_
// (below). REQUIRES: callers' executors run one handler at a time. The engine, ring, membership,
// transport, local replica and clocks outlive this object.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/antientropy/digest_table.h"
#include "server/antientropy/rate_limiter.h"
#include "server/cluster/membership.h"
#include "server/cluster/ring.h"
#include "server/common/background_service.h"
#include "server/common/clock.h"
#include "server/common/metrics.h"
#include "server/common/random.h"
#include "server/common/status.h"
#include "server/net/transport.h"
#include "server/replication/local_replica.h"
#include "server/storage/engine.h"

namespace dialkv::antientropy {

class AntiEntropy {
 public:
  struct Options {
    NodeId self = 0;
    // --ae-interval-ms: one exchange with one peer per interval. Lower converges sooner after
    // a partition and lets tombstones go sooner; an in-sync exchange costs about a hundred
    // bytes each way plus one digest fold per shared range. 0: no periodic rounds (RunRoundNow
    // only).
    uint32_t interval_ms = 5000;
    // --ae-max-keys-per-s: versions pushed plus pulled per second, over all exchanges. 0:
    // unlimited. Repair of N differing keys takes at least N / this seconds.
    uint32_t max_keys_per_s = 10'000;
    // --gc-grace-s: a tombstone is kept at least this long (see the class comment). Must be
    // longer than the hint max age (--hint-max-age-s, 3 h by default) plus the longest
    // partition a node can come back from with hints, or a late hint could resurrect a value:
    // anti-entropy cannot see versions held only as hints.
    uint32_t gc_grace_s = 86'400;
    uint32_t buckets = 64;            // Per range; both ends of an exchange must agree.
    uint32_t call_timeout_ms = 5000;  // Deadline of each anti-entropy call to a peer.
    // Soft bound of one message's payload (key lists, versions pushed or pulled); one version
    // bigger than it still travels alone. Keep well under --max-frame-bytes.
    uint32_t max_message_bytes = 1u << 20;
    // A pushed version whose key or value is longer is refused, as on the client port.
    uint32_t max_key_bytes = 4096;
    uint32_t max_value_bytes = 4u << 20;
    // Engine scans and reads on a thread of this object (production). false: inline on the
    // calling executor (single-threaded tests).
    bool storage_thread = true;
    uint64_t seed = 1;  // Of the peer order.
  };

  // What one exchange with one peer did (RunRoundNow returns one per peer).
  struct RoundReport {
    NodeId peer = 0;
    Status status;           // The first failure; OK when every step succeeded.
    bool complete = false;   // Every shared range reconciled (counts for collection).
    int64_t started_ms = 0;  // Clock time at the start.
    uint64_t ranges_compared = 0;
    uint64_t ranges_out_of_sync = 0;
    uint64_t buckets_out_of_sync = 0;
    uint64_t keys_pushed = 0;     // Versions sent that the peer applied.
    uint64_t keys_pulled = 0;     // Versions received that this node applied.
    uint64_t bytes_sent = 0;      // Serialized request envelopes (as handed to the transport).
    uint64_t bytes_received = 0;  // Serialized reply envelopes.
  };

  struct GcReport {
    uint64_t ranges_scanned = 0;
    uint64_t purged = 0;
    Status status;
  };

  struct RangeStatus {
    size_t range = 0;  // Ring token index.
    std::vector<NodeId> replicas;
    // Clock ms at which the oldest of the last complete exchanges with the range's other
    // replicas started: every replica held what this node held then. 0: some replica has had
    // no complete exchange since this node started. With no other replica: now.
    int64_t last_full_round_ms = 0;
    uint64_t tombstones = 0;
  };

  struct StatusReport {
    // The minimum of last_full_round_ms over the ranges this node replicates: how far behind
    // anti-entropy is. 0: some range has never completed since start.
    int64_t oldest_full_round_ms = 0;
    std::vector<RangeStatus> ranges;  // Ranges this node replicates, by index.
    uint64_t rounds = 0;
    uint64_t purged = 0;
    uint64_t repair_rounds = 0;              // Rounds run for RunRoundNow.
    uint64_t repair_requests_coalesced = 0;  // RunRoundNow calls that joined another's round.
  };

  // Builds the digests by a scan of `engine` and installs them as its change observer.
  // REQUIRES: nothing writes to `engine` until this returns (call at start-up, before the node
  // serves).
  // Errors: kInvalidArgument (bad options, or an engine that cannot report changes); the
  // scan's kIOError / kCorruption.
  static Result<std::unique_ptr<AntiEntropy>> Create(
      Options options, storage::Engine& engine,  // Not owned.
      const cluster::Ring& ring,                 // Not owned.
      cluster::Membership& membership,           // Not owned.
      net::Transport& transport,                 // Not owned.
      replication::LocalReplica& local,          // Not owned.
      const Clock& clock,                        // Not owned; the HLC's wall clock.
      metrics::Registry* metrics,                // Not owned; null: not exported.
      // Not owned; times the rounds, the rate limit and the calls' deadlines.
      const MonotonicClock& steady = MonotonicClock::Real());

  // Stops, then removes the engine observer. REQUIRES: nothing writes to the engine any more
  // (the node stopped serving) or the engine is about to be closed.
  ~AntiEntropy();
  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  // Starts the periodic rounds on a strand of `executor`. REQUIRES: called once.
  void Start(asio::any_io_executor executor);

  // Stops the periodic rounds, refuses new exchanges and requests (UNAVAILABLE), and waits for
  // running ones to end (each bounded by call_timeout_ms per step). REQUIRES: the executors
  // running them keep running until this returns, and this thread runs none of them.
  // Idempotent.
  void Stop();

  // One exchange with every live peer this node shares ranges with, one after another, then a
  // tombstone collection pass (`dialkv repair`). Requests coalesce: a request joins the round
  // that is about to start, if any, else it causes one, which starts when the running round (if
  // any) ends. A round that already started is never joined, so every answer comes from a round
  // that started after its request arrived (it covers every version either side held then),
  // and any number of concurrent requests cost at most two rounds. The round runs on the
  // executor of the request that caused it; each request resumes on its own.
  asio::awaitable<std::vector<RoundReport>> RunRoundNow();
  // One exchange with `peer` (it need not be alive in membership's view).
  asio::awaitable<RoundReport> ExchangeWith(NodeId peer);
  // One tombstone collection pass over the ranges this node replicates.
  asio::awaitable<GcReport> CollectGarbage();

  // Serves the peer side: shaped as replication::PeerService::AntiEntropyHandler. Never fails:
  // errors are replies.
  asio::awaitable<v1::Envelope> Handle(NodeId from, v1::Envelope request);

  StatusReport GetStatus() const;
  const DigestTable& digests() const { return digests_; }
  // xxh64 of the ring's token positions and nodes and its replication factor.
  uint64_t ring_fingerprint() const { return ring_fingerprint_; }
  // The ranges both `a` and `b` replicate, ascending.
  std::vector<size_t> SharedRanges(NodeId a, NodeId b) const;

 private:
  struct Metrics;
  class Exchange;

  AntiEntropy(Options options, storage::Engine& engine, const cluster::Ring& ring,
              cluster::Membership& membership, net::Transport& transport,
              replication::LocalReplica& local, const Clock& clock, metrics::Registry* metrics,
              const MonotonicClock& steady);

  // One periodic round: an exchange with the next peer, then a tombstone collection pass.
  asio::awaitable<void> Tick();
  // The work of one repair round (see RunRoundNow), counted.
  asio::awaitable<std::vector<RoundReport>> RunRepairRound();
  std::optional<NodeId> NextPeer();
  asio::awaitable<RoundReport> RunExchange(NodeId peer);
  // Records the outcome of a finished exchange (stats, metrics, last-full-round times).
  void Record(const RoundReport& report, const std::vector<size_t>& complete_ranges);
  asio::awaitable<GcReport> RunGc();
  std::atomic<bool> gc_running_{false};  // A RunGc is in progress (one at a time).
  int64_t LastFullRoundLocked(size_t range, int64_t now_ms) const;  // REQUIRES: mu_ held.
  // Whether a tombstone of that key and time may be purged here now (the collection rule).
  bool Collectable(uint64_t key_hash, const Timestamp& timestamp) const;
  // Applies a version received by repair (a pull here, a push from a peer) through
  // LocalReplica, except a collectable tombstone of a key this node holds no version of: that
  // one is dropped (kSuperseded), as if applied and collected at once. Without that, nodes
  // that collected a tombstone at different times would hand it back to each other forever.
  asio::awaitable<Result<storage::ApplyOutcome>> ApplyRepair(std::string key, Version version,
                                                             net::Deadline deadline);

  // Responder side (responder.cc).
  asio::awaitable<v1::Envelope> Serve(NodeId from, v1::Envelope request);
  v1::AeDigestsReply ServeDigests(NodeId from, const v1::AeDigestsRequest& request) const;
  v1::AeBucketsReply ServeBuckets(NodeId from, const v1::AeBucketsRequest& request) const;
  asio::awaitable<v1::AeKeysReply> ServeKeys(NodeId from, v1::AeKeysRequest request);
  asio::awaitable<v1::AePushReply> ServePush(NodeId from, v1::AePushRequest request);
  asio::awaitable<v1::AePullReply> ServePull(NodeId from, v1::AePullRequest request);

  // Runs `fn` on the storage thread (inline without one) and resumes on the caller's executor.
  template <typename T, typename Fn>
  asio::awaitable<T> OnStorage(Fn fn);

  // The combined digest of `ranges` (see AeDigestsRequest).
  uint64_t Combined(const std::vector<size_t>& ranges) const;

  const Options options_;
  storage::Engine& engine_;
  const cluster::Ring& ring_;
  cluster::Membership& membership_;
  net::Transport& transport_;
  replication::LocalReplica& local_;
  const Clock& clock_;
  const MonotonicClock& steady_;
  const uint64_t ring_fingerprint_;
  DigestTable digests_;
  RateLimiter limiter_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<asio::thread_pool> storage_;  // Null without Options::storage_thread.
  bool observing_ = false;

  mutable std::mutex mu_;
  // Guarded by mu_:
  bool joined_ = false;  // The storage thread was joined (by the first Stop()).
  SeededRandom random_;
  std::vector<NodeId> peer_order_;  // The rest of the current cycle, next peer last.
  // last_full_ms_[range][i]: start of the last complete exchange with the range's i-th replica
  // (0: none since start; unused for this node's own slot).
  std::vector<std::vector<int64_t>> last_full_ms_;
  uint64_t rounds_ = 0;
  uint64_t purged_ = 0;
  uint64_t repair_rounds_ = 0;
  uint64_t repair_coalesced_ = 0;

  // The periodic rounds (Tick), repair rounds (RunRoundNow, one run-now key) and the tracking
  // of exchanges, collections and served requests. Last: destroyed first.
  BackgroundService service_;
};

}  // namespace dialkv::antientropy
