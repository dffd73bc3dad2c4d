#pragma once
// The digests anti-entropy compares (docs/anti-entropy.md "Digests").
//
// Every ring range (Ring::tokens(): range i covers the key hashes (tokens[i-1], tokens[i]]) is
// cut into B buckets of equal hash width, so each bucket is one contiguous interval of key
// hashes: the engine's hash-ordered index lists a bucket without reading anything else. A
// bucket's digest is the XOR of EntryHash(key, timestamp, tombstone) over the versions stored
// in it; a range's digest is the XOR of its buckets'. XOR makes the digest independent of the
// order in which versions arrived, and lets a change be folded in exactly: XOR out the
// replaced version's hash, XOR in the new one's.
//
// The table is the engine's ChangeObserver: OnChange runs under the engine's per-key lock, so
// each call's (before, after) is the exact transition of that key, and because XOR commutes,
// concurrent changes of different keys may fold in any order (relaxed atomic fetch_xor). The
// digests are thus exact at every instant no change is in flight. Rebuild() recomputes them by
// a scan of the hash index (at start-up).
//
// It also keeps what tombstone collection needs per range: how many tombstones are stored, a
// lower bound of their oldest wall time, and the last local time a tombstone arrived that was
// already older than the grace period (collection must then wait for rounds started after it).
//
// Thread-safe: every method may be called from any thread (atomics only). The ring and the
// clock must outlive the table.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "server/cluster/ring.h"
#include "server/common/clock.h"
#include "server/common/status.h"
#include "server/storage/engine.h"

namespace dialkv::antientropy {

// Key hashes from `first` to `last`, both included, in ring order; wraps past the largest hash
// when first > last.
struct HashInterval {
  uint64_t first = 0;
  uint64_t last = 0;

  // Position of `h` from `first`, in ring order (meaningful for hashes inside).
  uint64_t Offset(uint64_t h) const { return h - first; }
  bool Contains(uint64_t h) const { return h - first <= last - first; }
};

// Visits the engine's entries of `interval` in ring order (wrapping intervals in two scans).
Status ScanInterval(storage::Engine& engine, HashInterval interval, const storage::HashScanFn& fn);

class DigestTable final : public storage::ChangeObserver {
 public:
  // `gc_grace_ms`: the tombstone grace period (for the late-arrival floor).
  // REQUIRES: 1 <= buckets <= kMaxBuckets.
  DigestTable(const cluster::Ring& ring, uint32_t buckets, const Clock& clock, int64_t gc_grace_ms);

  static constexpr uint32_t kMaxBuckets = 4096;

  // xxh64 (seed kEntrySeed) of the 21 bytes key_hash, hlc (both little-endian 64-bit), node id
  // (little-endian 32-bit) and the tombstone flag (one byte, 0 or 1).
  static uint64_t EntryHash(uint64_t key_hash, const storage::VersionHeader& header);
  static constexpr uint64_t kEntrySeed = 0x6165'6469'6765'7374;  // "aedigest"

  size_t ranges() const { return positions_.size(); }
  uint32_t buckets() const { return buckets_; }
  size_t RangeOf(uint64_t key_hash) const;
  uint32_t BucketOf(size_t range, uint64_t key_hash) const;
  HashInterval RangeInterval(size_t range) const;
  // The hashes of one bucket; nullopt when the range is narrower than its bucket count and
  // this bucket holds no hash at all.
  std::optional<HashInterval> BucketInterval(size_t range, uint32_t bucket) const;

  uint64_t BucketDigest(size_t range, uint32_t bucket) const;
  uint64_t RangeDigest(size_t range) const;  // XOR of its bucket digests.

  // Tombstone bookkeeping of a range (see the class comment).
  uint64_t tombstones(size_t range) const;
  int64_t oldest_tombstone_ms(size_t range) const;  // INT64_MAX when none is known.
  int64_t late_tombstone_ms(size_t range) const;    // 0 when none arrived late.
  // A collection scan of `range` calls Begin before its scan and Finish with the oldest
  // tombstone wall time it left in place (INT64_MAX: none); tombstones applied meanwhile are
  // folded in, so the bound stays a lower bound.
  void BeginTombstoneScan(size_t range);
  void FinishTombstoneScan(size_t range, int64_t oldest_left_ms);

  void OnChange(std::string_view key, uint64_t key_hash, const storage::VersionHeader* before,
                const storage::VersionHeader* after) override;

  // Recomputes everything from a scan of `engine`'s hash index.
  // REQUIRES: no change to the engine is in flight and this table is not yet its observer, or
  // the engine changes nothing while this runs (start-up).
  // Errors: the scan's.
  Status Rebuild(storage::Engine& engine);

 private:
  std::atomic<uint64_t>& Slot(size_t range, uint32_t bucket) {
    return digests_[range * buckets_ + bucket];
  }
  const std::atomic<uint64_t>& Slot(size_t range, uint32_t bucket) const {
    return digests_[range * buckets_ + bucket];
  }

  const uint32_t buckets_;
  const Clock& clock_;
  const int64_t gc_grace_ms_;
  std::vector<uint64_t> positions_;             // Token positions: range i ends at positions_[i].
  std::vector<std::atomic<uint64_t>> digests_;  // ranges x buckets, range-major.
  std::vector<std::atomic<uint64_t>> tombstones_;
  std::vector<std::atomic<int64_t>> oldest_tombstone_ms_;
  std::vector<std::atomic<int64_t>> late_tombstone_ms_;
  std::vector<std::atomic<int64_t>> scan_oldest_ms_;  // Tombstones applied during a scan.
};

}  // namespace dialkv::antientropy
