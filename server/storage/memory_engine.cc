#include "server/storage/memory_engine.h"

#include <vector>

#include "server/common/hash.h"
#include "server/storage/version_codec.h"

namespace dialkv::storage {

Result<Version> MemoryEngine::Get(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return Status::NotFound("no version of " + DescribeKey(key));
  return it->second;
}

Result<VersionHeader> MemoryEngine::GetHeader(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return Status::NotFound("no version of " + DescribeKey(key));
  return VersionHeader{it->second.timestamp, it->second.tombstone};
}

Result<ApplyOutcome> MemoryEngine::ApplyIfNewer(std::string_view key, const Version& version) {
  const VersionHeader after{version.timestamp, version.tombstone};
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) {
    data_.emplace(std::string(key), version);
    const uint64_t key_hash = KeyHash(key);
    by_hash_.emplace(key_hash, std::string(key));
    if (!version.tombstone) ++live_keys_;
    if (observer_ != nullptr) observer_->OnChange(key, key_hash, nullptr, &after);
    return ApplyOutcome::kApplied;
  }
  Version& stored = it->second;
  if (version.timestamp <= stored.timestamp) return ApplyOutcome::kSuperseded;
  const VersionHeader before{stored.timestamp, stored.tombstone};
  if (!stored.tombstone) --live_keys_;
  if (!version.tombstone) ++live_keys_;
  stored = version;
  if (observer_ != nullptr) observer_->OnChange(key, KeyHash(key), &before, &after);
  return ApplyOutcome::kApplied;
}

Status MemoryEngine::ScanByHash(uint64_t first_hash, uint64_t last_hash, const HashScanFn& fn) {
  if (last_hash < first_hash) return Status::Ok();
  struct Entry {
    uint64_t key_hash;
    std::string key;
    VersionHeader header;
  };
  std::vector<Entry> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = by_hash_.lower_bound({first_hash, std::string()});
         it != by_hash_.end() && it->first <= last_hash; ++it) {
      const Version& v = data_.find(it->second)->second;
      snapshot.push_back(Entry{it->first, it->second, VersionHeader{v.timestamp, v.tombstone}});
    }
  }
  for (const Entry& e : snapshot) {
    if (!fn(e.key_hash, e.key, e.header)) break;
  }
  return Status::Ok();
}

Result<bool> MemoryEngine::PurgeTombstone(std::string_view key, const Timestamp& timestamp) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end() || !it->second.tombstone || it->second.timestamp != timestamp) {
    return false;
  }
  const VersionHeader before{it->second.timestamp, true};
  const uint64_t key_hash = KeyHash(key);
  by_hash_.erase({key_hash, it->first});
  data_.erase(it);
  if (observer_ != nullptr) observer_->OnChange(key, key_hash, &before, nullptr);
  return true;
}

bool MemoryEngine::SetChangeObserver(ChangeObserver* observer) {
  std::lock_guard<std::mutex> lock(mu_);
  observer_ = observer;
  return true;
}

uint64_t MemoryEngine::LiveKeyCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_keys_;
}

Status MemoryEngine::PutHint(NodeId peer, uint64_t sequence, std::string_view payload) {
  std::lock_guard<std::mutex> lock(mu_);
  hints_[{peer, sequence}] = std::string(payload);
  return Status::Ok();
}

Status MemoryEngine::ScanHints(NodeId peer, const HintScanFn& fn) {
  std::vector<std::pair<uint64_t, std::string>> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = hints_.lower_bound({peer, 0}); it != hints_.end() && it->first.first == peer;
         ++it) {
      snapshot.emplace_back(it->first.second, it->second);
    }
  }
  for (const auto& [sequence, payload] : snapshot) {
    if (!fn(sequence, payload)) break;
  }
  return Status::Ok();
}

Status MemoryEngine::DeleteHint(NodeId peer, uint64_t sequence) {
  std::lock_guard<std::mutex> lock(mu_);
  hints_.erase({peer, sequence});
  return Status::Ok();
}

Result<std::string> MemoryEngine::GetMeta(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = meta_.find(name);
  if (it == meta_.end()) return Status::NotFound("no meta value named '" + std::string(name) + "'");
  return it->second;
}

Status MemoryEngine::PutMeta(std::string_view name, std::string_view value) {
  std::lock_guard<std::mutex> lock(mu_);
  meta_.insert_or_assign(std::string(name), std::string(value));
  return Status::Ok();
}

}  // namespace dialkv::storage
