#include "server/cluster/gossiper.h"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <string>
#include <utility>

#include "server/common/check.h"
#include "server/common/logging.h"

namespace dialkv::cluster {

// Passed to Loop() by value, so it lives in the coroutine frame from the moment co_spawn
// creates it: destroying the frame marks the loop exited, even when the io_context is destroyed
// before the loop ever ran. Move-only; a moved-from notice does nothing.
class Gossiper::ExitNotice {
 public:
  explicit ExitNotice(Gossiper* gossiper) : gossiper_(gossiper) {}
  ExitNotice(ExitNotice&& other) noexcept : gossiper_(std::exchange(other.gossiper_, nullptr)) {}
  ExitNotice& operator=(ExitNotice&&) = delete;
  ~ExitNotice() {
    if (gossiper_ != nullptr) gossiper_->MarkExited();
  }

 private:
  Gossiper* gossiper_;
};

// The calls of one round in flight. Used only on the round's executor, which runs one handler
// at a time, so `pending` needs no lock.
struct Gossiper::Round {
  explicit Round(const asio::any_io_executor& executor)
      : done(executor, asio::steady_timer::time_point::max()) {}
  size_t pending = 0;
  asio::steady_timer done;  // Cancelled when pending drops to 0, which wakes the round.
};

Gossiper::Gossiper(Options options, Membership& membership, net::Transport& transport,
                   Random& random, std::function<uint64_t()> live_keys)
    : options_(options),
      membership_(membership),
      transport_(transport),
      random_(random),
      live_keys_(std::move(live_keys)) {
  DIALKV_CHECK(options_.interval_ms > 0);
  DIALKV_CHECK(live_keys_ != nullptr);
}

Gossiper::~Gossiper() { DIALKV_CHECK(exited()); }

void Gossiper::Start(asio::any_io_executor executor) {
  const asio::any_io_executor strand = asio::make_strand(executor);
  auto timer = std::make_shared<asio::steady_timer>(strand);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stop_requested_) return;
    started_ = true;
    exited_ = false;
    wait_timer_ = timer;
  }
  // Outside mu_: the loop and its ExitNotice take it. A Stop() from now on finds the timer.
  const NodeId self = membership_.self();
  Log(Subsystem::kCluster)
      .info("node={} gossiping with {} peers every {} ms", self, membership_.members().size() - 1,
            options_.interval_ms);
  // Named, not written in the call: GCC 12 may copy a prvalue argument of a coroutine bitwise.
  ExitNotice notice(this);
  asio::co_spawn(
      strand, Loop(std::move(timer), std::move(notice)), [self](const std::exception_ptr& e) {
        if (e) {
          Log(Subsystem::kCluster)
              .error("node={} gossip loop threw: {}; gossip stopped", self, DescribeException(e));
        }
      });
}

void Gossiper::Stop() {
  std::shared_ptr<asio::steady_timer> timer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_requested_) return;
    stop_requested_ = true;
    timer = wait_timer_.lock();
  }
  // The timer belongs to the loop's strand: cancel it there. Either the loop is waiting and
  // wakes, or it is busy on the strand and sees stop_requested() before it waits again.
  if (timer != nullptr) {
    const asio::any_io_executor executor = timer->get_executor();
    asio::post(executor, [timer = std::move(timer)] { timer->cancel(); });
  }
}

bool Gossiper::stop_requested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_requested_;
}

bool Gossiper::exited() const {
  std::lock_guard<std::mutex> lock(mu_);
  return exited_;
}

void Gossiper::MarkExited() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exited_ = true;
  }
  exited_cv_.notify_all();
}

bool Gossiper::WaitExited(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return exited_cv_.wait_for(lock, timeout, [this] { return exited_; });
}

asio::awaitable<void> Gossiper::Loop(std::shared_ptr<asio::steady_timer> timer, ExitNotice notice) {
  (void)notice;  // Its destructor is the point.
  const auto interval = std::chrono::milliseconds(options_.interval_ms);
  // A random first offset spreads nodes started together; the fixed rate then keeps them apart.
  auto next_round = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(random_.Uniform(options_.interval_ms));
  while (!stop_requested()) {
    timer->expires_at(next_round);
    co_await timer->async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    if (stop_requested()) break;
    next_round += interval;
    co_await RunRound();
    // A round ends by its calls' deadline, so it overruns by a hair at most; never make up for
    // it with a burst of rounds.
    next_round = std::max(next_round, std::chrono::steady_clock::now());
  }
  Log(Subsystem::kCluster).info("node={} gossip stopped", membership_.self());
}

asio::awaitable<void> Gossiper::RunRound() {
  membership_.Tick(live_keys_());
  if (offsets_ != nullptr) offsets_->Refresh();  // Estimates of silent peers age out.
  v1::Envelope request;
  v1::GossipRequest* gossip = request.mutable_gossip_request();
  for (v1::MemberState& s : membership_.Snapshot()) *gossip->add_members() = std::move(s);

  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  const net::Deadline deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.interval_ms);
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
