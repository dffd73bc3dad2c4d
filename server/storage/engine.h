#pragma once
// The storage seam: everything a node keeps on disk goes through Engine. Nothing in storage/
// knows about the network.
//
// Three keyspaces, mirroring RocksDB column families:
//   data  — the newest known version of each key (tombstones included);
//   hints — versions owed to replicas that were unreachable, keyed by (peer, sequence);
//   meta  — small named values: node identity, cluster name, counters.
// `data` is read by key (Get) and in key-hash order (ScanByHash), the order in which the ring
// places keys, so anti-entropy lists one ring range (or one bucket of it) without scanning the
// whole store; nothing reads it in key order. Every change to `data` can be reported to one
// observer (SetChangeObserver), under the key's lock, so digests over it stay exact.
//
// Thread-safe: every method may be called from any thread concurrently. Methods may block on
// disk I/O (fsync with Options::sync), so callers on an io thread decide where to run them.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/types.h"
#include "server/common/status.h"

namespace dialkv::storage {

// What ApplyIfNewer did.
enum class ApplyOutcome : uint8_t {
  kApplied,     // The version was stored: its timestamp was greater than the stored one.
  kSuperseded,  // Nothing changed: the stored version's timestamp is greater or equal.
};

// One version of one key, for ApplyBatch. Refers to the caller's key and version, which must
// outlive the call.
struct KeyedVersion {
  std::string_view key;
  const Version& version;
};

// Everything of a stored version but its value: what anti-entropy compares and digests.
struct VersionHeader {
  Timestamp timestamp;
  bool tombstone = false;

  friend bool operator==(const VersionHeader&, const VersionHeader&) = default;
};

// Told of every change to the data keyspace (ApplyIfNewer or ApplyBatch that stored,
// PurgeTombstone that removed), while the engine still holds the lock that orders changes of
// that key: for one key, calls come one at a time and in the order the changes took effect,
// and `before` is exactly what the change replaced. Calls for different keys may come
// concurrently from any thread. A change whose write failed with an error is not reported (it
// may or may not be on disk; a rebuild at the next start-up corrects what depends on it).
// Implementations must be quick, must not block and must not call back into the engine.
class ChangeObserver {
 public:
  virtual ~ChangeObserver() = default;
  // `key_hash` is KeyHash(key). `before`: the replaced version (nullptr: the key had none).
  // `after`: the version now stored (nullptr: the key was removed).
  virtual void OnChange(std::string_view key, uint64_t key_hash, const VersionHeader* before,
                        const VersionHeader* after) = 0;
};

// Called for each entry of a ScanByHash, in (key_hash, key) order; return false to stop early.
using HashScanFn =
    std::function<bool(uint64_t key_hash, std::string_view key, const VersionHeader& header)>;
// Called for each hint of a peer, in sequence order; return false to stop early.
using HintScanFn = std::function<bool(uint64_t sequence, std::string_view payload)>;

class Engine {
 public:
  virtual ~Engine() = default;

  // The stored version of `key`, tombstones included.
  // Errors: kNotFound (no version at all), kCorruption, kIOError.
  virtual Result<Version> Get(std::string_view key) = 0;

  // The header of the stored version of `key` (what Get would return, without its value).
  // The default implementation calls Get; the RocksDB engine answers hot keys from memory.
  // Errors: as Get.
  virtual Result<VersionHeader> GetHeader(std::string_view key);

  // Stores `version` iff its timestamp is strictly greater than the stored version's (or
  // nothing is stored). Atomic with respect to concurrent ApplyIfNewer on the same key: of
  // any set of versions applied in any order and from any threads, the greatest remains.
  // Applying the same version twice is a no-op the second time (kSuperseded).
  // Errors: kCorruption (the stored version does not decode), kIOError.
  virtual Result<ApplyOutcome> ApplyIfNewer(std::string_view key, const Version& version) = 0;

  // ApplyIfNewer of every item, in order: result i is what items[i] got, with ApplyIfNewer's
  // meaning, and an item compares against what the items before it stored (a key may appear
  // more than once). The default implementation calls ApplyIfNewer per item; the RocksDB
  // engine writes every applied item in one write (one WAL append, one fsync with
  // Options::sync), which is what makes batching worth it. There, a failed write fails every
  // item that was to be written with its error (each may or may not be on disk, as with
  // ApplyIfNewer), and the disk alarm's check counts the batch as one write; superseded items
  // and items whose stored version does not decode get their own outcome either way.
  // Errors per item: as ApplyIfNewer.
  virtual std::vector<Result<ApplyOutcome>> ApplyBatch(std::span<const KeyedVersion> items);

  // Visits the header of every stored version whose KeyHash(key) is in [first_hash, last_hash]
  // (both included), in (hash, key) order, without copying values. Sees a consistent snapshot
  // taken when the scan starts.
  // Errors: kCorruption, kIOError.
  virtual Status ScanByHash(uint64_t first_hash, uint64_t last_hash, const HashScanFn& fn) = 0;

  // Removes `key` iff its stored version is a tombstone whose timestamp equals `timestamp`;
  // any other stored version (a newer write, a live value) is left alone. Returns whether it
  // removed. Atomic with respect to ApplyIfNewer of the same key. Tombstone collection uses
  // it; nothing else removes data.
  // Errors: kCorruption, kIOError; kInternal from engines that cannot purge (the default).
  virtual Result<bool> PurgeTombstone(std::string_view key, const Timestamp& timestamp);

  // Makes `observer` (not owned; nullptr: none) the one told of every later change to data.
  // Returns false, changing nothing, when the engine cannot report changes (the default).
  // REQUIRES: no ApplyIfNewer or PurgeTombstone runs concurrently with this call (install it at
  // start-up, before the node serves; remove it after the node stopped writing), and the
  // observer outlives its installation.
  virtual bool SetChangeObserver(ChangeObserver* observer);

  // Number of keys whose stored version is not a tombstone. Maintained on every apply; exact
  // in the memory engine and in the RocksDB engine (counted by a scan when it opens).
  virtual uint64_t LiveKeyCount() const = 0;

  // Hints: opaque payloads owed to `peer`, kept in sequence order until deleted.
  // Errors: kIOError.
  virtual Status PutHint(NodeId peer, uint64_t sequence, std::string_view payload) = 0;
  virtual Status ScanHints(NodeId peer, const HintScanFn& fn) = 0;
  virtual Status DeleteHint(NodeId peer, uint64_t sequence) = 0;

  // Meta: small named values. GetMeta errors: kNotFound, kIOError. PutMeta errors: kIOError.
  virtual Result<std::string> GetMeta(std::string_view name) = 0;
  virtual Status PutMeta(std::string_view name, std::string_view value) = 0;
};

// The process-independent parts of a node's identity, checked against what the data dir
// recorded the first time it was opened.
struct Identity {
  NodeId node_id = 0;
  std::string cluster_name;
};

// Records `identity` in `engine`'s meta if the engine holds none yet; otherwise verifies it.
// Errors: kInvalidArgument naming both identities when the engine belongs to another node or
// cluster (`where` names the data dir in the message), kIOError, kCorruption.
Status ClaimIdentity(Engine& engine, const Identity& identity, std::string_view where);

}  // namespace dialkv::storage
