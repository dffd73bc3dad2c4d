#include "server/storage/engine.h"

#include <utility>
#include <vector>

namespace dialkv::storage {

// One ApplyIfNewer per item: correct for any engine (each item compares against what the
// ones before it stored), just without sharing a write between them.
std::vector<Result<ApplyOutcome>> Engine::ApplyBatch(std::span<const KeyedVersion> items) {
  std::vector<Result<ApplyOutcome>> outcomes;
  outcomes.reserve(items.size());
  for (const KeyedVersion& item : items) outcomes.push_back(ApplyIfNewer(item.key, item.version));
  return outcomes;
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
