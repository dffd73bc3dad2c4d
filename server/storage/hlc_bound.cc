#include "server/storage/hlc_bound.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <string>

namespace dialkv::storage {
namespace {

constexpr std::string_view kBoundKey = "hlc_bound";

}  // namespace

Result<HlcStart> LoadHlcStart(Engine& engine) {
  HlcStart start;
  Result<std::string> stored = engine.GetMeta(kBoundKey);
  if (stored.ok()) {
    const std::string& s = stored.value();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), start.persisted_bound);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      return Status::Corruption("the data dir records an unreadable clock bound '" + s + "'");
    }
    start.floor = start.persisted_bound;
    return start;
  }
  if (!stored.status().IsNotFound()) return stored.status();
  start.scanned = true;
  uint64_t highest = 0;
  Status scanned =
      engine.ScanByHash(0, std::numeric_limits<uint64_t>::max(),
                        [&highest](uint64_t, std::string_view, const VersionHeader& header) {
                          highest = std::max(highest, header.timestamp.hlc);
                          return true;
                        });
  if (!scanned.ok()) return scanned;
  start.floor = highest;
  return start;
}

Status PersistHlcBound(Engine& engine, uint64_t bound) {
  return engine.PutMeta(kBoundKey, std::to_string(bound));
}

}  // namespace dialkv::storage
