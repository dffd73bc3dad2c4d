#pragma once
// The fault-injection and inspection requests as a node started with
// --enable-fault-injection answers them, modelled in memory for client and CLI tests: node
// `node_id` of a cluster of `members`. Nothing is injected; the state is only kept and shown.
// Thread-compatible.

#include <cstdint>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "proto/dialkv.pb.h"

namespace dialkv::client_test {

// ReadLocal answers: key "missing" -> NOT_FOUND; key "deleted" -> a tombstone; any other key
// -> "local-<key>"; both at {kLocalHlc, kLocalWriter}.
inline constexpr uint64_t kLocalHlc = (uint64_t{1700000000003} << 16) | 7;
inline constexpr uint32_t kLocalWriter = 5;

class FakeFaults {
 public:
  FakeFaults(NodeId node_id, std::vector<NodeId> members);

  // Whether `request` is one this answers: SetFaults, ClearFaults, GetFaults, SetClockOffset
  // or ReadLocal.
  static bool Serves(const v1::Envelope& request);

  // The reply to `request`. SetFaults is refused as a whole with INVALID_ARGUMENT when a peer
  // is not another member or is patched twice, a probability is outside 0..1, or a delay is
  // over 60000 ms; SetClockOffset beyond an hour either way. REQUIRES: Serves(request).
  v1::Envelope Answer(const v1::Envelope& request);

  const v1::FaultState& state() const { return state_; }

 private:
  Status Check(const v1::SetFaultsRequest& request) const;
  void Apply(const v1::SetFaultsRequest& request);

  const std::vector<NodeId> members_;
  v1::FaultState state_;  // Links kept sorted by peer, clean links removed.
};

}  // namespace dialkv::client_test
