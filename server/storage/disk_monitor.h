#pragma once
// Watches a node's data dir so the disk alarm (disk_health.h) goes up and down by itself: a
// thread that, every `interval`, measures the free space of the data dir's file system
// (statvfs, or what injected faults say) and reports it, and, while the storage engine is in
// its error state and space is above the watermark, asks the engine to resume writing. A
// resume that fails is tried again at the next check; the first failure and every 30th after
// it are logged.
//
// Thread-safe. The destructor stops the thread and waits for it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "server/common/status.h"
#include "server/storage/disk_faults.h"
#include "server/storage/disk_health.h"

namespace dialkv::storage {

// The free space (bytes available to an unprivileged user) of the file system holding `path`;
// nullopt when it cannot be measured.
std::optional<uint64_t> FreeDiskBytes(const std::string& path);

class DiskMonitor {
 public:
  struct Options {
    std::string path;  // The data dir.
    std::chrono::milliseconds interval{1000};
  };

  // `faults`: null when none are injected. `resume`: the engine's Resume. Installs the free
  // space probe in `health` and measures once before returning.
  DiskMonitor(Options options, std::shared_ptr<DiskHealth> health,
              std::shared_ptr<DiskFaults> faults, std::function<Status()> resume);
  ~DiskMonitor();
  DiskMonitor(const DiskMonitor&) = delete;
  DiskMonitor& operator=(const DiskMonitor&) = delete;

  // Checks now instead of at the next interval (after injected faults changed). Returns at once.
  void CheckSoon();

 private:
  std::optional<uint64_t> Measure() const;
  void CheckOnce();
  void Run();

  const Options options_;
  const std::shared_ptr<DiskHealth> health_;
  const std::shared_ptr<DiskFaults> faults_;
  const std::function<Status()> resume_;
  uint64_t failed_resumes_ = 0;  // Used by the thread only.

  std::mutex mu_;  // Guards stop_ and wake_.
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;  // Last: started once everything else is set.
};

}  // namespace dialkv::storage
