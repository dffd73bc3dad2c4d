#pragma once
// Internal to storage/: the RocksDB listener behind StorageStats' write-stall figures.

#include <rocksdb/listener.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace dialkv::storage {

// Counts write stalls and times them: a stall starts when some column family's writes go
// from normal to delayed or stopped, and ends when every column family is normal again.
// RocksDB calls it from its background threads. Thread-safe.
class WriteStallTracker final : public rocksdb::EventListener {
 public:
  struct Totals {
    uint64_t stalls = 0;
    uint64_t micros = 0;  // Finished stalls plus the one in progress so far.
    uint64_t longest_micros = 0;
    bool stalled_now = false;
  };

  void OnStallConditionsChanged(const rocksdb::WriteStallInfo& info) override;
  Totals Get() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  mutable std::mutex mu_;                // Guards everything below.
  std::map<std::string, bool> stalled_;  // Column family -> not normal now.
  size_t stalled_count_ = 0;             // Entries of stalled_ that are true.
  TimePoint since_{};                    // Start of the stall in progress.
  Totals totals_;                        // Finished stalls; stalls counts the one in progress.
};

}  // namespace dialkv::storage
