#include "server/cluster/membership.h"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "server/storage/memory_engine.h"
#include "server/storage/rocksdb_engine.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/cluster/member_state_printer.h"

namespace dialkv::cluster {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kSuspectMs = 1000;
constexpr int64_t kDeadMs = 3000;

using Transition = std::tuple<NodeId, MemberState, MemberState>;

std::vector<Member> ThreeMembers() {
  return {{3, "127.0.0.1:7382"}, {1, "127.0.0.1:7380"}, {2, "127.0.0.1:7381"}};
}

Membership::Options Opts() {
  Membership::Options o;
  o.suspect_after_ms = kSuspectMs;
  o.dead_after_ms = kDeadMs;
  return o;
}

v1::MemberState State(NodeId node, uint64_t generation, uint64_t heartbeat,
                      uint64_t live_keys = 0) {
  v1::MemberState s;
  s.set_node_id(node);
  s.set_generation(generation);
  s.set_heartbeat(heartbeat);
  s.set_live_keys(live_keys);
  return s;
}

google::protobuf::RepeatedPtrField<v1::MemberState> States(std::vector<v1::MemberState> states) {
  google::protobuf::RepeatedPtrField<v1::MemberState> out;
  for (v1::MemberState& s : states) *out.Add() = std::move(s);
  return out;
}

MemberView ViewOf(const Membership& m, NodeId node) {
  for (const MemberView& v : m.Views()) {
    if (v.member.node_id == node) return v;
  }
  ADD_FAILURE() << "no view of node " << node;
  return {};
}

class MembershipTest : public ::testing::Test {
 protected:
  MembershipTest() : membership_(1, 1, ThreeMembers(), clock_, Opts()) {
    membership_.AddListener([this](NodeId node, MemberState from, MemberState to) {
      std::lock_guard<std::mutex> lock(mu_);
      transitions_.emplace_back(node, from, to);
    });
  }

  std::vector<Transition> TakeTransitions() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(transitions_, {});
  }

  ManualClock clock_{kStartMs};
  Membership membership_;
  std::mutex mu_;
  std::vector<Transition> transitions_;  // Guarded by mu_.
};

TEST(MemberStateNameTest, NamesEveryState) {
  EXPECT_EQ(MemberStateName(MemberState::kSelf), "self");
  EXPECT_EQ(MemberStateName(MemberState::kAlive), "alive");
  EXPECT_EQ(MemberStateName(MemberState::kSuspect), "suspect");
  EXPECT_EQ(MemberStateName(MemberState::kDead), "dead");
}

TEST_F(MembershipTest, StartsWithSelfAndEveryPeerNeverHeard) {
  EXPECT_EQ(membership_.self(), 1u);
  EXPECT_EQ(membership_.generation(), 1u);
  EXPECT_EQ(membership_.StateOf(1), MemberState::kSelf);
  EXPECT_TRUE(membership_.IsAlive(1));
  for (NodeId peer : {2u, 3u}) {
    EXPECT_EQ(membership_.StateOf(peer), MemberState::kDead);
    EXPECT_FALSE(membership_.IsAlive(peer));
    const MemberView v = ViewOf(membership_, peer);
    EXPECT_EQ(v.generation, 0u);
    EXPECT_EQ(v.last_heard_ms_ago, -1);
  }
  EXPECT_EQ(ViewOf(membership_, 1).last_heard_ms_ago, 0);
  EXPECT_TRUE(TakeTransitions().empty());
}

TEST_F(MembershipTest, MembersAreSortedByIdAndFindKnowsOnlyConfiguredNodes) {
  ASSERT_EQ(membership_.members().size(), 3u);
  EXPECT_EQ(membership_.members()[0].node_id, 1u);
  EXPECT_EQ(membership_.members()[1].node_id, 2u);
  EXPECT_EQ(membership_.members()[2].node_id, 3u);
  ASSERT_NE(membership_.Find(3), nullptr);
  EXPECT_EQ(membership_.Find(3)->peer_address, "127.0.0.1:7382");
  EXPECT_EQ(membership_.Find(4), nullptr);
  EXPECT_EQ(membership_.StateOf(4), MemberState::kDead);
  EXPECT_FALSE(membership_.IsAlive(4));
}

TEST_F(MembershipTest, TickAdvancesOwnHeartbeatAndSnapshotCarriesLiveKeys) {
  membership_.Tick(42);
  membership_.Tick(43);
  const std::vector<v1::MemberState> snapshot = membership_.Snapshot();
  ASSERT_EQ(snapshot.size(), 1u);  // Peers never heard are left out.
  EXPECT_EQ(snapshot[0].node_id(), 1u);
  EXPECT_EQ(snapshot[0].generation(), 1u);
  EXPECT_EQ(snapshot[0].heartbeat(), 2u);
  EXPECT_EQ(snapshot[0].live_keys(), 43u);
}

TEST_F(MembershipTest, NewerHeartbeatIsHeardAndMakesAPeerAlive) {
  membership_.Merge(States({State(2, 1, 5, 7)}));
  EXPECT_EQ(membership_.StateOf(2), MemberState::kAlive);
  EXPECT_EQ(TakeTransitions(),
            (std::vector<Transition>{{2, MemberState::kDead, MemberState::kAlive}}));
  const MemberView v = ViewOf(membership_, 2);
  EXPECT_EQ(v.generation, 1u);
  EXPECT_EQ(v.heartbeat, 5u);
  EXPECT_EQ(v.live_keys, 7u);
  EXPECT_EQ(v.last_heard_ms_ago, 0);
  clock_.Advance(250);
  EXPECT_EQ(ViewOf(membership_, 2).last_heard_ms_ago, 250);
  // Snapshot now carries the peer too, sorted by id.
  const std::vector<v1::MemberState> snapshot = membership_.Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot[1].node_id(), 2u);
  EXPECT_EQ(snapshot[1].heartbeat(), 5u);
}

TEST_F(MembershipTest, TimeoutDetectorMarksSuspectThenDeadAtTheConfiguredTimes) {
  membership_.Merge(States({State(2, 1, 1)}));
  TakeTransitions();
  clock_.Advance(kSuspectMs - 1);
  membership_.Tick(0);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kAlive);
  clock_.Advance(1);
  membership_.Tick(0);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kSuspect);
  EXPECT_FALSE(membership_.IsAlive(2));
  clock_.Advance(kDeadMs - kSuspectMs - 1);
  membership_.Tick(0);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kSuspect);
  clock_.Advance(1);
  membership_.Tick(0);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kDead);
  EXPECT_EQ(TakeTransitions(),
            (std::vector<Transition>{{2, MemberState::kAlive, MemberState::kSuspect},
                                     {2, MemberState::kSuspect, MemberState::kDead}}));
  EXPECT_EQ(membership_.StateOf(1), MemberState::kSelf);  // Never suspects itself.
}

TEST_F(MembershipTest, SilenceLongerThanDeadAfterGoesStraightFromAliveToDead) {
  membership_.Merge(States({State(2, 1, 1)}));
  TakeTransitions();
  clock_.Advance(kDeadMs + 5000);
  membership_.Tick(0);
  EXPECT_EQ(TakeTransitions(),
            (std::vector<Transition>{{2, MemberState::kAlive, MemberState::kDead}}));
}

TEST_F(MembershipTest, StaleOrRepeatedNewsDoesNotCountAsHeard) {
  membership_.Merge(States({State(2, 3, 10)}));
  clock_.Advance(kSuspectMs - 100);
  // Same heartbeat, an older one, an older generation: none is news.
  membership_.Merge(States({State(2, 3, 10), State(2, 3, 9), State(2, 2, 500)}));
  clock_.Advance(100);
  membership_.Tick(0);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kSuspect);
  EXPECT_EQ(ViewOf(membership_, 2).heartbeat, 10u);
  EXPECT_EQ(ViewOf(membership_, 2).generation, 3u);
  // A suspect heard from is alive again at once.
  membership_.Merge(States({State(2, 3, 11)}));
  EXPECT_EQ(membership_.StateOf(2), MemberState::kAlive);
}

TEST_F(MembershipTest, HigherGenerationReplacesTheEntryEvenWithALowerHeartbeat) {
  membership_.Merge(States({State(3, 1, 900, 50)}));
  clock_.Advance(kDeadMs);
  membership_.Tick(0);
  ASSERT_EQ(membership_.StateOf(3), MemberState::kDead);
  TakeTransitions();
  // Node 3 restarted: generation 2, heartbeat back to 1.
  membership_.Merge(States({State(3, 2, 1, 0)}));
  EXPECT_EQ(membership_.StateOf(3), MemberState::kAlive);
  EXPECT_EQ(TakeTransitions(),
            (std::vector<Transition>{{3, MemberState::kDead, MemberState::kAlive}}));
  const MemberView v = ViewOf(membership_, 3);
  EXPECT_EQ(v.generation, 2u);
  EXPECT_EQ(v.heartbeat, 1u);
  EXPECT_EQ(v.live_keys, 0u);
  // The old run's news, still travelling, is now stale.
  membership_.Merge(States({State(3, 1, 901)}));
  EXPECT_EQ(ViewOf(membership_, 3).generation, 2u);
}

TEST_F(MembershipTest, UnknownNodeIdsAndGenerationZeroAreIgnored) {
  membership_.Merge(States({State(99, 1, 1), State(2, 0, 5)}));
  EXPECT_EQ(membership_.Views().size(), 3u);
  EXPECT_EQ(membership_.StateOf(99), MemberState::kDead);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kDead);
  EXPECT_EQ(membership_.Snapshot().size(), 1u);
  EXPECT_TRUE(TakeTransitions().empty());
}

TEST_F(MembershipTest, StateIsReportedAsOfTheLastEvaluation) {
  membership_.Merge(States({State(2, 1, 1)}));
  clock_.Advance(kDeadMs);
  // No Tick yet: state and listeners agree on "alive"; the silence is visible in the view.
  EXPECT_EQ(membership_.StateOf(2), MemberState::kAlive);
  EXPECT_EQ(ViewOf(membership_, 2).last_heard_ms_ago, kDeadMs);
  membership_.Tick(0);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kDead);
}

TEST_F(MembershipTest, ClockSteppingBackwardsCountsAsNoSilence) {
  membership_.Merge(States({State(2, 1, 1)}));
  clock_.Advance(-60'000);
  membership_.Tick(0);
  EXPECT_EQ(membership_.StateOf(2), MemberState::kAlive);
  EXPECT_EQ(ViewOf(membership_, 2).last_heard_ms_ago, 0);
}

TEST_F(MembershipTest, ListenersRunWithoutTheLockAndMayQueryMembership) {
  std::vector<MemberState> seen;
  membership_.AddListener([this, &seen](NodeId node, MemberState, MemberState) {
    // Each of these takes the table lock: this would deadlock if the listener ran under it.
    seen.push_back(membership_.StateOf(node));
    EXPECT_EQ(membership_.Views().size(), 3u);
    EXPECT_FALSE(membership_.Snapshot().empty());
  });
  membership_.Merge(States({State(2, 1, 1)}));
  clock_.Advance(kSuspectMs);
  membership_.Tick(0);
  EXPECT_EQ(seen, (std::vector<MemberState>{MemberState::kAlive, MemberState::kSuspect}));
}

TEST_F(MembershipTest, AdoptsAHeartbeatAheadOfThisRunInTheSameGeneration) {
  membership_.Tick(0);
  // A previous run with the same generation (its bump lost) got to heartbeat 500.
  membership_.Merge(States({State(1, 1, 500)}));
  EXPECT_EQ(membership_.generation(), 1u);
  membership_.Tick(0);
  EXPECT_EQ(ViewOf(membership_, 1).heartbeat, 501u);
  EXPECT_EQ(membership_.StateOf(1), MemberState::kSelf);
}

TEST_F(MembershipTest, AdoptsAGenerationAheadOfThisRunAsOneMore) {
  // Peers remember generation 7 of this node id (its data dir was replaced).
  membership_.Merge(States({State(1, 7, 30)}));
  EXPECT_EQ(membership_.generation(), 8u);
  membership_.Tick(0);
  const std::vector<v1::MemberState> snapshot = membership_.Snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].generation(), 8u);
  EXPECT_EQ(snapshot[0].heartbeat(), 1u);
  // News of this node that is not ahead changes nothing.
  membership_.Merge(States({State(1, 8, 1), State(1, 3, 1000)}));
  EXPECT_EQ(membership_.generation(), 8u);
  EXPECT_EQ(ViewOf(membership_, 1).heartbeat, 1u);
}

TEST_F(MembershipTest, NewsOfThisNodeThatCouldNotGrowIsIgnored) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  membership_.Merge(States({State(1, kMax, 1), State(1, 1, kMax)}));
  EXPECT_EQ(membership_.generation(), 1u);
  membership_.Tick(0);
  EXPECT_EQ(ViewOf(membership_, 1).heartbeat, 1u);
}

// Merges and ticks from several threads: each listener call continues the member's previous
// state (from == the last `to`), so changes are delivered one at a time and in order.
TEST(MembershipConcurrencyTest, ListenersSeeEveryChangeInOrderUnderConcurrentUse) {
  ManualClock clock(kStartMs);
  Membership membership(1, 1, ThreeMembers(), clock, Opts());
  std::map<NodeId, MemberState> last = {{2, MemberState::kDead}, {3, MemberState::kDead}};
  std::atomic<int> out_of_order{0};
  std::atomic<int> changes{0};
  membership.AddListener([&](NodeId node, MemberState from, MemberState to) {
    // Delivery is serialized, so `last` needs no lock of its own.
    if (last[node] != from) out_of_order.fetch_add(1);
    last[node] = to;
    changes.fetch_add(1);
  });
  std::vector<std::thread> threads;
  for (NodeId peer : {2u, 3u}) {
    threads.emplace_back([&membership, peer] {
      for (uint64_t hb = 1; hb <= 2000; ++hb) membership.Merge(States({State(peer, 1, hb)}));
    });
  }
  threads.emplace_back([&membership, &clock] {
    for (int i = 0; i < 2000; ++i) {
      clock.Advance(i % 2 == 0 ? kDeadMs : -kDeadMs + 1);
      membership.Tick(0);
    }
  });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_GT(changes.load(), 0);
}

TEST(NextGenerationTest, StartsAtOneAndGrowsByOneOnAMemoryEngine) {
  storage::MemoryEngine engine;
  for (uint64_t expected = 1; expected <= 5; ++expected) {
    Result<uint64_t> g = NextGeneration(engine);
    ASSERT_OK(g);
    EXPECT_EQ(*g, expected);
  }
  Result<std::string> stored = engine.GetMeta("generation");
  ASSERT_OK(stored);
  EXPECT_EQ(*stored, "5");
}

TEST(NextGenerationTest, GrowsAcrossReopensOfARocksEngine) {
  testutil::TempDir dir;
  for (uint64_t expected = 1; expected <= 3; ++expected) {
    auto engine = storage::RocksEngine::Open({.path = dir.Sub("data")});
    ASSERT_OK(engine);
    Result<uint64_t> g = NextGeneration(**engine);
    ASSERT_OK(g);
    EXPECT_EQ(*g, expected);
  }
}

TEST(NextGenerationTest, UnreadableStoredGenerationIsCorruption) {
  storage::MemoryEngine engine;
  for (const char* bad : {"", "x", "12x", "-1", "18446744073709551616"}) {
    SCOPED_TRACE(bad);
    ASSERT_OK(engine.PutMeta("generation", bad));
    ASSERT_CODE(NextGeneration(engine), Code::kCorruption);
  }
  ASSERT_OK(engine.PutMeta("generation", "18446744073709551615"));
  ASSERT_CODE(NextGeneration(engine), Code::kCorruption);
}

}  // namespace
}  // namespace dialkv::cluster
