#pragma once
// The PeerHeader every peer message carries, requests and replies (proto/dialkv.proto): the
// sender's cluster name, node id and hybrid logical clock. Both ends of the peer protocol use
// these two functions: the sender stamps, the receiver checks and then folds the hlc into its
// own clock (hlc.Observe(e.peer().hlc())), so that a node never acts on another cluster's
// messages and clocks stay causally ordered across nodes.

#include <functional>
#include <string_view>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/common/hlc.h"

namespace dialkv::net {

// Sets `e`'s peer header (replacing any): `cluster_name`, `self`, and a fresh hlc.Now().
void StampPeerHeader(v1::Envelope* e, std::string_view cluster_name, NodeId self,
                     HybridLogicalClock& hlc);

// Checks the header of a peer request that arrived at this node's peer port.
// `is_member` says whether a node id is configured in this node's --peers.
// Errors:
//   kInvalidArgument  — no header: "peer port expects peer messages" (a client, or a node of
//                       an older protocol, talking to the peer port).
//   kPermissionDenied — the sender is in another cluster (both names are in the message), or
//                       its node id is not in this node's --peers.
// It does not look at the hlc: the caller folds it in with HybridLogicalClock::Observe, which
// applies the skew guard.
Status CheckPeerHeader(const v1::Envelope& e, std::string_view cluster_name,
                       const std::function<bool(NodeId)>& is_member);

}  // namespace dialkv::net
