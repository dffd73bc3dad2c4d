#include "server/storage/engine.h"

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "server/common/hash.h"

namespace dialkv::storage {

// The fallback for engines without a hash-ordered index: one full scan, filtered, then sorted.
// Correct but O(all keys) per call; the engines of this folder override it.
Status Engine::ScanByHash(uint64_t first_hash, uint64_t last_hash, const HashScanFn& fn) {
  struct Entry {
    uint64_t key_hash;
    std::string key;
    VersionHeader header;
  };
  std::vector<Entry> entries;
  Status scanned = Scan("", "", [&](std::string_view key, const Version& version) {
    const uint64_t h = KeyHash(key);
    if (h >= first_hash && h <= last_hash) {
      entries.push_back(
          Entry{h, std::string(key), VersionHeader{version.timestamp, version.tombstone}});
    }
    return true;
  });
  if (!scanned.ok()) return scanned;
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.key_hash, a.key) < std::tie(b.key_hash, b.key);
  });
  for (const Entry& e : entries) {
    if (!fn(e.key_hash, e.key, e.header)) break;
  }
  return Status::Ok();
}

Result<VersionHeader> Engine::GetHeader(std::string_view key) {
  Result<Version> version = Get(key);
  if (!version.ok()) return version.status();
  return VersionHeader{version->timestamp, version->tombstone};
}

Result<bool> Engine::PurgeTombstone(std::string_view /*key*/, const Timestamp& /*timestamp*/) {
  return Status::Internal("this storage engine cannot purge tombstones");
}

bool Engine::SetChangeObserver(ChangeObserver* /*observer*/) { return false; }

}  // namespace dialkv::storage
