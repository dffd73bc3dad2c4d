#include "server/storage/disk_monitor.h"

#include <sys/statvfs.h>

#include <utility>

#include "server/common/logging.h"

namespace dialkv::storage {

std::optional<uint64_t> FreeDiskBytes(const std::string& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_frsize);
}

DiskMonitor::DiskMonitor(Options options, std::shared_ptr<DiskHealth> health,
                         std::shared_ptr<DiskFaults> faults, std::function<Status()> resume)
    : options_(std::move(options)),
      health_(std::move(health)),
      faults_(std::move(faults)),
      resume_(std::move(resume)) {
  health_->SetProbe([this] { return Measure(); });
  CheckOnce();
  thread_ = std::thread([this] { Run(); });
}

DiskMonitor::~DiskMonitor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  health_->SetProbe(nullptr);
}

void DiskMonitor::CheckSoon() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

std::optional<uint64_t> DiskMonitor::Measure() const {
  if (faults_ != nullptr) {
    if (std::optional<uint64_t> injected = faults_->FreeSpaceOverride(); injected.has_value()) {
      return injected;
    }
  }
  return FreeDiskBytes(options_.path);
}

void DiskMonitor::CheckOnce() {
  if (const std::optional<uint64_t> free = Measure(); free.has_value()) {
    health_->ReportFreeSpace(*free);
  }
  if (!health_->storage_error() || health_->alarm().low_space) return;
  const Status resumed = resume_();
  if (resumed.ok()) {
    if (failed_resumes_ > 0) {
      Log(Subsystem::kStorage)
          .warn("data dir {}: writes resumed after {} failed attempt(s)", options_.path,
                failed_resumes_);
    } else {
      Log(Subsystem::kStorage).warn("data dir {}: writes resumed", options_.path);
    }
    failed_resumes_ = 0;
    return;
  }
  if (failed_resumes_++ % 30 == 0) {
    Log(Subsystem::kStorage)
        .error("data dir {}: cannot resume writes yet ({} attempt(s)): {}", options_.path,
               failed_resumes_, resumed.message());
  }
}

void DiskMonitor::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, options_.interval, [this] { return stop_ || wake_; });
    if (stop_) break;
    wake_ = false;
    lock.unlock();
    CheckOnce();
    lock.lock();
  }
}

}  // namespace dialkv::storage
