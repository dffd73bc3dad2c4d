#include "server/storage/disk_health.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "server/common/logging.h"

namespace dialkv::storage {
namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Mib(uint64_t bytes) {
  const uint64_t tenths = bytes * 10 / (uint64_t{1} << 20);
  return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " MiB";
}

}  // namespace

DiskHealth::DiskHealth(std::string data_dir, uint64_t min_free_bytes)
    : data_dir_(std::move(data_dir)), min_free_bytes_(min_free_bytes) {}

void DiskHealth::SetProbe(std::function<std::optional<uint64_t>()> probe) {
  std::lock_guard<std::mutex> lock(mu_);
  probe_ = std::move(probe);
}

Status DiskHealth::CheckWrite(uint64_t bytes) {
  if (!raised_.load(std::memory_order_acquire)) {
    if (min_free_bytes_ == 0) return Status::Ok();
    const uint64_t charge = 2 * bytes;
    const uint64_t charged = charged_.fetch_add(charge, std::memory_order_relaxed) + charge;
    const uint64_t free = reported_free_.load(std::memory_order_relaxed);
    if (free >= min_free_bytes_ && free - min_free_bytes_ >= charged) return Status::Ok();
    // The estimate says this write would cross the watermark: measure before refusing.
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t measured = free;
    if (probe_) {
      if (const std::optional<uint64_t> probed = probe_(); probed.has_value()) {
        measured = *probed;
        reported_free_.store(measured, std::memory_order_relaxed);
        charged_.store(charge, std::memory_order_relaxed);
        if (measured >= min_free_bytes_ && measured - min_free_bytes_ >= charge) {
          return Status::Ok();
        }
      }
    }
    if (measured < min_free_bytes_ && !low_space_) {
      low_space_ = true;
      UpdateLocked();
    }
    if (low_space_ || !storage_error_what_.empty()) return Status::Unavailable(MessageLocked());
    return Status::Unavailable("data dir " + data_dir_ + " refused a write of " +
                               std::to_string(bytes) + " bytes: its file system has " +
                               Mib(measured) + " free, and the write would leave less than " +
                               "--min-free-disk-bytes " + Mib(min_free_bytes_));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!low_space_ && storage_error_what_.empty()) return Status::Ok();  // Cleared meanwhile.
  return Status::Unavailable(MessageLocked());
}

void DiskHealth::ReportFreeSpace(uint64_t free_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  reported_free_.store(free_bytes, std::memory_order_relaxed);
  charged_.store(0, std::memory_order_relaxed);
  if (min_free_bytes_ == 0) return;
  const uint64_t margin = std::min(kClearMarginBytes, min_free_bytes_ / 10);
  if (!low_space_ && free_bytes < min_free_bytes_) {
    low_space_ = true;
    UpdateLocked();
  } else if (low_space_ && free_bytes >= min_free_bytes_ + margin) {
    low_space_ = false;
    UpdateLocked();
  }
}

void DiskHealth::RaiseStorageError(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool first = storage_error_what_.empty();
  storage_error_what_ = what.empty() ? "a write failed" : what;
  if (first) UpdateLocked();
}

void DiskHealth::ClearStorageError() {
  std::lock_guard<std::mutex> lock(mu_);
  if (storage_error_what_.empty()) return;
  storage_error_what_.clear();
  UpdateLocked();
}

DiskAlarm DiskHealth::alarm() const {
  std::lock_guard<std::mutex> lock(mu_);
  return AlarmLocked(/*with_message=*/true);
}

DiskAlarm DiskHealth::AlarmWithoutMessage() const {
  std::lock_guard<std::mutex> lock(mu_);
  return AlarmLocked(/*with_message=*/false);
}

DiskAlarm DiskHealth::AlarmLocked(bool with_message) const {
  DiskAlarm alarm;
  alarm.low_space = low_space_;
  alarm.storage_error = !storage_error_what_.empty();
  if (with_message && alarm.raised()) alarm.message = MessageLocked();
  alarm.since_ms = since_ms_;
  const uint64_t free = reported_free_.load(std::memory_order_relaxed);
  const uint64_t charged = charged_.load(std::memory_order_relaxed);
  alarm.free_bytes = free == UINT64_MAX ? 0 : free - std::min(free, charged);
  alarm.min_free_bytes = min_free_bytes_;
  alarm.raised_total = raised_total_;
  return alarm;
}

void DiskHealth::UpdateLocked() {
  const bool raised = low_space_ || !storage_error_what_.empty();
  const bool was = raised_.load(std::memory_order_relaxed);
  storage_error_.store(!storage_error_what_.empty(), std::memory_order_release);
  raised_.store(raised, std::memory_order_release);
  if (raised && !was) {
    since_ms_ = WallMs();
    ++raised_total_;
    Log(Subsystem::kStorage).error("DISK ALARM: {}", MessageLocked());
  } else if (!raised && was) {
    since_ms_ = 0;
    Log(Subsystem::kStorage).warn("disk alarm cleared: data dir {} takes writes again", data_dir_);
  } else if (raised) {
    Log(Subsystem::kStorage).error("DISK ALARM (still raised): {}", MessageLocked());
  }
}

std::string DiskHealth::MessageLocked() const {
  std::string message = "data dir " + data_dir_ + " takes no writes: ";
  if (low_space_) {
    const uint64_t free = reported_free_.load(std::memory_order_relaxed);
    const uint64_t margin = std::min(kClearMarginBytes, min_free_bytes_ / 10);
    message += "its file system has " +
               (free == UINT64_MAX ? std::string("an unknown amount") : Mib(free)) +
               " free, below --min-free-disk-bytes " + Mib(min_free_bytes_) +
               "; free space on it (writes resume by themselves at " +
               Mib(min_free_bytes_ + margin) + " free)";
    if (!storage_error_what_.empty()) message += "; and ";
  }
  if (!storage_error_what_.empty()) {
    message += "the storage engine failed to write (" + storage_error_what_ +
               "); the node retries by itself once the cause is gone";
  }
  return message;
}

}  // namespace dialkv::storage
