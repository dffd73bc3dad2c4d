#include "server/storage/disk_faults.h"

#include <rocksdb/file_system.h>

#include <string>
#include <utility>

namespace dialkv::storage {
namespace {

rocksdb::IOStatus Fail(DiskFault fault, const std::string& file) {
  if (fault == DiskFault::kFull) {
    return rocksdb::IOStatus::NoSpace("injected fault: no space left on device", file);
  }
  return rocksdb::IOStatus::IOError("injected fault: input/output error (EIO)", file);
}

// Every byte appended to a file charges the budget; syncs fail once it is spent.
class FaultWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name,
                    std::shared_ptr<DiskFaults> faults)
      : FSWritableFileOwnerWrapper(std::move(file)),
        name_(std::move(name)),
        faults_(std::move(faults)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (const DiskFault f = faults_->Charge(data.size()); f != DiskFault::kNone) {
      return Fail(f, name_);
    }
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (const DiskFault f = faults_->Charge(data.size()); f != DiskFault::kNone) {
      return Fail(f, name_);
    }
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* dbg) override {
    if (const DiskFault f = faults_->Charge(data.size()); f != DiskFault::kNone) {
      return Fail(f, name_);
    }
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& info,
                                     rocksdb::IODebugContext* dbg) override {
    if (const DiskFault f = faults_->Charge(data.size()); f != DiskFault::kNone) {
      return Fail(f, name_);
    }
    return FSWritableFileOwnerWrapper::PositionedAppend(data, offset, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options, rocksdb::IODebugContext* dbg) override {
    if (const DiskFault f = faults_->Current(); f != DiskFault::kNone) return Fail(f, name_);
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (const DiskFault f = faults_->Current(); f != DiskFault::kNone) return Fail(f, name_);
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* dbg) override {
    if (const DiskFault f = faults_->Current(); f != DiskFault::kNone) return Fail(f, name_);
    return FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, options, dbg);
  }

 private:
  const std::string name_;
  const std::shared_ptr<DiskFaults> faults_;
};

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base,
                  std::shared_ptr<DiskFaults> faults)
      : FileSystemWrapper(base), faults_(std::move(faults)) {}

  static const char* kClassName() { return "DialkvFaultFileSystem"; }
  const char* Name() const override { return kClassName(); }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    return Wrap(name, target()->NewWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override {
    return Wrap(name, target()->ReopenWritableFile(name, options, result, dbg), result);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old_name,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    return Wrap(name, target()->ReuseWritableFile(name, old_name, options, result, dbg), result);
  }

 private:
  rocksdb::IOStatus Wrap(const std::string& name, rocksdb::IOStatus opened,
                         std::unique_ptr<rocksdb::FSWritableFile>* result) {
    if (!opened.ok()) return opened;
    if (const DiskFault f = faults_->Current(); f != DiskFault::kNone) {
      result->reset();
      return Fail(f, name);
    }
    *result = std::make_unique<FaultWritableFile>(std::move(*result), name, faults_);
    return opened;
  }

  const std::shared_ptr<DiskFaults> faults_;
};

}  // namespace

std::string_view DiskFaultName(DiskFault fault) {
  switch (fault) {
    case DiskFault::kNone:
      return "none";
    case DiskFault::kFull:
      return "full";
    case DiskFault::kIoError:
      return "io_error";
  }
  return "unknown";
}

void DiskFaults::Set(DiskFault fault, uint64_t budget_bytes) {
  budget_.store(budget_bytes, std::memory_order_relaxed);
  fault_.store(fault, std::memory_order_release);
}

DiskFault DiskFaults::Charge(uint64_t bytes) {
  const DiskFault fault = fault_.load(std::memory_order_acquire);
  if (fault == DiskFault::kNone) return DiskFault::kNone;
  uint64_t left = budget_.load(std::memory_order_relaxed);
  while (left >= bytes) {
    if (budget_.compare_exchange_weak(left, left - bytes, std::memory_order_relaxed)) {
      return DiskFault::kNone;
    }
  }
  budget_.store(0, std::memory_order_relaxed);  // A write that does not fit spends the rest.
  return fault;
}

DiskFault DiskFaults::Current() const {
  const DiskFault fault = fault_.load(std::memory_order_acquire);
  if (fault == DiskFault::kNone || budget_.load(std::memory_order_relaxed) > 0) {
    return DiskFault::kNone;
  }
  return fault;
}

std::optional<uint64_t> DiskFaults::FreeSpaceOverride() const {
  if (fault_.load(std::memory_order_acquire) != DiskFault::kFull) return std::nullopt;
  return budget_.load(std::memory_order_relaxed);
}

std::shared_ptr<rocksdb::FileSystem> NewFaultFileSystem(std::shared_ptr<DiskFaults> faults,
                                                        std::shared_ptr<rocksdb::FileSystem> base) {
  if (base == nullptr) base = rocksdb::FileSystem::Default();
  return std::make_shared<FaultFileSystem>(std::move(base), std::move(faults));
}

}  // namespace dialkv::storage
