#pragma once
#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "server/common/hlc.h"
#include "server/replication/hint_store.h"
#include "server/storage/engine.h"

namespace dialkv::replication {

using Deadline = std::chrono::steady_clock::time_point;

// This node's replica: the replica operations (read, apply-if-newer, a new local write, a hint)
// on this node's Engine, for the coordinator (its own node's copy) and for PeerService (peers'
// requests). It knows nothing of other nodes or of consistency modes.
//
// Threading. Engine calls may block: with --sync every write waits for an fsync, and a
// RocksDB read that misses both the block cache and the OS page cache waits for the disk. An
// io thread serves many connections, so whatever blocks it stalls all of them. Options say
// which calls leave the caller's thread for a storage thread pool (and resume on the caller's
// executor afterwards); the rest run inline.
//
// Node's choice: with --sync, writes (Apply, Write, AddHint) go to the pool and reads run
// inline; without it, everything runs inline. Measured on a 2-core VM, RocksDB with sync off,
// 100-byte values, one io thread, 2 loopback connections, single node (ops/s):
//                       put inline   put pool   get inline   get pool
//   1 request in flight     42,000     22,000       44,000     23,000
//   32 in flight            48,000     54,000       70,000     50,000
// The hop costs about 20 µs per request (two cross-thread wake-ups), doubling the latency of
// a lone request, and buys nothing unless the call really blocks. Without sync a write appends
// to the WAL in the page cache and a read of a working set that fits in memory does not touch
// the disk, so both run inline. The price, accepted: while RocksDB stalls writers (flushes or
// compactions behind) or a read goes to a cold disk, that io thread's connections wait, and an
// inline call cannot be abandoned at its deadline. An inline call is not started once its
// deadline has passed (same answers as below) and otherwise answers what it did, late or not;
// dialkv_request_duration_seconds shows such stalls.
//
// Group commit. On the pool, Apply calls (the replica writes of peers' requests and of this
// node's coordinator) do not take a pool thread each: they join one queue, and one drain at a
// time, on a pool thread, applies everything queued in a single Engine::ApplyBatch: one WAL
// write, and with --sync one fsync, for every write that arrived while the previous group was
// being written. Under load the groups grow by themselves (the longer an fsync, the more
// writes wait for the next one); a lone write is written at once, alone.
//
// Deadlines. A call that runs on the pool never waits past its deadline. The caller waits on
// a timer; the storage thread posts the result back and cancels that timer. When the deadline
// comes first the call is answered at once and the storage call, if it already started,
// finishes in the background and its result is dropped:
//   - a read answers kTimeout;
//   - a write whose call had started answers kUnknown (it may be applied);
//   - a write still queued answers kUnavailable and is never started (definitely not applied).
//
// Clock guard. Apply refuses a version whose timestamp is more than --max-clock-skew-ms ahead
// of this node's wall clock (HybridLogicalClock::CheckSkew) with kInvalidArgument and a
// rate-limited warning: one node with a wild clock must not make its versions win forever.
// A version within the guard is folded into the HLC, so this node's next write orders after it.
//
// Thread-safe. REQUIRES: callers' executors never run two handlers at once (an io_context run
// by one thread, or a strand). The engine, the HLC and this object outlive every call, and
// the storage pool is joined before this object and the callers' io_contexts are destroyed.
class LocalReplica {
 public:
  struct Options {
    // Where writes (and, with offload_reads, reads) run. nullptr: everything inline on the
    // caller's thread. Not owned.
    asio::thread_pool* storage_pool = nullptr;
    // Reads go to storage_pool too. Off (Node's choice): reads never fsync, so they run inline.
    bool offload_reads = true;
  };

  LocalReplica(Options options, storage::Engine& engine,  // Not owned.
               HybridLogicalClock& hlc);                  // Not owned.
  ~LocalReplica();
  LocalReplica(const LocalReplica&) = delete;
  LocalReplica& operator=(const LocalReplica&) = delete;

  // The stored version of `key`, tombstones included. With `timestamp_only` its value is left
  // empty (and not read: Engine::GetHeader).
  // Errors: kNotFound (no version at all); kTimeout (not read before the deadline);
  // kIOError, kCorruption (with context).
  asio::awaitable<Result<Version>> Read(std::string key, Deadline deadline,
                                        bool timestamp_only = false);

  // Applies `version` (chosen by a coordinator, this node's or a peer's) iff its timestamp is
  // greater than the stored one's. kSuperseded means this replica already holds this version
  // or a newer one: the caller acknowledges it all the same.
  // Errors: kInvalidArgument (timestamp beyond the skew guard; refused, logged with
  // from = the node that wrote the version); kUnavailable (deadline passed before it started,
  // waiting in the group-commit queue included; not applied); kUnknown (deadline passed while
  // it ran; it may be applied); kIOError, kCorruption (it may have been applied).
  asio::awaitable<Result<storage::ApplyOutcome>> Apply(std::string key, Version version,
                                                       Deadline deadline);

  // One version of one key, for ApplyAll.
  struct KeyedWrite {
    std::string key;
    Version version;
  };
  // Apply of every item (a peer's batch of replica writes), with Apply's answers, result i for
  // items[i], as one storage write: inline, one Engine::ApplyBatch (one WAL append); on the
  // storage pool, every item joins the group-commit queue at once, so they share a group. Items
  // of one key compare against the earlier items' versions, as if applied one after the other.
  // A failed storage write fails every item it carried.
  asio::awaitable<std::vector<Result<storage::ApplyOutcome>>> ApplyAll(
      std::vector<KeyedWrite> items, Deadline deadline);

  // A new write coordinated by this node (AP on a replica): takes ts = hlc.Now() just before
  // it applies (on whichever thread runs it) and applies with Engine::ApplyIfNewer. If the
  // stored version is newer (the wall clock went back across a restart), the HLC observes
  // the stored timestamp and the write retries once with a greater one, so an acknowledged
  // write on this node is what the next read here returns. If the stored timestamp is beyond
  // the skew guard, the write is acknowledged as ordered before it (last writer wins) and a
  // warning is logged. Returns the version written, its timestamp set.
  // Errors: as Apply, except kInvalidArgument.
  asio::awaitable<Result<Version>> Write(std::string key, std::string value, bool tombstone,
                                         Deadline deadline);

  // Records a hint for `peer` in `hints` (which lives on this node's engine) where this
  // replica runs its writes, under the same deadline rules as Apply. `hints` must outlive the
  // storage pool's work, as the engine does.
  // Errors: as HintStore::Add, plus kUnavailable / kUnknown for the deadline as Apply.
  asio::awaitable<Status> AddHint(HintStore& hints, NodeId peer, std::string key, Version version,
                                  Deadline deadline);

  NodeId node_id() const { return hlc_.node_id(); }

  // Group commit so far (0 without a storage pool): engine batches written, and the writes
  // they carried. Their ratio is the mean group size. Thread-safe.
  uint64_t group_commits() const;
  uint64_t group_commit_writes() const;

 private:
  // Whether `deadline` has passed: an inline call is then not started (as RunOnStorage).
  static bool Late(Deadline deadline);
  // The clock guard of Apply: kInvalidArgument (logged, rate-limited) for a version beyond it;
  // otherwise folds its timestamp into the HLC.
  Status Admit(std::string_view key, const Version& version);
  // Runs on a storage thread (or inline): the engine read of Read.
  Result<Version> ReadNow(std::string_view key, bool timestamp_only);
  // Runs on a storage thread (or inline): the engine work of one write, retry included.
  Result<Version> WriteNow(std::string_view key, std::string value, bool tombstone);

  class GroupCommit;  // local_replica.cc

  const Options options_;
  storage::Engine& engine_;
  HybridLogicalClock& hlc_;
  std::unique_ptr<GroupCommit> group_commit_;  // With a storage pool.
};

}  // namespace dialkv::replication
