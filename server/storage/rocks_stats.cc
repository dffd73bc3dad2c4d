// RocksEngine::Stats and the write-stall listener: RocksDB's properties per column family, the
// live WAL files, and a walk of the data dir for what `du` would say.

#include "server/storage/rocks_stats.h"

#include <rocksdb/db.h>
#include <rocksdb/transaction_log.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "server/storage/rocksdb_engine.h"

namespace dialkv::storage {
namespace {

uint64_t ElapsedMicros(std::chrono::steady_clock::time_point since) {
  const auto elapsed = std::chrono::steady_clock::now() - since;
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
}

uint64_t IntProperty(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const std::string& name) {
  uint64_t value = 0;
  if (!db.GetIntProperty(cf, name, &value)) return 0;
  return value;
}

// A property RocksDB gives only as text ("rocksdb.num-files-at-level<N>").
uint64_t TextProperty(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const std::string& name) {
  std::string value;
  if (!db.GetProperty(cf, name, &value)) return 0;
  return std::strtoull(value.c_str(), nullptr, 10);
}

// Apparent sizes of the files under `path`, like `du --apparent-size`. Files RocksDB deletes
// while the walk runs are skipped.
uint64_t DirectoryBytes(const std::string& path) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  fs::recursive_directory_iterator it(path, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code size_ec;
    if (!it->is_regular_file(size_ec)) continue;
    const uintmax_t size = it->file_size(size_ec);
    if (!size_ec) total += size;
  }
  return total;
}

}  // namespace

void WriteStallTracker::OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) {
  const bool stalled = info.condition.cur != rocksdb::WriteStallCondition::kNormal;
  std::lock_guard<std::mutex> lock(mu_);
  bool& was = stalled_[info.cf_name];
  if (was == stalled) return;
  was = stalled;
  if (stalled) {
    if (stalled_count_++ == 0) {
      since_ = std::chrono::steady_clock::now();
      ++totals_.stalls;
    }
    return;
  }
  if (--stalled_count_ == 0) {
    const uint64_t micros = ElapsedMicros(since_);
    totals_.micros += micros;
    totals_.longest_micros = std::max(totals_.longest_micros, micros);
  }
}

WriteStallTracker::Totals WriteStallTracker::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  Totals totals = totals_;
  if (stalled_count_ > 0) {
    const uint64_t so_far = ElapsedMicros(since_);
    totals.micros += so_far;
    totals.longest_micros = std::max(totals.longest_micros, so_far);
    totals.stalled_now = true;
  }
  return totals;
}

StorageStats RocksEngine::Stats() const {
  StorageStats stats;
  const std::pair<const char*, rocksdb::ColumnFamilyHandle*> families[] = {
      {"default", handles_.default_cf},
      {"data", handles_.data},
      {"hints", handles_.hints},
      {"meta", handles_.meta},
  };
  rocksdb::DB& db = *db_;
  for (const auto& [name, handle] : families) {
    StorageStats::ColumnFamily cf;
    cf.name = name;
    cf.sst_bytes = IntProperty(db, handle, rocksdb::DB::Properties::kLiveSstFilesSize);
    cf.live_data_bytes = IntProperty(db, handle, rocksdb::DB::Properties::kEstimateLiveDataSize);
    cf.memtable_bytes = IntProperty(db, handle, rocksdb::DB::Properties::kCurSizeAllMemTables);
    cf.pending_compaction_bytes =
        IntProperty(db, handle, rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
    cf.l0_files = TextProperty(db, handle, rocksdb::DB::Properties::kNumFilesAtLevelPrefix + "0");
    stats.sst_bytes += cf.sst_bytes;
    stats.live_data_bytes += cf.live_data_bytes;
    stats.memtable_bytes += cf.memtable_bytes;
    stats.pending_compaction_bytes += cf.pending_compaction_bytes;
    stats.column_families.push_back(std::move(cf));
  }
  rocksdb::VectorLogPtr wal_files;
  if (db.GetSortedWalFiles(wal_files).ok()) {
    for (const std::unique_ptr<rocksdb::LogFile>& file : wal_files) {
      if (file->Type() != rocksdb::kAliveLogFile) continue;
      stats.wal_bytes += file->SizeFileBytes();
      ++stats.wal_files;
    }
  }
  stats.data_dir_bytes = DirectoryBytes(options_.path);
  if (stalls_ != nullptr) {
    const WriteStallTracker::Totals stalls = stalls_->Get();
    stats.write_stalls = stalls.stalls;
    stats.write_stall_micros = stalls.micros;
    stats.longest_write_stall_micros = stalls.longest_micros;
    stats.write_stalled_now = stalls.stalled_now;
  }
  stats.recovery_micros = recovery_micros_;
  return stats;
}

}  // namespace dialkv::storage
