#pragma once
// Turns a `dialkv fault` command into the link changes each node needs. Pure functions: the
// caller has learned which nodes exist (their ids) and sends each node its patches.
//
// A fault is held at the node on the side of the link it names: block_out and drop_out lose a
// message at its sender, block_in at its receiver. Drops and delays are set on the sender only,
// so each message is judged once.

#include <map>
#include <optional>
#include <vector>

#include "client/cli/fault_args.h"
#include "dialkv/admin.h"
#include "dialkv/status.h"

namespace dialkv::cli {

// The patches to send to each node, by node id; a node not in the plan is left unchanged.
using FaultPlan = std::map<NodeId, std::vector<LinkFaultsPatch>>;

// OK when `id` is one of `nodes`; else kInvalidArgument listing the known ids.
Status CheckKnownNode(const std::vector<NodeId>& nodes, NodeId id);

// `fault partition A / B` among `nodes`. Two-way: every node of A blocks messages to and from
// every node of B, and every node of B the same for A. One-way (messages from A to B are
// lost, B's messages to A arrive): nodes of A block messages to each node of B (block_out),
// nodes of B block messages from each node of A (block_in). Other fields are left as they are.
// Errors: kInvalidArgument when a group is empty, the groups overlap, or an id is not in
// `nodes` (the message lists the known ids).
Result<FaultPlan> PlanPartition(const std::vector<NodeId>& nodes, const PartitionGroups& groups,
                                bool one_way);

// `fault isolate N`: N partitioned, both ways, from every other node of `nodes`.
// Errors: kInvalidArgument when N is not in `nodes` or is the only node.
Result<FaultPlan> PlanIsolate(const std::vector<NodeId>& nodes, NodeId node);

// `fault drop` and `fault delay`: applies `change` (its peer is ignored) to outbound links.
// Without `peer`: every node's link to every other node. With `peer` N: only messages to and
// from N: N's links to every other node, and every other node's link to N.
// Errors: kInvalidArgument when `peer` is not in `nodes`, or `nodes` has no two nodes.
Result<FaultPlan> PlanOutbound(const std::vector<NodeId>& nodes, const LinkFaultsPatch& change,
                               std::optional<NodeId> peer);

}  // namespace dialkv::cli
