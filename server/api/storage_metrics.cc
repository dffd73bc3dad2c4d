#include "server/api/storage_metrics.h"

namespace dialkv::api {
namespace {

constexpr double kMicrosPerSecond = 1e6;

double Seconds(uint64_t micros) { return static_cast<double>(micros) / kMicrosPerSecond; }

metrics::Gauge& Single(metrics::Registry& registry, std::string_view name, std::string_view help) {
  return registry.AddGauge(name, help).Get();
}

}  // namespace

StorageMetrics::StorageMetrics(const storage::RocksEngine& engine, metrics::Registry& registry)
    : engine_(engine),
      data_dir_bytes_(Single(registry, "dialkv_storage_data_dir_bytes",
                             "Bytes of every file in the data dir (apparent size, as du "
                             "--apparent-size counts them).")),
      wal_bytes_(Single(registry, "dialkv_storage_wal_bytes",
                        "Bytes of the live write-ahead log files: what a restart replays.")),
      wal_files_(Single(registry, "dialkv_storage_wal_files", "Live write-ahead log files.")),
      write_stalls_(registry
                        .AddCounter("dialkv_storage_write_stalls_total",
                                    "Periods during which RocksDB delayed or stopped writes "
                                    "because flushes or compactions fell behind.")
                        .Get()),
      write_stall_seconds_(Single(registry, "dialkv_storage_write_stall_seconds",
                                  "Seconds writes were delayed or stopped by RocksDB since the "
                                  "node started (only grows).")),
      longest_write_stall_seconds_(
          Single(registry, "dialkv_storage_longest_write_stall_seconds",
                 "The longest period writes were delayed or stopped since the node started.")),
      write_stalled_(Single(registry, "dialkv_storage_write_stalled",
                            "1 while RocksDB delays or stops writes, else 0.")),
      recovery_seconds_(Single(registry, "dialkv_storage_recovery_seconds",
                               "How long opening the data dir took when the node started "
                               "(RocksDB's WAL replay and the key count).")) {
  metrics::GaugeFamily& sst = registry.AddGauge(
      "dialkv_storage_sst_bytes", "Bytes of live SST files, by column family.", {"cf"});
  metrics::GaugeFamily& live = registry.AddGauge(
      "dialkv_storage_live_data_bytes",
      "RocksDB's estimate of the bytes of data without obsolete versions, by column family.",
      {"cf"});
  metrics::GaugeFamily& memtables =
      registry.AddGauge("dialkv_storage_memtable_bytes",
                        "Bytes of active and unflushed memtables, by column family.", {"cf"});
  metrics::GaugeFamily& pending = registry.AddGauge(
      "dialkv_storage_pending_compaction_bytes",
      "RocksDB's estimate of the bytes compaction must rewrite, by column family.", {"cf"});
  metrics::GaugeFamily& l0 = registry.AddGauge("dialkv_storage_l0_files",
                                               "SST files in level 0, by column family.", {"cf"});
  for (const storage::StorageStats::ColumnFamily& cf : engine_.Stats().column_families) {
    column_families_.push_back({&sst.WithLabels({cf.name}), &live.WithLabels({cf.name}),
                                &memtables.WithLabels({cf.name}), &pending.WithLabels({cf.name}),
                                &l0.WithLabels({cf.name})});
  }
}

void StorageMetrics::Refresh() {
  const storage::StorageStats stats = engine_.Stats();
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < column_families_.size() && i < stats.column_families.size(); ++i) {
    const storage::StorageStats::ColumnFamily& cf = stats.column_families[i];
    const PerColumnFamily& gauges = column_families_[i];
    gauges.sst_bytes->Set(static_cast<double>(cf.sst_bytes));
    gauges.live_data_bytes->Set(static_cast<double>(cf.live_data_bytes));
    gauges.memtable_bytes->Set(static_cast<double>(cf.memtable_bytes));
    gauges.pending_compaction_bytes->Set(static_cast<double>(cf.pending_compaction_bytes));
    gauges.l0_files->Set(static_cast<double>(cf.l0_files));
  }
  data_dir_bytes_.Set(static_cast<double>(stats.data_dir_bytes));
  wal_bytes_.Set(static_cast<double>(stats.wal_bytes));
  wal_files_.Set(static_cast<double>(stats.wal_files));
  if (stats.write_stalls > write_stalls_seen_) {
    write_stalls_.Inc(stats.write_stalls - write_stalls_seen_);
    write_stalls_seen_ = stats.write_stalls;
  }
  write_stall_seconds_.Set(Seconds(stats.write_stall_micros));
  longest_write_stall_seconds_.Set(Seconds(stats.longest_write_stall_micros));
  write_stalled_.Set(stats.write_stalled_now ? 1 : 0);
  recovery_seconds_.Set(Seconds(stats.recovery_micros));
}

v1::StorageStatus ToStorageStatus(const storage::StorageStats& stats) {
  v1::StorageStatus status;
  status.set_data_dir_bytes(stats.data_dir_bytes);
  status.set_sst_bytes(stats.sst_bytes);
  status.set_live_data_bytes(stats.live_data_bytes);
  status.set_wal_bytes(stats.wal_bytes);
  status.set_memtable_bytes(stats.memtable_bytes);
  status.set_pending_compaction_bytes(stats.pending_compaction_bytes);
  status.set_write_stalls(stats.write_stalls);
  status.set_write_stall_ms(stats.write_stall_micros / 1000);
  status.set_longest_write_stall_ms(stats.longest_write_stall_micros / 1000);
  status.set_recovery_ms(stats.recovery_micros / 1000);
  return status;
}

}  // namespace dialkv::api
