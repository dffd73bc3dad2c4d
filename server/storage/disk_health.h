#pragma once
// Whether a node's data dir can take writes: the disk alarm.
//
// Two causes raise it, and each clears on its own:
//   low space      the file system of the data dir has less free space than the watermark
//                  (--min-free-disk-bytes), as measured; cleared by a measurement at or above
//                  the watermark plus a margin (kClearMarginBytes, or a tenth of the watermark
//                  if that is smaller), so a disk hovering at the line does not flap.
//   storage error  the storage engine failed to write (no space left, an I/O error, a
//                  background flush or compaction that failed). Raised by the engine; cleared
//                  by the engine once it has resumed writing (see DiskMonitor).
// While either is raised, CheckWrite refuses data and hint writes with kUnavailable naming the
// data dir and the cause; reads go on. Small metadata writes (the clock's persisted bound) are
// not gated by the watermark: the watermark leaves room for them, and refusing them would stop
// reads that need a timestamp.
//
// Between two reports the free space is estimated: every write admitted by CheckWrite is
// charged twice its bytes (the write-ahead log, then the table file a flush writes), so a burst
// of writes meets the watermark before the disk does, without a system call per write. When
// the estimate says a write would cross the watermark, the free space is measured (the probe):
// a write that would still take it below the watermark is refused on its own, and the alarm
// goes up once the measured free space is below it.
//
// Thread-safe; CheckWrite takes no lock while the alarm is down.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "server/common/status.h"

namespace dialkv::storage {

// A copy of the alarm, for status, /health and /metrics.
struct DiskAlarm {
  bool low_space = false;
  bool storage_error = false;
  std::string message;      // Why writes are refused (empty when they are not).
  int64_t since_ms = 0;     // Wall-clock ms (Unix epoch) the current alarm was raised; 0: none.
  uint64_t free_bytes = 0;  // The last reported free space (estimated since).
  uint64_t min_free_bytes = 0;
  uint64_t raised_total = 0;  // Times the alarm went up since start.

  bool raised() const { return low_space || storage_error; }
};

class DiskHealth {
 public:
  // Hysteresis: low space clears only once free space is this much above the watermark.
  static constexpr uint64_t kClearMarginBytes = uint64_t{64} << 20;

  // `data_dir` names the data dir in messages; `min_free_bytes` is the watermark (0: none).
  DiskHealth(std::string data_dir, uint64_t min_free_bytes);

  // Measures the free space now (nullopt: cannot). CheckWrite calls it, under the lock, when
  // the estimate says a write would cross the watermark, instead of refusing on an estimate.
  void SetProbe(std::function<std::optional<uint64_t>()> probe);

  // OK, or kUnavailable saying why the data dir takes no writes. `bytes` is the size of the
  // write, charged against the estimated free space when admitted.
  Status CheckWrite(uint64_t bytes);

  // The free space of the data dir's file system, as just measured.
  void ReportFreeSpace(uint64_t free_bytes);

  // The storage engine failed to write; `what` says how (quoted in the refusal).
  void RaiseStorageError(const std::string& what);
  // The storage engine writes again.
  void ClearStorageError();
  bool storage_error() const { return storage_error_.load(std::memory_order_acquire); }
  // Whether writes are refused now (either cause). Lock-free.
  bool raised() const { return raised_.load(std::memory_order_acquire); }

  DiskAlarm alarm() const;
  // The same without its message (left empty, nothing allocated): for metrics, sampled often.
  DiskAlarm AlarmWithoutMessage() const;
  const std::string& data_dir() const { return data_dir_; }
  uint64_t min_free_bytes() const { return min_free_bytes_; }

 private:
  // REQUIRES: mu_ held.
  void UpdateLocked();
  DiskAlarm AlarmLocked(bool with_message) const;  // REQUIRES: mu_ held.
  std::string MessageLocked() const;

  const std::string data_dir_;
  const uint64_t min_free_bytes_;
  // True while the alarm is up: CheckWrite's lock-free test.
  std::atomic<bool> raised_{false};
  std::atomic<bool> storage_error_{false};
  // Bytes admitted since the last ReportFreeSpace, times two (see the header comment).
  std::atomic<uint64_t> charged_{0};
  // The free space last reported; UINT64_MAX until the first report.
  std::atomic<uint64_t> reported_free_{UINT64_MAX};

  mutable std::mutex mu_;  // Guards what follows.
  std::function<std::optional<uint64_t>()> probe_;
  bool low_space_ = false;
  std::string storage_error_what_;
  int64_t since_ms_ = 0;
  uint64_t raised_total_ = 0;
};

}  // namespace dialkv::storage
