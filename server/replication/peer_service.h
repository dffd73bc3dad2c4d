#pragma once
#include <asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/common/hlc.h"
#include "server/common/metrics.h"
#include "server/replication/local_replica.h"

namespace dialkv::replication {

// The inbound side of the peer protocol: what this node answers on its peer port.
//
// Every request is checked first (net::CheckPeerHeader: this cluster, a configured member);
// a refused one gets an ErrorReply. The sender's hlc is then folded into this node's clock
// (one beyond the skew guard is not folded, and is logged). ReplicaRead and ReplicaWrite are
// served by LocalReplica (a write is acknowledged when the replica holds that version or a
// newer one; one beyond the skew guard is refused with INVALID_ARGUMENT); Gossip goes to the
// injected handler, and the anti-entropy requests (AeDigests, AeBuckets, AeKeys, AePush, AePull)
// to the anti-entropy handler (SetAntiEntropyHandler; without one they are answered
// UNAVAILABLE). Client-port requests, replies and empty envelopes get an ErrorReply
// (INVALID_ARGUMENT). Every reply carries the request's id and this node's PeerHeader, which
// says that this node serves batches.
//
// A PeerBatch is checked and folded in once, by its envelope's header; its items (replica
// reads and writes, gossip; anything else gets an ErrorReply of its own) are served in order,
// the replica writes together, in one LocalReplica::ApplyAll after every other item, and the
// reply carries one item per request item. A batch refused by its header gets that refusal as
// every item's ErrorReply, so each caller learns it.
//
// Thread-safe: Handle may run on any executor that runs one handler at a time; the objects
// passed in must outlive every call.
class PeerService {
 public:
  struct Options {
    std::string cluster_name;
    NodeId self = 0;
    // Deadline of the local storage call serving one peer request (the caller's own deadline
    // is not on the wire). The caller usually gives up first; this bounds the work it left.
    uint32_t replica_op_timeout_ms = 2000;
    // The client port's limits hold on the peer port too: a replica read or write of a longer
    // key, or a write of a longer value, is refused (INVALID_ARGUMENT). Keep --max-value-bytes
    // the same on every node, or writes accepted by one are refused by its peers.
    uint32_t max_key_bytes = 4096;
    uint32_t max_value_bytes = 4u << 20;
    // Counts the peer requests refused as invalid (not owned; must outlive this); may be null.
    metrics::Counter* invalid_requests = nullptr;
  };
  // Merges a peer's view of membership and returns this node's (cluster/gossiper).
  using GossipHandler = std::function<v1::GossipReply(const v1::GossipRequest&)>;
  // Serves one anti-entropy request from `from` (already checked: this cluster, a member; its
  // hlc folded in) and returns an envelope carrying the reply body (id and header are set
  // here). Must not throw; errors are replies.
  using AntiEntropyHandler =
      std::function<asio::awaitable<v1::Envelope>(NodeId from, v1::Envelope request)>;

  // `is_member`: whether a node id is a configured member (e.g. Membership::Find != nullptr).
  // `gossip`: may be empty; gossip requests are then answered UNAVAILABLE.
  PeerService(Options options, LocalReplica& local,  // Not owned.
              HybridLogicalClock& hlc,               // Not owned.
              std::function<bool(NodeId)> is_member, GossipHandler gossip);

  // Installs the handler of the anti-entropy requests (antientropy::AntiEntropy::Handle).
  // REQUIRES: called before this service handles its first request.
  void SetAntiEntropyHandler(AntiEntropyHandler handler) { anti_entropy_ = std::move(handler); }

  // Shaped as a net::RequestHandler. Never fails: errors are replies.
  asio::awaitable<v1::Envelope> Handle(v1::Envelope request);

 private:
  // kInvalidArgument for an empty key or one over max_key_bytes (counted); `what` names the
  // request in the message.
  Status CheckKey(std::string_view what, const std::string& key) const;
  asio::awaitable<void> ServeRead(NodeId from, v1::ReplicaReadRequest request,
                                  v1::ReplicaReadReply* reply);
  asio::awaitable<void> ServeWrite(NodeId from, v1::ReplicaWriteRequest request,
                                   v1::ReplicaWriteReply* reply);
  // Every item of a batch, its replica writes in one LocalReplica::ApplyAll.
  asio::awaitable<void> ServeBatch(NodeId from, v1::PeerBatch batch, v1::PeerBatch* reply);
  // A replica write's checks before storage (counted when refused): the key, the value's size,
  // the timestamp, a tombstone without a value.
  Status CheckWrite(const v1::ReplicaWriteRequest& request) const;
  // The reply to a replica write that storage answered with `applied`.
  void AnswerWrite(NodeId from, std::string_view key, const Result<storage::ApplyOutcome>& applied,
                   v1::ReplicaWriteReply* reply) const;
  Deadline OpDeadline() const;

  const Options options_;
  LocalReplica& local_;
  HybridLogicalClock& hlc_;
  const std::function<bool(NodeId)> is_member_;
  const GossipHandler gossip_;
  AntiEntropyHandler anti_entropy_;  // Set before serving; read-only afterwards.
};

}  // namespace dialkv::replication
