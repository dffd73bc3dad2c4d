#include "server/antientropy/digest_table.h"

#include <xxhash.h>

#include <algorithm>
#include <limits>

#include "server/common/check.h"

namespace dialkv::antientropy {
namespace {

void PutLE(unsigned char* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

// Lowers `slot` to `value` if it is greater.
void AtomicMin(std::atomic<int64_t>& slot, int64_t value) {
  int64_t seen = slot.load(std::memory_order_relaxed);
  while (value < seen && !slot.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

void AtomicMax(std::atomic<int64_t>& slot, int64_t value) {
  int64_t seen = slot.load(std::memory_order_relaxed);
  while (value > seen && !slot.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

}  // namespace

Status ScanInterval(storage::Engine& engine, HashInterval interval, const storage::HashScanFn& fn) {
  if (interval.first <= interval.last) return engine.ScanByHash(interval.first, interval.last, fn);
  bool stopped = false;
  Status s = engine.ScanByHash(interval.first, std::numeric_limits<uint64_t>::max(),
                               [&](uint64_t h, std::string_view key, const auto& header) {
                                 if (fn(h, key, header)) return true;
                                 stopped = true;
                                 return false;
                               });
  if (!s.ok() || stopped) return s;
  return engine.ScanByHash(0, interval.last, fn);
}

DigestTable::DigestTable(const cluster::Ring& ring, uint32_t buckets, const Clock& clock,
                         int64_t gc_grace_ms)
    : buckets_(buckets), clock_(clock), gc_grace_ms_(gc_grace_ms) {
  DIALKV_CHECK(buckets >= 1 && buckets <= kMaxBuckets);
  for (const cluster::Ring::Token& token : ring.tokens()) positions_.push_back(token.position);
  DIALKV_CHECK(!positions_.empty());
  digests_ = std::vector<std::atomic<uint64_t>>(positions_.size() * buckets_);
  tombstones_ = std::vector<std::atomic<uint64_t>>(positions_.size());
  oldest_tombstone_ms_ = std::vector<std::atomic<int64_t>>(positions_.size());
  late_tombstone_ms_ = std::vector<std::atomic<int64_t>>(positions_.size());
  scan_oldest_ms_ = std::vector<std::atomic<int64_t>>(positions_.size());
  for (auto& oldest : oldest_tombstone_ms_) oldest.store(std::numeric_limits<int64_t>::max());
}

uint64_t DigestTable::EntryHash(uint64_t key_hash, const storage::VersionHeader& header) {
  unsigned char bytes[21];
  PutLE(bytes, key_hash, 8);
  PutLE(bytes + 8, header.timestamp.hlc, 8);
  PutLE(bytes + 16, header.timestamp.node_id, 4);
  bytes[20] = header.tombstone ? 1 : 0;
  return XXH64(bytes, sizeof(bytes), kEntrySeed);
}

size_t DigestTable::RangeOf(uint64_t key_hash) const {
  // A key belongs to the first token at or after its hash (Ring::ReplicasForHash), wrapping.
  auto it = std::lower_bound(positions_.begin(), positions_.end(), key_hash);
  return it == positions_.end() ? 0 : static_cast<size_t>(it - positions_.begin());
}

HashInterval DigestTable::RangeInterval(size_t range) const {
  const uint64_t hi = positions_[range];
  const uint64_t lo = positions_[range == 0 ? positions_.size() - 1 : range - 1];
  // (lo, hi]; with a single token, lo == hi and the range is the whole ring.
  return HashInterval{lo + 1, hi};
}

namespace {

// The width of each bucket of `range` (the last may be narrower), in hashes.
uint64_t BucketStep(HashInterval range, uint32_t buckets) {
  const uint64_t width_minus_1 = range.last - range.first;
  return width_minus_1 / buckets + 1;
}

}  // namespace

uint32_t DigestTable::BucketOf(size_t range, uint64_t key_hash) const {
  const HashInterval r = RangeInterval(range);
  return static_cast<uint32_t>(r.Offset(key_hash) / BucketStep(r, buckets_));
}

std::optional<HashInterval> DigestTable::BucketInterval(size_t range, uint32_t bucket) const {
  const HashInterval r = RangeInterval(range);
  const uint64_t width_minus_1 = r.last - r.first;
  const uint64_t step = BucketStep(r, buckets_);
  const uint64_t begin = uint64_t{bucket} * step;
  if (begin > width_minus_1) return std::nullopt;
  const uint64_t end = std::min(width_minus_1, begin + (step - 1));
  return HashInterval{r.first + begin, r.first + end};
}

uint64_t DigestTable::BucketDigest(size_t range, uint32_t bucket) const {
  return Slot(range, bucket).load(std::memory_order_relaxed);
}

uint64_t DigestTable::RangeDigest(size_t range) const {
  uint64_t digest = 0;
  for (uint32_t b = 0; b < buckets_; ++b) digest ^= BucketDigest(range, b);
  return digest;
}

uint64_t DigestTable::tombstones(size_t range) const {
  return tombstones_[range].load(std::memory_order_relaxed);
}

int64_t DigestTable::oldest_tombstone_ms(size_t range) const {
  return oldest_tombstone_ms_[range].load(std::memory_order_relaxed);
}

int64_t DigestTable::late_tombstone_ms(size_t range) const {
  return late_tombstone_ms_[range].load(std::memory_order_relaxed);
}

void DigestTable::BeginTombstoneScan(size_t range) {
  scan_oldest_ms_[range].store(std::numeric_limits<int64_t>::max(), std::memory_order_relaxed);
}

void DigestTable::FinishTombstoneScan(size_t range, int64_t oldest_left_ms) {
  // A tombstone applied while the scan ran may be missing from it, and older than what it found.
  oldest_tombstone_ms_[range].store(
      std::min(oldest_left_ms, scan_oldest_ms_[range].load(std::memory_order_relaxed)),
      std::memory_order_relaxed);
  // And one applied between that load and the store: lower the bound again.
  AtomicMin(oldest_tombstone_ms_[range], scan_oldest_ms_[range].load(std::memory_order_relaxed));
}

void DigestTable::OnChange(std::string_view /*key*/, uint64_t key_hash,
                           const storage::VersionHeader* before,
                           const storage::VersionHeader* after) {
  const size_t range = RangeOf(key_hash);
  const uint32_t bucket = BucketOf(range, key_hash);
  uint64_t delta = 0;
  if (before != nullptr) delta ^= EntryHash(key_hash, *before);
  if (after != nullptr) delta ^= EntryHash(key_hash, *after);
  Slot(range, bucket).fetch_xor(delta, std::memory_order_relaxed);
  if (before != nullptr && before->tombstone) {
    tombstones_[range].fetch_sub(1, std::memory_order_relaxed);
  }
  if (after != nullptr && after->tombstone) {
    tombstones_[range].fetch_add(1, std::memory_order_relaxed);
    const auto wall_ms = static_cast<int64_t>(after->timestamp.wall_ms());
    // The scan's bound first: a FinishTombstoneScan between the two then still sees it.
    AtomicMin(scan_oldest_ms_[range], wall_ms);
    AtomicMin(oldest_tombstone_ms_[range], wall_ms);
    const int64_t now_ms = clock_.NowMs();
    if (wall_ms + gc_grace_ms_ <= now_ms) AtomicMax(late_tombstone_ms_[range], now_ms);
  }
}

Status DigestTable::Rebuild(storage::Engine& engine) {
  std::vector<uint64_t> digests(digests_.size(), 0);
  std::vector<uint64_t> tombstones(positions_.size(), 0);
  std::vector<int64_t> oldest(positions_.size(), std::numeric_limits<int64_t>::max());
  Status scanned = engine.ScanByHash(
      0, std::numeric_limits<uint64_t>::max(),
      [&](uint64_t key_hash, std::string_view, const storage::VersionHeader& header) {
        const size_t range = RangeOf(key_hash);
        digests[range * buckets_ + BucketOf(range, key_hash)] ^= EntryHash(key_hash, header);
        if (header.tombstone) {
          ++tombstones[range];
          oldest[range] = std::min(oldest[range], static_cast<int64_t>(header.timestamp.wall_ms()));
        }
        return true;
      });
  if (!scanned.ok()) return scanned;
  for (size_t i = 0; i < digests.size(); ++i) digests_[i].store(digests[i]);
  for (size_t r = 0; r < positions_.size(); ++r) {
    tombstones_[r].store(tombstones[r]);
    oldest_tombstone_ms_[r].store(oldest[r]);
    late_tombstone_ms_[r].store(0);
  }
  return Status::Ok();
}

}  // namespace dialkv::antientropy
