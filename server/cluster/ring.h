#pragma once
// Placement: consistent hashing with virtual nodes (docs/architecture.md).
//
// Each node owns `vnodes` tokens on a 64-bit ring; token i of node n is xxh64 of the 8 bytes
// (n as little-endian uint32, i as little-endian uint32), seed 0. A key's replicas are the
// first `replication_factor` distinct nodes met clockwise from KeyHash(key) (the first token
// >= the hash, wrapping at the end). Every node computes the same ring from the same member
// list, whatever order the list is in. The replication factor is capped at the member count.
//
// Immutable after Build(): safe to share across threads.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "dialkv/types.h"
#include "server/common/status.h"

namespace dialkv::cluster {

class Ring {
 public:
  // Bounds --vnodes: the ring holds nodes * vnodes tokens and RF replica ids per token.
  static constexpr uint32_t kMaxVnodes = 1024;

  struct Options {
    // Tokens per node: more spreads keys (and a failed node's load) more evenly, at the cost of
    // memory and of more, smaller ranges for anti-entropy to compare. 1..kMaxVnodes.
    uint32_t vnodes = 16;
    uint32_t replication_factor = 3;  // Copies of each key; capped at the number of nodes.
  };

  // Errors: kInvalidArgument for no nodes, a duplicate node id, vnodes == 0 or above
  // kMaxVnodes, or replication_factor == 0.
  static Result<Ring> Build(std::vector<NodeId> nodes, Options options);

  // The replicas of `key`, in ring order (the first is the key's primary). The span stays
  // valid as long as the Ring. No allocation.
  std::span<const NodeId> ReplicasFor(std::string_view key) const;
  std::span<const NodeId> ReplicasForHash(uint64_t key_hash) const;
  bool IsReplica(NodeId node, std::string_view key) const;

  // floor(RF / 2) + 1: how many replicas a CP request needs.
  uint32_t quorum() const { return replication_factor_ / 2 + 1; }
  uint32_t replication_factor() const { return replication_factor_; }
  const std::vector<NodeId>& nodes() const { return nodes_; }  // Sorted by id.

  struct Token {
    uint64_t position;
    NodeId node;
  };
  // All tokens, sorted by position. Range i covers (tokens[i-1].position, tokens[i].position]
  // (range 0 wraps around from the last token); its replicas are ReplicasOfRange(i).
  const std::vector<Token>& tokens() const { return tokens_; }
  // REQUIRES: token_index < tokens().size().
  std::span<const NodeId> ReplicasOfRange(size_t token_index) const;

 private:
  Ring() = default;
  std::vector<NodeId> nodes_;
  std::vector<Token> tokens_;
  uint32_t replication_factor_ = 0;
  // replicas_[i * replication_factor_ ...]: the replica set of range i, precomputed so a lookup
  // is one binary search.
  std::vector<NodeId> replicas_;
};

}  // namespace dialkv::cluster
