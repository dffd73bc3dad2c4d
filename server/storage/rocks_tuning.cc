#include "server/storage/rocks_tuning.h"

#include <rocksdb/advanced_options.h>
#include <rocksdb/convenience.h>
#include <rocksdb/options.h>
#include <rocksdb/rate_limiter.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace dialkv::storage {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
// Taken when the machine's memory cannot be read: small enough not to overcommit a container.
constexpr uint64_t kUnknownMemoryBytes = uint64_t{2} << 30;
// The derived memtable budget: this share of memory, within these bounds. A node also needs
// memory for the block cache, the header cache, connections and replication queues.
constexpr uint64_t kMemoryPerMemtableBudget = 32;
constexpr uint64_t kMinMemtableBudgetBytes = 64 * kMiB;
constexpr uint64_t kMaxMemtableBudgetBytes = 512 * kMiB;
// The derived write buffer of `data`: this share of the budget, within these bounds. Past
// 64 MiB a bigger memtable buys little (flushes are already large) and costs replay time.
// The budget also holds the memtables being flushed and those of the other column families.
constexpr uint64_t kBudgetPerWriteBuffer = 32;
constexpr uint64_t kMinWriteBufferBytes = 4 * kMiB;
constexpr uint64_t kMaxWriteBufferBytes = 64 * kMiB;
// RocksDB refuses write buffers below 64 KiB.
constexpr uint64_t kSmallestWriteBufferBytes = 64 << 10;

}  // namespace

uint64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_bytes = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_bytes <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_bytes);
}

ResolvedTuning Resolve(const RocksTuning& tuning, uint64_t memory_bytes) {
  if (memory_bytes == 0) memory_bytes = kUnknownMemoryBytes;
  ResolvedTuning resolved;
  resolved.memtable_budget_bytes =
      tuning.memtable_budget_bytes != 0
          ? tuning.memtable_budget_bytes
          : std::clamp(memory_bytes / kMemoryPerMemtableBudget, kMinMemtableBudgetBytes,
                       kMaxMemtableBudgetBytes);
  resolved.write_buffer_bytes =
      tuning.write_buffer_bytes != 0
          ? tuning.write_buffer_bytes
          : std::clamp(resolved.memtable_budget_bytes / kBudgetPerWriteBuffer, kMinWriteBufferBytes,
                       kMaxWriteBufferBytes);
  return resolved;
}

Status ApplyTuning(const RocksTuning& tuning, uint64_t memory_bytes, rocksdb::DBOptions* db,
                   rocksdb::ColumnFamilyOptions* data, rocksdb::ColumnFamilyOptions* small) {
  if (tuning.max_write_buffers < 2) {
    return Status::InvalidArgument("RocksDB max write buffers must be at least 2, not " +
                                   std::to_string(tuning.max_write_buffers));
  }
  if (tuning.max_background_jobs < 1) {
    return Status::InvalidArgument("RocksDB background jobs must be at least 1, not " +
                                   std::to_string(tuning.max_background_jobs));
  }
  const ResolvedTuning resolved = Resolve(tuning, memory_bytes);
  if (resolved.write_buffer_bytes < kSmallestWriteBufferBytes ||
      tuning.small_write_buffer_bytes < kSmallestWriteBufferBytes) {
    return Status::InvalidArgument("RocksDB write buffers must be at least 64 KiB");
  }

  db->max_total_wal_size = tuning.max_total_wal_bytes;
  db->db_write_buffer_size = resolved.memtable_budget_bytes;
  db->atomic_flush = tuning.flush_together;
  db->wal_compression = tuning.wal_compression ? rocksdb::kZSTD : rocksdb::kNoCompression;
  db->max_background_jobs = tuning.max_background_jobs;
  db->allow_fallocate = tuning.preallocate_files;
  if (tuning.compaction_rate_bytes > 0) {
    db->rate_limiter.reset(rocksdb::NewGenericRateLimiter(
        static_cast<int64_t>(tuning.compaction_rate_bytes), 100 * 1000, 10,
        rocksdb::RateLimiter::Mode::kWritesOnly, /*auto_tuned=*/true));
  }

  for (rocksdb::ColumnFamilyOptions* cf : {data, small}) {
    cf->compaction_style = rocksdb::kCompactionStyleLevel;
    // Levels sized from the last one up: at most ~10% of the data is obsolete versions, for
    // any data size, instead of RocksDB's fixed 256 MiB first level.
    cf->level_compaction_dynamic_level_bytes = true;
    cf->max_write_buffer_number = tuning.max_write_buffers;
  }
  data->write_buffer_size = resolved.write_buffer_bytes;
  small->write_buffer_size = tuning.small_write_buffer_bytes;

  rocksdb::ConfigOptions config;
  config.ignore_unknown_options = false;
  if (!tuning.db_options.empty()) {
    const rocksdb::DBOptions base = *db;
    const rocksdb::Status s = rocksdb::GetDBOptionsFromString(config, base, tuning.db_options, db);
    if (!s.ok()) {
      return Status::InvalidArgument("RocksDB DB options '" + tuning.db_options +
                                     "' not accepted: " + s.ToString());
    }
  }
  if (!tuning.data_cf_options.empty()) {
    const rocksdb::ColumnFamilyOptions base = *data;
    const rocksdb::Status s =
        rocksdb::GetColumnFamilyOptionsFromString(config, base, tuning.data_cf_options, data);
    if (!s.ok()) {
      return Status::InvalidArgument("RocksDB data column family options '" +
                                     tuning.data_cf_options + "' not accepted: " + s.ToString());
    }
  }
  return Status::Ok();
}

}  // namespace dialkv::storage
