#pragma once
// An in-memory network for unit tests of replication and gossip: nodes are request handlers
// registered by id, and a call runs the callee's handler on the caller's executor (no sockets,
// no threads), so a whole cluster runs on one io_context and a test replays exactly.
//
// Links can be cut (calls fail at once with kUnavailable), black-holed (no reply: kTimeout at
// the deadline, and the request is never delivered), made slow (a delay before delivery), or
// one-way lost (delivered, reply lost: kTimeout at the deadline — the request took effect).
// Like the production transport, the caller's side stamps Envelope.peer (cluster, node id,
// the caller's hlc) on requests and folds the reply's hlc into the caller's clock; the
// callee's handler does the other half, as the peer service does.
//
// Thread-compatible: use from one thread (the io_context's).

#include <asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "server/common/hlc.h"
#include "server/net/transport.h"

namespace dialkv::testutil {

class FakeNetwork {
 public:
  using Handler = std::function<asio::awaitable<v1::Envelope>(v1::Envelope request)>;

  explicit FakeNetwork(std::string cluster_name = "test")
      : cluster_name_(std::move(cluster_name)) {}

  // Adds (or replaces) node `node`. `hlc` (optional, not owned) stamps its requests and
  // absorbs its replies.
  void Register(NodeId node, Handler handler, HybridLogicalClock* hlc = nullptr);
  // The node is down: calls to it fail with kUnavailable until it is registered again.
  void Down(NodeId node);
  void Up(NodeId node);

  // Faults on the directed link from -> to. Cut and BlackHole apply to requests; LoseReplies
  // delivers the request and drops the reply.
  void Cut(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void CutBoth(NodeId a, NodeId b) {
    Cut(a, b);
    Cut(b, a);
  }
  void BlackHole(NodeId from, NodeId to) { black_hole_.insert({from, to}); }
  void LoseReplies(NodeId from, NodeId to) { lose_replies_.insert({from, to}); }
  void SetDelay(NodeId from, NodeId to, std::chrono::milliseconds delay) {
    delay_[{from, to}] = delay;
  }
  void HealAll();

  // How many requests were delivered on from -> to (a batch counts once).
  int delivered(NodeId from, NodeId to) const;

  // What every node's transport says of its peers' batches (Transport::ServesBatches); true
  // unless set otherwise, as between nodes of this release.
  void SetServesBatches(bool serves) { serves_batches_ = serves; }
  bool serves_batches() const { return serves_batches_; }

  // The Transport node `self` uses. The network must outlive it.
  std::unique_ptr<net::Transport> TransportFor(NodeId self);

 private:
  class Endpoint;
  using Link = std::pair<NodeId, NodeId>;
  struct Node {
    Handler handler;
    HybridLogicalClock* hlc = nullptr;
    bool up = true;
  };

  asio::awaitable<Result<v1::Envelope>> Call(NodeId from, NodeId to, v1::Envelope request,
                                             net::Deadline deadline);

  std::string cluster_name_;
  std::map<NodeId, Node> nodes_;
  std::set<Link> cut_, black_hole_, lose_replies_;
  std::map<Link, std::chrono::milliseconds> delay_;
  std::map<Link, int> delivered_;
  uint64_t next_id_ = 1;
  bool serves_batches_ = true;
};

}  // namespace dialkv::testutil
