#include "server/net/peer_header.h"

#include <string>

namespace dialkv::net {

void StampPeerHeader(v1::Envelope* e, std::string_view cluster_name, NodeId self,
                     HybridLogicalClock& hlc) {
  v1::PeerHeader* header = e->mutable_peer();
  header->set_cluster_name(std::string(cluster_name));
  header->set_node_id(self);
  header->set_hlc(hlc.Now().hlc);
}

Status CheckPeerHeader(const v1::Envelope& e, std::string_view cluster_name,
                       const std::function<bool(NodeId)>& is_member) {
  if (!e.has_peer()) {
    return Status::InvalidArgument(
        "peer port expects peer messages: this envelope carries no peer header (is a client "
        "connected to the peer port instead of the client port?)");
  }
  const v1::PeerHeader& header = e.peer();
  if (header.cluster_name() != cluster_name) {
    return Status::PermissionDenied("node " + std::to_string(header.node_id()) + " of cluster \"" +
                                    header.cluster_name() + "\" refused by cluster \"" +
                                    std::string(cluster_name) +
                                    "\": nodes of one cluster must share --cluster-name");
  }
  if (!is_member(header.node_id())) {
    return Status::PermissionDenied(
        "node " + std::to_string(header.node_id()) + " is not in --peers of this node (cluster \"" +
        std::string(cluster_name) + "\"); add it to --peers of every node to let it join");
  }
  return Status::Ok();
}

}  // namespace dialkv::net
