#include "server/storage/rocksdb_engine.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/common/check.h"
#include "server/common/hash.h"
#include "server/common/logging.h"
#include "server/storage/rocks_stats.h"
#include "server/storage/version_codec.h"

namespace dialkv::storage {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDataCf = "data";
constexpr const char* kHintsCf = "hints";
constexpr const char* kMetaCf = "meta";
// Column families of older layouts, and the migration's own (see rocksdb_engine.h).
constexpr const char* kByHashCf = "by_hash";
constexpr const char* kMigrationCf = "data_migration";
// An empty column family that marks a data dir of layout 3: a binary of layout 1 or 2 opens
// its data dir with a fixed list of column families, so RocksDB makes it refuse this one
// ("column families not opened") instead of reading hash-prefixed keys as keys.
constexpr const char* kLayoutMarkerCf = "layout_3";
// Meta "data_layout": the layout version of the data dir (absent: 1 or 2).
constexpr const char* kLayoutMeta = "data_layout";
constexpr int kLayoutVersion = 3;
// Meta "data_migration": how far a migration from layout 1 or 2 got ("copied", "refill").
constexpr const char* kMigrationMeta = "data_migration";
constexpr const char* kMigrationCopied = "copied";
constexpr const char* kMigrationRefill = "refill";
// Meta of layout 2, which recorded that its index was complete; removed by the migration.
constexpr const char* kOldHashIndexMeta = "by_hash_index";
// A migration writes in batches of about this many bytes: big enough that the per-write cost
// vanishes, small enough that one batch never holds a large share of a memtable.
constexpr size_t kMigrationBatchBytes = size_t{4} << 20;

// Bits per key of the data column family's bloom filter: ApplyIfNewer of a fresh key reads
// first, and the filter lets that read skip SST files that cannot hold the key (~1% false
// positives at 10 bits).
constexpr double kDataBloomBitsPerKey = 10;
// More than a WriteBatch's header and the framing of one entry (tag, column family id, varint
// lengths) and its fixed-size parts (the hash and the version header).
constexpr size_t kBatchOverheadBytes = 64;
constexpr size_t kEntryOverheadBytes = 48;

// RocksDB's own log goes to the node's log (logger "rocksdb"), not to a LOG file in the data
// dir: a file there fails when the disk fills, and RocksDB (as packaged, with assertions on)
// aborts the process on the next line written to a log file that failed once. Its info
// messages (flushes, compactions) are debug lines here (so a build that compiles debug lines out
// never asks RocksDB for them); warnings and errors stay what they are.
class RocksInfoLog final : public rocksdb::Logger {
 public:
  RocksInfoLog()
      : rocksdb::Logger(kDebugLogCompiledIn &&
                                Log(Subsystem::kRocksDb).should_log(spdlog::level::debug)
                            ? rocksdb::InfoLogLevel::INFO_LEVEL
                            : rocksdb::InfoLogLevel::WARN_LEVEL),
        log_(Log(Subsystem::kRocksDb)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    const int n = std::vsnprintf(line, sizeof(line), format, ap);
    if (n < 0) return;
    const std::string_view text(line, std::min(static_cast<size_t>(n), sizeof(line) - 1));
    switch (level) {
      case rocksdb::InfoLogLevel::WARN_LEVEL:
        log_.warn("{}", text);
        break;
      case rocksdb::InfoLogLevel::ERROR_LEVEL:
        log_.error("{}", text);
        break;
      case rocksdb::InfoLogLevel::FATAL_LEVEL:
        log_.critical("{}", text);
        break;
      default:
        DIALKV_LOG_DEBUG(log_, "{}", text);
        break;
    }
  }

 private:
  spdlog::logger& log_;
};

const char* ReasonName(rocksdb::BackgroundErrorReason reason) {
  switch (reason) {
    case rocksdb::BackgroundErrorReason::kFlush:
    case rocksdb::BackgroundErrorReason::kFlushNoWAL:
      return "flushing a memtable";
    case rocksdb::BackgroundErrorReason::kCompaction:
      return "compacting";
    case rocksdb::BackgroundErrorReason::kWriteCallback:
      return "writing the write-ahead log";
    case rocksdb::BackgroundErrorReason::kMemTable:
      return "writing a memtable";
    case rocksdb::BackgroundErrorReason::kManifestWrite:
    case rocksdb::BackgroundErrorReason::kManifestWriteNoWAL:
      return "writing the manifest";
  }
  return "a background job";
}

// RocksDB stops writing after a failed write, flush or compaction (its "background error");
// this raises the disk alarm when it does, and clears it when RocksDB recovered on its own.
class ErrorListener final : public rocksdb::EventListener {
 public:
  explicit ErrorListener(std::shared_ptr<DiskHealth> health) : health_(std::move(health)) {}

  // RocksDB calls an I/O error (EIO) of a log write, flush, compaction or of the creation of a
  // new log (reason kMemTable) fatal: the database would take no writes until it is closed and
  // opened again, which the node cannot do while it serves. Nothing is lost by treating it as
  // the "hard" error a full disk is: Resume then flushes the memtables to new table files and
  // starts a new log, as after ENOSPC, and a failed compaction leaves its inputs in place.
  // Corruption stays fatal.
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                         rocksdb::Status* bg_error) override {
    if (bg_error == nullptr || bg_error->ok()) return;
    const bool resumable_reason = reason == rocksdb::BackgroundErrorReason::kWriteCallback ||
                                  reason == rocksdb::BackgroundErrorReason::kFlush ||
                                  reason == rocksdb::BackgroundErrorReason::kFlushNoWAL ||
                                  reason == rocksdb::BackgroundErrorReason::kCompaction ||
                                  reason == rocksdb::BackgroundErrorReason::kMemTable;
    if (resumable_reason && bg_error->IsIOError() &&
        bg_error->severity() > rocksdb::Status::Severity::kHardError) {
      *bg_error = rocksdb::Status(*bg_error, rocksdb::Status::Severity::kHardError);
    }
    health_->RaiseStorageError(std::string(ReasonName(reason)) + ": " + bg_error->ToString());
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) health_->ClearStorageError();
  }

 private:
  const std::shared_ptr<DiskHealth> health_;
};

// The only place a rocksdb::Status becomes a dialkv::Status after Open. `what` says what was
// being done, for a message a person can act on.
Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  std::string message = what + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(std::move(message));
  if (s.IsCorruption()) return Status::Corruption(std::move(message));
  return Status::IOError(std::move(message));
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// What the operator does about a data dir whose files RocksDB found damaged.
constexpr const char* kDamagedAdvice =
    ". The node cannot start on it: move the data dir aside (keep it to inspect) and start the "
    "node on an empty one; its replicas refill it by hinted handoff and anti-entropy (run "
    "'dialkv repair' to hurry it). With one replica only, restore the data dir from a backup";

Status Damaged(const std::string& path, const std::string& said) {
  return Status::Corruption("data dir " + path + " is damaged: " + said + kDamagedAdvice);
}

// Why DB::Open failed, in terms of what the operator should do about the data dir.
Status OpenError(const std::string& path, const rocksdb::Status& s) {
  const std::string said = s.ToString();
  // RocksDB reports a held LOCK as "While lock file: <dir>/LOCK: ..." (another process) or
  // "lock hold by current process ... <dir>/LOCK: ..." (this process).
  if (s.IsIOError() && Contains(said, "/LOCK") &&
      (Contains(said, "lock file") || Contains(said, "lock hold"))) {
    const std::string lock = (fs::path(path) / "LOCK").string();
    return Status::Unavailable(
        "data dir " + path + " is in use by another process (lock on " + lock +
        "); stop the process using it or choose another --data-dir (" + said + ")");
  }
  if (s.IsCorruption()) return Damaged(path, "RocksDB said: " + said);
  if (s.IsInvalidArgument() || s.IsNotSupported()) {
    return Status::Corruption("data dir " + path +
                              " is corrupt or not a dialkv data dir; RocksDB said: " + said);
  }
  return Status::IOError("cannot open data dir " + path + ": " + said);
}

// Names RocksDB itself creates in a database directory. A dir without CURRENT that holds only
// these is a database whose creation stopped half-way, which RocksDB can finish.
bool IsRocksDbFileName(std::string_view name) {
  for (std::string_view exact : {"CURRENT", "IDENTITY", "LOCK", "LOG", "lost+found"}) {
    if (name == exact) return true;
  }
  for (std::string_view prefix : {"LOG.old", "MANIFEST-", "OPTIONS-"}) {
    if (name.starts_with(prefix)) return true;
  }
  for (std::string_view suffix : {".log", ".sst", ".blob", ".dbtmp"}) {
    if (name.ends_with(suffix)) return true;
  }
  return false;
}

// Creates the data dir if needed and refuses one that holds somebody else's files: RocksDB
// would happily create a database next to them, and an operator who mistyped --data-dir would
// find out much later.
Status PrepareDataDir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::IOError("cannot create data dir " + path + ": " + ec.message());
  if (!fs::is_directory(path, ec)) {
    return Status::IOError("data dir " + path + " exists but is not a directory");
  }
  if (fs::exists(fs::path(path) / "CURRENT", ec)) return Status::Ok();
  const auto not_a_database = [&path](const std::string& name) {
    return Status::Corruption("data dir " + path + " holds '" + name +
                              "' but no database (no CURRENT file); point --data-dir at an "
                              "empty directory or at an existing dialkv data dir");
  };
  fs::directory_iterator it(path, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!IsRocksDbFileName(name)) return not_a_database(name);
  }
  if (ec) return Status::IOError("cannot list data dir " + path + ": " + ec.message());
  return Status::Ok();
}

rocksdb::WriteOptions MakeWriteOptions(bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return wo;
}

// A data key (version_codec.h) in one piece, as point reads need it, built without allocating
// for keys of ordinary length: every read and apply builds one.
class DataKeyBuffer {
 public:
  DataKeyBuffer(uint64_t key_hash, std::string_view key) {
    const size_t size = kDataKeyPrefixBytes + key.size();
    char* out = inline_;
    if (size > sizeof(inline_)) {
      heap_.resize(size);
      out = heap_.data();
    }
    char prefix[kDataKeyPrefixBytes];
    EncodeDataKeyPrefixTo(key_hash, prefix);
    std::memcpy(out, prefix, sizeof(prefix));
    if (!key.empty()) std::memcpy(out + sizeof(prefix), key.data(), key.size());
    slice_ = rocksdb::Slice(out, size);
  }
  DataKeyBuffer(const DataKeyBuffer&) = delete;
  DataKeyBuffer& operator=(const DataKeyBuffer&) = delete;

  const rocksdb::Slice& slice() const { return slice_; }

 private:
  char inline_[kDataKeyPrefixBytes + 120];
  std::string heap_;
  rocksdb::Slice slice_;
};

// Adds the write of `version` as the stored version of `key` to `batch`, from parts: neither
// the data key nor the encoded version is built in a temporary string first.
rocksdb::Status PutVersion(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* data,
                           uint64_t key_hash, std::string_view key, const Version& version) {
  char hash_bytes[kDataKeyPrefixBytes];
  EncodeDataKeyPrefixTo(key_hash, hash_bytes);
  char header_bytes[kVersionHeaderBytes];
  EncodeVersionHeaderTo(VersionHeader{version.timestamp, version.tombstone}, header_bytes);
  const rocksdb::Slice key_parts[] = {rocksdb::Slice(hash_bytes, sizeof(hash_bytes)),
                                      rocksdb::Slice(key.data(), key.size())};
  const rocksdb::Slice value_parts[] = {rocksdb::Slice(header_bytes, sizeof(header_bytes)),
                                        rocksdb::Slice(version.value.data(), version.value.size())};
  return batch.Put(data, rocksdb::SliceParts(key_parts, 2), rocksdb::SliceParts(value_parts, 2));
}

// How long since `start`, in whole milliseconds, for log lines.
int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

Result<std::unique_ptr<RocksEngine>> RocksEngine::Open(const Options& options) {
  if (options.path.empty()) {
    return Status::InvalidArgument("data dir path is empty; set --data-dir");
  }
  DIALKV_RETURN_IF_ERROR(PrepareDataDir(options.path));
  const auto open_start = std::chrono::steady_clock::now();

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.info_log = std::make_shared<RocksInfoLog>();
  std::unique_ptr<rocksdb::Env> env;
  if (options.faults != nullptr) {
    env = rocksdb::NewCompositeEnv(NewFaultFileSystem(options.faults, nullptr));
    db_options.env = env.get();
  }
  if (options.health != nullptr) {
    db_options.listeners.push_back(std::make_shared<ErrorListener>(options.health));
  }

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  rocksdb::ColumnFamilyOptions small_cf;
  small_cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::BlockBasedTableOptions data_table = table;
  data_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kDataBloomBitsPerKey));
  rocksdb::ColumnFamilyOptions data_cf;
  data_cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(data_table));
  DIALKV_RETURN_IF_ERROR(
      ApplyTuning(options.tuning, PhysicalMemoryBytes(), &db_options, &data_cf, &small_cf));
  auto stalls = std::make_shared<WriteStallTracker>();
  db_options.listeners.push_back(stalls);

  // Today's column families (created if missing), in the order of Handles, then those of an
  // older layout or of a migration that the dir still has: RocksDB opens a database only with
  // every one of its column families named.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, small_cf},
      {kDataCf, data_cf},
      {kHintsCf, small_cf},
      {kMetaCf, small_cf},
      {kLayoutMarkerCf, small_cf},
  };
  constexpr size_t kTodays = 5;
  std::error_code ec;
  if (fs::exists(fs::path(options.path) / "CURRENT", ec)) {
    std::vector<std::string> names;
    const rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, options.path, &names);
    if (!ls.ok()) return OpenError(options.path, ls);
    for (const std::string& name : names) {
      if (name == kByHashCf) {
        descriptors.emplace_back(name, small_cf);
      } else if (name == kMigrationCf) {
        descriptors.emplace_back(name, data_cf);
      } else if (std::none_of(descriptors.begin(), descriptors.begin() + kTodays,
                              [&](const auto& d) { return d.name == name; })) {
        return Status::InvalidArgument(
            "data dir " + options.path + " has a column family '" + name +
            "' this dialkv does not know: a newer dialkv wrote it; run that version on it");
      }
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  const rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw_db);
  if (!s.ok()) return OpenError(options.path, s);
  std::unique_ptr<rocksdb::DB> db(raw_db);
  DIALKV_CHECK(handles.size() == descriptors.size());

  Handles h{handles[0], handles[1], handles[2], handles[3], handles[4]};
  for (size_t i = kTodays; i < descriptors.size(); ++i) {
    (descriptors[i].name == kByHashCf ? h.by_hash : h.migration) = handles[i];
  }
  std::unique_ptr<RocksEngine> engine(new RocksEngine(options, std::move(env), std::move(db), h));
  engine->stalls_ = std::move(stalls);
  // Both read every entry of `data`: a damaged table file shows here, if not at DB::Open.
  Status scanned = engine->MigrateLayout(data_cf);
  if (scanned.ok()) scanned = engine->CountLiveKeys();
  if (scanned.code() == Code::kCorruption) return Damaged(options.path, scanned.message());
  DIALKV_RETURN_IF_ERROR(scanned);
  engine->recovery_micros_ =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - open_start)
                                .count());
  Log(Subsystem::kStorage)
      .info("opened data dir {} in {} ms ({} live keys, sync={})", options.path,
            engine->recovery_micros_ / 1000, engine->LiveKeyCount(), options.sync ? "on" : "off");
  return engine;
}

RocksEngine::RocksEngine(Options options, std::unique_ptr<rocksdb::Env> env,
                         std::unique_ptr<rocksdb::DB> db, Handles handles)
    : options_(std::move(options)), env_(std::move(env)), db_(std::move(db)), handles_(handles) {
  const size_t per_stripe = (options_.header_cache_slots + kApplyStripes - 1) / kApplyStripes;
  for (Stripe& stripe : stripes_) stripe.headers.resize(per_stripe);
}

RocksEngine::~RocksEngine() {
  // After a failed write the log may be unusable (RocksDB, as packaged, aborts on a second
  // write to a log file that failed); what was acknowledged is in it already.
  const bool failed = options_.health != nullptr && options_.health->storage_error();
  if (!options_.sync && !failed) {
    // Writes without sync are in the OS page cache; make a clean shutdown survive power loss.
    const rocksdb::Status s = db_->SyncWAL();
    if (!s.ok())
      Log(Subsystem::kStorage)
          .warn("{}: syncing the WAL at close failed: {}", Where(), s.ToString());
  }
  for (rocksdb::ColumnFamilyHandle* cf :
       {handles_.default_cf, handles_.data, handles_.hints, handles_.meta, handles_.layout_marker,
        handles_.by_hash, handles_.migration}) {
    if (cf == nullptr) continue;  // A column family of an older layout, dropped (or never had).
    const rocksdb::Status s = db_->DestroyColumnFamilyHandle(cf);
    if (!s.ok())
      Log(Subsystem::kStorage)
          .warn("{}: releasing a column family failed: {}", Where(), s.ToString());
  }
  const rocksdb::Status s = db_->Close();
  if (!s.ok()) Log(Subsystem::kStorage).error("{}: close failed: {}", Where(), s.ToString());
}

std::string RocksEngine::Where() const { return "data dir " + options_.path; }

Status RocksEngine::WriteFailed(const rocksdb::Status& s, const std::string& what) {
  if (options_.health != nullptr && s.IsIOError()) options_.health->RaiseStorageError(s.ToString());
  return FromRocks(s, what);
}

Status RocksEngine::Resume() {
  const rocksdb::Status s = db_->Resume();
  if (s.IsBusy()) {
    return Status::Unavailable(Where() + ": RocksDB is already recovering from the error");
  }
  if (!s.ok()) return FromRocks(s, Where() + ": resuming writes");
  if (options_.health != nullptr) options_.health->ClearStorageError();
  return Status::Ok();
}

Status RocksEngine::InDataDir(const Status& s) const {
  return Status(s.code(), Where() + ": " + s.message());
}

// A full scan of `data`, once per Open. A version that does not decode is left out of the
// count and logged: it reads as kCorruption, and refusing to start the node over one bad
// entry would turn a damaged key into a lost replica.
Status RocksEngine::CountLiveKeys() {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // A one-off full scan must not evict the working set.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.data));
  uint64_t live = 0;
  uint64_t corrupt = 0;
  std::string first_corrupt;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Result<DataKey> key = DecodeDataKey(it->key().ToStringView());
    Result<VersionHeader> header = key.ok()
                                       ? DecodeVersionHeader(key->key, it->value().ToStringView())
                                       : Result<VersionHeader>(key.status());
    if (!header.ok()) {
      if (corrupt++ == 0) first_corrupt = header.status().message();
      continue;
    }
    if (!header->tombstone) ++live;
  }
  DIALKV_RETURN_IF_ERROR(FromRocks(it->status(), Where() + ": counting live keys"));
  if (corrupt > 0) {
    Log(Subsystem::kStorage)
        .error("{}: {} stored versions do not decode and read as CORRUPTION (first: {})", Where(),
               corrupt, first_corrupt);
  }
  live_keys_.store(live, std::memory_order_relaxed);
  return Status::Ok();
}

Status RocksEngine::DropColumnFamily(rocksdb::ColumnFamilyHandle** cf, const char* name) {
  if (*cf == nullptr) return Status::Ok();
  DIALKV_RETURN_IF_ERROR(
      FromRocks(db_->DropColumnFamily(*cf), Where() + ": dropping column family '" + name + "'"));
  const rocksdb::Status s = db_->DestroyColumnFamilyHandle(*cf);
  *cf = nullptr;  // Dropped either way; a handle RocksDB could not release is only leaked.
  return FromRocks(s, Where() + ": releasing column family '" + name + "'");
}

// Runs in Open, before the engine is shared: nothing else writes while it does. See
// rocksdb_engine.h for the layouts and the phases; the phase a crash interrupted is the one
// the next open repeats, from its start.
Status RocksEngine::MigrateLayout(const rocksdb::ColumnFamilyOptions& data_options) {
  const rocksdb::ReadOptions ro;
  std::string layout;
  const rocksdb::Status ls = db_->Get(ro, handles_.meta, kLayoutMeta, &layout);
  if (!ls.ok() && !ls.IsNotFound()) {
    return FromRocks(ls, Where() + ": reading meta '" + kLayoutMeta + "'");
  }
  if (ls.ok()) {
    int version = 0;
    const char* end = layout.data() + layout.size();
    const auto [parsed_end, error] = std::from_chars(layout.data(), end, version);
    if (error != std::errc() || parsed_end != end || version < kLayoutVersion) {
      return Status::Corruption(Where() + ": meta '" + kLayoutMeta + "' holds '" + layout +
                                "', not a layout version this or an older dialkv wrote");
    }
    if (version > kLayoutVersion) {
      return Status::InvalidArgument(
          Where() + " has data layout " + layout + ", newer than this dialkv knows (" +
          std::to_string(kLayoutVersion) + "): a newer dialkv wrote it; run that version on it");
    }
    // A migration that stopped right after recording its end left its column family behind.
    DIALKV_RETURN_IF_ERROR(DropColumnFamily(&handles_.by_hash, kByHashCf));
    return DropColumnFamily(&handles_.migration, kMigrationCf);
  }

  std::string phase;
  const rocksdb::Status ps = db_->Get(ro, handles_.meta, kMigrationMeta, &phase);
  if (!ps.ok() && !ps.IsNotFound()) {
    return FromRocks(ps, Where() + ": reading meta '" + kMigrationMeta + "'");
  }
  const rocksdb::WriteOptions synced = MakeWriteOptions(true);
  bool empty = false;
  if (phase.empty()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.data));
    it->SeekToFirst();
    DIALKV_RETURN_IF_ERROR(FromRocks(it->status(), Where() + ": reading data"));
    empty = !it->Valid();
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t moved = 0;
  // A new data dir, or an older one without data, has nothing to move.
  if (!empty) {
    if (phase.empty()) {
      uint64_t copied = 0;
      DIALKV_RETURN_IF_ERROR(CopyForMigration(data_options, &copied));
      DIALKV_RETURN_IF_ERROR(
          FromRocks(db_->Put(synced, handles_.meta, kMigrationMeta, kMigrationCopied),
                    Where() + ": recording the migration's copy"));
      Log(Subsystem::kStorage)
          .info("{}: copied {} entries of data layout 1 or 2 for the migration in {} ms", Where(),
                copied, MillisSince(start));
      phase = kMigrationCopied;
    } else {
      Log(Subsystem::kStorage)
          .info("{}: finishing an interrupted migration of the data layout (phase '{}')", Where(),
                phase);
    }
    // `data` holds what the copy holds, under old keys: it goes, and is created anew. Nothing
    // moved back yet, so a crash in between only repeats this.
    if (phase == kMigrationCopied) {
      if (handles_.migration == nullptr) {
        return Status::Corruption(Where() +
                                  ": meta says the migration copied the data, but "
                                  "its column family '" +
                                  std::string(kMigrationCf) + "' is missing");
      }
      DIALKV_RETURN_IF_ERROR(DropColumnFamily(&handles_.by_hash, kByHashCf));
      DIALKV_RETURN_IF_ERROR(DropColumnFamily(&handles_.data, kDataCf));
      DIALKV_RETURN_IF_ERROR(
          FromRocks(db_->CreateColumnFamily(data_options, kDataCf, &handles_.data),
                    Where() + ": creating column family '" + kDataCf + "'"));
      DIALKV_RETURN_IF_ERROR(
          FromRocks(db_->Put(synced, handles_.meta, kMigrationMeta, kMigrationRefill),
                    Where() + ": recording the migration's refill"));
      phase = kMigrationRefill;
    }
    if (phase != kMigrationRefill || handles_.migration == nullptr) {
      return Status::Corruption(Where() + ": meta '" + kMigrationMeta + "' holds '" + phase +
                                "', which no migration of this dialkv leaves behind");
    }
    DIALKV_RETURN_IF_ERROR(RefillFromMigration(&moved));
  }
  // The end, in one write: the layout, and neither the phase nor layout 2's index mark.
  rocksdb::WriteBatch done;
  rocksdb::Status ds = done.Put(handles_.meta, kLayoutMeta, std::to_string(kLayoutVersion));
  if (ds.ok()) ds = done.Delete(handles_.meta, kMigrationMeta);
  if (ds.ok()) ds = done.Delete(handles_.meta, kOldHashIndexMeta);
  if (ds.ok()) ds = db_->Write(synced, &done);
  DIALKV_RETURN_IF_ERROR(FromRocks(ds, Where() + ": recording the data layout"));
  DIALKV_RETURN_IF_ERROR(DropColumnFamily(&handles_.by_hash, kByHashCf));
  DIALKV_RETURN_IF_ERROR(DropColumnFamily(&handles_.migration, kMigrationCf));
  if (!empty) {
    Log(Subsystem::kStorage)
        .info("{}: migrated {} entries to data layout {} in {} ms", Where(), moved, kLayoutVersion,
              MillisSince(start));
  }
  return Status::Ok();
}

// Copies every entry of `data` (layout 1 or 2: keyed by the key alone) under its new key into
// the migration's column family, value bytes as they are (one that does not decode still
// reads as kCorruption afterwards). Puts only: repeating it after a crash overwrites what the
// first attempt wrote with the same bytes.
Status RocksEngine::CopyForMigration(const rocksdb::ColumnFamilyOptions& data_options,
                                     uint64_t* copied) {
  if (handles_.migration == nullptr) {
    DIALKV_RETURN_IF_ERROR(
        FromRocks(db_->CreateColumnFamily(data_options, kMigrationCf, &handles_.migration),
                  Where() + ": creating column family '" + kMigrationCf + "'"));
  }
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // A one-off full scan must not fill the cache.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.data));
  rocksdb::WriteBatch batch;
  const rocksdb::WriteOptions wo = MakeWriteOptions(false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    char hash_bytes[kDataKeyPrefixBytes];
    EncodeDataKeyPrefixTo(KeyHash(key), hash_bytes);
    const rocksdb::Slice key_parts[] = {rocksdb::Slice(hash_bytes, sizeof(hash_bytes)), it->key()};
    const rocksdb::Slice value = it->value();
    DIALKV_RETURN_IF_ERROR(
        FromRocks(batch.Put(handles_.migration, rocksdb::SliceParts(key_parts, 2),
                            rocksdb::SliceParts(&value, 1)),
                  Where() + ": migrating data"));
    ++*copied;
    if (batch.GetDataSize() >= kMigrationBatchBytes) {
      DIALKV_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), Where() + ": migrating data"));
      batch.Clear();
    }
  }
  DIALKV_RETURN_IF_ERROR(FromRocks(it->status(), Where() + ": reading data to migrate it"));
  return FromRocks(db_->Write(wo, &batch), Where() + ": migrating data");
}

// Moves every entry of the migration's column family into `data` (already under its new key):
// each batch puts entries into one and deletes them from the other, so after a crash every
// entry is in exactly one of the two, and repeating this finishes the move.
Status RocksEngine::RefillFromMigration(uint64_t* moved) {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.migration));
  rocksdb::WriteBatch batch;
  const rocksdb::WriteOptions wo = MakeWriteOptions(false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Status s = batch.Put(handles_.data, it->key(), it->value());
    if (s.ok()) s = batch.Delete(handles_.migration, it->key());
    DIALKV_RETURN_IF_ERROR(FromRocks(s, Where() + ": migrating data"));
    ++*moved;
    if (batch.GetDataSize() >= kMigrationBatchBytes) {
      DIALKV_RETURN_IF_ERROR(FromRocks(db_->Write(wo, &batch), Where() + ": migrating data"));
      batch.Clear();
    }
  }
  DIALKV_RETURN_IF_ERROR(FromRocks(it->status(), Where() + ": reading the migrated data"));
  return FromRocks(db_->Write(wo, &batch), Where() + ": migrating data");
}

Result<Version> RocksEngine::Get(std::string_view key) {
  const DataKeyBuffer data_key(KeyHash(key), key);
  rocksdb::PinnableSlice bytes;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), handles_.data, data_key.slice(), &bytes);
  if (s.IsNotFound()) return Status::NotFound("no version of " + DescribeKey(key));
  // The message is built only on failure: this is every read's path.
  if (!s.ok()) return FromRocks(s, Where() + ": reading " + DescribeKey(key));
  Result<Version> version = DecodeVersion(key, bytes.ToStringView());
  if (!version.ok()) return InDataDir(version.status());
  return version;
}

// The cache is used only under the key's stripe mutex, so that what it reads is what the cache
// may hold: no write of the key can come between the read and the filling of its slot.
Result<VersionHeader> RocksEngine::GetHeader(std::string_view key) {
  const uint64_t key_hash = KeyHash(key);
  Stripe& stripe = stripes_[key_hash % kApplyStripes];
  // Reads never wait for a write: with --sync a writer holds the stripe across its fsync, and
  // reads run on io threads. A busy stripe is read around its cache, as Get does.
  std::unique_lock<std::mutex> lock(stripe.mu, std::try_to_lock);
  HeaderSlot* slot = lock.owns_lock() ? SlotOf(stripe, key_hash, key) : nullptr;
  if (slot != nullptr && slot->valid && slot->key == key) return slot->header;
  const DataKeyBuffer data_key(key_hash, key);
  rocksdb::PinnableSlice stored;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), handles_.data, data_key.slice(), &stored);
  if (s.IsNotFound()) return Status::NotFound("no version of " + DescribeKey(key));
  if (!s.ok()) return FromRocks(s, Where() + ": reading " + DescribeKey(key));
  Result<VersionHeader> header = DecodeVersionHeader(key, stored.ToStringView());
  if (!header.ok()) return InDataDir(header.status());
  if (slot != nullptr) {
    slot->key.assign(key);
    slot->header = *header;
    slot->valid = true;
  }
  return header;
}

RocksEngine::HeaderSlot* RocksEngine::SlotOf(Stripe& stripe, uint64_t key_hash,
                                             std::string_view key) {
  if (stripe.headers.empty() || key.size() > kMaxCachedKeyBytes) return nullptr;
  // The low bits chose the stripe; the next ones choose the slot within it.
  return &stripe.headers[(key_hash / kApplyStripes) % stripe.headers.size()];
}

// ApplyIfNewer is a read-compare-write, and RocksDB has no compare-and-set. The options were:
//  - TransactionDB: per-key locks, but every write pays for the lock manager and the engine
//    would speak two APIs;
//  - OptimisticTransactionDB: conflicts surface at commit, so hot keys retry in a loop;
//  - a merge operator: commutative, but the outcome and the live-key delta are only known at
//    read or compaction time, and the caller needs both now;
//  - striped mutexes, chosen here: a fixed array (no allocation per key, bounded memory) that
//    serializes only writers whose keys hash to the same stripe. The mutex is held across the
//    write, fsync included with Options::sync; writers on other stripes still join the same
//    WAL group commit, so one slow fsync does not serialize the node.
//
// The header cache (Stripe::headers) spares a hot key the read: a slot is filled with what
// the stripe's holder just read or wrote, and emptied before any write of its key, so a
// write that fails (it may or may not be on disk) leaves the key uncached.
Result<std::optional<VersionHeader>> RocksEngine::StoredHeader(std::string_view key,
                                                               uint64_t key_hash,
                                                               const HeaderSlot* slot) {
  if (slot != nullptr && slot->valid && slot->key == key) return {slot->header};
  const DataKeyBuffer data_key(key_hash, key);
  rocksdb::PinnableSlice stored;
  const rocksdb::Status rs =
      db_->Get(rocksdb::ReadOptions(), handles_.data, data_key.slice(), &stored);
  if (rs.IsNotFound()) return {std::nullopt};
  if (!rs.ok()) return FromRocks(rs, Where() + ": reading " + DescribeKey(key));
  Result<VersionHeader> header = DecodeVersionHeader(key, stored.ToStringView());
  if (!header.ok()) return InDataDir(header.status());
  return {*header};
}

Result<ApplyOutcome> RocksEngine::ApplyIfNewer(std::string_view key, const Version& version) {
  const uint64_t key_hash = KeyHash(key);
  Stripe& stripe = stripes_[key_hash % kApplyStripes];
  std::lock_guard<std::mutex> lock(stripe.mu);
  HeaderSlot* slot = SlotOf(stripe, key_hash, key);
  const bool cached = slot != nullptr && slot->valid && slot->key == key;

  Result<std::optional<VersionHeader>> stored = StoredHeader(key, key_hash, slot);
  if (!stored.ok()) return stored.status();
  const std::optional<VersionHeader>& before = *stored;
  if (before.has_value() && version.timestamp <= before->timestamp) {
    if (slot != nullptr && !cached) {
      slot->key.assign(key);
      slot->header = *before;
      slot->valid = true;
    }
    return ApplyOutcome::kSuperseded;
  }
  if (options_.health != nullptr) {
    DIALKV_RETURN_IF_ERROR(options_.health->CheckWrite(key.size() + version.value.size()));
  }
  const bool was_live = before.has_value() && !before->tombstone;
  if (cached) slot->valid = false;  // Until the write is known to have succeeded.

  // Room for the entry at once, so the batch's buffer is allocated once instead of growing
  // step by step.
  rocksdb::WriteBatch batch(kBatchOverheadBytes + key.size() + version.value.size());
  rocksdb::Status ws = PutVersion(batch, handles_.data, key_hash, key, version);
  if (ws.ok()) ws = db_->Write(MakeWriteOptions(options_.sync), &batch);
  if (!ws.ok()) return WriteFailed(ws, Where() + ": writing " + DescribeKey(key));
  const VersionHeader after{version.timestamp, version.tombstone};
  if (slot != nullptr) {
    slot->key.assign(key);
    slot->header = after;
    slot->valid = true;
  }
  const bool is_live = !version.tombstone;
  if (is_live && !was_live) live_keys_.fetch_add(1, std::memory_order_relaxed);
  if (!is_live && was_live) live_keys_.fetch_sub(1, std::memory_order_relaxed);
  if (ChangeObserver* observer = observer_.load(std::memory_order_acquire); observer != nullptr) {
    observer->OnChange(key, key_hash, before ? &*before : nullptr, &after);
  }
  return ApplyOutcome::kApplied;
}

// ApplyIfNewer for many keys at once: the same read-compare under the keys' stripe mutexes,
// then one write for every item that applies. The mutexes are taken in stripe order, each
// once, so two batches (or a batch and single applies) cannot wait for each other in a cycle.
// Items of one key compare against the version an earlier item of the batch is about to
// store, not against the stored one, as if applied one after the other.
std::vector<Result<ApplyOutcome>> RocksEngine::ApplyBatch(std::span<const KeyedVersion> items) {
  std::vector<Result<ApplyOutcome>> outcomes;
  outcomes.reserve(items.size());
  if (items.empty()) return outcomes;
  struct Pending {
    size_t item;
    uint64_t key_hash;
    HeaderSlot* slot;
    std::optional<VersionHeader> before;
  };
  std::vector<uint64_t> hashes(items.size());
  std::vector<size_t> stripe_ids(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    hashes[i] = KeyHash(items[i].key);
    stripe_ids[i] = hashes[i] % kApplyStripes;
  }
  std::sort(stripe_ids.begin(), stripe_ids.end());
  stripe_ids.erase(std::unique(stripe_ids.begin(), stripe_ids.end()), stripe_ids.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(stripe_ids.size());
  for (const size_t id : stripe_ids) locks.emplace_back(stripes_[id].mu);

  std::vector<Pending> writes;
  // What this batch will have stored for each key it writes: later items of the key compare
  // against it. Keys point into `items`.
  std::unordered_map<std::string_view, VersionHeader> batch_headers;
  uint64_t write_bytes = 0;
  size_t batch_bytes = kBatchOverheadBytes;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string_view key = items[i].key;
    const Version& version = items[i].version;
    HeaderSlot* slot = SlotOf(stripes_[hashes[i] % kApplyStripes], hashes[i], key);
    std::optional<VersionHeader> before;
    bool from_batch = false;
    if (auto it = batch_headers.find(key); it != batch_headers.end()) {
      before = it->second;
      from_batch = true;
    } else {
      Result<std::optional<VersionHeader>> stored = StoredHeader(key, hashes[i], slot);
      if (!stored.ok()) {
        outcomes.push_back(stored.status());
        continue;
      }
      before = *stored;
    }
    if (before.has_value() && version.timestamp <= before->timestamp) {
      // Cached only when it is what is stored, not what an earlier item is about to store.
      if (!from_batch && slot != nullptr && !(slot->valid && slot->key == key)) {
        slot->key.assign(key);
        slot->header = *before;
        slot->valid = true;
      }
      outcomes.push_back(ApplyOutcome::kSuperseded);
      continue;
    }
    batch_headers.insert_or_assign(key, VersionHeader{version.timestamp, version.tombstone});
    writes.push_back(Pending{i, hashes[i], slot, before});
    write_bytes += key.size() + version.value.size();
    batch_bytes += kEntryOverheadBytes + key.size() + version.value.size();
    outcomes.push_back(ApplyOutcome::kApplied);
  }
  if (writes.empty()) return outcomes;

  // Every item to write fails with `error`; nothing of the batch is reported as a change.
  auto fail_writes = [&](const Status& error) {
    for (const Pending& w : writes) outcomes[w.item] = error;
    return outcomes;
  };
  if (options_.health != nullptr) {
    if (Status admitted = options_.health->CheckWrite(write_bytes); !admitted.ok()) {
      return fail_writes(admitted);
    }
  }
  rocksdb::WriteBatch batch(batch_bytes);
  rocksdb::Status ws;
  for (const Pending& w : writes) {
    const KeyedVersion& item = items[w.item];
    // Until the write is known to have succeeded.
    if (w.slot != nullptr && w.slot->valid && w.slot->key == item.key) w.slot->valid = false;
    if (ws.ok()) ws = PutVersion(batch, handles_.data, w.key_hash, item.key, item.version);
  }
  if (ws.ok()) ws = db_->Write(MakeWriteOptions(options_.sync), &batch);
  if (!ws.ok()) {
    return fail_writes(WriteFailed(ws, Where() + ": writing " + std::to_string(writes.size()) +
                                           " versions (the first of " +
                                           DescribeKey(items[writes.front().item].key) + ")"));
  }
  ChangeObserver* observer = observer_.load(std::memory_order_acquire);
  for (const Pending& w : writes) {
    const KeyedVersion& item = items[w.item];
    const VersionHeader after{item.version.timestamp, item.version.tombstone};
    if (w.slot != nullptr) {
      w.slot->key.assign(item.key);
      w.slot->header = after;
      w.slot->valid = true;
    }
    const bool was_live = w.before.has_value() && !w.before->tombstone;
    const bool is_live = !after.tombstone;
    if (is_live && !was_live) live_keys_.fetch_add(1, std::memory_order_relaxed);
    if (!is_live && was_live) live_keys_.fetch_sub(1, std::memory_order_relaxed);
    if (observer != nullptr) {
      observer->OnChange(item.key, w.key_hash, w.before ? &*w.before : nullptr, &after);
    }
  }
  return outcomes;
}

Result<bool> RocksEngine::PurgeTombstone(std::string_view key, const Timestamp& timestamp) {
  const uint64_t key_hash = KeyHash(key);
  const DataKeyBuffer data_key(key_hash, key);
  Stripe& stripe = stripes_[key_hash % kApplyStripes];
  std::lock_guard<std::mutex> lock(stripe.mu);
  rocksdb::PinnableSlice stored;
  const rocksdb::Status rs =
      db_->Get(rocksdb::ReadOptions(), handles_.data, data_key.slice(), &stored);
  if (rs.IsNotFound()) return false;
  DIALKV_RETURN_IF_ERROR(FromRocks(rs, Where() + ": reading " + DescribeKey(key)));
  Result<VersionHeader> header = DecodeVersionHeader(key, stored.ToStringView());
  if (!header.ok()) return InDataDir(header.status());
  // Only this very tombstone: a newer write that replaced it must never be collected.
  if (!header->tombstone || header->timestamp != timestamp) return false;
  stored.Reset();
  // The key is gone (or, if the write fails, in doubt): no longer cached either way.
  if (HeaderSlot* slot = SlotOf(stripe, key_hash, key); slot != nullptr && slot->key == key) {
    slot->valid = false;
  }
  if (const rocksdb::Status ws =
          db_->Delete(MakeWriteOptions(options_.sync), handles_.data, data_key.slice());
      !ws.ok()) {
    return WriteFailed(ws, Where() + ": purging " + DescribeKey(key));
  }
  if (ChangeObserver* observer = observer_.load(std::memory_order_acquire); observer != nullptr) {
    observer->OnChange(key, key_hash, &*header, nullptr);
  }
  return true;
}

bool RocksEngine::SetChangeObserver(ChangeObserver* observer) {
  observer_.store(observer, std::memory_order_release);
  return true;
}

// One ring range is one contiguous run of `data`: its keys start with the big-endian hash.
// Only the header of each value is decoded, from the iterator's own slice (no copy).
Status RocksEngine::ScanByHash(uint64_t first_hash, uint64_t last_hash, const HashScanFn& fn) {
  if (last_hash < first_hash) return Status::Ok();
  const std::string start = EncodeDataKeyPrefix(first_hash);
  const std::string end = last_hash == std::numeric_limits<uint64_t>::max()
                              ? std::string()
                              : EncodeDataKeyPrefix(last_hash + 1);
  const rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // Anti-entropy sweeps must not evict the point-read working set.
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  // An iterator reads the implicit snapshot taken when it is created: writes made while the
  // scan runs (the visitor's own included) are not seen.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.data));
  for (it->Seek(start); it->Valid(); it->Next()) {
    Result<DataKey> data_key = DecodeDataKey(it->key().ToStringView());
    if (!data_key.ok()) return InDataDir(data_key.status());
    Result<VersionHeader> header = DecodeVersionHeader(data_key->key, it->value().ToStringView());
    if (!header.ok()) return InDataDir(header.status());
    if (!fn(data_key->key_hash, data_key->key, *header)) return Status::Ok();
  }
  return FromRocks(it->status(), Where() + ": scanning data by hash");
}

uint64_t RocksEngine::LiveKeyCount() const { return live_keys_.load(std::memory_order_relaxed); }

Status RocksEngine::PutHint(NodeId peer, uint64_t sequence, std::string_view payload) {
  if (options_.health != nullptr) {
    DIALKV_RETURN_IF_ERROR(options_.health->CheckWrite(payload.size()));
  }
  const std::string key = EncodeHintKey(peer, sequence);
  const rocksdb::Status s = db_->Put(MakeWriteOptions(options_.sync), handles_.hints, key,
                                     rocksdb::Slice(payload.data(), payload.size()));
  if (s.ok()) return Status::Ok();
  return WriteFailed(s, Where() + ": storing hint " + std::to_string(sequence) + " for peer " +
                            std::to_string(peer));
}

Status RocksEngine::ScanHints(NodeId peer, const HintScanFn& fn) {
  const std::string prefix = EncodeHintPrefix(peer);
  const std::string next_prefix =
      peer == std::numeric_limits<NodeId>::max() ? std::string() : EncodeHintPrefix(peer + 1);
  const rocksdb::Slice upper(next_prefix);
  rocksdb::ReadOptions ro;
  if (!next_prefix.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_.hints));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    Result<HintKey> key = DecodeHintKey(it->key().ToStringView());
    if (!key.ok()) {
      return Status::Corruption(Where() + ": hints of peer " + std::to_string(peer) + ": " +
                                key.status().message());
    }
    if (!fn(key->sequence, it->value().ToStringView())) return Status::Ok();
  }
  return FromRocks(it->status(), Where() + ": scanning hints for peer " + std::to_string(peer));
}

Status RocksEngine::DeleteHint(NodeId peer, uint64_t sequence) {
  const std::string key = EncodeHintKey(peer, sequence);
  const rocksdb::Status s = db_->Delete(MakeWriteOptions(options_.sync), handles_.hints, key);
  if (s.ok()) return Status::Ok();
  return WriteFailed(s, Where() + ": deleting hint " + std::to_string(sequence) + " for peer " +
                            std::to_string(peer));
}

Result<std::string> RocksEngine::GetMeta(std::string_view name) {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_.meta,
                                     rocksdb::Slice(name.data(), name.size()), &value);
  if (s.IsNotFound()) return Status::NotFound("no meta value named '" + std::string(name) + "'");
  DIALKV_RETURN_IF_ERROR(FromRocks(s, Where() + ": reading meta '" + std::string(name) + "'"));
  return value;
}

// Not gated by the watermark (see disk_health.h): meta values are a few bytes.
Status RocksEngine::PutMeta(std::string_view name, std::string_view value) {
  const rocksdb::Status s = db_->Put(MakeWriteOptions(options_.sync), handles_.meta,
                                     rocksdb::Slice(name.data(), name.size()),
                                     rocksdb::Slice(value.data(), value.size()));
  if (s.ok()) return Status::Ok();
  return WriteFailed(s, Where() + ": writing meta '" + std::string(name) + "'");
}

}  // namespace dialkv::storage
