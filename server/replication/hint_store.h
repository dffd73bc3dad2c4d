#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/types.h"
#include "server/common/clock.h"
#include "server/common/log_limiter.h"
#include "server/common/metrics.h"
#include "server/common/status.h"
#include "server/storage/engine.h"

namespace dialkv::replication {

// Durable queue of versions owed to replicas that were unreachable when written (hinted
// handoff), kept in the engine's hints keyspace under (peer, sequence). It does not decide
// when a peer is alive or send anything: HintReplayer does, in sequence order, and removes each
// hint the peer acknowledged.
//
// Sequences are one counter for all peers, so a peer's hints replay in the order they were
// added. Open() recovers the counter and the per-peer byte counts by scanning the hints of
// every peer this data dir ever held hints for (recorded in meta "hint_peers").
//
// Hint payload (fixed encoding, version 1):
//   byte 0        format version, 1
//   bytes 1..8    created_ms: int64 little-endian, this node's wall clock when it was added
//   bytes 9..     a serialized v1::ReplicaWriteRequest {key, version}: what replay sends
// A hint's size, counted against max_bytes_per_peer, is its payload's.
//
// Thread-safe: one mutex guards the sequence counter, the per-peer counts and the peer list;
// engine calls run outside it, except the one-time meta write when a peer gets its first hint
// ever. Engine calls may block (fsync with --sync): callers on an io thread run Add through
// LocalReplica::AddHint.
class HintStore {
 public:
  struct Options {
    // Past this many payload bytes for one peer, new hints for it fail with kOverloaded and
    // anti-entropy has to repair what was not recorded. Bounds the disk a long outage costs.
    uint64_t max_bytes_per_peer = uint64_t{256} << 20;
    // Older hints are dropped at replay, not sent: after this long anti-entropy has likely
    // repaired the replica, and a returning node should not be flooded with stale versions.
    std::chrono::milliseconds max_age = std::chrono::hours(3);
    // Not owned; may be null. Gets dialkv_hints_dropped_total{reason}: every hint lost
    // (DropReason), counted exactly.
    metrics::Registry* metrics = nullptr;
  };

  // Why a hint was lost: the replica then waits for anti-entropy (or read repair) to get the
  // version. The names are the metric's reason label.
  enum class DropReason : uint8_t {
    kExpired,      // "expired": older than max_age, dropped instead of replayed.
    kStoreFull,    // "store_full": not recorded, the peer's budget was used up.
    kStoreFailed,  // "store_failed": not recorded (a storage error, a deadline, shutdown).
    kCorrupt,      // "corrupt": the stored payload did not decode.
  };
  static std::string_view DropReasonName(DropReason reason);

  // One recorded hint.
  struct Hint {
    uint64_t sequence = 0;
    int64_t created_ms = 0;  // When it was added, on this node's clock.
    std::string key;
    Version version;
    uint64_t bytes = 0;  // Payload size, as counted against the budget.
  };

  struct PeerStats {
    uint64_t hints = 0;
    uint64_t bytes = 0;
  };

  // `engine` and `clock` must outlive the store. Not owned.
  // Errors: kIOError; kCorruption when meta "hint_peers" does not decode.
  static Result<std::unique_ptr<HintStore>> Open(const Options& options,
                                                 storage::Engine& engine,  // Not owned.
                                                 const Clock& clock);      // Not owned.

  // Records that `peer` still needs `version` of `key`.
  // Errors: kOverloaded (over max_bytes_per_peer; nothing recorded), kIOError (the hint may
  // or may not have been recorded; the budget is not charged).
  [[nodiscard]] Status Add(NodeId peer, std::string_view key, const Version& version);

  // Up to `max_hints` of `peer`'s oldest hints, in sequence order. A hint whose payload does
  // not decode is deleted and logged (error), not returned.
  // Errors: kIOError.
  Result<std::vector<Hint>> Peek(NodeId peer, size_t max_hints);

  // Deletes `hint` (from Peek) once it was delivered or dropped. REQUIRES: not removed before.
  // Errors: kIOError (the hint stays and will be replayed again).
  [[nodiscard]] Status Remove(NodeId peer, const Hint& hint);

  // Deletes `hint` (from Peek) without delivering it, and counts and logs it as lost.
  // REQUIRES: not removed before. Errors: kIOError (the hint stays; nothing counted).
  [[nodiscard]] Status Drop(NodeId peer, const Hint& hint, DropReason reason);

  // Counts and logs a hint for `peer` of `key` that its writer failed to record (`why`: the
  // failed Add or the failure that prevented it): store_full for kOverloaded, else
  // store_failed. Thread-safe.
  void CountNotStored(NodeId peer, std::string_view key, const Status& why);

  // Whether `hint` is older than max_age on the store's clock, counted from the earlier of its
  // creation and its version's write (a read repair may hint an old version).
  bool Expired(const Hint& hint) const;

  std::vector<NodeId> PeersWithHints() const;  // Sorted by id.
  PeerStats StatsFor(NodeId peer) const;
  const Options& options() const { return options_; }

 private:
  HintStore(const Options& options, storage::Engine& engine, const Clock& clock);
  Status Recover();
  // Records `peer` in meta "hint_peers". REQUIRES: mu_ held.
  Status RememberPeerLocked(NodeId peer);
  void Forget(NodeId peer, uint64_t bytes);
  // Counts one lost hint and logs it (rate-limited; the count is exact).
  void CountDropped(NodeId peer, std::string_view key, DropReason reason, std::string_view why);

  const Options options_;
  storage::Engine& engine_;
  const Clock& clock_;
  metrics::Counter* dropped_[4] = {};  // By DropReason; null without metrics.
  LogLimiter drop_log_limiter_{std::chrono::seconds(1)};

  mutable std::mutex mu_;
  // Guarded by mu_:
  uint64_t next_sequence_ = 1;
  std::map<NodeId, PeerStats> stats_;
  std::set<NodeId> known_peers_;  // As recorded in meta "hint_peers".
};

}  // namespace dialkv::replication
