#pragma once
#include <asio/awaitable.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "server/cluster/clock_offsets.h"
#include "server/cluster/membership.h"
#include "server/cluster/ring.h"
#include "server/common/hlc.h"
#include "server/common/metrics.h"
#include "server/net/transport.h"
#include "server/replication/hint_store.h"
#include "server/replication/local_replica.h"
#include "server/replication/quorum.h"
#include "server/replication/task_tracker.h"
#include "server/storage/disk_health.h"

namespace dialkv::replication {

struct WriteOutcome {
  Timestamp timestamp;  // The version's.
  // AP only: no replica acknowledged in time; the version is held as hints by this node and
  // will be delivered when the replicas are reachable.
  bool hinted = false;
};

// The coordinator of client requests received by this node (docs/consistency.md): it finds the
// key's replicas on the ring and runs the CP or AP protocol over them, this node's own replica
// included (through LocalReplica, without the network).
//
//   AP write  ts = hlc.Now(). A replica coordinator applies locally and answers at once; the
//             other replicas get the version in the background. A non-replica coordinator
//             sends to every replica and answers at the first ack. Replicas dead per
//             Membership get a hint without being tried; a replica that fails or does not ack
//             in time gets a hint. No ack at all: OK with hinted = true once a hint is stored.
//   AP read   The local replica answers (NOT_FOUND included); otherwise the first replica to
//             answer wins, the alive ones asked first.
//   CP write  ABD: a quorum of timestamps, ts = max(hlc.Now(), highest + 1), then a quorum of
//             acks. No quorum of timestamps: kUnavailable (nothing written). No quorum of
//             acks: kUnknown (it may have been applied, and may still spread).
//   CP read   A quorum of versions; if they disagree, the newest is written back to the
//             replicas that lack it and is answered once a quorum holds it.
// The timestamp read of a CP write and a CP read ask a quorum first (PlanWaves says which
// replicas) and the other replicas only after speculative_retry_ms, or as soon as one of the
// first fails; the acks of a CP write and of a read repair are asked of every replica at once.
// Only the key's home replicas count toward quorums; a replica acks a version when it holds it
// or a newer one. Quorum = floor(RF/2) + 1 (Ring::quorum()). Requests answer as soon as their
// quorum (or first ack) is reached, fail as soon as it became impossible, and never wait past
// their deadline. Membership only orders and skips replicas (and decides hints), and makes a CP
// request fail fast: when it holds so many replicas dead that no quorum is left, a CP read or
// either phase of a CP write answers kUnavailable before sending anything (FailFast). That is
// always a true answer (nothing was sent), so a wrong detector costs availability, never safety.
//
// Replica calls that outlive their request (the background copies of an AP write, stragglers
// after a quorum, their hints) are bounded by max_replica_calls_in_flight and drained by
// Stop().
//
// Thread-safe: Read and Write may be called from any executor that runs one handler at a time
// (an io_context run by one thread, or a strand); all their calls resume there. Everything
// passed to the constructor must outlive this object. Destroy it only after Stop() returned.
class Coordinator {
 public:
  struct Options {
    NodeId self = 0;
    // Off: nothing is hinted; an AP write that no replica acknowledged answers kUnknown, and
    // dead replicas are tried like the others.
    bool hinted_handoff = true;
    // How long one replica call may take before the replica counts as failed (and, for a
    // write, gets a hint). Bounded by the request's deadline while the client waits; calls of
    // background replication use it alone. Lower hints sooner; higher waits out slow replicas.
    uint32_t replica_timeout_ms = 1000;
    // CP reads and a CP write's timestamp read ask a quorum of the key's replicas first; the
    // others are asked once this much time passed without that quorum's answers, or at once
    // when one of them fails. Any two quorums intersect, so that is enough; asking all
    // replicas at once (0) spends one exchange per extra replica on every request to save
    // this delay when a replica of the quorum is slow.
    uint32_t speculative_retry_ms = 10;
    // Replica calls (and the hint writes that follow failed ones) running at once on this
    // node, foreground and background. Past it, CP requests and AP reads fail with
    // kOverloaded, and an AP write hints the replicas it could not call (without hinted
    // handoff, they wait for anti-entropy).
    uint32_t max_replica_calls_in_flight = 10'000;
    // The AP replication stream (replica_stream.h) stops adding writes to a call once their keys
    // and values reach this (one write always goes). Keep it well under the peers'
    // --max-frame-bytes.
    uint32_t stream_batch_bytes = 1u << 20;
    // Counts CP requests (reads and either write phase) refused at once because the failure
    // detector held too many replicas dead for a quorum. Not owned; null: not exported.
    metrics::Counter* fast_failures = nullptr;
  };

  Coordinator(Options options, const cluster::Ring& ring,  // Not owned.
              const cluster::Membership& membership,       // Not owned.
              LocalReplica& local,                         // Not owned.
              HybridLogicalClock& hlc,                     // Not owned.
              net::Transport& transport,                   // Not owned.
              HintStore* hints);  // Not owned; null when hinted handoff is off.
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;
  ~Coordinator();

  // The newest version of `key` per `consistency`, tombstones included (the caller answers a
  // tombstone as "not found").
  // Errors: kNotFound (no version at all). AP: kUnavailable (every replica failed), kTimeout
  // (deadline). CP: kUnavailable (no quorum, including at the deadline, or its read repair
  // did not reach a quorum; at once when the failure detector holds too many replicas dead). Both:
  // kOverloaded, kUnavailable after Stop().
  asio::awaitable<Result<Version>> Read(std::string key, Consistency consistency,
                                        Deadline deadline);

  // Writes `value` to `key` (or, with `tombstone`, deletes it: `value` is then empty) under a
  // timestamp chosen here, per `consistency`.
  // Errors: kUnavailable (definitely not applied: CP without a quorum of timestamps, or
  // refused at once by FailFast before either phase sent anything; refused by the clock-skew or
  // disk-alarm guard; an AP
  // write that could call no replica and certainly stored no hint; after Stop()); kUnknown (CP
  // without a quorum of acks; AP without an ack and without a confirmed hint — a replica or an
  // unconfirmed hint may still hold it; a local write past its deadline);
  // kOverloaded (CP only; nothing sent); kIOError, kCorruption (the local replica of an AP
  // write failed; it may have been applied).
  asio::awaitable<Result<WriteOutcome>> Write(std::string key, std::string value, bool tombstone,
                                              Consistency consistency, Deadline deadline);

  // From now on, Write first asks `offsets` (not owned; outlives this object) whether this
  // node's clock may stamp writes, and refuses them with its kUnavailable ("clock skew") when
  // not. Reads are unaffected. REQUIRES: called before the node serves.
  void RefuseWritesWhenClockSkewed(cluster::PeerClockOffsets* offsets) { clock_offsets_ = offsets; }

  // From now on, Write first asks `disk` (not owned; outlives this object) whether this node's
  // data dir takes writes, and refuses them with its kUnavailable when its disk alarm is up
  // (the client then tries another node). Reads are unaffected. REQUIRES: called before the
  // node serves. While the alarm is up, AP reads ask the other replicas before this one, which
  // misses every write meanwhile.
  void RefuseWritesOnDiskAlarm(storage::DiskHealth* disk) { disk_ = disk; }

  // Refuses new requests (kUnavailable) and blocks until every replica call and hint write
  // still running has finished (each has a deadline, so this ends within about
  // replica_timeout_ms). REQUIRES: the executors those calls run on keep running, and this
  // thread is not one of them. Idempotent.
  void Stop();

  // Test-only bugs, switched by fault injection (AdminService) so the harness can prove it
  // catches a broken CP path: skip_read_repair makes CP reads answer without their write-back;
  // skip_write_timestamp_phase makes CP writes take this node's clock without reading a
  // quorum's timestamps. Thread-safe.
  void SetBugs(bool skip_read_repair, bool skip_write_timestamp_phase);
  bool skip_read_repair() const { return bug_skip_read_repair_.load(std::memory_order_relaxed); }
  bool skip_write_timestamp_phase() const {
    return bug_skip_write_timestamp_phase_.load(std::memory_order_relaxed);
  }

  // Replica calls running now, foreground and background (for tests and metrics).
  size_t calls_in_flight() const { return tracker_.in_flight(); }
  // CP requests refused by FailFast since this object was made (for tests).
  uint64_t fast_failures() const { return fast_failures_.Value(); }

 private:
  enum class Delivery : uint8_t { kAcked, kHinted };
  // A key and the version to deliver to its replicas: built once per request and shared by
  // every replica call (and its hint), instead of one copy of key and value per replica.
  struct KeyVersion {
    std::string key;
    Version version;
  };
  using SharedWrite = std::shared_ptr<const KeyVersion>;

  // The four paths (coordinator_paths.cc).
  asio::awaitable<Result<Version>> ReadAp(std::string key, Deadline deadline);
  asio::awaitable<Result<Version>> ReadCp(std::string key, Deadline deadline);
  asio::awaitable<Result<WriteOutcome>> WriteAp(std::string key, Version version,
                                                Deadline deadline);
  asio::awaitable<Result<WriteOutcome>> WriteCp(std::string key, Version version,
                                                Deadline deadline);
  // WriteCp's phase 2: `version` carries its timestamp; a quorum of acks.
  asio::awaitable<Result<WriteOutcome>> WriteCpPhase2(std::string key, Version version,
                                                      Deadline deadline);

  // Fast failure of a CP request, checked before it sends anything: kUnavailable (naming
  // `outcome`, e.g. "the write was not applied") when the failure detector holds so many of
  // `replicas` dead that fewer than `needed` are left; OK otherwise. Only kDead counts: a
  // suspect replica may be slow rather than gone, and is still asked in a second wave. Nor
  // does a member this node never heard from since it started: the detector calls it dead for
  // want of news, as it does every peer right after this node restarts.
  Status FailFast(std::span<const NodeId> replicas, size_t needed, std::string_view outcome);

  // One replica (coordinator.cc). Each reaches `replica` directly when it is this node.
  // A remote call's first attempt ends at `deadline`; an attempt that got no reply (kTimeout:
  // the request or its reply was lost, or the replica is slow) is made again, with a fresh
  // replica_timeout_ms, while another attempt can start before `retry_until` (= `deadline`:
  // no retry). Both calls are idempotent, so a repeat that follows a delivered attempt is
  // harmless; a lossy network then costs latency instead of failing the request.
  // ReadReplica: its version (kNotFound when it holds none) or the error.
  asio::awaitable<Result<Version>> ReadReplica(NodeId replica, std::string key, bool timestamp_only,
                                               Deadline deadline, Deadline retry_until);
  // Delivers `version` to `replica` (unless !try_replica) by `deadline`; a remote replica that
  // did not ack gets a hint when hinted handoff is on (not for a refusal by its skew guard).
  // kAcked, kHinted, or the replica's error (with the hint's when that failed too).
  asio::awaitable<Result<Delivery>> Deliver(NodeId replica, SharedWrite write, Deadline deadline,
                                            Deadline retry_until, bool try_replica);
  // Whether a remote call to `replica` that ended with `reply` is made again (see
  // ReadReplica); if so, sets `*next` to the next attempt's deadline. Not when the failure
  // detector holds the replica dead: a partition or a crash then fails the request after one
  // replica timeout instead of at its deadline.
  bool RetryAfter(NodeId replica, const Result<v1::Envelope>& reply, Deadline retry_until,
                  Deadline* next) const;
  // Stores a hint for `replica`, giving up at `deadline`. Errors: as LocalReplica::AddHint.
  asio::awaitable<Status> StoreHint(NodeId replica, std::string key, Version version,
                                    Deadline deadline);
  // True when a failed StoreHint certainly recorded nothing (it never started, or the budget
  // refused it); any other failure may have left the hint on disk.
  static bool HintCertainlyNotStored(const Status& status);

  // Calls for Gather, one per replica in `replicas`: first attempts end at `deadline`, retries
  // go on until `retry_until`.
  std::vector<ReplicaCall<Version>> ReadCalls(std::span<const NodeId> replicas,
                                              const std::string& key, bool timestamp_only,
                                              Deadline deadline, Deadline retry_until);
  // One delivery per replica in `tried`, then one per replica in `hinted_only` that only
  // stores its hint (Deliver with !try_replica).
  std::vector<ReplicaCall<Delivery>> DeliverCalls(std::span<const NodeId> tried,
                                                  std::span<const NodeId> hinted_only,
                                                  const SharedWrite& write, Deadline deadline,
                                                  Deadline retry_until);

  // A request's replicas in the order to call them, in up to three waves. `first` are called
  // at once; `speculative` (only with `quorum_first`) once speculative_retry_ms passed or one
  // call failed; `held_back` (suspect or dead per the failure detector, which may be wrong)
  // only if the others fall short. Without `quorum_first`, every replica held alive is in
  // `first`; with it, `first` holds `needed` of them: this node when it is a replica (and its
  // disk alarm is down: its replica then misses writes, and a read through it would need a
  // repair), then the others in the key's ring order starting after this node (from the
  // key's primary when this node is not a replica). That order is the same for every request
  // of a key at a node, and spreads the keys' reads over their replicas. When the replicas
  // held alive are fewer than `needed`, every replica is in `first`.
  struct Waves {
    std::vector<NodeId> first;
    std::vector<NodeId> speculative;
    std::vector<NodeId> held_back;
  };
  Waves PlanWaves(std::span<const NodeId> replicas, size_t needed, bool quorum_first) const;
  // Gathers `needed` successes from `replicas` in up to three waves (PlanWaves), all into one
  // Gathering: a call of an earlier wave that is still running when a later one starts goes
  // on, and its reply counts. A later wave starts when the earlier ones cannot make `needed`
  // (failures), or at its time: the speculative wave speculative_retry_ms after the first,
  // the held-back one when the replicas held alive had one replica timeout. Holding replicas
  // back spares a replica cut off by a partition the calls that would each wait out
  // replica_timeout_ms while a quorum answers without it; correctness never depends on the
  // failure detector, as a replica held back is still asked when the others cannot make
  // `needed`. Errors (nothing was sent): kOverloaded, or kUnavailable while stopping, each
  // naming `outcome` ("the write was not applied"). A later wave without tracker slots is left
  // out: the calls running are then all there is. `make_calls(call, held_back)` builds a
  // wave's calls (std::vector<ReplicaCall<T>>): one per replica in `call`; `held_back` are the
  // replicas held back from the first wave (empty in the later ones), for calls that only
  // store hints. A template parameter, not a std::function: no allocation per request.
  template <typename T, typename MakeCalls>
  asio::awaitable<Result<Gathered<T>>> GatherInWaves(std::span<const NodeId> replicas,
                                                     size_t needed, bool quorum_first,
                                                     bool (*is_success)(const Result<T>&),
                                                     const MakeCalls& make_calls, Deadline deadline,
                                                     std::string_view outcome);
  // GatherInWaves reading `key` (its timestamp only, if `timestamp_only`), a quorum first.
  asio::awaitable<Result<Gathered<Version>>> ReadQuorum(std::span<const NodeId> replicas,
                                                        const std::string& key, bool timestamp_only,
                                                        size_t needed, Deadline deadline,
                                                        std::string_view outcome);
  // GatherInWaves delivering `write`, to every replica held alive at once: in the first wave
  // the replicas held back get a hint (when hinted handoff is on) instead of a call.
  asio::awaitable<Result<Gathered<Delivery>>> DeliverQuorum(std::span<const NodeId> replicas,
                                                            const SharedWrite& write, size_t needed,
                                                            Deadline deadline,
                                                            std::string_view outcome);
  // Sends `version` to `replicas` in the background (tracked, not awaited): through the
  // replica's stream (Streams) when it takes it, otherwise by a call of its own. Replicas it has
  // no slot for are hinted now, before it returns.
  asio::awaitable<void> ReplicateInBackground(std::vector<NodeId> replicas, SharedWrite write,
                                              Deadline request_deadline);

  // The deadline of one replica call made for a request that must answer by `deadline`.
  Deadline CallDeadline(Deadline deadline) const;
  bool hinting() const { return hints_ != nullptr; }

  static bool IsAnswer(const Result<Version>& r) { return r.ok() || r.status().IsNotFound(); }
  static bool IsAck(const Result<Delivery>& r) { return r.ok() && *r == Delivery::kAcked; }

  const Options options_;
  const cluster::Ring& ring_;
  const cluster::Membership& membership_;
  LocalReplica& local_;
  HybridLogicalClock& hlc_;
  net::Transport& transport_;
  HintStore* const hints_;
  cluster::PeerClockOffsets* clock_offsets_ = nullptr;  // Set before serving, then read-only.
  storage::DiskHealth* disk_ = nullptr;                 // Set before serving, then read-only.
  TaskTracker tracker_;                                 // One slot per replica call in flight.
  // Background replication of AP writes, one stream per peer (replica_stream.h). After
  // tracker_: destroyed first, once Stop() waited for its senders.
  class Streams;
  std::unique_ptr<Streams> streams_;
  metrics::Counter fast_failures_;
  std::atomic<bool> bug_skip_read_repair_{false};
  std::atomic<bool> bug_skip_write_timestamp_phase_{false};
};

}  // namespace dialkv::replication
