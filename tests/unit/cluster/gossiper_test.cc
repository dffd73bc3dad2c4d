// Gossip over an in-memory network on one io_context. The failure detector runs on a
// ManualClock; rounds are stepped with RunRound(), so most tests never wait for a real timer.
// The tests of Start()/Stop() let real timers run, with tiny intervals and bounded waits.

#include "server/cluster/gossiper.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "server/common/clock.h"
#include "server/common/random.h"
#include "tests/testutil/fake_transport.h"
#include "tests/unit/cluster/member_state_printer.h"

namespace dialkv::cluster {
namespace {

using std::chrono::milliseconds;
using testutil::FakeNetwork;

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kIntervalMs = 200;
constexpr int64_t kSuspectMs = 1000;
constexpr int64_t kDeadMs = 3000;

// A state change as a listener saw it, with the manual time it happened at.
struct Seen {
  int64_t at_ms;
  NodeId node;
  MemberState from;
  MemberState to;
  friend bool operator==(const Seen&, const Seen&) = default;
  friend void PrintTo(const Seen& s, std::ostream* os) {
    *os << "{at " << s.at_ms - kStartMs << " ms: node " << s.node << " " << MemberStateName(s.from)
        << "->" << MemberStateName(s.to) << "}";
  }
};

std::vector<Member> Members(std::vector<NodeId> ids) {
  std::vector<Member> out;
  for (NodeId id : ids) out.push_back({id, "127.0.0.1:" + std::to_string(7380 + id)});
  return out;
}

// The peer service's part, as a coroutine taking everything by value.
asio::awaitable<v1::Envelope> Serve(Gossiper* gossiper, v1::Envelope request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  if (request.has_gossip_request()) {
    *reply.mutable_gossip_reply() = gossiper->HandleGossip(request.gossip_request());
  } else {
    reply.mutable_error_reply()->mutable_status()->set_code(v1::STATUS_INVALID_ARGUMENT);
  }
  co_return reply;
}

// One node: its membership, transport, random source and gossiper.
struct TestNode {
  TestNode(NodeId id, uint64_t generation, std::vector<NodeId> ids, FakeNetwork& network,
           const Clock& clock, Gossiper::Options options)
      : membership(id, generation, Members(std::move(ids)), clock, MembershipOptions()),
        transport(network.TransportFor(id)),
        random(id),
        gossiper(options, membership, *transport, random, [this] { return live_keys; }) {
    const Clock* c = &clock;
    membership.AddListener([this, c](NodeId node, MemberState from, MemberState to) {
      seen.push_back({c->NowMs(), node, from, to});
    });
  }

  static Membership::Options MembershipOptions() {
    Membership::Options o;
    o.suspect_after_ms = kSuspectMs;
    o.dead_after_ms = kDeadMs;
    return o;
  }

  FakeNetwork::Handler Handler() {
    Gossiper* g = &gossiper;
    return [g](v1::Envelope request) { return Serve(g, std::move(request)); };
  }

  uint64_t live_keys = 0;
  Membership membership;
  std::unique_ptr<net::Transport> transport;
  SeededRandom random;
  Gossiper gossiper;
  std::vector<Seen> seen;  // Listener calls, in order (single-threaded tests).
};

class GossipTest : public ::testing::Test {
 protected:
  TestNode& AddNode(NodeId id, uint64_t generation = 1, std::vector<NodeId> ids = {1, 2, 3},
                    uint32_t interval_ms = kIntervalMs) {
    Gossiper::Options options;
    options.interval_ms = interval_ms;
    auto node =
        std::make_unique<TestNode>(id, generation, std::move(ids), network_, clock_, options);
    network_.Register(id, node->Handler());
    TestNode& ref = *node;
    nodes_[id] = std::move(node);
    return ref;
  }

  // Runs one round of node `id` to completion. Calls over cut or down links fail at once, so
  // this does not wait for real time unless a test black-holes a link.
  void Round(NodeId id) {
    bool done = false;
    auto on_done = [&done](const std::exception_ptr& e) {
      if (e) ADD_FAILURE() << "round threw";
      done = true;
    };
    asio::co_spawn(io_, nodes_.at(id)->gossiper.RunRound(), std::move(on_done));
    io_.restart();
    io_.run_for(std::chrono::seconds(10));
    ASSERT_TRUE(done) << "round of node " << id << " did not finish";
  }
  void RoundAll() {
    for (auto& [id, node] : nodes_) Round(id);
  }

  Membership& M(NodeId id) { return nodes_.at(id)->membership; }
  std::vector<Seen> SeenBy(NodeId observer, NodeId subject) {
    std::vector<Seen> out;
    for (const Seen& s : nodes_.at(observer)->seen) {
      if (s.node == subject) out.push_back(s);
    }
    return out;
  }

  // Runs the io_context in short steps until `done()` or `limit` passed.
  bool RunUntil(const std::function<bool()>& done, milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      io_.restart();
      io_.run_for(milliseconds(5));
    }
    return true;
  }

  // Stops every node and waits (bounded) for every loop to exit.
  void StopAll() {
    for (auto& [id, node] : nodes_) node->gossiper.Stop();
    EXPECT_TRUE(RunUntil(
        [this] {
          for (auto& [id, node] : nodes_) {
            if (!node->gossiper.exited()) return false;
          }
          return true;
        },
        milliseconds(5000)));
  }

  // Destroyed in reverse: the io_context first (it destroys any loop still suspended, which is
  // lifetime rule (b)), then the nodes, then what they borrow.
  FakeNetwork network_;
  ManualClock clock_{kStartMs};
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  asio::io_context io_;
};

TEST_F(GossipTest, ThreeGossipersEachSeeEveryOtherAlive) {
  for (NodeId id : {1u, 2u, 3u}) AddNode(id);
  RoundAll();
  for (NodeId observer : {1u, 2u, 3u}) {
    for (NodeId subject : {1u, 2u, 3u}) {
      EXPECT_TRUE(M(observer).IsAlive(subject)) << observer << " sees " << subject;
      EXPECT_EQ(M(observer).StateOf(subject),
                observer == subject ? MemberState::kSelf : MemberState::kAlive);
    }
  }
  EXPECT_EQ(SeenBy(1, 3),
            (std::vector<Seen>{{kStartMs, 3, MemberState::kDead, MemberState::kAlive}}));
}

TEST_F(GossipTest, LiveKeysTravelWithTheHeartbeat) {
  for (NodeId id : {1u, 2u}) AddNode(id, 1, {1, 2});
  nodes_.at(2)->live_keys = 1234;
  Round(2);
  for (const MemberView& v : M(1).Views()) {
    if (v.member.node_id == 2) {
      EXPECT_EQ(v.live_keys, 1234u);
    }
  }
}

TEST_F(GossipTest, ARoundOfASingleNodeClusterOnlyTicks) {
  AddNode(1, 1, {1});
  Round(1);
  Round(1);
  ASSERT_EQ(M(1).Views().size(), 1u);
  EXPECT_EQ(M(1).Views()[0].heartbeat, 2u);
  EXPECT_EQ(M(1).StateOf(1), MemberState::kSelf);
}

TEST_F(GossipTest, CutOffNodeBecomesSuspectThenDeadAtTheConfiguredTimes) {
  for (NodeId id : {1u, 2u, 3u}) AddNode(id);
  RoundAll();
  const int64_t last_heard = clock_.NowMs();
  network_.CutBoth(1, 3);
  network_.CutBoth(2, 3);
  for (int64_t elapsed = kIntervalMs; elapsed <= kDeadMs + kIntervalMs; elapsed += kIntervalMs) {
    clock_.Advance(kIntervalMs);
    RoundAll();
  }
  for (NodeId observer : {1u, 2u}) {
    EXPECT_EQ(
        SeenBy(observer, 3),
        (std::vector<Seen>{{kStartMs, 3, MemberState::kDead, MemberState::kAlive},
                           {last_heard + kSuspectMs, 3, MemberState::kAlive, MemberState::kSuspect},
                           {last_heard + kDeadMs, 3, MemberState::kSuspect, MemberState::kDead}}))
        << "observer " << observer;
    EXPECT_EQ(M(observer).StateOf(3), MemberState::kDead);
    EXPECT_EQ(M(observer).StateOf(observer == 1 ? 2 : 1), MemberState::kAlive);
  }
  // The cut-off node, for its part, sees both others dead.
  EXPECT_EQ(M(3).StateOf(1), MemberState::kDead);
  EXPECT_EQ(M(3).StateOf(2), MemberState::kDead);
}

TEST_F(GossipTest, DownNodeIsDeadAndComesBackAliveWithAHigherGeneration) {
  for (NodeId id : {1u, 2u, 3u}) AddNode(id);
  RoundAll();
  for (int i = 0; i < 5; ++i) {  // Node 3's heartbeat climbs past what its next run starts at.
    clock_.Advance(kIntervalMs);
    RoundAll();
  }
  network_.Down(3);
  nodes_.erase(3);  // Crashed: it runs no more rounds.
  for (int64_t elapsed = 0; elapsed < kDeadMs; elapsed += kIntervalMs) {
    clock_.Advance(kIntervalMs);
    RoundAll();
  }
  ASSERT_EQ(M(1).StateOf(3), MemberState::kDead);
  ASSERT_EQ(M(2).StateOf(3), MemberState::kDead);
  uint64_t old_heartbeat = 0;
  for (const MemberView& v : M(1).Views()) {
    if (v.member.node_id == 3) old_heartbeat = v.heartbeat;
  }
  ASSERT_GT(old_heartbeat, 1u);

  AddNode(3, /*generation=*/2);  // Restarted: Register replaces the handler and brings it up.
  network_.Up(3);
  const int64_t back_at = clock_.NowMs();
  Round(3);
  for (NodeId observer : {1u, 2u}) {
    EXPECT_EQ(M(observer).StateOf(3), MemberState::kAlive) << "observer " << observer;
    EXPECT_EQ(SeenBy(observer, 3).back(),
              (Seen{back_at, 3, MemberState::kDead, MemberState::kAlive}));
    for (const MemberView& v : M(observer).Views()) {
      if (v.member.node_id != 3) continue;
      EXPECT_EQ(v.generation, 2u);
      EXPECT_LT(v.heartbeat, old_heartbeat);  // Replaced although its heartbeat is lower.
    }
  }
}

TEST_F(GossipTest, LivenessIsLearnedThroughAThirdNodesGossip) {
  for (NodeId id : {1u, 2u, 3u}) AddNode(id);
  network_.CutBoth(1, 3);
  RoundAll();  // Node 2 hears of node 3 in this round ...
  RoundAll();  // ... and passes it on to node 1 (and node 1's heartbeat to node 3) in this one.
  for (int64_t elapsed = kIntervalMs; elapsed <= 2 * kDeadMs; elapsed += kIntervalMs) {
    clock_.Advance(kIntervalMs);
    RoundAll();
    EXPECT_EQ(M(1).StateOf(3), MemberState::kAlive) << "after " << elapsed << " ms";
    EXPECT_EQ(M(3).StateOf(1), MemberState::kAlive) << "after " << elapsed << " ms";
  }
  EXPECT_TRUE(SeenBy(1, 3).size() == 1 && SeenBy(1, 3)[0].to == MemberState::kAlive);
  EXPECT_EQ(network_.delivered(1, 3), 0);
  EXPECT_EQ(network_.delivered(3, 1), 0);
  EXPECT_GT(network_.delivered(1, 2), 0);
}

TEST_F(GossipTest, HandleGossipMergesThenAnswersWithItsOwnView) {
  TestNode& node = AddNode(1);
  v1::GossipRequest request;
  v1::MemberState* s = request.add_members();
  s->set_node_id(2);
  s->set_generation(4);
  s->set_heartbeat(9);
  s->set_live_keys(3);
  const v1::GossipReply reply = node.gossiper.HandleGossip(request);
  EXPECT_EQ(reply.status().code(), v1::STATUS_OK);
  ASSERT_EQ(reply.members_size(), 2);
  EXPECT_EQ(reply.members(0).node_id(), 1u);
  EXPECT_EQ(reply.members(1).node_id(), 2u);
  EXPECT_EQ(reply.members(1).generation(), 4u);
  EXPECT_EQ(reply.members(1).heartbeat(), 9u);
  EXPECT_EQ(M(1).StateOf(2), MemberState::kAlive);
}

TEST_F(GossipTest, UnknownNodeIdsInGossipAreIgnored) {
  // Node 4 lists itself, but nodes 1 to 3 were not configured with it.
  for (NodeId id : {1u, 2u, 3u}) AddNode(id);
  AddNode(4, 1, {1, 2, 3, 4});
  RoundAll();
  for (NodeId observer : {1u, 2u, 3u}) {
    EXPECT_EQ(M(observer).Views().size(), 3u);
    EXPECT_EQ(M(observer).Find(4), nullptr);
    EXPECT_EQ(M(observer).StateOf(4), MemberState::kDead);
    for (const Seen& s : nodes_.at(observer)->seen) EXPECT_NE(s.node, 4u);
  }
  EXPECT_EQ(network_.delivered(1, 4), 0);           // Nobody gossips to a node it does not know.
  EXPECT_EQ(M(4).StateOf(1), MemberState::kAlive);  // Node 4 still hears the others.
}

TEST_F(GossipTest, ASlowPeerDoesNotDelayNewsFromTheOthers) {
  for (NodeId id : {1u, 2u, 3u}) AddNode(id, 1, {1, 2, 3}, /*interval_ms=*/50);
  network_.BlackHole(1, 2);
  bool done = false;
  auto on_done = [&done](const std::exception_ptr&) { done = true; };
  const auto started = std::chrono::steady_clock::now();
  asio::co_spawn(io_, nodes_.at(1)->gossiper.RunRound(), std::move(on_done));
  // Only what is ready runs: node 3 answers at once, the call to node 2 waits for its deadline.
  io_.poll();
  EXPECT_EQ(M(1).StateOf(3), MemberState::kAlive);
  EXPECT_EQ(M(1).StateOf(2), MemberState::kDead);
  EXPECT_FALSE(done);
  io_.restart();
  io_.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(done);
  // The round ended at its deadline, one interval, not later.
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(50));
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(5000));
}

TEST_F(GossipTest, StartedLoopsConvergeAndStopPromptly) {
  for (NodeId id : {1u, 2u, 3u}) AddNode(id, 1, {1, 2, 3}, /*interval_ms=*/5);
  for (auto& [id, node] : nodes_) {
    EXPECT_TRUE(node->gossiper.exited());  // Not started yet.
    node->gossiper.Start(io_.get_executor());
    EXPECT_FALSE(node->gossiper.exited());
  }
  auto heartbeat_of_1_at_2 = [this] {
    for (const MemberView& v : M(2).Views()) {
      if (v.member.node_id == 1) return v.heartbeat;
    }
    return uint64_t{0};
  };
  auto everyone_alive_and_several_rounds = [&] {
    for (NodeId observer : {1u, 2u, 3u}) {
      for (NodeId subject : {1u, 2u, 3u}) {
        if (!M(observer).IsAlive(subject)) return false;
      }
    }
    return heartbeat_of_1_at_2() >= 3;
  };
  ASSERT_TRUE(RunUntil(everyone_alive_and_several_rounds, milliseconds(5000)));
  StopAll();
  for (auto& [id, node] : nodes_) EXPECT_TRUE(node->gossiper.exited());
  // Stopped loops run no more rounds.
  const uint64_t before = heartbeat_of_1_at_2();
  io_.restart();
  io_.run_for(milliseconds(30));
  EXPECT_EQ(heartbeat_of_1_at_2(), before);
}

TEST_F(GossipTest, StopFromAnotherThreadCutsTheWaitBetweenRoundsShort) {
  // A one-minute interval: the loop spends its time waiting; Stop() must not wait it out.
  TestNode& node = AddNode(1, 1, {1, 2, 3}, /*interval_ms=*/60'000);
  auto guard = asio::make_work_guard(io_);
  std::thread io_thread([this] { io_.run(); });
  node.gossiper.Start(io_.get_executor());
  const auto stop_at = std::chrono::steady_clock::now();
  node.gossiper.Stop();
  node.gossiper.Stop();  // Idempotent.
  EXPECT_TRUE(node.gossiper.WaitExited(milliseconds(5000)));
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at, milliseconds(5000));
  guard.reset();
  io_.stop();
  io_thread.join();
  node.gossiper.Start(io_.get_executor());  // After Stop(): does nothing.
  EXPECT_TRUE(node.gossiper.exited());
}

TEST_F(GossipTest, StopWaitsForTheRoundInProgressAtMostOneInterval) {
  for (NodeId id : {1u, 2u, 3u}) AddNode(id, 1, {1, 2, 3}, /*interval_ms=*/40);
  network_.BlackHole(1, 2);
  network_.BlackHole(1, 3);
  TestNode& node = *nodes_.at(1);
  node.gossiper.Start(io_.get_executor());
  // Wait until a round has started: its calls then wait for their deadline in the black holes.
  ASSERT_TRUE(RunUntil([&] { return M(1).Views()[0].heartbeat >= 1; }, milliseconds(5000)));
  const auto stop_at = std::chrono::steady_clock::now();
  node.gossiper.Stop();
  ASSERT_TRUE(RunUntil([&] { return node.gossiper.exited(); }, milliseconds(5000)));
  EXPECT_LT(std::chrono::steady_clock::now() - stop_at, milliseconds(2000));
}

// Lifetime rule (b): destroying the io_context destroys the loop, which counts as exited, so
// the gossiper may then be destroyed without Stop().
TEST(GossiperLifetimeTest, DestroyingTheIoContextFirstEndsTheLoop) {
  FakeNetwork network;
  ManualClock clock(kStartMs);
  for (bool ran : {false, true}) {
    SCOPED_TRACE(ran ? "after rounds ran" : "before the loop ever ran");
    TestNode node(1, 1, {1, 2, 3}, network, clock, Gossiper::Options{.interval_ms = 5});
    TestNode peer(2, 1, {1, 2, 3}, network, clock, Gossiper::Options{.interval_ms = 5});
    network.Register(1, node.Handler());
    network.Register(2, peer.Handler());
    network.BlackHole(1, 3);  // Keeps a call suspended inside the fake network.
    auto io = std::make_unique<asio::io_context>();
    node.gossiper.Start(io->get_executor());
    if (ran) io->run_for(milliseconds(30));
    EXPECT_FALSE(node.gossiper.exited());
    io.reset();
    EXPECT_TRUE(node.gossiper.exited());
    network.HealAll();
  }
}

}  // namespace
}  // namespace dialkv::cluster
