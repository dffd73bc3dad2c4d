// What only the RocksDB engine promises: durability across reopen, an exclusive data dir,
// corruption reported as kCorruption, and refusal of data dirs that are not ours. The shared
// Engine contract is in engine_conformance_test.cc.

#include "server/storage/rocksdb_engine.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "server/common/hash.h"
#include "server/storage/memory_engine.h"
#include "server/storage/version_codec.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/storage/storage_test_util.h"

namespace dialkv::storage {
namespace {

using testutil::Live;
using testutil::Tombstone;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

// Writes `bytes` as the stored version of `key` behind the engine's back, the way a damaged
// disk or a buggy older binary would. REQUIRES: no engine has `path` open. `older_layout`:
// the column families of a data dir written before the hash index existed (created if
// missing).
void WriteRawVersion(const std::string& path, const std::string& key, const std::string& bytes,
                     bool older_layout = false) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"data", {}}, {"hints", {}}, {"meta", {}}};
  if (!older_layout) cfs.emplace_back("by_hash", rocksdb::ColumnFamilyOptions());
  rocksdb::DBOptions options;
  options.create_if_missing = older_layout;
  options.create_missing_column_families = older_layout;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, cfs, &handles, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = db->Put(rocksdb::WriteOptions(), handles[1], key, bytes);
  EXPECT_TRUE(s.ok()) << s.ToString();
  for (rocksdb::ColumnFamilyHandle* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

// Flushes every column family of the data dir at `path` to table files, behind the engine's
// back. REQUIRES: no engine has `path` open.
void FlushToTables(const std::string& path) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                      {"data", {}},
                                                      {"hints", {}},
                                                      {"meta", {}},
                                                      {"by_hash", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &db);
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = db->Flush(rocksdb::FlushOptions(), handles);
  EXPECT_TRUE(s.ok()) << s.ToString();
  for (rocksdb::ColumnFamilyHandle* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  EXPECT_TRUE(db->Close().ok());
  delete db;
}

class RocksEngineTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<RocksEngine>> Open(bool sync = false) {
    return RocksEngine::Open({.path = path_, .sync = sync});
  }

  std::unique_ptr<RocksEngine> OpenOrDie(bool sync = false) {
    Result<std::unique_ptr<RocksEngine>> opened = Open(sync);
    EXPECT_OK(opened);
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  testutil::TempDir dir_;
  const std::string path_ = dir_.Sub("node/db");  // Parents are created too.
};

TEST_F(RocksEngineTest, ReopenKeepsEveryAppliedVersionAndRecountsLiveKeys) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->ApplyIfNewer("a", Live("va", 1)));
    ASSERT_OK(engine->ApplyIfNewer("b", Live("vb", 2, 7)));
    ASSERT_OK(engine->ApplyIfNewer("c", Tombstone(3)));
    ASSERT_OK(engine->ApplyIfNewer("d", Live("vd", 4)));
    ASSERT_OK(engine->ApplyIfNewer("d", Tombstone(5)));
    ASSERT_OK(engine->ApplyIfNewer("e", Tombstone(5)));
    ASSERT_OK(engine->ApplyIfNewer("e", Live("ve", 6)));
    EXPECT_EQ(engine->LiveKeyCount(), 3u);
  }
  std::unique_ptr<RocksEngine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->LiveKeyCount(), 3u);
  const std::vector<std::pair<std::string, Version>> expected = {{"a", Live("va", 1)},
                                                                 {"b", Live("vb", 2, 7)},
                                                                 {"c", Tombstone(3)},
                                                                 {"d", Tombstone(5)},
                                                                 {"e", Live("ve", 6)}};
  for (const auto& [key, version] : expected) {
    Result<Version> got = engine->Get(key);
    ASSERT_OK(got);
    EXPECT_EQ(got.value(), version) << key;
  }
  // LWW still compares against what was stored before the reopen.
  Result<ApplyOutcome> stale = engine->ApplyIfNewer("d", Live("stale", 4));
  ASSERT_OK(stale);
  EXPECT_EQ(stale.value(), ApplyOutcome::kSuperseded);
}

TEST_F(RocksEngineTest, ReopenKeepsHintsMetaAndIdentity) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->PutHint(2, 10, "h10"));
    ASSERT_OK(engine->PutHint(2, 11, "h11"));
    ASSERT_OK(engine->PutMeta("counter", "41"));
    ASSERT_OK(ClaimIdentity(*engine, {.node_id = 2, .cluster_name = "c"}, path_));
  }
  std::unique_ptr<RocksEngine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  std::vector<uint64_t> sequences;
  ASSERT_OK(engine->ScanHints(2, [&](uint64_t sequence, std::string_view) {
    sequences.push_back(sequence);
    return true;
  }));
  EXPECT_EQ(sequences, (std::vector<uint64_t>{10, 11}));
  Result<std::string> counter = engine->GetMeta("counter");
  ASSERT_OK(counter);
  EXPECT_EQ(counter.value(), "41");
  ASSERT_OK(ClaimIdentity(*engine, {.node_id = 2, .cluster_name = "c"}, path_));
  ASSERT_CODE(ClaimIdentity(*engine, {.node_id = 5, .cluster_name = "c"}, path_),
              Code::kInvalidArgument);
}

TEST_F(RocksEngineTest, SyncWritesApplyAndSurviveReopen) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie(/*sync=*/true);
    ASSERT_NE(engine, nullptr);
    EXPECT_TRUE(engine->options().sync);
    ASSERT_OK(engine->ApplyIfNewer("k", Live("v", 1)));
    ASSERT_OK(engine->PutHint(1, 1, "h"));
    ASSERT_OK(engine->DeleteHint(1, 1));
    ASSERT_OK(engine->PutMeta("m", "x"));
  }
  std::unique_ptr<RocksEngine> engine = OpenOrDie(/*sync=*/true);
  ASSERT_NE(engine, nullptr);
  Result<Version> got = engine->Get("k");
  ASSERT_OK(got);
  EXPECT_EQ(got.value(), Live("v", 1));
  EXPECT_EQ(engine->LiveKeyCount(), 1u);
}

TEST_F(RocksEngineTest, SecondOpenInTheSameProcessFailsWithTheLockMessage) {
  std::unique_ptr<RocksEngine> first = OpenOrDie();
  ASSERT_NE(first, nullptr);
  Result<std::unique_ptr<RocksEngine>> second = Open();
  ASSERT_CODE(second, Code::kUnavailable);
  const std::string message = second.status().message();
  EXPECT_TRUE(Contains(
      message, "data dir " + path_ + " is in use by another process (lock on " + path_ + "/LOCK)"))
      << message;
  // The first engine is unharmed.
  ASSERT_OK(first->ApplyIfNewer("k", Live("v", 1)));
}

// Holds RocksDB's LOCK file from a child process, the way a second dialkv-server would, and
// releases it (the child exits) when destroyed.
class LockHolderProcess {
 public:
  explicit LockHolderProcess(const std::string& lock_path) {
    int ready[2];
    int release[2];
    if (pipe(ready) != 0 || pipe(release) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // Child: only async-signal-safe calls from here on (the parent has threads).
      close(ready[0]);
      close(release[1]);
      const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
      struct flock lock = {};
      lock.l_type = F_WRLCK;
      lock.l_whence = SEEK_SET;
      const char locked = (fd >= 0 && fcntl(fd, F_SETLK, &lock) == 0) ? 1 : 0;
      char ignored;
      if (write(ready[1], &locked, 1) != 1 || read(release[0], &ignored, 1) < 0) _exit(2);
      _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    release_fd_ = release[1];
    char locked = 0;
    locked_ = pid_ > 0 && read(ready[0], &locked, 1) == 1 && locked == 1;
    close(ready[0]);
  }

  ~LockHolderProcess() {
    if (release_fd_ >= 0) close(release_fd_);  // The child's read returns; it exits.
    if (pid_ > 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

  bool locked() const { return locked_; }

 private:
  pid_t pid_ = -1;
  int release_fd_ = -1;
  bool locked_ = false;
};

TEST_F(RocksEngineTest, OpenWhileAnotherProcessHoldsTheDirFailsWithTheLockMessage) {
  OpenOrDie().reset();  // Create the database, then close it.
  {
    LockHolderProcess holder(path_ + "/LOCK");
    ASSERT_TRUE(holder.locked());
    Result<std::unique_ptr<RocksEngine>> opened = Open();
    ASSERT_CODE(opened, Code::kUnavailable);
    EXPECT_TRUE(Contains(
        opened.status().message(),
        "data dir " + path_ + " is in use by another process (lock on " + path_ + "/LOCK)"))
        << opened.status().message();
  }
  // Once the other process is gone the dir opens again.
  EXPECT_NE(OpenOrDie(), nullptr);
}

TEST_F(RocksEngineTest, StoredValueWithGarbageBytesReadsAsCorruption) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->ApplyIfNewer("good", Live("v", 1)));
    ASSERT_OK(engine->ApplyIfNewer("bad-format", Live("v", 1)));
  }
  WriteRawVersion(path_, "bad-format", std::string("\x09garbage-after-an-unknown-format-byte"));
  WriteRawVersion(path_, "too-short", std::string("\x01\x02", 2));
  std::string bad_flags(kVersionHeaderBytes, '\0');
  bad_flags[0] = static_cast<char>(kVersionFormatV1);
  bad_flags[kVersionHeaderBytes - 1] = '\x80';  // A flag bit no version sets.
  WriteRawVersion(path_, "bad-flags", bad_flags);

  std::unique_ptr<RocksEngine> engine = OpenOrDie();  // Opens despite the damage.
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->LiveKeyCount(), 1u);  // Only "good"; undecodable entries are not counted.
  for (const std::string key : {"bad-format", "too-short", "bad-flags"}) {
    Result<Version> got = engine->Get(key);
    ASSERT_CODE(got, Code::kCorruption);
    // Named by length and hash, never by its bytes.
    EXPECT_TRUE(Contains(got.status().message(), "len=" + std::to_string(key.size())))
        << got.status().message();
    EXPECT_TRUE(Contains(got.status().message(), "hash=0x")) << got.status().message();
    EXPECT_FALSE(Contains(got.status().message(), key)) << got.status().message();
    // ApplyIfNewer cannot compare against it: it refuses rather than guess.
    ASSERT_CODE(engine->ApplyIfNewer(key, Live("new", 100)), Code::kCorruption);
  }
  EXPECT_EQ(engine->LiveKeyCount(), 1u);
  ASSERT_CODE(engine->Scan("", "", [](std::string_view, const Version&) { return true; }),
              Code::kCorruption);
  Result<Version> good = engine->Get("good");
  ASSERT_OK(good);
  EXPECT_EQ(good.value(), Live("v", 1));
}

TEST_F(RocksEngineTest, DataDirWrittenBeforeTheHashIndexGetsItBuiltAtOpen) {
  std::filesystem::create_directories(path_);
  const Version live = Live("v", 7);
  const Version dead = Tombstone(8);
  WriteRawVersion(path_, "a", EncodeVersion(live), /*older_layout=*/true);
  WriteRawVersion(path_, "b", EncodeVersion(dead), /*older_layout=*/true);
  for (int reopen = 0; reopen < 2; ++reopen) {  // Built once; the second open finds it.
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    std::map<std::string, VersionHeader> indexed;
    ASSERT_OK(engine->ScanByHash(0, ~uint64_t{0},
                                 [&](uint64_t h, std::string_view key, const VersionHeader& v) {
                                   EXPECT_EQ(h, KeyHash(key));
                                   indexed.emplace(std::string(key), v);
                                   return true;
                                 }));
    EXPECT_EQ(indexed, (std::map<std::string, VersionHeader>{{"a", {live.timestamp, false}},
                                                             {"b", {dead.timestamp, true}}}));
    EXPECT_EQ(engine->LiveKeyCount(), 1u);
  }
}

TEST_F(RocksEngineTest, DataDirHoldingForeignFilesIsRefused) {
  std::filesystem::create_directories(path_);
  WriteFile(path_ + "/notes.txt", "not a database");
  Result<std::unique_ptr<RocksEngine>> opened = Open();
  ASSERT_CODE(opened, Code::kCorruption);
  const std::string message = opened.status().message();
  EXPECT_TRUE(Contains(message, path_)) << message;
  EXPECT_TRUE(Contains(message, "notes.txt")) << message;
  EXPECT_FALSE(std::filesystem::exists(path_ + "/CURRENT"));  // Nothing was created there.
}

TEST_F(RocksEngineTest, DataDirWithGarbageDatabaseFilesIsRefused) {
  std::filesystem::create_directories(path_);
  WriteFile(path_ + "/CURRENT", "MANIFEST-garbage\n");
  WriteFile(path_ + "/MANIFEST-garbage", std::string(64, '\x5a'));
  Result<std::unique_ptr<RocksEngine>> opened = Open();
  ASSERT_TRUE(opened.code() == Code::kCorruption || opened.code() == Code::kIOError)
      << opened.status().ToString();
  EXPECT_TRUE(Contains(opened.status().message(), path_)) << opened.status().message();
}

TEST_F(RocksEngineTest, DataDirWithCorruptCurrentFileIsCorruption) {
  std::filesystem::create_directories(path_);
  WriteFile(path_ + "/CURRENT", "garbage without a newline");
  Result<std::unique_ptr<RocksEngine>> opened = Open();
  ASSERT_CODE(opened, Code::kCorruption);
  const std::string message = opened.status().message();
  EXPECT_TRUE(Contains(message, "data dir " + path_)) << message;
  EXPECT_TRUE(Contains(message, "RocksDB said")) << message;
}

// A table file whose blocks were damaged on disk: the engine refuses to open, naming the file
// and saying what to do, instead of serving some keys and failing others.
TEST_F(RocksEngineTest, DamagedTableFileStopsTheOpenWithTheFileAndWhatToDo) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    // Values that do not compress, so the table file of `data` is the largest.
    std::mt19937_64 random(7);
    for (int i = 0; i < 2000; ++i) {
      std::string value;
      for (int j = 0; j < 16; ++j) value += std::to_string(random());
      ASSERT_OK(engine->ApplyIfNewer("key" + std::to_string(i), Live(value, 1)));
    }
  }
  ASSERT_NO_FATAL_FAILURE(FlushToTables(path_));
  std::string largest;
  uintmax_t largest_size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path_)) {
    if (entry.path().extension() == ".sst" && entry.file_size() > largest_size) {
      largest = entry.path().string();
      largest_size = entry.file_size();
    }
  }
  ASSERT_FALSE(largest.empty());
  {
    std::fstream file(largest, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(largest_size / 4));
    file << std::string(4096, '\xa5');
  }
  Result<std::unique_ptr<RocksEngine>> opened = Open();
  ASSERT_CODE(opened, Code::kCorruption);
  const std::string message = opened.status().message();
  EXPECT_TRUE(Contains(message, "data dir " + path_ + " is damaged")) << message;
  EXPECT_TRUE(Contains(message, largest)) << message;
  EXPECT_TRUE(Contains(message, "move the data dir aside")) << message;
}

TEST_F(RocksEngineTest, DataDirLeftByAnInterruptedFirstOpenIsAccepted) {
  std::filesystem::create_directories(path_);
  WriteFile(path_ + "/LOCK", "");
  WriteFile(path_ + "/LOG", "");
  std::unique_ptr<RocksEngine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  ASSERT_OK(engine->ApplyIfNewer("k", Live("v", 1)));
}

// Records every change the engine reports, in order.
class RecordingObserver final : public ChangeObserver {
 public:
  void OnChange(std::string_view key, uint64_t key_hash, const VersionHeader* before,
                const VersionHeader* after) override {
    changes.push_back(std::string(key) + " " + std::to_string(key_hash) + " " + Describe(before) +
                      " -> " + Describe(after));
  }
  std::vector<std::string> changes;

 private:
  static std::string Describe(const VersionHeader* h) {
    if (h == nullptr) return "none";
    return (h->tombstone ? "tombstone@" : "live@") + ToString(h->timestamp);
  }
};

// The header cache must be invisible: the same seeded run of applies (ties, older versions,
// tombstones), purges (of the stored tombstone and of other timestamps), reads and a reopen
// gives the same outcomes, versions, live-key counts and reported changes as the memory
// engine (GetHeader included), with no cache, with one slot per stripe (keys of a stripe keep
// evicting each other) and with the default size. Some keys are too long to be cached.
TEST_F(RocksEngineTest, HeaderCacheChangesNoOutcome) {
  for (const size_t slots : {size_t{0}, size_t{1}, RocksEngine::Options().header_cache_slots}) {
    SCOPED_TRACE("header_cache_slots=" + std::to_string(slots));
    const std::string path = dir_.Sub("cache-" + std::to_string(slots));
    auto open = [&] {
      Result<std::unique_ptr<RocksEngine>> opened =
          RocksEngine::Open({.path = path, .sync = false, .header_cache_slots = slots});
      EXPECT_OK(opened);
      return opened.ok() ? std::move(opened).value() : nullptr;
    };
    std::unique_ptr<RocksEngine> rocks = open();
    ASSERT_NE(rocks, nullptr);
    MemoryEngine memory;
    RecordingObserver rocks_changes;
    RecordingObserver memory_changes;
    ASSERT_TRUE(rocks->SetChangeObserver(&rocks_changes));
    ASSERT_TRUE(memory.SetChangeObserver(&memory_changes));

    std::vector<std::string> keys;
    for (int i = 0; i < 400; ++i) keys.push_back("k" + std::to_string(i));
    for (int i = 0; i < 8; ++i) {
      keys.push_back(std::string(RocksEngine::kMaxCachedKeyBytes + 1 + i, 'x'));
    }
    std::mt19937_64 rng(20261126);
    constexpr int kOps = 20'000;
    for (int op = 0; op < kOps; ++op) {
      if (op == kOps / 2) {
        rocks->SetChangeObserver(nullptr);
        rocks.reset();
        rocks = open();
        ASSERT_NE(rocks, nullptr);
        ASSERT_TRUE(rocks->SetChangeObserver(&rocks_changes));
      }
      const std::string& key = keys[rng() % keys.size()];
      const uint64_t kind = rng() % 100;
      if (kind < 60) {
        // Timestamps drift upward with overlaps: ties, older and newer versions all occur.
        const Timestamp ts{static_cast<uint64_t>(op / 16) + rng() % 24,
                           static_cast<NodeId>(1 + rng() % 2)};
        const Version version = rng() % 3 == 0 ? Tombstone(ts.hlc, ts.node_id)
                                               : Live("v" + std::to_string(op), ts.hlc, ts.node_id);
        Result<ApplyOutcome> got = rocks->ApplyIfNewer(key, version);
        Result<ApplyOutcome> want = memory.ApplyIfNewer(key, version);
        ASSERT_OK(got);
        ASSERT_OK(want);
        ASSERT_EQ(got.value(), want.value()) << "op " << op;
      } else if (kind < 75) {
        // Half the purges name the stored tombstone's timestamp (when there is one).
        Timestamp ts{rng() % 400, 1};
        Result<Version> stored = memory.Get(key);
        if (stored.ok() && rng() % 2 == 0) ts = stored->timestamp;
        Result<bool> got = rocks->PurgeTombstone(key, ts);
        Result<bool> want = memory.PurgeTombstone(key, ts);
        ASSERT_OK(got);
        ASSERT_OK(want);
        ASSERT_EQ(got.value(), want.value()) << "op " << op;
      } else if (kind < 88) {
        Result<Version> got = rocks->Get(key);
        Result<Version> want = memory.Get(key);
        ASSERT_EQ(got.code(), want.code()) << "op " << op;
        if (want.ok()) {
          ASSERT_EQ(got.value(), want.value()) << "op " << op;
        }
      } else {
        Result<VersionHeader> got = rocks->GetHeader(key);
        Result<Version> want = memory.Get(key);
        ASSERT_EQ(got.code(), want.code()) << "op " << op;
        if (want.ok()) {
          ASSERT_EQ(got.value(), (VersionHeader{want->timestamp, want->tombstone})) << "op " << op;
        }
      }
      ASSERT_EQ(rocks->LiveKeyCount(), memory.LiveKeyCount()) << "op " << op;
    }
    EXPECT_EQ(rocks_changes.changes, memory_changes.changes);
    rocks->SetChangeObserver(nullptr);
  }
}

TEST_F(RocksEngineTest, DataDirThatCannotBeCreatedIsIOError) {
  WriteFile(dir_.Sub("plain-file"), "x");
  const std::string path = dir_.Sub("plain-file") + "/db";
  Result<std::unique_ptr<RocksEngine>> opened = RocksEngine::Open({.path = path});
  ASSERT_CODE(opened, Code::kIOError);
  EXPECT_TRUE(Contains(opened.status().message(), path)) << opened.status().message();
}

TEST_F(RocksEngineTest, DataDirThatIsAFileIsIOError) {
  WriteFile(dir_.Sub("plain-file"), "x");
  ASSERT_CODE(RocksEngine::Open({.path = dir_.Sub("plain-file")}), Code::kIOError);
}

TEST_F(RocksEngineTest, EmptyPathIsInvalidArgument) {
  ASSERT_CODE(RocksEngine::Open({.path = ""}), Code::kInvalidArgument);
}

}  // namespace
}  // namespace dialkv::storage
