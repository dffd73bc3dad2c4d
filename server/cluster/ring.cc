#include "server/cluster/ring.h"

#include <xxhash.h>

#include <algorithm>
#include <string>

#include "server/common/check.h"
#include "server/common/hash.h"

namespace dialkv::cluster {
namespace {

uint64_t TokenPosition(NodeId node, uint32_t vnode) {
  unsigned char bytes[8];
  for (int i = 0; i < 4; ++i) {
    bytes[i] = static_cast<unsigned char>(node >> (8 * i));
    bytes[4 + i] = static_cast<unsigned char>(vnode >> (8 * i));
  }
  return XXH64(bytes, sizeof(bytes), 0);
}

}  // namespace

Result<Ring> Ring::Build(std::vector<NodeId> nodes, Options options) {
  if (nodes.empty()) return Status::InvalidArgument("a ring needs at least one node");
  if (options.vnodes == 0 || options.vnodes > kMaxVnodes) {
    return Status::InvalidArgument("--vnodes must be between 1 and " + std::to_string(kMaxVnodes) +
                                   ", not " + std::to_string(options.vnodes));
  }
  if (options.replication_factor == 0) {
    return Status::InvalidArgument("--replication-factor must be at least 1");
  }
  std::sort(nodes.begin(), nodes.end());
  if (auto dup = std::adjacent_find(nodes.begin(), nodes.end()); dup != nodes.end()) {
    return Status::InvalidArgument("node id " + std::to_string(*dup) + " is listed twice");
  }
  Ring ring;
  ring.nodes_ = std::move(nodes);
  ring.replication_factor_ =
      std::min<uint32_t>(options.replication_factor, static_cast<uint32_t>(ring.nodes_.size()));
  ring.tokens_.reserve(ring.nodes_.size() * options.vnodes);
  for (NodeId node : ring.nodes_) {
    for (uint32_t v = 0; v < options.vnodes; ++v) {
      ring.tokens_.push_back(Token{TokenPosition(node, v), node});
    }
  }
  // Ties between positions (vanishingly rare) are broken by node id, so the order is total.
  std::sort(ring.tokens_.begin(), ring.tokens_.end(), [](const Token& a, const Token& b) {
    return a.position != b.position ? a.position < b.position : a.node < b.node;
  });
  const size_t n = ring.tokens_.size();
  const uint32_t rf = ring.replication_factor_;
  ring.replicas_.reserve(n * rf);
  for (size_t i = 0; i < n; ++i) {
    const size_t first = ring.replicas_.size();
    for (size_t step = 0; step < n && ring.replicas_.size() - first < rf; ++step) {
      const NodeId candidate = ring.tokens_[(i + step) % n].node;
      if (std::find(ring.replicas_.begin() + static_cast<std::ptrdiff_t>(first),
                    ring.replicas_.end(), candidate) == ring.replicas_.end()) {
        ring.replicas_.push_back(candidate);
      }
    }
  }
  return ring;
}

std::span<const NodeId> Ring::ReplicasOfRange(size_t token_index) const {
  DIALKV_DCHECK(token_index < tokens_.size());
  return std::span<const NodeId>(replicas_.data() + token_index * replication_factor_,
                                 replication_factor_);
}

std::span<const NodeId> Ring::ReplicasForHash(uint64_t key_hash) const {
  auto it = std::lower_bound(tokens_.begin(), tokens_.end(), key_hash,
                             [](const Token& t, uint64_t h) { return t.position < h; });
  const size_t index = it == tokens_.end() ? 0 : static_cast<size_t>(it - tokens_.begin());
  return ReplicasOfRange(index);
}

std::span<const NodeId> Ring::ReplicasFor(std::string_view key) const {
  return ReplicasForHash(KeyHash(key));
}

bool Ring::IsReplica(NodeId node, std::string_view key) const {
  auto replicas = ReplicasFor(key);
  return std::find(replicas.begin(), replicas.end(), node) != replicas.end();
}

}  // namespace dialkv::cluster
