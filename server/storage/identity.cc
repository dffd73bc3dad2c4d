#include <charconv>
#include <string>

#include "server/storage/engine.h"

namespace dialkv::storage {
namespace {

constexpr std::string_view kNodeIdKey = "node_id";
constexpr std::string_view kClusterNameKey = "cluster_name";

}  // namespace

Status ClaimIdentity(Engine& engine, const Identity& identity, std::string_view where) {
  Result<std::string> stored_node = engine.GetMeta(kNodeIdKey);
  Result<std::string> stored_cluster = engine.GetMeta(kClusterNameKey);
  if (!stored_node.ok() && !stored_node.status().IsNotFound()) return stored_node.status();
  if (!stored_cluster.ok() && !stored_cluster.status().IsNotFound()) {
    return stored_cluster.status();
  }
  NodeId node = 0;
  if (stored_node.ok()) {
    const std::string& s = stored_node.value();
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), node);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      return Status::Corruption("data dir " + std::string(where) +
                                " records an unreadable node id '" + s + "'");
    }
  }
  if (!stored_cluster.ok() && (!stored_node.ok() || node == identity.node_id)) {
    // A new data dir (or one whose first start stopped half-way): record who owns it. The
    // cluster name is written last, so it marks a completed claim.
    DIALKV_RETURN_IF_ERROR(engine.PutMeta(kNodeIdKey, std::to_string(identity.node_id)));
    return engine.PutMeta(kClusterNameKey, identity.cluster_name);
  }
  const std::string cluster = stored_cluster.ok() ? stored_cluster.value() : std::string();
  if (!stored_node.ok() || node != identity.node_id || cluster != identity.cluster_name) {
    return Status::InvalidArgument(
        "data dir " + std::string(where) + " belongs to node " +
        (stored_node.ok() ? std::to_string(node) : std::string("?")) + " of cluster '" + cluster +
        "', not to node " + std::to_string(identity.node_id) + " of cluster '" +
        identity.cluster_name +
        "'; start with the matching --node-id and --cluster-name, or use "
        "another --data-dir");
  }
  return Status::Ok();
}

}  // namespace dialkv::storage
