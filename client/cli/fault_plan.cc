#include "client/cli/fault_plan.h"

#include <algorithm>
#include <string>

#include "server/common/status.h"

namespace dialkv::cli {
namespace {

bool Contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// "1, 2, 3": the known ids, for messages.
std::string IdList(std::vector<NodeId> ids) {
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
  return out;
}

// Adds to `plan` the patch of `node`'s link to `peer`.
void Add(FaultPlan* plan, NodeId node, NodeId peer, LinkFaultsPatch patch) {
  patch.peer = peer;
  (*plan)[node].push_back(patch);
}

}  // namespace

Status CheckKnownNode(const std::vector<NodeId>& nodes, NodeId id) {
  if (Contains(nodes, id)) return Status::Ok();
  return Status::InvalidArgument("node " + std::to_string(id) +
                                 " is not one of the endpoints' nodes (" + IdList(nodes) + ")");
}

Result<FaultPlan> PlanPartition(const std::vector<NodeId>& nodes, const PartitionGroups& groups,
                                bool one_way) {
  if (groups.a.empty() || groups.b.empty()) {
    return Status::InvalidArgument("a partition needs a node on each side");
  }
  for (const std::vector<NodeId>* group : {&groups.a, &groups.b}) {
    for (NodeId id : *group) DIALKV_RETURN_IF_ERROR(CheckKnownNode(nodes, id));
  }
  for (NodeId id : groups.a) {
    if (Contains(groups.b, id)) {
      return Status::InvalidArgument("node " + std::to_string(id) +
                                     " is in both groups of the partition");
    }
  }
  FaultPlan plan;
  for (NodeId a : groups.a) {
    for (NodeId b : groups.b) {
      if (one_way) {
        Add(&plan, a, b, LinkFaultsPatch{.block_out = true});
        Add(&plan, b, a, LinkFaultsPatch{.block_in = true});
      } else {
        Add(&plan, a, b, LinkFaultsPatch{.block_out = true, .block_in = true});
        Add(&plan, b, a, LinkFaultsPatch{.block_out = true, .block_in = true});
      }
    }
  }
  return plan;
}

Result<FaultPlan> PlanIsolate(const std::vector<NodeId>& nodes, NodeId node) {
  DIALKV_RETURN_IF_ERROR(CheckKnownNode(nodes, node));
  PartitionGroups groups;
  groups.a = {node};
  for (NodeId id : nodes) {
    if (id != node) groups.b.push_back(id);
  }
  if (groups.b.empty()) {
    return Status::InvalidArgument("node " + std::to_string(node) +
                                   " is the only node listed in --endpoints; there is nothing to "
                                   "isolate it from");
  }
  return PlanPartition(nodes, groups, /*one_way=*/false);
}

Result<FaultPlan> PlanOutbound(const std::vector<NodeId>& nodes, const LinkFaultsPatch& change,
                               std::optional<NodeId> peer) {
  if (peer.has_value()) DIALKV_RETURN_IF_ERROR(CheckKnownNode(nodes, *peer));
  FaultPlan plan;
  for (NodeId from : nodes) {
    for (NodeId to : nodes) {
      if (from == to) continue;
      if (peer.has_value() && from != *peer && to != *peer) continue;
      Add(&plan, from, to, change);
    }
  }
  if (plan.empty()) {
    return Status::InvalidArgument("--endpoints lists only node " + IdList(nodes) +
                                   "; a link needs two nodes");
  }
  return plan;
}

}  // namespace dialkv::cli
