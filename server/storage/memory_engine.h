#pragma once
// An Engine that keeps everything in process memory: for unit tests and simulations, never for
// a node that must survive a restart. Behaves exactly like the RocksDB engine (the same
// conformance suite runs against both), minus durability and corruption.

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "server/storage/engine.h"

namespace dialkv::storage {

// Thread-safe. One mutex guards all state; ScanByHash and ScanHints copy the requested
// range under it and call the visitor without it, so a visitor may call back into the engine
// and sees a snapshot taken when the scan started. The change observer is called under it.
// Memory use is the sum of the stored bytes, plus each key once more for the hash index (plus
// a copy of the scanned range during a scan).
class MemoryEngine final : public Engine {
 public:
  MemoryEngine() = default;
  MemoryEngine(const MemoryEngine&) = delete;
  MemoryEngine& operator=(const MemoryEngine&) = delete;

  Result<Version> Get(std::string_view key) override;
  Result<VersionHeader> GetHeader(std::string_view key) override;
  Result<ApplyOutcome> ApplyIfNewer(std::string_view key, const Version& version) override;
  Status ScanByHash(uint64_t first_hash, uint64_t last_hash, const HashScanFn& fn) override;
  Result<bool> PurgeTombstone(std::string_view key, const Timestamp& timestamp) override;
  bool SetChangeObserver(ChangeObserver* observer) override;
  uint64_t LiveKeyCount() const override;

  Status PutHint(NodeId peer, uint64_t sequence, std::string_view payload) override;
  Status ScanHints(NodeId peer, const HintScanFn& fn) override;
  Status DeleteHint(NodeId peer, uint64_t sequence) override;

  Result<std::string> GetMeta(std::string_view name) override;
  Status PutMeta(std::string_view name, std::string_view value) override;

 private:
  mutable std::mutex mu_;
  // Everything below is guarded by mu_.
  std::map<std::string, Version, std::less<>> data_;
  // Every key of data_ by (KeyHash(key), key): the order of ScanByHash.
  std::set<std::pair<uint64_t, std::string>> by_hash_;
  ChangeObserver* observer_ = nullptr;
  std::map<std::pair<NodeId, uint64_t>, std::string> hints_;
  std::map<std::string, std::string, std::less<>> meta_;
  uint64_t live_keys_ = 0;  // Entries of data_ that are not tombstones.
};

}  // namespace dialkv::storage
