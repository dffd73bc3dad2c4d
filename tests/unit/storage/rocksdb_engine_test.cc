// What only the RocksDB engine promises: durability across reopen, an exclusive data dir,
// corruption reported as kCorruption, and refusal of data dirs that are not ours. The shared
// Engine contract is in engine_conformance_test.cc.

#include "server/storage/rocksdb_engine.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

// The data dir at `path` opened with raw RocksDB, behind the engine's back, with exactly the
// column families `cfs` (besides `default`; created if missing, as is the database):
// to write what an older binary, a damaged disk or an interrupted migration would have left.
// REQUIRES: no engine has `path` open.
class RawDb {
 public:
  RawDb(const std::string& path, const std::vector<std::string>& cfs) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
        {rocksdb::kDefaultColumnFamilyName, {}}};
    for (const std::string& name : cfs)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s = rocksdb::DB::Open(options, path, descriptors, &handles, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
    for (size_t i = 1; i < handles.size(); ++i) handles_[cfs[i - 1]] = handles[i];
    if (!handles.empty()) default_ = handles[0];
  }
  ~RawDb() {
    if (db_ == nullptr) return;
    EXPECT_TRUE(db_->DestroyColumnFamilyHandle(default_).ok());
    for (auto& [name, h] : handles_) EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
    EXPECT_TRUE(db_->Close().ok());
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void Put(const std::string& cf, const std::string& key, const std::string& value) {
    ASSERT_NE(db_, nullptr);
    ASSERT_EQ(handles_.count(cf), 1u) << cf;
    const rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), handles_[cf], key, value);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_ = nullptr;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> handles_;
};

// The column families of a data dir: what DB::ListColumnFamilies says, sorted.
std::vector<std::string> ColumnFamiliesOf(const std::string& path) {
  std::vector<std::string> names;
  const rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::sort(names.begin(), names.end());
  return names;
}

const std::vector<std::string> kTodaysColumnFamilies = {"data", "hints", "layout_3", "meta"};

// The layouts of `data` a dir can have (rocksdb_engine.h): layout 1, keyed by the key alone;
// layout 2, the same plus the `by_hash` index; today's, keyed by hash then key.
enum class Layout { kKeyOnly, kWithHashIndex, kToday };

// The column families of `layout`.
std::vector<std::string> LayoutColumnFamilies(Layout layout) {
  if (layout == Layout::kToday) return kTodaysColumnFamilies;
  std::vector<std::string> cfs = {"data", "hints", "meta"};
  if (layout == Layout::kWithHashIndex) cfs.emplace_back("by_hash");
  return cfs;
}

// Puts `bytes` as the stored version of `key` into `db`, a data dir of `layout`, as the binary
// that wrote that layout would have (minus the checks a damaged disk skips).
void PutRawVersion(RawDb& db, const std::string& key, const std::string& bytes, Layout layout) {
  if (layout == Layout::kToday) {
    db.Put("data", EncodeDataKey(KeyHash(key), key), bytes);
    return;
  }
  db.Put("data", key, bytes);
  if (layout == Layout::kWithHashIndex) {
    // What that binary indexed: the header, when the version decodes.
    Result<VersionHeader> header = DecodeVersionHeader(key, bytes);
    if (header.ok()) {
      db.Put("by_hash", EncodeDataKey(KeyHash(key), key), EncodeVersionHeader(*header));
    }
    db.Put("meta", "by_hash_index", "1");
  }
}

// Writes `bytes` as the stored version of `key` behind the engine's back, the way a damaged
// disk or a buggy binary would. REQUIRES: no engine has `path` open.
void WriteRawVersion(const std::string& path, const std::string& key, const std::string& bytes) {
  RawDb db(path, kTodaysColumnFamilies);
  PutRawVersion(db, key, bytes, Layout::kToday);
}

// Flushes every column family of the data dir at `path` to table files, behind the engine's
// back. REQUIRES: no engine has `path` open.
void FlushToTables(const std::string& path) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                      {"data", {}},
                                                      {"hints", {}},
                                                      {"layout_3", {}},
                                                      {"meta", {}}};
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
  ASSERT_CODE(
      engine->ScanByHash(0, ~uint64_t{0},
                         [](uint64_t, std::string_view, const VersionHeader&) { return true; }),
      Code::kCorruption);
  Result<Version> good = engine->Get("good");
  ASSERT_OK(good);
  EXPECT_EQ(good.value(), Live("v", 1));
}

// What a dir of an older layout held, and what it must read as after its migration.
struct OldDir {
  std::map<std::string, Version> versions;  // Every key, tombstones included.
  std::string corrupt_key;                  // Stored as bytes that do not decode.
  uint64_t live = 0;
};

// Several keys, tombstones among them, one that does not decode, and one whose bytes are what
// another key's new data key is (KeyHash(k) then k): a migration that rewrote `data` in place
// would confuse the two.
OldDir MakeOldDir(const std::string& path, Layout layout) {
  std::filesystem::create_directories(path);
  OldDir dir;
  for (int i = 0; i < 30; ++i) {
    const std::string key = "key-" + std::to_string(i);
    dir.versions[key] =
        i % 4 == 0 ? Tombstone(100 + i) : Live("value-" + std::to_string(i), 100 + i, 2);
  }
  dir.versions[EncodeDataKey(KeyHash("key-1"), "key-1")] = Live("impostor", 7);
  dir.versions[""] = Live("empty key", 3);
  dir.corrupt_key = "corrupt";
  RawDb db(path, LayoutColumnFamilies(layout));
  for (const auto& [key, version] : dir.versions) {
    PutRawVersion(db, key, EncodeVersion(version), layout);
    if (!version.tombstone) ++dir.live;
  }
  PutRawVersion(db, dir.corrupt_key, "\x09not a version", layout);
  return dir;
}

// Everything `dir` held reads back from `engine`, by key and in hash order.
void ExpectMigrated(RocksEngine& engine, const OldDir& dir) {
  for (const auto& [key, version] : dir.versions) {
    Result<Version> got = engine.Get(key);
    ASSERT_OK(got);
    EXPECT_EQ(got.value(), version) << DescribeKey(key);
  }
  ASSERT_CODE(engine.Get(dir.corrupt_key), Code::kCorruption);
  EXPECT_EQ(engine.LiveKeyCount(), dir.live);
  // The corrupt entry stops a scan of everything: scan the rest around its hash.
  std::vector<std::pair<uint64_t, std::string>> expected;
  for (const auto& [key, version] : dir.versions) expected.emplace_back(KeyHash(key), key);
  std::sort(expected.begin(), expected.end());
  const uint64_t corrupt_hash = KeyHash(dir.corrupt_key);
  std::vector<std::pair<uint64_t, std::string>> scanned;
  auto collect = [&](uint64_t h, std::string_view key, const VersionHeader& header) {
    EXPECT_EQ(h, KeyHash(key));
    const Version& v = dir.versions.at(std::string(key));
    EXPECT_EQ(header, (VersionHeader{v.timestamp, v.tombstone}));
    scanned.emplace_back(h, std::string(key));
    return true;
  };
  if (corrupt_hash > 0) ASSERT_OK(engine.ScanByHash(0, corrupt_hash - 1, collect));
  if (corrupt_hash < ~uint64_t{0})
    ASSERT_OK(engine.ScanByHash(corrupt_hash + 1, ~uint64_t{0}, collect));
  EXPECT_EQ(scanned, expected);  // In (hash, key) order.
}

TEST_F(RocksEngineTest, DataDirsOfOlderLayoutsAreMigratedOnceAtOpen) {
  for (const Layout layout : {Layout::kKeyOnly, Layout::kWithHashIndex}) {
    SCOPED_TRACE(layout == Layout::kKeyOnly ? "layout 1" : "layout 2");
    const std::string path = dir_.Sub(layout == Layout::kKeyOnly ? "layout1" : "layout2");
    const OldDir old = MakeOldDir(path, layout);
    {
      RawDb db(path, LayoutColumnFamilies(layout));
      db.Put("hints", EncodeHintKey(2, 9), "a hint");
      db.Put("meta", "node_id", "4");
    }
    for (int open = 0; open < 3; ++open) {  // Migrated by the first; the others find it done.
      Result<std::unique_ptr<RocksEngine>> opened = RocksEngine::Open({.path = path});
      ASSERT_OK(opened);
      RocksEngine& engine = **opened;
      ExpectMigrated(engine, old);
      Result<std::string> layout_meta = engine.GetMeta("data_layout");
      ASSERT_OK(layout_meta);
      EXPECT_EQ(layout_meta.value(), "3");
      ASSERT_CODE(engine.GetMeta("data_migration"), Code::kNotFound);
      ASSERT_CODE(engine.GetMeta("by_hash_index"), Code::kNotFound);
      Result<std::string> node = engine.GetMeta("node_id");  // Meta and hints are kept.
      ASSERT_OK(node);
      EXPECT_EQ(node.value(), "4");
      std::vector<std::string> hints;
      ASSERT_OK(engine.ScanHints(2, [&](uint64_t, std::string_view payload) {
        hints.emplace_back(payload);
        return true;
      }));
      EXPECT_EQ(hints, std::vector<std::string>{"a hint"});
      // Writes after the migration compare against the migrated versions.
      Result<ApplyOutcome> stale = engine.ApplyIfNewer("key-5", Live("stale", 1));
      ASSERT_OK(stale);
      EXPECT_EQ(stale.value(), ApplyOutcome::kSuperseded);
      opened->reset();
      std::vector<std::string> with_default = kTodaysColumnFamilies;
      with_default.emplace_back("default");
      std::sort(with_default.begin(), with_default.end());
      EXPECT_EQ(ColumnFamiliesOf(path), with_default);
    }
  }
}

// A migration that stopped half-way leaves one of the states below (see rocksdb_engine.h);
// the next open finishes it with every version once.
TEST_F(RocksEngineTest, InterruptedMigrationIsFinishedByTheNextOpen) {
  enum class Stop { kDuringCopy, kAfterCopy, kDuringRefill };
  for (const Stop stop : {Stop::kDuringCopy, Stop::kAfterCopy, Stop::kDuringRefill}) {
    SCOPED_TRACE(static_cast<int>(stop));
    const std::string path = dir_.Sub("stopped-" + std::to_string(static_cast<int>(stop)));
    const OldDir old = MakeOldDir(path, Layout::kWithHashIndex);
    std::vector<std::pair<std::string, std::string>> entries;  // (key, stored bytes)
    for (const auto& [key, version] : old.versions)
      entries.emplace_back(key, EncodeVersion(version));
    entries.emplace_back(old.corrupt_key, "\x09not a version");
    const size_t half = entries.size() / 2;
    if (stop == Stop::kDuringRefill) {
      // `data` was dropped with every old key and created anew; half of the entries moved back.
      std::filesystem::remove_all(path);
      std::filesystem::create_directories(path);
      RawDb db(path, {"data", "hints", "meta", "data_migration"});
      for (size_t i = 0; i < entries.size(); ++i) {
        const auto& [key, bytes] = entries[i];
        db.Put(i < half ? "data" : "data_migration", EncodeDataKey(KeyHash(key), key), bytes);
      }
      db.Put("meta", "data_migration", "refill");
    } else {
      // `data` untouched; half of it copied (during), or all of it and recorded (after).
      RawDb db(path, {"data", "hints", "meta", "by_hash", "data_migration"});
      for (size_t i = 0; i < entries.size(); ++i) {
        const auto& [key, bytes] = entries[i];
        if (stop == Stop::kAfterCopy || i < half) {
          db.Put("data_migration", EncodeDataKey(KeyHash(key), key), bytes);
        }
      }
      if (stop == Stop::kAfterCopy) db.Put("meta", "data_migration", "copied");
    }
    for (int open = 0; open < 2; ++open) {
      Result<std::unique_ptr<RocksEngine>> opened = RocksEngine::Open({.path = path});
      ASSERT_OK(opened);
      ExpectMigrated(**opened, old);
      Result<std::string> layout_meta = (*opened)->GetMeta("data_layout");
      ASSERT_OK(layout_meta);
      EXPECT_EQ(layout_meta.value(), "3");
    }
    EXPECT_EQ(ColumnFamiliesOf(path),
              (std::vector<std::string>{"data", "default", "hints", "layout_3", "meta"}));
  }
}

// A binary of layout 1 or 2 opened its data dir with a fixed list of column families: with the
// marker of layout 3 there, RocksDB refuses the open, so such a binary cannot read
// hash-prefixed keys as keys (and spread them) after a downgrade.
TEST_F(RocksEngineTest, AnOlderBinarysColumnFamiliesCannotOpenTodaysLayout) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->ApplyIfNewer("k", Live("v", 1)));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> layout2 = {{rocksdb::kDefaultColumnFamilyName, {}},
                                                          {"data", {}},
                                                          {"hints", {}},
                                                          {"meta", {}},
                                                          {"by_hash", {}}};
  rocksdb::DBOptions options;
  options.create_missing_column_families = true;  // As that binary opened.
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, path_, layout2, &handles, &db);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.ToString(), "layout_3")) << s.ToString();
  if (s.ok()) {
    for (rocksdb::ColumnFamilyHandle* h : handles)
      EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
}

TEST_F(RocksEngineTest, DataDirOfANewerLayoutIsRefusedNamingTheDir) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->ApplyIfNewer("k", Live("v", 1)));
    Result<std::string> layout = engine->GetMeta("data_layout");
    ASSERT_OK(layout);
    EXPECT_EQ(layout.value(), "3");  // Recorded by the first open.
  }
  {
    RawDb db(path_, kTodaysColumnFamilies);
    db.Put("meta", "data_layout", "4");
  }
  Result<std::unique_ptr<RocksEngine>> opened = Open();
  ASSERT_CODE(opened, Code::kInvalidArgument);
  const std::string message = opened.status().message();
  EXPECT_TRUE(Contains(
      message, "data dir " + path_ + " has data layout 4, newer than this dialkv knows (3)"))
      << message;
  {
    RawDb db(path_, {"data", "hints", "layout_3", "meta", "from_the_future"});
    db.Put("meta", "data_layout", "3");
  }
  opened = Open();
  ASSERT_CODE(opened, Code::kInvalidArgument);
  EXPECT_TRUE(Contains(opened.status().message(), path_)) << opened.status().message();
  EXPECT_TRUE(Contains(opened.status().message(), "'from_the_future'"))
      << opened.status().message();
}

// --- ApplyBatch --------------------------------------------------------------------------

TEST_F(RocksEngineTest, BatchWithRepeatedKeysStoresTheLastNewestVersionAcrossReopen) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie(/*sync=*/true);
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->ApplyIfNewer("a", Live("a1", 1)));
    const Version a3 = Live("a3", 3);
    const Version a2 = Live("a2", 2);
    const Version a4 = Tombstone(4);
    const Version b1 = Live("b1", 1);
    const Version b5 = Live("b5", 5);
    const std::vector<KeyedVersion> items = {{"a", a3}, {"b", b1}, {"a", a2}, {"a", a4}, {"b", b5}};
    std::vector<Result<ApplyOutcome>> outcomes = engine->ApplyBatch(items);
    ASSERT_EQ(outcomes.size(), items.size());
    EXPECT_EQ(outcomes[0].value(), ApplyOutcome::kApplied);
    EXPECT_EQ(outcomes[1].value(), ApplyOutcome::kApplied);
    EXPECT_EQ(outcomes[2].value(), ApplyOutcome::kSuperseded);  // Older than a3, in the batch.
    EXPECT_EQ(outcomes[3].value(), ApplyOutcome::kApplied);
    EXPECT_EQ(outcomes[4].value(), ApplyOutcome::kApplied);
    EXPECT_EQ(engine->LiveKeyCount(), 1u);
    // From the header cache, then from disk after the reopen.
    Result<VersionHeader> a = engine->GetHeader("a");
    ASSERT_OK(a);
    EXPECT_EQ(a.value(), (VersionHeader{a4.timestamp, true}));
  }
  std::unique_ptr<RocksEngine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->Get("a").value(), Tombstone(4));
  EXPECT_EQ(engine->Get("b").value(), Live("b5", 5));
  EXPECT_EQ(engine->LiveKeyCount(), 1u);
}

TEST_F(RocksEngineTest, BatchItemWhoseStoredVersionDoesNotDecodeFailsAlone) {
  {
    std::unique_ptr<RocksEngine> engine = OpenOrDie();
    ASSERT_NE(engine, nullptr);
    ASSERT_OK(engine->ApplyIfNewer("old", Live("v", 5)));
  }
  WriteRawVersion(path_, "bad", std::string("\x01\x02", 2));
  std::unique_ptr<RocksEngine> engine = OpenOrDie();
  ASSERT_NE(engine, nullptr);
  const Version fresh = Live("fresh", 1);
  const Version bad = Live("over-bad", 100);
  const Version newer = Live("newer", 6);
  const std::vector<KeyedVersion> items = {
      {"fresh", fresh}, {"bad", bad}, {"old", newer}, {"bad", bad}};
  std::vector<Result<ApplyOutcome>> outcomes = engine->ApplyBatch(items);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].value(), ApplyOutcome::kApplied);
  ASSERT_CODE(outcomes[1], Code::kCorruption);
  EXPECT_TRUE(Contains(outcomes[1].status().message(), path_)) << outcomes[1].status().message();
  EXPECT_EQ(outcomes[2].value(), ApplyOutcome::kApplied);
  ASSERT_CODE(outcomes[3], Code::kCorruption);
  EXPECT_EQ(engine->Get("fresh").value(), fresh);
  EXPECT_EQ(engine->Get("old").value(), newer);
  ASSERT_CODE(engine->Get("bad"), Code::kCorruption);
  EXPECT_EQ(engine->LiveKeyCount(), 2u);
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
