// The RocksDB tuning: the defaults it derives from the machine's memory, option strings, and
// the behaviour the defaults exist for: the WAL a node keeps follows its memtables, not its
// write history, even when some column families are rarely written.

#include "server/storage/rocks_tuning.h"

#include <gtest/gtest.h>
#include <rocksdb/options.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "server/storage/rocksdb_engine.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/storage/storage_test_util.h"

namespace dialkv::storage {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(RocksTuningTest, DerivedMemtableBudgetAndWriteBufferFollowTheMachinesMemory) {
  const RocksTuning defaults;
  // 1/32 of memory, clamped to [64 MiB, 512 MiB]; data's buffer 1/32 of that, within [4, 64] MiB.
  EXPECT_EQ(Resolve(defaults, 8 * kGiB).memtable_budget_bytes, 256 * kMiB);
  EXPECT_EQ(Resolve(defaults, 8 * kGiB).write_buffer_bytes, 8 * kMiB);
  EXPECT_EQ(Resolve(defaults, 1 * kGiB).memtable_budget_bytes, 64 * kMiB);
  EXPECT_EQ(Resolve(defaults, 1 * kGiB).write_buffer_bytes, 4 * kMiB);
  EXPECT_EQ(Resolve(defaults, 64 * kGiB).memtable_budget_bytes, 512 * kMiB);
  EXPECT_EQ(Resolve(defaults, 64 * kGiB).write_buffer_bytes, 16 * kMiB);
  EXPECT_EQ(Resolve(defaults, 0).memtable_budget_bytes, 64 * kMiB);  // Unknown: 2 GiB.

  RocksTuning explicit_sizes;
  explicit_sizes.memtable_budget_bytes = 40 * kMiB;
  explicit_sizes.write_buffer_bytes = 3 * kMiB;
  EXPECT_EQ(Resolve(explicit_sizes, 64 * kGiB).memtable_budget_bytes, 40 * kMiB);
  EXPECT_EQ(Resolve(explicit_sizes, 64 * kGiB).write_buffer_bytes, 3 * kMiB);
}

TEST(RocksTuningTest, DefaultsBoundTheWalAndFlushColumnFamiliesTogether) {
  rocksdb::DBOptions db;
  rocksdb::ColumnFamilyOptions data;
  rocksdb::ColumnFamilyOptions small;
  ASSERT_OK(ApplyTuning(RocksTuning(), 8 * kGiB, &db, &data, &small));
  EXPECT_EQ(db.max_total_wal_size, 128 * kMiB);
  EXPECT_TRUE(db.atomic_flush);
  EXPECT_EQ(db.wal_compression, rocksdb::kZSTD);
  EXPECT_FALSE(db.allow_fallocate);
  EXPECT_EQ(db.db_write_buffer_size, 256 * kMiB);
  EXPECT_NE(db.rate_limiter, nullptr);
  EXPECT_EQ(data.write_buffer_size, 8 * kMiB);
  EXPECT_EQ(small.write_buffer_size, 8 * kMiB);
  EXPECT_TRUE(data.level_compaction_dynamic_level_bytes);
  EXPECT_EQ(data.compaction_style, rocksdb::kCompactionStyleLevel);
}

TEST(RocksTuningTest, OptionStringsApplyLastAndBadOnesAreInvalidArguments) {
  RocksTuning tuning;
  tuning.db_options = "max_background_jobs=3;max_total_wal_size=1048576";
  tuning.data_cf_options = "write_buffer_size=2097152;level0_file_num_compaction_trigger=8";
  rocksdb::DBOptions db;
  rocksdb::ColumnFamilyOptions data;
  rocksdb::ColumnFamilyOptions small;
  ASSERT_OK(ApplyTuning(tuning, 4 * kGiB, &db, &data, &small));
  EXPECT_EQ(db.max_background_jobs, 3);
  EXPECT_EQ(db.max_total_wal_size, 1 * kMiB);
  EXPECT_EQ(data.write_buffer_size, 2 * kMiB);
  EXPECT_EQ(data.level0_file_num_compaction_trigger, 8);
  EXPECT_EQ(small.level0_file_num_compaction_trigger, 4);  // Only `data` takes the string.

  tuning.db_options = "no_such_option=1";
  EXPECT_CODE(ApplyTuning(tuning, 4 * kGiB, &db, &data, &small), Code::kInvalidArgument);
  tuning.db_options.clear();
  tuning.data_cf_options = "write_buffer_size=lots";
  EXPECT_CODE(ApplyTuning(tuning, 4 * kGiB, &db, &data, &small), Code::kInvalidArgument);
  tuning.data_cf_options.clear();
  tuning.max_write_buffers = 1;
  EXPECT_CODE(ApplyTuning(tuning, 4 * kGiB, &db, &data, &small), Code::kInvalidArgument);
}

TEST(RocksTuningTest, AnEngineWithABadOptionStringDoesNotOpen) {
  testutil::TempDir dir;
  RocksTuning tuning;
  tuning.db_options = "max_open_files=many";
  Result<std::unique_ptr<RocksEngine>> opened =
      RocksEngine::Open({.path = dir.Sub("db"), .tuning = tuning});
  EXPECT_CODE(opened, Code::kInvalidArgument);
}

// Writes about `bytes` of incompressible values to `data` only.
void WriteData(RocksEngine& engine, uint64_t bytes) {
  std::mt19937_64 random(7);
  std::string value(1024, '\0');
  for (uint64_t i = 0; i * value.size() < bytes; ++i) {
    for (char& c : value) c = static_cast<char>(random());
    ASSERT_OK(engine.ApplyIfNewer("key" + std::to_string(i % 1000), testutil::Live(value, i + 1)));
  }
}

// Flushes run in the background, and RocksDB checks the WAL's size when a write arrives: polls,
// with a small write (to `meta`) between looks, until the live WAL is at most `bytes`, for up
// to 30 s. Returns the last size seen.
uint64_t WaitForWalAtMost(RocksEngine& engine, uint64_t bytes) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  uint64_t wal = engine.Stats().wal_bytes;
  while (wal > bytes && std::chrono::steady_clock::now() < deadline) {
    EXPECT_OK(engine.PutMeta("nudge", "x"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    wal = engine.Stats().wal_bytes;
  }
  return wal;
}

// Neither the flush policy nor the buffer can release the WAL here (flushes are not together,
// the write buffer holds all that is written): only max_total_wal_bytes can.
TEST(RocksTuningTest, LiveWalStaysUnderMaxTotalWalBytesWhenMemtablesNeverFill) {
  testutil::TempDir dir;
  RocksTuning tuning;
  tuning.flush_together = false;
  tuning.wal_compression = false;
  tuning.write_buffer_bytes = 64 * kMiB;
  tuning.max_total_wal_bytes = 1 * kMiB;
  Result<std::unique_ptr<RocksEngine>> engine =
      RocksEngine::Open({.path = dir.Sub("db"), .tuning = tuning});
  ASSERT_OK(engine);
  ASSERT_OK((*engine)->PutMeta("written", "once"));
  WriteData(**engine, 8 * kMiB);
  EXPECT_LE(WaitForWalAtMost(**engine, 2 * kMiB), 2 * kMiB);
}

// RocksDB's default total WAL size is gigabytes here; `meta` is written once, `data` keeps
// flushing. Without flushing together, `meta` alone would keep every WAL file alive.
TEST(RocksTuningTest, RarelyWrittenColumnFamiliesDoNotKeepTheWalAlive) {
  testutil::TempDir dir;
  RocksTuning tuning;
  tuning.max_total_wal_bytes = 0;
  tuning.wal_compression = false;
  tuning.write_buffer_bytes = 1 * kMiB;
  Result<std::unique_ptr<RocksEngine>> engine =
      RocksEngine::Open({.path = dir.Sub("db"), .tuning = tuning});
  ASSERT_OK(engine);
  ASSERT_OK((*engine)->PutMeta("written", "once"));
  ASSERT_OK((*engine)->PutHint(2, 1, "hint"));
  WriteData(**engine, 8 * kMiB);
  EXPECT_LE(WaitForWalAtMost(**engine, 3 * kMiB), 3 * kMiB);
  Result<std::string> meta = (*engine)->GetMeta("written");
  ASSERT_OK(meta);
  EXPECT_EQ(*meta, "once");
}

}  // namespace
}  // namespace dialkv::storage
