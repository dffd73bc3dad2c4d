#pragma once
// The production Engine: RocksDB in the node's data dir. RocksDB types stay behind this header
// (forward declarations only); rocksdb::Status is converted to dialkv::Status inside storage/.
//
// On disk: column families `data` ((KeyHash(key), key) -> encoded version), `hints`
// ((peer, sequence) -> payload), `meta` (name -> value), plus RocksDB's required `default`,
// left empty. Byte layouts are in version_codec.h. Keying `data` by hash first makes
// ScanByHash (anti-entropy's listing of one ring range) one contiguous iteration, and a
// replica write one entry; a point read hashes the key first (xxh64 of a short key is a few
// nanoseconds, and writers hash it anyway to pick the key's stripe).
//
// Layout versions, recorded in meta "data_layout" (absent before version 3):
//   1  `data` keyed by the key alone;
//   2  the same plus `by_hash`, a hash-ordered index ((KeyHash(key), key) -> version header)
//      written in the same WriteBatch as `data`: two entries per write;
//   3  `data` keyed by (KeyHash(key), key), no index: today's.
// Open migrates a data dir of layout 1 or 2 once, and refuses one whose layout is newer than
// it knows (a newer binary wrote it). The migration cannot rewrite `data` in place: a new key
// is bytes an old key may also be (a key may be chosen to equal KeyHash(k) followed by k), so
// moving k would overwrite that other key's entry, and after a crash half-way nothing could
// tell moved entries from unmoved ones. Instead, with meta "data_migration" recording the
// phase (each phase is idempotent, so a crash in any of them repeats it at the next open):
//   copy     every entry of `data` is copied, under its new key, into a column family of
//            its own, `data_migration`; `data` is not touched, so a crash restarts the copy;
//   refill   `data` (and `by_hash`) are dropped and `data` is created empty, then every entry
//            moves back from `data_migration` (one WriteBatch puts it into `data` and deletes
//            it from `data_migration`, so each entry is in exactly one of them);
//   then `data_migration` is dropped and meta records layout 3.
// Entries move in WriteBatches of a few MiB; the open logs how many and how long it took.
// A binary that predates layout 3 refuses a data dir of layout 3, migrated or new, and one in
// the middle of the migration: it opens its data dir with a fixed list of column families, and
// RocksDB requires every column family to be named, so the empty column family `layout_3`
// that every open creates makes it refuse instead of reading hash-prefixed keys as keys.
// Downgrading needs an empty data dir (the replicas refill it).
//
// Durability: with Options::sync every write fsyncs the WAL before it returns (concurrent
// writers share one fsync: RocksDB group commit). Without it a returned write survives a crash
// of the process (the WAL is in the OS page cache) but not a power loss; the destructor syncs
// the WAL so a clean shutdown loses nothing either way.
//
// Thread-safe: every method may be called from any thread. Methods block on disk I/O.
// The data dir is locked exclusively (RocksDB's LOCK file) while the engine is open.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/storage/disk_faults.h"
#include "server/storage/disk_health.h"
#include "server/storage/engine.h"
#include "server/storage/rocks_tuning.h"

namespace rocksdb {
class ColumnFamilyHandle;
struct ColumnFamilyOptions;
class DB;
class Env;
class Status;
}  // namespace rocksdb

namespace dialkv::storage {

class WriteStallTracker;  // rocks_stats.h

// What the engine's files and memory hold, from RocksDB's properties: for /metrics and
// `dialkv status`. Sizes in bytes.
struct StorageStats {
  struct ColumnFamily {
    std::string name;
    uint64_t sst_bytes = 0;        // Live SST files (rocksdb.live-sst-files-size).
    uint64_t live_data_bytes = 0;  // RocksDB's estimate of the data without obsolete versions.
    uint64_t memtable_bytes = 0;   // Active and unflushed memtables.
    uint64_t pending_compaction_bytes = 0;  // RocksDB's estimate of what compaction must rewrite.
    uint64_t l0_files = 0;
  };
  std::vector<ColumnFamily> column_families;  // default, data, hints, meta.
  uint64_t data_dir_bytes = 0;  // Every file in the data dir, as `du` counts them (apparent size).
  uint64_t wal_bytes = 0;       // Live WAL files: what a restart would replay.
  uint64_t wal_files = 0;
  // Sums over the column families.
  uint64_t sst_bytes = 0;
  uint64_t live_data_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t pending_compaction_bytes = 0;
  // Write stalls since the engine opened: periods during which RocksDB delayed or stopped
  // writes because flushes or compaction fell behind (one count per period, any column
  // family). A stall in progress counts with its length so far.
  uint64_t write_stalls = 0;
  uint64_t write_stall_micros = 0;
  uint64_t longest_write_stall_micros = 0;
  bool write_stalled_now = false;
  // How long Open took: RocksDB's recovery (WAL replay included), a migration of an older
  // layout if there was one, and the key count.
  uint64_t recovery_micros = 0;
};

class RocksEngine final : public Engine {
 public:
  struct Options {
    // The data dir. Created with its parents if missing. It must be empty or hold a database
    // this engine created; anything else is refused rather than mixed into.
    std::string path;
    // fsync every write before it returns (group commit amortizes it across concurrent
    // writers). Off: a write survives a process crash, not a power loss.
    bool sync = false;
    // LRU block cache shared by all column families. Reads of hot keys are served from it; the
    // OS page cache still holds the rest, so a modest size is enough.
    size_t block_cache_bytes = size_t{64} << 20;
    // Slots of the in-memory cache of recently used keys' stored version headers, which lets
    // ApplyIfNewer and GetHeader of a hot key skip their read of RocksDB (0: no cache). Each slot
    // holds one key (keys longer than kMaxCachedKeyBytes are never cached), so the memory it
    // takes is bounded by slots * (kMaxCachedKeyBytes + about 64 bytes).
    size_t header_cache_slots = size_t{1} << 16;
    // The disk alarm (disk_health.h): consulted before every data and hint write, raised when
    // the engine fails to write. Null: writes are never refused up front.
    std::shared_ptr<DiskHealth> health = nullptr;
    // Injected disk trouble (disk_faults.h), for tests and fault injection. Null: none.
    std::shared_ptr<DiskFaults> faults = nullptr;
    // WAL retention, memtables, flushes and compaction (see rocks_tuning.h).
    RocksTuning tuning{};
  };

  // The longest key the header cache holds.
  static constexpr size_t kMaxCachedKeyBytes = 128;

  // Opens (creating if needed) the database in `options.path`, migrates it if an older binary
  // wrote it (see above), and counts its live keys. A stored version that does not decode does
  // not stop the open (a migration moves it as it is): it is logged, left out of
  // LiveKeyCount(), and reads as kCorruption.
  // Errors:
  //   kInvalidArgument  options.path is empty, or a newer binary wrote the dir: its layout is
  //                     newer than this one's, or it has a column family this one does not
  //                     know (the message names the dir);
  //   kIOError          the dir cannot be created or read, or RocksDB fails on I/O;
  //   kUnavailable      another process (or another engine in this one) has the dir open;
  //   kCorruption       the dir holds files that are not ours, or a database RocksDB reports
  //                     as corrupt or cannot open (the message quotes RocksDB).
  static Result<std::unique_ptr<RocksEngine>> Open(const Options& options);

  // Syncs the WAL and closes the database. REQUIRES: no call on this engine is in progress.
  ~RocksEngine() override;
  RocksEngine(const RocksEngine&) = delete;
  RocksEngine& operator=(const RocksEngine&) = delete;

  Result<Version> Get(std::string_view key) override;
  // From the header cache when it holds the key; otherwise read and cached.
  Result<VersionHeader> GetHeader(std::string_view key) override;
  Result<ApplyOutcome> ApplyIfNewer(std::string_view key, const Version& version) override;
  // One WriteBatch for every item that applies, under the stripe mutexes of all the items'
  // keys (taken in stripe order, so concurrent batches cannot deadlock).
  std::vector<Result<ApplyOutcome>> ApplyBatch(std::span<const KeyedVersion> items) override;
  Status ScanByHash(uint64_t first_hash, uint64_t last_hash, const HashScanFn& fn) override;
  Result<bool> PurgeTombstone(std::string_view key, const Timestamp& timestamp) override;
  bool SetChangeObserver(ChangeObserver* observer) override;
  uint64_t LiveKeyCount() const override;

  Status PutHint(NodeId peer, uint64_t sequence, std::string_view payload) override;
  Status ScanHints(NodeId peer, const HintScanFn& fn) override;
  Status DeleteHint(NodeId peer, uint64_t sequence) override;

  Result<std::string> GetMeta(std::string_view name) override;
  Status PutMeta(std::string_view name, std::string_view value) override;

  // After a failed write (the disk alarm's storage error), asks RocksDB to resume writing:
  // it flushes what it holds and opens a new write-ahead log. On success the storage error is
  // cleared. Errors: kIOError (the cause is still there; nothing changed). OK when there was
  // no error. Thread-safe; blocks on disk I/O.
  Status Resume();

  const Options& options() const { return options_; }

  // What the engine's files and memory hold now (rocks_stats.cc). Reads RocksDB's properties
  // and lists the data dir: cheap enough for every scrape, not for every request. A property
  // RocksDB cannot give reads as 0.
  StorageStats Stats() const;

 private:
  // ApplyIfNewer serializes writers of one key through one of these mutexes, chosen by the
  // key's hash (see rocksdb_engine.cc for why). A stripe's index is the hash modulo this.
  static constexpr size_t kApplyStripes = 256;
  // One entry of the header cache: while `valid`, `header` is exactly the header of the
  // version stored for `key` (which exists). Direct-mapped: a key has one possible slot, in
  // its stripe, chosen by its hash; another key taking the slot evicts it.
  struct HeaderSlot {
    std::string key;
    VersionHeader header;
    bool valid = false;
  };
  struct alignas(64) Stripe {
    std::mutex mu;  // Guards the read-compare-write of every key that hashes to this stripe.
    // Guarded by mu. Filled and emptied only under mu (ApplyIfNewer, PurgeTombstone,
    // GetHeader), which every change of `data` for these keys holds, so a valid slot never
    // disagrees with what is stored. Starts empty at every Open.
    std::vector<HeaderSlot> headers;
  };
  // The slot `key` would occupy in `stripe` (nullptr: the key is never cached).
  // REQUIRES: stripe.mu held.
  static HeaderSlot* SlotOf(Stripe& stripe, uint64_t key_hash, std::string_view key);

  struct Handles {
    rocksdb::ColumnFamilyHandle* default_cf = nullptr;
    rocksdb::ColumnFamilyHandle* data = nullptr;
    rocksdb::ColumnFamilyHandle* hints = nullptr;
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    rocksdb::ColumnFamilyHandle* layout_marker = nullptr;  // Empty: marks layout 3.
    // Only while Open migrates an older layout (null once dropped, or if the dir has none).
    rocksdb::ColumnFamilyHandle* by_hash = nullptr;
    rocksdb::ColumnFamilyHandle* migration = nullptr;
  };

  RocksEngine(Options options, std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db,
              Handles handles);
  // `s` (a failed write) as a Status; an I/O failure also raises the disk alarm.
  Status WriteFailed(const rocksdb::Status& s, const std::string& what);
  Status CountLiveKeys();
  // Migrates a data dir of an older layout (see the top of this file); refuses a newer one.
  // `data_options`: those of `data`, which a migration creates anew.
  Status MigrateLayout(const rocksdb::ColumnFamilyOptions& data_options);
  Status CopyForMigration(const rocksdb::ColumnFamilyOptions& data_options, uint64_t* copied);
  Status RefillFromMigration(uint64_t* moved);
  // Drops `*cf` if not null and sets it to null. `name` names it in errors.
  Status DropColumnFamily(rocksdb::ColumnFamilyHandle** cf, const char* name);
  // What ApplyIfNewer and ApplyBatch compare against: the stored header of `key` (nullopt:
  // none), from `slot` when it holds the key. REQUIRES: the key's stripe mutex held.
  Result<std::optional<VersionHeader>> StoredHeader(std::string_view key, uint64_t key_hash,
                                                    const HeaderSlot* slot);
  std::string Where() const;                // "data dir /x": how messages name this engine.
  Status InDataDir(const Status& s) const;  // `s` with Where() in front of its message.

  const Options options_;
  std::unique_ptr<rocksdb::Env> env_;  // The fault file system's, when faults are injected.
  std::unique_ptr<rocksdb::DB> db_;    // Closed by the destructor, before env_ goes.
  Handles handles_;                    // Owned; destroyed before db_ is closed.
  std::array<Stripe, kApplyStripes> stripes_;
  // Keys whose stored version is not a tombstone. Changed only under the key's stripe mutex,
  // right after the write that changed the key's liveness.
  std::atomic<uint64_t> live_keys_{0};
  // Told of every change, under the key's stripe mutex (see ChangeObserver).
  std::atomic<ChangeObserver*> observer_{nullptr};
  // Set by Open before the engine is shared, then only read.
  std::shared_ptr<WriteStallTracker> stalls_;  // Also registered with RocksDB as a listener.
  uint64_t recovery_micros_ = 0;
};

}  // namespace dialkv::storage
