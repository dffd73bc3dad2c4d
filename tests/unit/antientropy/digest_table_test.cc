// DigestTable: bucket layout, and digests maintained on every change equal to a fresh scan,
// under concurrent writers and across a RocksDB reopen.

#include "server/antientropy/digest_table.h"

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/common/clock.h"
#include "server/common/hash.h"
#include "server/storage/memory_engine.h"
#include "server/storage/rocksdb_engine.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv::antientropy {
namespace {

constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr int64_t kGraceMs = 60'000;

uint64_t Hlc(int64_t ms, uint16_t logical = 0) {
  return (static_cast<uint64_t>(ms) << 16) | logical;
}

cluster::Ring MakeRing(size_t nodes, uint32_t vnodes) {
  std::vector<NodeId> ids;
  for (NodeId id = 1; id <= nodes; ++id) ids.push_back(id);
  Result<cluster::Ring> ring = cluster::Ring::Build(ids, {vnodes, 3});
  EXPECT_OK(ring);
  return std::move(ring).value();
}

// Every bucket digest of `a` equals `b`'s.
void ExpectSameDigests(const DigestTable& a, const DigestTable& b) {
  ASSERT_EQ(a.ranges(), b.ranges());
  for (size_t r = 0; r < a.ranges(); ++r) {
    for (uint32_t bucket = 0; bucket < a.buckets(); ++bucket) {
      ASSERT_EQ(a.BucketDigest(r, bucket), b.BucketDigest(r, bucket))
          << "range " << r << " bucket " << bucket;
    }
    EXPECT_EQ(a.tombstones(r), b.tombstones(r)) << "range " << r;
  }
}

TEST(DigestTableTest, EntryHashDependsOnEveryField) {
  const storage::VersionHeader base{Timestamp{Hlc(kNowMs), 1}, false};
  const uint64_t h = DigestTable::EntryHash(42, base);
  EXPECT_NE(h, DigestTable::EntryHash(43, base));
  EXPECT_NE(h, DigestTable::EntryHash(42, {Timestamp{Hlc(kNowMs, 1), 1}, false}));
  EXPECT_NE(h, DigestTable::EntryHash(42, {Timestamp{Hlc(kNowMs), 2}, false}));
  EXPECT_NE(h, DigestTable::EntryHash(42, {Timestamp{Hlc(kNowMs), 1}, true}));
  EXPECT_EQ(h, DigestTable::EntryHash(42, base));
}

TEST(DigestTableTest, BucketsTileEveryRangeInContiguousHashIntervals) {
  for (auto [nodes, vnodes] : {std::pair<size_t, uint32_t>{3, 16}, {1, 1}, {5, 4}}) {
    const cluster::Ring ring = MakeRing(nodes, vnodes);
    ManualClock clock(kNowMs);
    DigestTable table(ring, 64, clock, kGraceMs);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20'000; ++i) {
      const uint64_t h =
          i < 4 ? std::vector<uint64_t>{0, 1, ~uint64_t{0}, ring.tokens()[0].position}[i] : rng();
      const size_t range = table.RangeOf(h);
      // The ring's own placement agrees: the range's replicas are the key's.
      ASSERT_EQ(
          std::vector<NodeId>(ring.ReplicasOfRange(range).begin(),
                              ring.ReplicasOfRange(range).end()),
          std::vector<NodeId>(ring.ReplicasForHash(h).begin(), ring.ReplicasForHash(h).end()));
      ASSERT_TRUE(table.RangeInterval(range).Contains(h));
      const uint32_t bucket = table.BucketOf(range, h);
      ASSERT_LT(bucket, 64u);
      std::optional<HashInterval> interval = table.BucketInterval(range, bucket);
      ASSERT_TRUE(interval.has_value());
      ASSERT_TRUE(interval->Contains(h)) << "hash " << h << " range " << range;
      if (bucket + 1 < 64) {
        std::optional<HashInterval> next = table.BucketInterval(range, bucket + 1);
        if (next.has_value()) {
          ASSERT_FALSE(next->Contains(h));
        }
      }
    }
  }
}

// Applies a random mix of newer, older and equal versions, tombstones and purges.
void ApplyRandomHistory(storage::Engine& engine, uint64_t seed, int ops, int keys) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < ops; ++i) {
    const std::string key = "k" + std::to_string(rng() % keys);
    const Timestamp ts{
        Hlc(kNowMs + static_cast<int64_t>(rng() % 1000), static_cast<uint16_t>(rng() % 4)),
        static_cast<NodeId>(1 + rng() % 3)};
    if (rng() % 10 == 0) {
      Result<Version> stored = engine.Get(key);
      if (stored.ok() && stored->tombstone) {
        // Half of the purges name a stale timestamp and must change nothing.
        const Timestamp which = rng() % 2 == 0 ? stored->timestamp : ts;
        ASSERT_OK(engine.PurgeTombstone(key, which));
      }
      continue;
    }
    const bool tombstone = rng() % 4 == 0;
    ASSERT_OK(
        engine.ApplyIfNewer(key, Version{tombstone ? "" : "v" + std::to_string(i), ts, tombstone}));
  }
}

TEST(DigestTableTest, IncrementalDigestsEqualAFreshScanAfterARandomHistory) {
  const cluster::Ring ring = MakeRing(3, 16);
  ManualClock clock(kNowMs);
  storage::MemoryEngine engine;
  DigestTable live(ring, 64, clock, kGraceMs);
  ASSERT_OK(live.Rebuild(engine));
  ASSERT_TRUE(engine.SetChangeObserver(&live));
  ApplyRandomHistory(engine, 1, 20'000, 2'000);
  engine.SetChangeObserver(nullptr);
  DigestTable scanned(ring, 64, clock, kGraceMs);
  ASSERT_OK(scanned.Rebuild(engine));
  ExpectSameDigests(live, scanned);
}

TEST(DigestTableTest, DigestsStayExactUnderConcurrentWriters) {
  const cluster::Ring ring = MakeRing(3, 16);
  ManualClock clock(kNowMs);
  testutil::TempDir dir;
  Result<std::unique_ptr<storage::RocksEngine>> rocks =
      storage::RocksEngine::Open({.path = dir.Sub("db")});
  ASSERT_OK(rocks);
  std::vector<std::unique_ptr<storage::Engine>> engines;
  engines.push_back(std::make_unique<storage::MemoryEngine>());
  engines.push_back(std::move(rocks).value());
  for (auto& engine : engines) {
    DigestTable live(ring, 64, clock, kGraceMs);
    ASSERT_OK(live.Rebuild(*engine));
    ASSERT_TRUE(engine->SetChangeObserver(&live));
    // Writers share keys, so the same key is replaced concurrently from several threads.
    std::vector<std::thread> writers;
    for (uint64_t t = 0; t < 4; ++t) {
      writers.emplace_back([&engine, t] { ApplyRandomHistory(*engine, 100 + t, 5'000, 300); });
    }
    for (auto& w : writers) w.join();
    engine->SetChangeObserver(nullptr);
    DigestTable scanned(ring, 64, clock, kGraceMs);
    ASSERT_OK(scanned.Rebuild(*engine));
    ExpectSameDigests(live, scanned);
  }
}

TEST(DigestTableTest, RocksDigestsRebuiltAfterReopenMatchTheIncrementalOnes) {
  const cluster::Ring ring = MakeRing(3, 16);
  ManualClock clock(kNowMs);
  testutil::TempDir dir;
  DigestTable live(ring, 64, clock, kGraceMs);
  {
    Result<std::unique_ptr<storage::RocksEngine>> engine =
        storage::RocksEngine::Open({.path = dir.Sub("db")});
    ASSERT_OK(engine);
    ASSERT_OK(live.Rebuild(**engine));
    ASSERT_TRUE((*engine)->SetChangeObserver(&live));
    ApplyRandomHistory(**engine, 5, 10'000, 1'000);
    (*engine)->SetChangeObserver(nullptr);
  }
  Result<std::unique_ptr<storage::RocksEngine>> reopened =
      storage::RocksEngine::Open({.path = dir.Sub("db")});
  ASSERT_OK(reopened);
  DigestTable restarted(ring, 64, clock, kGraceMs);
  ASSERT_OK(restarted.Rebuild(**reopened));
  ExpectSameDigests(live, restarted);
}

TEST(DigestTableTest, TombstoneOlderThanTheGraceOnArrivalIsRecordedAsLate) {
  const cluster::Ring ring = MakeRing(3, 16);
  ManualClock clock(kNowMs);
  storage::MemoryEngine engine;
  DigestTable table(ring, 64, clock, kGraceMs);
  ASSERT_TRUE(engine.SetChangeObserver(&table));
  const size_t range = table.RangeOf(KeyHash("fresh"));
  ASSERT_OK(engine.ApplyIfNewer("fresh", Version{"", Timestamp{Hlc(kNowMs - 1000), 1}, true}));
  EXPECT_EQ(table.late_tombstone_ms(range), 0);
  EXPECT_EQ(table.tombstones(range), 1u);
  EXPECT_EQ(table.oldest_tombstone_ms(range), kNowMs - 1000);
  const size_t old_range = table.RangeOf(KeyHash("old"));
  ASSERT_OK(
      engine.ApplyIfNewer("old", Version{"", Timestamp{Hlc(kNowMs - kGraceMs - 1), 1}, true}));
  EXPECT_EQ(table.late_tombstone_ms(old_range), kNowMs);
  engine.SetChangeObserver(nullptr);
}

}  // namespace
}  // namespace dialkv::antientropy
