// A disk that fills or fails under the RocksDB engine: writes are refused with a clear error and
// the disk alarm, never a crash; reads go on; acknowledged writes survive; writes resume once
// the cause is gone. The faults come from the engine's injected file system (disk_faults.h),
// so no special mount is needed.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/storage/disk_faults.h"
#include "server/storage/disk_health.h"
#include "server/storage/disk_monitor.h"
#include "server/storage/rocksdb_engine.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/storage/storage_test_util.h"

namespace dialkv::storage {
namespace {

using testutil::Live;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// `bytes` random bytes: a value that does not compress, so the log takes its full size.
std::string Incompressible(size_t bytes, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string value(bytes, '\0');
  for (char& c : value) c = static_cast<char>(random());
  return value;
}

class DiskTroubleTest : public ::testing::Test {
 protected:
  std::unique_ptr<RocksEngine> OpenOrDie(uint64_t min_free_bytes = 0, bool sync = false) {
    health_ = std::make_shared<DiskHealth>(path_, min_free_bytes);
    RocksEngine::Options options{.path = path_, .sync = sync};
    options.health = health_;
    options.faults = faults_;
    Result<std::unique_ptr<RocksEngine>> opened = RocksEngine::Open(options);
    EXPECT_OK(opened);
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  // Writes keys k0, k1, ... of incompressible values the size of `value` until one fails;
  // returns how many succeeded.
  static int WriteUntilRefused(RocksEngine& engine, const std::string& value, int limit,
                               Status* failure) {
    for (int i = 0; i < limit; ++i) {
      Result<ApplyOutcome> applied = engine.ApplyIfNewer(
          "k" + std::to_string(i), Live(Incompressible(value.size(), static_cast<uint64_t>(i)),
                                        100 + static_cast<uint64_t>(i)));
      if (!applied.ok()) {
        *failure = applied.status();
        return i;
      }
    }
    return limit;
  }

  // Resumes the engine as the disk monitor does: tried again while it fails (RocksDB's own
  // recovery may be running, or may have failed on the way), for up to 20 s: RocksDB's
  // background recovery competes for the CPU with every other test of a parallel run.
  static Status ResumeSoon(RocksEngine& engine) {
    Status resumed = engine.Resume();
    for (int i = 0; i < 2000 && !resumed.ok(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      resumed = engine.Resume();
    }
    return resumed;
  }

  testutil::TempDir dir_;
  std::string path_ = dir_.Sub("db");
  std::shared_ptr<DiskFaults> faults_ = std::make_shared<DiskFaults>();
  std::shared_ptr<DiskHealth> health_;
};

TEST_F(DiskTroubleTest, FullDiskFailsTheWriteRaisesTheAlarmAndKeepsReadsAndAckedWrites) {
  for (bool sync : {false, true}) {
    SCOPED_TRACE(sync ? "sync" : "no sync");
    path_ = dir_.Sub(sync ? "db-sync" : "db-nosync");
    std::unique_ptr<RocksEngine> engine = OpenOrDie(0, sync);
    ASSERT_NE(engine, nullptr);
    const std::string value(64 << 10, 'v');
    faults_->Set(DiskFault::kFull, 10 * value.size());
    Status failure;
    const int written = WriteUntilRefused(*engine, value, 100, &failure);
    ASSERT_GT(written, 0);
    ASSERT_LT(written, 100);
    EXPECT_TRUE(health_->storage_error());
    EXPECT_TRUE(Contains(failure.message(), path_)) << failure.ToString();
    EXPECT_TRUE(Contains(failure.message(), "space")) << failure.ToString();
    // Later writes are refused up front, saying why, and reads go on.
    Result<ApplyOutcome> refused = engine->ApplyIfNewer("later", Live("x", 1000));
    ASSERT_CODE(refused, Code::kUnavailable);
    EXPECT_TRUE(Contains(refused.status().message(), "storage engine failed to write"))
        << refused.status().ToString();
    ASSERT_CODE(engine->PutHint(2, 1, "hint"), Code::kUnavailable);
    for (int i = 0; i < written; ++i) {
      Result<Version> got = engine->Get("k" + std::to_string(i));
      ASSERT_OK(got);
      EXPECT_EQ(got->value.size(), value.size());
    }
    // Space comes back: Resume clears the alarm and writes work again.
    faults_->Set(DiskFault::kNone);
    ASSERT_OK(ResumeSoon(*engine));
    EXPECT_FALSE(health_->alarm().raised());
    ASSERT_OK(engine->ApplyIfNewer("later", Live("x", 1000)));
    engine.reset();
    // Every acknowledged write survives a reopen.
    engine = OpenOrDie(0, sync);
    ASSERT_NE(engine, nullptr);
    for (int i = 0; i < written; ++i) ASSERT_OK(engine->Get("k" + std::to_string(i)));
    ASSERT_OK(engine->Get("later"));
  }
}

TEST_F(DiskTroubleTest, IoErrorFailsTheWriteAndResumeWaitsForTheCauseToGo) {
  std::unique_ptr<RocksEngine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->ApplyIfNewer("before", Live("v", 1)));
  faults_->Set(DiskFault::kIoError);
  Result<ApplyOutcome> failed = engine->ApplyIfNewer("during", Live("v", 2));
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(health_->storage_error());
  EXPECT_TRUE(Contains(failed.status().message(), "input/output error"))
      << failed.status().ToString();
  // While the disk still fails, resuming fails too, and nothing changes.
  EXPECT_FALSE(engine->Resume().ok());
  EXPECT_TRUE(health_->storage_error());
  ASSERT_OK(engine->Get("before"));
  faults_->Set(DiskFault::kNone);
  ASSERT_OK(ResumeSoon(*engine));
  ASSERT_OK(engine->ApplyIfNewer("after", Live("v", 3)));
  engine.reset();
  engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->Get("before"));
  ASSERT_OK(engine->Get("after"));
}

// Counts the changes the engine reports.
class CountingObserver final : public ChangeObserver {
 public:
  void OnChange(std::string_view, uint64_t, const VersionHeader*, const VersionHeader*) override {
    ++changes;
  }
  int changes = 0;
};

// A batch is one write: on a full disk every item of it fails, and none of it is stored, then
// or after a reopen.
TEST_F(DiskTroubleTest, BatchOnAFullDiskFailsEveryItemAndStoresNoneOfThem) {
  for (bool sync : {false, true}) {
    SCOPED_TRACE(sync ? "sync" : "no sync");
    path_ = dir_.Sub(sync ? "db-sync" : "db-nosync");
    std::unique_ptr<RocksEngine> engine = OpenOrDie(0, sync);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->ApplyIfNewer("stored", Live("old", 1)));
    CountingObserver observer;
    ASSERT_TRUE(engine->SetChangeObserver(&observer));
    std::vector<Version> versions;
    versions.reserve(8);
    for (int i = 0; i < 8; ++i) {
      versions.push_back(Live(Incompressible(4096, static_cast<uint64_t>(i)), 10));
    }
    std::vector<KeyedVersion> items;
    std::vector<std::string> keys;
    keys.reserve(8);
    for (int i = 0; i < 7; ++i) keys.push_back("fresh" + std::to_string(i));
    keys.emplace_back("stored");
    items.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) items.push_back({keys[i], versions[i]});
    faults_->Set(DiskFault::kFull, 0);
    std::vector<Result<ApplyOutcome>> outcomes = engine->ApplyBatch(items);
    ASSERT_EQ(outcomes.size(), items.size());
    for (const Result<ApplyOutcome>& outcome : outcomes) {
      ASSERT_FALSE(outcome.ok());
      EXPECT_TRUE(Contains(outcome.status().message(), path_)) << outcome.status().ToString();
      EXPECT_TRUE(Contains(outcome.status().message(), "space")) << outcome.status().ToString();
    }
    EXPECT_TRUE(health_->storage_error());
    EXPECT_EQ(observer.changes, 0);
    EXPECT_EQ(engine->LiveKeyCount(), 1u);
    // With the alarm up, the next batch is refused up front, as one write.
    outcomes = engine->ApplyBatch(items);
    for (const Result<ApplyOutcome>& outcome : outcomes) ASSERT_CODE(outcome, Code::kUnavailable);
    auto expect_none_stored = [&] {
      for (int i = 0; i < 7; ++i) ASSERT_CODE(engine->Get(keys[i]), Code::kNotFound);
      EXPECT_EQ(engine->Get("stored").value(), Live("old", 1));
    };
    expect_none_stored();
    engine->SetChangeObserver(nullptr);
    faults_->Set(DiskFault::kNone);
    ASSERT_OK(ResumeSoon(*engine));
    engine.reset();
    engine = OpenOrDie(0, sync);
    ASSERT_NE(engine, nullptr);
    expect_none_stored();
    EXPECT_EQ(engine->LiveKeyCount(), 1u);
    // And the batch applies whole once the disk has room.
    for (const Result<ApplyOutcome>& outcome : engine->ApplyBatch(items)) {
      ASSERT_OK(outcome);
      EXPECT_EQ(outcome.value(), ApplyOutcome::kApplied);
    }
    EXPECT_EQ(engine->LiveKeyCount(), 8u);
  }
}

// Waits up to 5 s for `done`.
template <typename Done>
bool Eventually(Done done) {
  for (int i = 0; i < 500 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST_F(DiskTroubleTest, WatermarkRefusesWritesBeforeTheDiskFillsAndClearsByItself) {
  std::unique_ptr<RocksEngine> engine = OpenOrDie(/*min_free_bytes=*/8 << 20);
  ASSERT_NE(engine, nullptr);
  // The disk "has" 9 MiB free: 1 MiB above the watermark.
  faults_->Set(DiskFault::kFull, uint64_t{9} << 20);
  DiskMonitor monitor({.path = path_, .interval = std::chrono::milliseconds(20)}, health_, faults_,
                      [&] { return engine->Resume(); });
  const std::string value(64 << 10, 'v');
  Status failure;
  const int written = WriteUntilRefused(*engine, value, 100, &failure);
  // About 1 MiB of writes fit (each also costs log framing); the one that would take free space
  // under the watermark is refused before the disk sees it.
  EXPECT_GE(written, 8);
  EXPECT_LE(written, 16);
  ASSERT_CODE(failure, Code::kUnavailable);
  EXPECT_TRUE(Contains(failure.message(), "--min-free-disk-bytes")) << failure.ToString();
  EXPECT_TRUE(Contains(failure.message(), path_)) << failure.ToString();
  EXPECT_FALSE(health_->storage_error());  // Refused before RocksDB saw a full disk.
  // Something else fills the disk: the monitor raises the alarm, and every write is refused.
  faults_->Set(DiskFault::kFull, uint64_t{7} << 20);
  monitor.CheckSoon();
  ASSERT_TRUE(Eventually([&] { return health_->alarm().low_space; }));
  Result<ApplyOutcome> refused = engine->ApplyIfNewer("tiny", Live("v", 1000));
  ASSERT_CODE(refused, Code::kUnavailable);
  EXPECT_TRUE(Contains(refused.status().message(), "below --min-free-disk-bytes"))
      << refused.status().ToString();
  ASSERT_CODE(engine->PutHint(2, 1, "hint"), Code::kUnavailable);  // Hints count too.
  ASSERT_OK(engine->PutMeta("m", "small"));  // Not gated: the watermark leaves room for it.
  ASSERT_OK(engine->Get("k0"));
  // Space comes back: the monitor clears the alarm by itself.
  faults_->Set(DiskFault::kNone);
  monitor.CheckSoon();
  EXPECT_TRUE(Eventually([&] { return !health_->alarm().raised(); }));
  ASSERT_OK(engine->ApplyIfNewer("after", Live("v", 1001)));
}

TEST_F(DiskTroubleTest, MonitorResumesTheEngineOnceTheDiskWorksAgain) {
  std::unique_ptr<RocksEngine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  DiskMonitor monitor({.path = path_, .interval = std::chrono::milliseconds(20)}, health_, faults_,
                      [&] { return engine->Resume(); });
  faults_->Set(DiskFault::kIoError);
  ASSERT_FALSE(engine->ApplyIfNewer("during", Live("v", 2)).ok());
  ASSERT_TRUE(health_->storage_error());
  faults_->Set(DiskFault::kNone);
  EXPECT_TRUE(Eventually([&] { return !health_->storage_error(); }));
  ASSERT_OK(engine->ApplyIfNewer("after", Live("v", 3)));
}

TEST(DiskHealthTest, LowSpaceClearsOnlyAboveTheWatermarkPlusTheMargin) {
  DiskHealth health("/data", 100 << 20);
  health.ReportFreeSpace(uint64_t{99} << 20);
  EXPECT_TRUE(health.alarm().low_space);
  ASSERT_CODE(health.CheckWrite(1), Code::kUnavailable);
  health.ReportFreeSpace(uint64_t{105} << 20);  // Above, but within the margin (10 MiB).
  EXPECT_TRUE(health.alarm().low_space);
  health.ReportFreeSpace(uint64_t{111} << 20);
  EXPECT_FALSE(health.alarm().low_space);
  EXPECT_OK(health.CheckWrite(1));
  EXPECT_EQ(health.alarm().raised_total, 1u);
}

TEST(DiskHealthTest, NoWatermarkNeverRaisesLowSpace) {
  DiskHealth health("/data", 0);
  health.ReportFreeSpace(0);
  EXPECT_FALSE(health.alarm().raised());
  EXPECT_OK(health.CheckWrite(uint64_t{1} << 30));
}

}  // namespace
}  // namespace dialkv::storage
