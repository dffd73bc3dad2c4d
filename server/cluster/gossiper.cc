#include "server/cluster/gossiper.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <string>
#include <utility>

#include "server/common/check.h"
#include "server/common/logging.h"

namespace dialkv::cluster {

// The calls of one round in flight. Used only on the round's executor, which runs one handler
// at a time, so `pending` needs no lock.
struct Gossiper::Round {
  explicit Round(const asio::any_io_executor& executor)
      : done(executor, asio::steady_timer::time_point::max()) {}
  size_t pending = 0;
  asio::steady_timer done;  // Cancelled when pending drops to 0, which wakes the round.
};

namespace {

BackgroundService::Options ServiceOptions(const Gossiper::Options& options, Random& random,
                                          const Membership& membership) {
  BackgroundService::Options service;
  service.name = "node=" + std::to_string(membership.self()) + " gossip loop";
  service.subsystem = Subsystem::kCluster;
  service.interval_ms = options.interval_ms;
  // A round ends by its calls' deadline (one interval), so ticks keep a fixed rate; the random
  // first offset spreads nodes started together, and the fixed rate then keeps them apart.
  service.fixed_rate = true;
  service.first_offset = &random;
  const NodeId self = membership.self();
  service.on_stop = [self] { Log(Subsystem::kCluster).info("node={} gossip stopped", self); };
  return service;
}

}  // namespace

Gossiper::Gossiper(Options options, Membership& membership, net::Transport& transport,
                   Random& random, std::function<uint64_t()> live_keys,
                   const MonotonicClock& steady)
    : options_(options),
      membership_(membership),
      transport_(transport),
      live_keys_(std::move(live_keys)),
      steady_(steady),
      service_(ServiceOptions(options, random, membership), steady, [this] { return RunRound(); }) {
  DIALKV_CHECK(options_.interval_ms > 0);
  DIALKV_CHECK(live_keys_ != nullptr);
}

Gossiper::~Gossiper() { DIALKV_CHECK(exited()); }

void Gossiper::Start(asio::any_io_executor executor) {
  if (!service_.Start(executor)) return;
  Log(Subsystem::kCluster)
      .info("node={} gossiping with {} peers every {} ms", membership_.self(),
            membership_.members().size() - 1, options_.interval_ms);
}

void Gossiper::Stop() { service_.RequestStop(); }

asio::awaitable<void> Gossiper::RunRound() {
  membership_.Tick(live_keys_());
  if (offsets_ != nullptr) offsets_->Refresh();  // Estimates of silent peers age out.
  v1::Envelope request;
  v1::GossipRequest* gossip = request.mutable_gossip_request();
  for (v1::MemberState& s : membership_.Snapshot()) *gossip->add_members() = std::move(s);

  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  const net::Deadline deadline = steady_.Now() + std::chrono::milliseconds(options_.interval_ms);
  auto round = std::make_shared<Round>(executor);
  const NodeId self = membership_.self();
  for (const Member& member : membership_.members()) {
    if (member.node_id == self) continue;
    ++round->pending;
    v1::Envelope copy = request;
    // Called on `executor` when the call finishes, not when its frame is destroyed unrun (the
    // io_context is going away, and so is this round).
    auto on_done = [round, self, peer = member.node_id](const std::exception_ptr& e) {
      if (e) {
        Log(Subsystem::kCluster)
            .error("node={} peer={} gossip call threw: {}", self, peer, DescribeException(e));
      }
      if (--round->pending == 0) round->done.cancel();
    };
    asio::co_spawn(executor, CallPeer(member.node_id, std::move(copy), deadline),
                   std::move(on_done));
  }
  // A call may finish inside co_spawn (the executor may run it inline); `pending` counts those
  // still running, and none of them can finish before this wait starts: this coroutine does not
  // yield until then, and the executor runs one handler at a time.
  if (round->pending > 0) {
    co_await round->done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Gossiper::CallPeer(NodeId peer, v1::Envelope request,
                                         net::Deadline deadline) {
  PeerClockOffsets::Probe probe;
  if (offsets_ != nullptr) {
    probe = offsets_->Begin();
    request.mutable_gossip_request()->set_wall_ms(probe.wall_ms);
  }
  Result<v1::Envelope> reply = co_await transport_.Call(peer, std::move(request), deadline);
  [[maybe_unused]] const NodeId self = membership_.self();  // Debug lines only.
  if (!reply.ok()) {
    // Expected while a peer is down; the failure detector reports it, once, at info.
    DIALKV_LOG_DEBUG(Log(Subsystem::kCluster), "node={} peer={} gossip failed: {}", self, peer,
                     reply.status().ToString());
    co_return;
  }
  if (!reply->has_gossip_reply()) {
    DIALKV_LOG_DEBUG(Log(Subsystem::kCluster), "node={} peer={} answered gossip with body {}", self,
                     peer, static_cast<int>(reply->body_case()));
    co_return;
  }
  const v1::GossipReply& answer = reply->gossip_reply();
  if (answer.status().code() != v1::STATUS_OK) {
    DIALKV_LOG_DEBUG(Log(Subsystem::kCluster), "node={} peer={} refused gossip: {}", self, peer,
                     answer.status().message());
    co_return;
  }
  membership_.Merge(answer.members());
  if (offsets_ != nullptr) offsets_->Record(peer, probe, answer.wall_ms());
}

v1::GossipReply Gossiper::HandleGossip(const v1::GossipRequest& request) {
  membership_.Merge(request.members());
  v1::GossipReply reply;
  reply.mutable_status()->set_code(v1::STATUS_OK);
  for (v1::MemberState& s : membership_.Snapshot()) *reply.add_members() = std::move(s);
  if (offsets_ != nullptr) reply.set_wall_ms(offsets_->WallMs());
  return reply;
}

}  // namespace dialkv::cluster
