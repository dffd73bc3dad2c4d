#pragma once
// Fault injection on the peer protocol (docs/fault-injection.md): what a tester uses to
// drop, delay and partition the messages between nodes while a cluster runs.
//
// Every peer message passes one FaultInjector, at the node that sends it and at the node
// that receives it:
//   - outbound requests and inbound replies in PeerTransport (peer_transport.cc, RoundTrip);
//   - inbound requests and outbound replies in the peer port's handler (WithFaults below).
// Client connections are never faulted. A message is one request or one reply, not a frame:
// the requests a PeerBatch carries, and their replies, are judged each on its own, at both ends.
//
// Faults are kept per link (this node and one peer), per direction: "out" is a message this
// node sends to the peer, "in" one it receives from it. A link may drop each message with a
// probability, block every message (a partition: one-way when only one direction is blocked),
// and delay outbound messages by a fixed time plus a uniformly random jitter. A lost message
// is never seen by its receiver, and its sender learns nothing until its own deadline passes,
// as on a real network where a packet vanishes: a lost request is indistinguishable from a
// lost reply. Each message is judged once per direction it passes here, so a tester who sets
// a drop probability on both ends of a link compounds them; the CLI sets drops on the sender
// only, so "drop 0.3" loses 30% of messages.
//
// Reproducibility: the drop and jitter choices come from one generator seeded with the
// configured seed and this node's id. The same seed and the same sequence of messages give
// the same choices; concurrent messages may reach the generator in a different order from
// run to run, so a run repeats statistically, not message by message.
//
// Metrics (when a registry is given), labelled by peer and direction ("out", "in"):
//   dialkv_fault_messages_dropped_total{peer,direction,cause}  cause: "drop" or "partition"
//   dialkv_fault_messages_delayed_total{peer,direction}
//
// Thread-safe. Judge() costs one relaxed atomic load while no fault is set.

#include <asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "server/common/metrics.h"
#include "server/common/random.h"
#include "server/net/frame_server.h"

namespace dialkv::net {

// The faults on this node's link with one peer. Default: a clean link.
struct LinkFaults {
  NodeId peer = 0;
  double drop_out = 0;     // Probability 0..1 that a message to the peer is lost.
  double drop_in = 0;      // Probability 0..1 that a message from the peer is lost.
  bool block_out = false;  // Every message to the peer is lost.
  bool block_in = false;   // Every message from the peer is lost.
  uint32_t delay_ms = 0;   // Added to every message to the peer ...
  uint32_t jitter_ms = 0;  // ... plus a uniformly random 0..jitter_ms.

  bool clean() const {
    return drop_out == 0 && drop_in == 0 && !block_out && !block_in && delay_ms == 0 &&
           jitter_ms == 0;
  }
};

// A change to one link: present fields replace the link's, absent ones keep their value.
struct LinkFaultsPatch {
  NodeId peer = 0;
  std::optional<double> drop_out;
  std::optional<double> drop_in;
  std::optional<bool> block_out;
  std::optional<bool> block_in;
  std::optional<uint32_t> delay_ms;
  std::optional<uint32_t> jitter_ms;
};

enum class Direction : uint8_t { kOut, kIn };

// What becomes of one message.
struct FaultVerdict {
  bool lost = false;                   // Never delivered.
  std::chrono::milliseconds delay{0};  // Outbound only: hold it this long before sending.
};

class FaultInjector {
 public:
  static constexpr uint32_t kMaxDelayMs = 60'000;  // For delay_ms and jitter_ms each.

  struct Options {
    NodeId self = 0;
    std::vector<NodeId> peers;  // Every other member: the links that may carry faults.
    uint64_t seed = 1;
  };

  // `metrics` may be null (nothing is counted); else it must outlive the injector.
  FaultInjector(Options options, metrics::Registry* metrics);

  // Judges one message to (kOut) or from (kIn) `peer`. Messages of peers that are not
  // members are never faulted (the peer port refuses them anyway).
  FaultVerdict Judge(NodeId peer, Direction direction);

  // Applies every patch, in order, or none: kInvalidArgument (naming the patch) when a peer
  // is not another member, appears twice, a probability is outside 0..1 or not a number, or a
  // delay or jitter is over kMaxDelayMs. `seed`, when given, reseeds the generator.
  Status Apply(const std::vector<LinkFaultsPatch>& patches, std::optional<uint64_t> seed);

  // Heals every link (the seed stays).
  void Clear();

  // The links that carry a fault, by peer id.
  std::vector<LinkFaults> Links() const;
  uint64_t seed() const;

 private:
  struct PeerCounters {
    metrics::Counter* dropped[2][2] = {};  // [direction][0 drop, 1 partition]
    metrics::Counter* delayed[2] = {};     // [direction]
  };

  const NodeId self_;
  std::map<NodeId, PeerCounters> counters_;  // Immutable after construction.

  mutable std::mutex mu_;
  std::map<NodeId, LinkFaults> links_;  // Guarded by mu_. Only links that carry a fault.
  uint64_t seed_;                       // Guarded by mu_.
  SeededRandom random_;                 // Guarded by mu_.
  std::atomic<bool> any_{false};        // !links_.empty(), readable without mu_.
};

// The peer port's handler, with faults: an inbound request the injector loses is never
// served, and an outbound reply it loses is never sent (the server sends no reply; the caller
// times out); a reply it delays is held before it is written. The items of a PeerBatch are
// judged one by one, each as a message of its own (a lost one is not served, or its reply is
// left out of the batch's), and the batch's reply is held for the longest delay of its items.
// `injector` must outlive the returned handler.
RequestHandler WithFaults(FaultInjector* injector, RequestHandler inner);

}  // namespace dialkv::net
