#pragma once
// Injected disk trouble, for tests and the fault-injection admin requests: a switch the
// storage engine's file system consults on every write (RocksEngine::Options::faults).
//
//   kNone     writes go to the disk.
//   kFull     the disk is full: once `budget_bytes` more bytes have been appended, every write
//             of a file fails with "no space left on device" (ENOSPC), and the free space the
//             node measures is what is left of the budget (0 once it is spent).
//   kIoError  the disk fails: once `budget_bytes` more bytes have been appended, every write
//             fails with an I/O error (EIO); the free space measured is the real one.
// Reads are never faulted. Only a node started with --enable-fault-injection has a switch.
//
// Thread-safe.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace dialkv::storage {

enum class DiskFault : uint8_t { kNone, kFull, kIoError };

std::string_view DiskFaultName(DiskFault fault);  // "none", "full", "io_error".

class DiskFaults {
 public:
  // Replaces the fault; writes of `budget_bytes` more bytes still succeed.
  void Set(DiskFault fault, uint64_t budget_bytes = 0);
  DiskFault fault() const { return fault_.load(std::memory_order_acquire); }

  // What a write of `bytes` gets: kNone (go ahead) or the fault that fails it. Charges the
  // budget.
  DiskFault Charge(uint64_t bytes);
  // The fault a sync or the creation of a file gets once the budget is spent (kNone: none).
  DiskFault Current() const;

  // With kFull, the free space a node should see (what is left of the budget); otherwise none.
  std::optional<uint64_t> FreeSpaceOverride() const;

 private:
  std::atomic<DiskFault> fault_{DiskFault::kNone};
  std::atomic<uint64_t> budget_{0};  // Bytes still allowed under the fault.
};

// A file system that forwards to `base` (the default one when null) and fails writes as
// `faults` says. For RocksDB (rocksdb::FileSystem); only the storage engine uses it.
std::shared_ptr<rocksdb::FileSystem> NewFaultFileSystem(std::shared_ptr<DiskFaults> faults,
                                                        std::shared_ptr<rocksdb::FileSystem> base);

}  // namespace dialkv::storage
