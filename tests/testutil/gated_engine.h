#pragma once
// A storage engine for tests whose calls can be held at a gate or made to fail.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/storage/memory_engine.h"

namespace dialkv::testutil {

// Bounds how long a call waits at a closed gate, so a broken test cannot hang.
inline constexpr auto kGateDeadline = std::chrono::seconds(10);

// A MemoryEngine whose Get, ApplyIfNewer, ApplyBatch and PutHint can be made to block (as a
// disk would) or fail, for tests of deadlines and storage errors. ApplyBatch passes the gate
// once for the whole batch, as one RocksDB write does, and fails every item when it fails.
class GatedEngine final : public storage::Engine {
 public:
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void FailWith(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = std::move(status);
  }
  storage::MemoryEngine& inner() { return inner_; }
  // Calls waiting at the closed gate now.
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  // The size of every ApplyBatch call so far, in call order.
  std::vector<size_t> batch_sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return batch_sizes_;
  }

  Result<Version> Get(std::string_view key) override {
    if (Status s = Pass(); !s.ok()) return s;
    return inner_.Get(key);
  }
  Result<storage::ApplyOutcome> ApplyIfNewer(std::string_view key,
                                             const Version& version) override {
    if (Status s = Pass(); !s.ok()) return s;
    return inner_.ApplyIfNewer(key, version);
  }
  std::vector<Result<storage::ApplyOutcome>> ApplyBatch(
      std::span<const storage::KeyedVersion> items) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch_sizes_.push_back(items.size());
    }
    if (Status s = Pass(); !s.ok()) {
      return std::vector<Result<storage::ApplyOutcome>>(items.size(), s);
    }
    return inner_.ApplyBatch(items);
  }
  Status ScanByHash(uint64_t first_hash, uint64_t last_hash,
                    const storage::HashScanFn& fn) override {
    return inner_.ScanByHash(first_hash, last_hash, fn);
  }
  uint64_t LiveKeyCount() const override { return inner_.LiveKeyCount(); }
  Status PutHint(NodeId peer, uint64_t sequence, std::string_view payload) override {
    if (Status s = Pass(); !s.ok()) return s;
    return inner_.PutHint(peer, sequence, payload);
  }
  Status ScanHints(NodeId peer, const storage::HintScanFn& fn) override {
    return inner_.ScanHints(peer, fn);
  }
  Status DeleteHint(NodeId peer, uint64_t sequence) override {
    return inner_.DeleteHint(peer, sequence);
  }
  Result<std::string> GetMeta(std::string_view name) override { return inner_.GetMeta(name); }
  Status PutMeta(std::string_view name, std::string_view value) override {
    return inner_.PutMeta(name, value);
  }

 private:
  // Waits while the gate is closed (bounded, so a broken test cannot hang), then fails or
  // passes.
  Status Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait_for(lock, kGateDeadline, [this] { return open_; });
    --waiting_;
    return failure_;
  }

  storage::MemoryEngine inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;                 // Guarded by mu_.
  Status failure_;                   // Guarded by mu_.
  int waiting_ = 0;                  // Guarded by mu_.
  std::vector<size_t> batch_sizes_;  // Guarded by mu_.
};

}  // namespace dialkv::testutil
