// Hinted handoff end to end: hints stored by coordinators for a dead replica, replayed when
// membership sees it alive again.
#include "server/replication/hint_replayer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/in_memory_cluster.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::replication::testing {
namespace {

using testutil::Hlc;
using testutil::InMemoryCluster;
using testutil::kStartMs;
using testutil::kTestDeadline;

constexpr Consistency kAp = Consistency::kAp;

// Records "key=value" of every replica write `service` receives, then serves it.
asio::awaitable<v1::Envelope> Record(PeerService* service, std::vector<std::string>* seen,
                                     v1::Envelope request) {
  if (request.has_replica_write_request()) {
    const v1::ReplicaWriteRequest& w = request.replica_write_request();
    seen->push_back(w.key() + "=" + w.version().value());
  }
  co_return co_await service->Handle(std::move(request));
}

// Node 3 is down and dead in node 1's view; node 1 coordinates AP writes of `writes`
// ("key=value"), so each leaves a hint for node 3.
void WriteWhileNode3IsDown(InMemoryCluster& c, const std::vector<std::string>& writes) {
  c.net().Down(3);
  c.MarkDead(1, 3);
  for (const std::string& w : writes) {
    const size_t eq = w.find('=');
    ASSERT_OK(c.Write(1, w.substr(0, eq), w.substr(eq + 1), kAp));
  }
  ASSERT_TRUE(c.RunUntilIdle());
  ASSERT_EQ(c.node(1).hints->StatsFor(3).hints, writes.size());
  ASSERT_EQ(c.net().delivered(1, 3), 0);
}

bool NoHintsFor(InMemoryCluster& c, NodeId peer) {
  return c.RunUntil([&] { return c.node(1).hints->StatsFor(peer).hints == 0; });
}

TEST(HintReplayerTest, ReplaysInSequenceOrderWhenThePeerComesBackAndDeletesEachAfterItsAck) {
  InMemoryCluster c({});
  const std::vector<std::string> writes = {"a=1", "b=2", "c=3", "a=4"};
  WriteWhileNode3IsDown(c, writes);
  std::vector<std::string> seen;
  PeerService* service = c.node(3).peer.get();
  c.net().Register(
      3, [service, &seen](v1::Envelope e) { return Record(service, &seen, std::move(e)); },
      &c.node(3).hlc);
  c.net().Up(3);
  c.MarkAlive(1, {3});  // The failure detector hears from it: the listener starts a replay.
  ASSERT_TRUE(NoHintsFor(c, 3));
  EXPECT_EQ(seen, writes);
  EXPECT_EQ(c.StoredValue(3, "a"), "4");
  EXPECT_EQ(c.StoredValue(3, "b"), "2");
  EXPECT_EQ(c.StoredValue(3, "c"), "3");
  EXPECT_EQ(c.node(1).replayer->stats().replayed, writes.size());
  int left = 0;
  ASSERT_OK(c.node(1).engine.ScanHints(3, [&](uint64_t, std::string_view) { return ++left > 0; }));
  EXPECT_EQ(left, 0) << "acknowledged hints are deleted from the engine";
}

TEST(HintReplayerTest, StopsAtTheFirstFailureAndRetriesPeriodically) {
  InMemoryCluster c({.replayer = {.replay_interval_ms = 20}});
  WriteWhileNode3IsDown(c, {"a=1", "b=2", "c=3"});
  c.MarkAlive(1, {3});  // Alive per gossip, but still unreachable: the replay fails.
  ASSERT_TRUE(c.RunUntil([&] { return c.node(1).replayer->stats().failures >= 1; }));
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, 3u);
  c.net().Up(3);
  ASSERT_TRUE(NoHintsFor(c, 3));
  EXPECT_EQ(c.StoredValue(3, "c"), "3");
  EXPECT_EQ(c.node(1).replayer->stats().replayed, 3u);
}

TEST(HintReplayerTest, HintsOlderThanMaxAgeAreDroppedNotSent) {
  InMemoryCluster c({.hints = {.max_age = std::chrono::minutes(1)}});
  WriteWhileNode3IsDown(c, {"a=1", "b=2"});
  c.node(1).clock.Advance(2 * 60'000);
  c.net().Up(3);
  c.MarkAlive(1, {2, 3});
  ASSERT_TRUE(NoHintsFor(c, 3));
  EXPECT_EQ(c.net().delivered(1, 3), 0);
  EXPECT_EQ(c.node(1).replayer->stats().expired, 2u);
  EXPECT_EQ(c.StoredValue(3, "a"), "<none>");
}

TEST(HintReplayerTest, ExpiredHintsOfAPeerThatStaysDeadAreDroppedPeriodically) {
  InMemoryCluster c(
      {.hints = {.max_age = std::chrono::minutes(1)}, .replayer = {.replay_interval_ms = 20}});
  WriteWhileNode3IsDown(c, {"a=1", "b=2"});
  c.node(1).clock.Advance(2 * 60'000);
  c.MarkAlive(1, {2});
  ASSERT_EQ(c.node(1).membership->StateOf(3), cluster::MemberState::kDead);
  ASSERT_TRUE(NoHintsFor(c, 3));
  EXPECT_EQ(c.node(1).replayer->stats().expired, 2u);
  EXPECT_EQ(c.net().delivered(1, 3), 0);
}

TEST(HintReplayerTest, AHintThePeersClockRefusesIsKeptAndDeliveredOnceItsClockCatchesUp) {
  InMemoryCluster c({.replayer = {.replay_interval_ms = 20}});
  c.net().Down(3);
  c.MarkDead(1, 3);
  const int64_t now = c.node(1).clock.NowMs();
  ASSERT_OK(
      c.node(1).hints->Add(3, "ahead", Version{"w", Timestamp{Hlc(now + 3'600'000), 2}, false}));
  ASSERT_OK(c.node(1).hints->Add(3, "fine", Version{"f", Timestamp{Hlc(now), 2}, false}));
  c.net().Up(3);
  c.node(3).clock.Set(now);
  c.MarkAlive(1, {3});
  ASSERT_TRUE(c.RunUntil([&] { return c.node(1).replayer->stats().refused >= 2; }))
      << "refused, kept and tried again";
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, 2u) << "a refused hint is never deleted";
  EXPECT_EQ(c.StoredValue(3, "ahead"), "<none>");
  EXPECT_EQ(c.StoredValue(3, "fine"), "<none>") << "hints replay in order";
  c.node(3).clock.Set(now + 3'600'000);  // The replica's clock catches up.
  ASSERT_TRUE(NoHintsFor(c, 3));
  EXPECT_EQ(c.StoredValue(3, "ahead"), "w");
  EXPECT_EQ(c.StoredValue(3, "fine"), "f");
  EXPECT_EQ(c.node(1).replayer->stats().replayed, 2u);
  EXPECT_EQ(c.node(1).replayer->stats().expired, 0u);
}

// Regression: any INVALID_ARGUMENT from the peer used to count as a clock-guard refusal, so a
// peer that could not parse the request (an older version, say) made the replayer drop the
// hint — possibly the only copy of an acknowledged write.
TEST(HintReplayerTest, AHintIsKeptWhenThePeerRefusesTheRequestForAnyReasonButItsClock) {
  InMemoryCluster c({});
  WriteWhileNode3IsDown(c, {"a=1"});
  c.net().Register(3, [](v1::Envelope request) -> asio::awaitable<v1::Envelope> {
    v1::Envelope reply;
    reply.set_id(request.id());
    reply.mutable_error_reply()->mutable_status()->set_code(v1::STATUS_INVALID_ARGUMENT);
    reply.mutable_error_reply()->mutable_status()->set_message("field this node does not know");
    co_return reply;
  });
  c.net().Up(3);
  c.MarkAlive(1, {3});
  ASSERT_TRUE(c.RunUntil([&] { return c.node(1).replayer->stats().failures >= 1; }));
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, 1u)
      << "the hint must wait for a peer that can take it";
  EXPECT_EQ(c.node(1).replayer->stats().refused, 0u);
}

TEST(HintReplayerTest, StopEndsAReplayAfterItsCurrentCallAndKeepsTheRest) {
  InMemoryCluster c({});
  WriteWhileNode3IsDown(c, {"a=1", "b=2", "c=3"});
  c.net().Up(3);
  c.net().SetDelay(1, 3, std::chrono::milliseconds(50));
  c.MarkAlive(1, {3});
  ASSERT_TRUE(c.RunUntil([&] { return c.net().delivered(1, 3) >= 1; }));
  c.StopWhileRunning([&] { c.node(1).replayer->Stop(); });
  const uint64_t left = c.node(1).hints->StatsFor(3).hints;
  EXPECT_GE(left, 1u) << "the rest waits for the next run";
  c.MarkDead(1, 3);
  c.MarkAlive(1, {3});  // Ignored after Stop().
  c.io().restart();
  c.io().poll();
  EXPECT_EQ(c.node(1).hints->StatsFor(3).hints, left);
}

// Node::Stop() stops the replayer, destroys the io_contexts, then the replayer, whose
// destructor stops it again: that second Stop() must not post to the destroyed executor.
TEST(HintReplayerTest, StopAgainAfterTheExecutorIsDestroyedDoesNotTouchIt) {
  ManualClock clock(kStartMs);
  storage::MemoryEngine engine;
  Result<std::unique_ptr<HintStore>> hints = HintStore::Open({}, engine, clock);
  ASSERT_OK(hints);
  std::vector<cluster::Member> members = {{1, "a"}, {2, "b"}};
  cluster::Membership membership(1, 1, std::move(members), clock, {});
  testutil::FakeNetwork net;
  std::unique_ptr<net::Transport> transport = net.TransportFor(1);
  HintReplayer::Options options;
  options.self = 1;
  auto replayer = std::make_unique<HintReplayer>(options, **hints, membership, *transport);
  {
    asio::io_context io;
    replayer->Start(io.get_executor());
    std::thread stopper([&] { replayer->Stop(); });
    const auto limit = std::chrono::steady_clock::now() + kTestDeadline;
    while (!io.stopped() && std::chrono::steady_clock::now() < limit) {
      io.run_one_for(std::chrono::milliseconds(5));
    }
    stopper.join();
  }
  replayer.reset();  // Stops again.
}

}  // namespace
}  // namespace dialkv::replication::testing
