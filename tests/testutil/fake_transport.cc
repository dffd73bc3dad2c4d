#include "tests/testutil/fake_transport.h"

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace dialkv::testutil {
namespace {

// Suspends until `until` (or returns at once if it passed).
asio::awaitable<void> SleepUntil(net::Deadline until) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(until);
  co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
}

}  // namespace

class FakeNetwork::Endpoint final : public net::Transport {
 public:
  Endpoint(FakeNetwork* network, NodeId self) : network_(network), self_(self) {}
  asio::awaitable<Result<v1::Envelope>> Call(NodeId peer, v1::Envelope request,
                                             net::Deadline deadline) override {
    return network_->Call(self_, peer, std::move(request), deadline);
  }
  bool ServesBatches(NodeId /*peer*/) const override { return network_->serves_batches(); }

 private:
  FakeNetwork* network_;
  NodeId self_;
};

void FakeNetwork::Register(NodeId node, Handler handler, HybridLogicalClock* hlc) {
  nodes_[node] = Node{std::move(handler), hlc, true};
}

void FakeNetwork::Down(NodeId node) { nodes_[node].up = false; }
void FakeNetwork::Up(NodeId node) { nodes_[node].up = true; }

void FakeNetwork::HealAll() {
  cut_.clear();
  black_hole_.clear();
  lose_replies_.clear();
  delay_.clear();
}

int FakeNetwork::delivered(NodeId from, NodeId to) const {
  auto it = delivered_.find({from, to});
  return it == delivered_.end() ? 0 : it->second;
}

std::unique_ptr<net::Transport> FakeNetwork::TransportFor(NodeId self) {
  return std::make_unique<Endpoint>(this, self);
}

asio::awaitable<Result<v1::Envelope>> FakeNetwork::Call(NodeId from, NodeId to,
                                                        v1::Envelope request,
                                                        net::Deadline deadline) {
  const Link link{from, to};
  auto target = nodes_.find(to);
  if (target == nodes_.end() || !target->second.up || cut_.count(link) > 0) {
    co_return Status::Unavailable("peer " + std::to_string(to) + " unreachable (fake network)");
  }
  if (black_hole_.count(link) > 0) {
    co_await SleepUntil(deadline);
    co_return Status::Timeout("no reply from peer " + std::to_string(to) + " (black hole)");
  }
  if (auto d = delay_.find(link); d != delay_.end()) {
    const auto arrival = std::chrono::steady_clock::now() + d->second;
    co_await SleepUntil(std::min(arrival, deadline));
    if (arrival > deadline) {
      co_return Status::Timeout("no reply from peer " + std::to_string(to) + " (slow link)");
    }
  }
  request.set_id(next_id_++);
  v1::PeerHeader* header = request.mutable_peer();
  header->set_cluster_name(cluster_name_);
  header->set_node_id(from);
  auto self = nodes_.find(from);
  HybridLogicalClock* caller_hlc = self != nodes_.end() ? self->second.hlc : nullptr;
  if (caller_hlc != nullptr) header->set_hlc(caller_hlc->Now().hlc);

  ++delivered_[link];
  Handler handler = target->second.handler;  // The registry may change while we wait.
  v1::Envelope reply = co_await handler(std::move(request));
  if (lose_replies_.count(link) > 0) {
    co_await SleepUntil(deadline);
    co_return Status::Timeout("reply from peer " + std::to_string(to) + " lost");
  }
  if (caller_hlc != nullptr && reply.has_peer()) {
    (void)caller_hlc->Observe(reply.peer().hlc());  // Beyond the guard: not folded in.
  }
  co_return reply;
}

}  // namespace dialkv::testutil
