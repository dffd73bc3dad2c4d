#pragma once
// Where a node's hybrid logical clock stands across restarts: the bound the clock may hand out
// up to (HybridLogicalClock::SetBoundKeeper), kept in the engine's meta as "hlc_bound".
//
// A restarted clock starts above the persisted bound. Every version a node stores went through
// its clock first (issued by Now() or folded in by Observe()), and the clock makes its bound
// durable before it goes past it, so the bound is above every stored timestamp too. Only a
// data dir that records no bound (written before the bound existed) is scanned once, by
// version headers, for its highest timestamp.
//
// Durability follows the engine's: with --sync the bound is fsynced, without it survives a
// process crash (the WAL) but not a power loss, like every acknowledged write.

#include <cstdint>

#include "server/common/status.h"
#include "server/storage/engine.h"

namespace dialkv::storage {

struct HlcStart {
  uint64_t persisted_bound = 0;  // As recorded in meta (0: none recorded).
  uint64_t floor = 0;            // The clock must start above this.
  bool scanned = false;          // No bound was recorded: the data was scanned for its highest.
};

// Reads the bound (and, when there is none, scans for the highest stored timestamp).
// Errors: kCorruption (an unreadable bound), kIOError.
Result<HlcStart> LoadHlcStart(Engine& engine);

// Records `bound` in meta. Errors: kIOError.
Status PersistHlcBound(Engine& engine, uint64_t bound);

}  // namespace dialkv::storage
