#pragma once
// The storage engine's figures in /metrics (dialkv_storage_*): disk per column family, live
// WAL, memtables, pending compaction, write stalls and the last recovery's length. RocksDB is
// asked at each scrape (Refresh, just before the registry is exposed), not on a timer: what
// /metrics shows is current, and a node nobody scrapes pays nothing.
// Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "proto/dialkv.pb.h"
#include "server/common/metrics.h"
#include "server/storage/rocksdb_engine.h"

namespace dialkv::api {

class StorageMetrics {
 public:
  // Registers the families. Both must outlive this object; not owned.
  StorageMetrics(const storage::RocksEngine& engine, metrics::Registry& registry);

  // Reads the engine's statistics into the families. Call before Registry::Expose().
  void Refresh();

 private:
  struct PerColumnFamily {
    metrics::Gauge* sst_bytes;
    metrics::Gauge* live_data_bytes;
    metrics::Gauge* memtable_bytes;
    metrics::Gauge* pending_compaction_bytes;
    metrics::Gauge* l0_files;
  };

  const storage::RocksEngine& engine_;
  std::mutex mu_;  // Serializes Refresh: the stall counter advances by what it has not seen.
  std::vector<PerColumnFamily> column_families_;  // In StorageStats' order.
  metrics::Gauge& data_dir_bytes_;
  metrics::Gauge& wal_bytes_;
  metrics::Gauge& wal_files_;
  metrics::Counter& write_stalls_;
  uint64_t write_stalls_seen_ = 0;  // Guarded by mu_.
  metrics::Gauge& write_stall_seconds_;
  metrics::Gauge& longest_write_stall_seconds_;
  metrics::Gauge& write_stalled_;
  metrics::Gauge& recovery_seconds_;
};

// The engine's statistics as `dialkv status` receives them.
v1::StorageStatus ToStorageStatus(const storage::StorageStats& stats);

}  // namespace dialkv::api
