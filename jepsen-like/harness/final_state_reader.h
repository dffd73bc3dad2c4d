#pragma once
// After a run is healed: waits until the replicas of every touched key agree, then reads the
// final state (final.json) with ReadLocal, asking each key's replicas only (the ring of
// server/cluster/ring.h, built like the servers build it).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "jepsen-like/check/final_state.h"
#include "jepsen-like/harness/cluster.h"

namespace dialkv::jepsen {

struct FinalStateOptions {
  uint32_t vnodes = 16;  // The servers' --vnodes.
  // Keys whose replicas still differ after this are read as they are: the convergence check
  // reports them.
  std::chrono::milliseconds converge_timeout{30'000};
  std::chrono::milliseconds poll_interval{250};
};

struct FinalStateRead {
  FinalState state;
  size_t keys = 0;
  size_t converged_keys = 0;  // Whose replicas agreed before the timeout.
  double waited_s = 0;
  // Replicas that could not be read at the end ("node 2 key cp-k1-g0: UNAVAILABLE ..."); such
  // a replica is left out of the state, so the checkers do not compare it.
  std::vector<std::string> unread;
};

// Polls every replica of each key of `keys` until all agree (the same version or all none)
// or the timeout passes (or `stop` becomes true), and returns the last versions read.
//
// Agreeing replicas are not enough when a write was acknowledged as hints only
// (WriteResult::hinted): no replica holds it, the replicas may agree on an older version, and
// its coordinator delivers it when it next replays hints (when it sees the replica come alive,
// else every 10 s). So a key of `hinted` (key -> the highest timestamp of its hinted writes)
// counts as converged only once its replicas agree on a version at least that new.
// Errors: kInvalidArgument when the ring cannot be built from the cluster's nodes.
Result<FinalStateRead> ReadConvergedState(const Cluster& cluster,
                                          const std::vector<std::string>& keys,
                                          const std::map<std::string, Timestamp>& hinted,
                                          const FinalStateOptions& options,
                                          const std::atomic<bool>& stop);

}  // namespace dialkv::jepsen
