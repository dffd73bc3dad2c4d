#pragma once
// Where a run's files go when no --out is given, as Jepsen lays out its store:
//
//   store/register/20261207T200405Z/     one directory per run (history.jsonl, report.html, ...)
//   store/register/20261207T200405Z-2/   a second run started in the same second
//   store/register/latest -> 20261207T200405Z-2
//   store/latest -> register/20261207T200405Z-2
//
// The `latest` links are relative (the store can be moved or mounted elsewhere) and are
// replaced atomically (a new link renamed over the old one), so a reader never sees none.
// Not safe against two processes racing to update the same links; the run directories
// themselves never collide (each is created exclusively).

#include <ctime>
#include <filesystem>
#include <string>
#include <string_view>

#include "server/common/status.h"

namespace dialkv::jepsen {

// A run directory's name for `now`: "20261207T200405Z" (UTC).
std::string StoreTimestamp(std::time_t now);

// Creates `store`/`workload`/<StoreTimestamp(now)> (with "-2", "-3", ... appended when a run
// of the same second exists) and points both `latest` links at it. Returns its path.
// Errors: kInvalidArgument (an empty or path-like workload name); kIOError naming the path
// (cannot create the directory or a link, or a `latest` that is not a symlink is in the way).
Result<std::filesystem::path> CreateStoreRunDir(const std::filesystem::path& store,
                                                std::string_view workload, std::time_t now);

}  // namespace dialkv::jepsen
