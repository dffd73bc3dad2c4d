// RocksEngine::Stats and the write-stall tracker: what /metrics and `dialkv status` show.

#include "server/storage/rocks_stats.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "server/storage/rocksdb_engine.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/storage/storage_test_util.h"

namespace dialkv::storage {
namespace {

rocksdb::WriteStallInfo Change(const std::string& cf, rocksdb::WriteStallCondition prev,
                               rocksdb::WriteStallCondition cur) {
  rocksdb::WriteStallInfo info;
  info.cf_name = cf;
  info.condition.prev = prev;
  info.condition.cur = cur;
  return info;
}

constexpr auto kNormal = rocksdb::WriteStallCondition::kNormal;
constexpr auto kDelayed = rocksdb::WriteStallCondition::kDelayed;
constexpr auto kStopped = rocksdb::WriteStallCondition::kStopped;

TEST(WriteStallTrackerTest, OverlappingStallsOfSeveralColumnFamiliesCountOnce) {
  WriteStallTracker tracker;
  EXPECT_EQ(tracker.Get().stalls, 0u);
  EXPECT_FALSE(tracker.Get().stalled_now);

  tracker.OnStallConditionsChanged(Change("data", kNormal, kDelayed));
  tracker.OnStallConditionsChanged(Change("data", kDelayed, kStopped));  // Still the same one.
  tracker.OnStallConditionsChanged(Change("hints", kNormal, kDelayed));
  tracker.OnStallConditionsChanged(Change("data", kStopped, kNormal));
  EXPECT_EQ(tracker.Get().stalls, 1u);
  EXPECT_TRUE(tracker.Get().stalled_now);  // hints still delays writes.
  tracker.OnStallConditionsChanged(Change("hints", kDelayed, kNormal));
  WriteStallTracker::Totals totals = tracker.Get();
  EXPECT_EQ(totals.stalls, 1u);
  EXPECT_FALSE(totals.stalled_now);
  EXPECT_LE(totals.longest_micros, totals.micros);

  tracker.OnStallConditionsChanged(Change("meta", kNormal, kStopped));
  tracker.OnStallConditionsChanged(Change("meta", kStopped, kNormal));
  totals = tracker.Get();
  EXPECT_EQ(totals.stalls, 2u);
  EXPECT_FALSE(totals.stalled_now);
  EXPECT_LE(totals.longest_micros, totals.micros);
}

TEST(RocksStatsTest, StatsNameEveryColumnFamilyAndAccountForWhatWasWritten) {
  testutil::TempDir dir;
  const std::string path = dir.Sub("db");
  {
    Result<std::unique_ptr<RocksEngine>> engine = RocksEngine::Open({.path = path});
    ASSERT_OK(engine);
    StorageStats empty = (*engine)->Stats();
    std::vector<std::string> names;
    for (const StorageStats::ColumnFamily& cf : empty.column_families) names.push_back(cf.name);
    EXPECT_EQ(names, (std::vector<std::string>{"default", "data", "hints", "meta"}));
    EXPECT_EQ(empty.write_stalls, 0u);
    EXPECT_GT(empty.recovery_micros, 0u);

    for (int i = 0; i < 1000; ++i) {
      ASSERT_OK((*engine)->ApplyIfNewer("key" + std::to_string(i),
                                        testutil::Live(std::string(1000, 'v'), 1)));
    }
    const StorageStats written = (*engine)->Stats();
    EXPECT_GT(written.column_families[1].memtable_bytes, 0u);
    EXPECT_EQ(written.memtable_bytes, [&] {
      uint64_t sum = 0;
      for (const StorageStats::ColumnFamily& cf : written.column_families) {
        sum += cf.memtable_bytes;
      }
      return sum;
    }());
    EXPECT_GE(written.wal_files, 1u);
    EXPECT_GT(written.wal_bytes, 0u);
    EXPECT_GE(written.data_dir_bytes, written.wal_bytes);
  }
  // A reopen replays the WAL into SST files of `data`.
  Result<std::unique_ptr<RocksEngine>> engine = RocksEngine::Open({.path = path});
  ASSERT_OK(engine);
  const StorageStats reopened = (*engine)->Stats();
  EXPECT_GT(reopened.column_families[1].sst_bytes, 0u);
  EXPECT_EQ(reopened.column_families[2].sst_bytes, 0u);  // No hints were written.
  EXPECT_EQ(reopened.column_families[1].l0_files, 1u);   // The replayed WAL, flushed.
  EXPECT_GE(reopened.sst_bytes, reopened.column_families[1].sst_bytes);
  EXPECT_GE(reopened.data_dir_bytes, reopened.sst_bytes + reopened.wal_bytes);
  EXPECT_GT(reopened.recovery_micros, 0u);
}

}  // namespace
}  // namespace dialkv::storage
