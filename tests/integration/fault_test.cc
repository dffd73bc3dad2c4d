// Fault injection on real clusters (docs/fault-injection.md): partitions, one-way
// partitions, message loss and clock skew set at run time through the admin requests, and
// what each consistency mode promises under them.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/cluster/ring.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using testutil::Eventually;
using testutil::TestCluster;
using SteadyClock = std::chrono::steady_clock;

std::unique_ptr<TestCluster> StartFaultyCluster(int nodes, int rf,
                                                std::vector<std::string> extra_args = {}) {
  extra_args.push_back("--enable-fault-injection");
  return TestCluster::StartOrFail(
      {.nodes = nodes, .replication_factor = rf, .extra_args = std::move(extra_args)});
}

// One admin client per node (admin requests are never failed over).
class Admins {
 public:
  explicit Admins(const TestCluster& cluster) {
    for (NodeId id = 1; id <= static_cast<NodeId>(cluster.size()); ++id) {
      clients_.push_back(cluster.ClientFor(id, Consistency::kCp, 3000));
    }
  }
  Client& operator[](NodeId id) { return *clients_[id - 1]; }
  NodeId size() const { return static_cast<NodeId>(clients_.size()); }

  // Blocks every message between each node of `a` and each node of `b`, both ways, or with
  // `one_way` only those from `a` to `b` (each end blocks its own direction).
  void Partition(const std::vector<NodeId>& a, const std::vector<NodeId>& b, bool one_way = false) {
    std::map<NodeId, std::vector<LinkFaultsPatch>> patches;
    for (NodeId x : a) {
      for (NodeId y : b) {
        patches[x].push_back({.peer = y, .block_out = true, .block_in = !one_way ? true : false});
        LinkFaultsPatch back{.peer = x, .block_in = true};
        if (!one_way) back.block_out = true;
        patches[y].push_back(back);
      }
    }
    for (auto& [node, list] : patches) {
      EXPECT_OK((*this)[node].SetFaults(list));
    }
  }

  // Unblocks every link of every node, leaving the other faults (and bug switches) alone.
  void Heal() {
    for (NodeId id = 1; id <= size(); ++id) {
      std::vector<LinkFaultsPatch> patches;
      for (NodeId peer = 1; peer <= size(); ++peer) {
        if (peer != id) patches.push_back({.peer = peer, .block_out = false, .block_in = false});
      }
      EXPECT_OK((*this)[id].SetFaults(patches));
    }
  }

  void ClearAll() {
    for (NodeId id = 1; id <= size(); ++id) EXPECT_OK((*this)[id].ClearFaults());
  }

 private:
  std::vector<std::unique_ptr<Client>> clients_;
};

// Every node's raw version of `key`, as "value@hlc.node" ("-" when it holds none).
std::vector<std::string> Replicas(Admins& admins, const std::string& key) {
  std::vector<std::string> out;
  for (NodeId id = 1; id <= admins.size(); ++id) {
    Result<LocalVersion> v = admins[id].ReadLocal(key);
    if (v.ok()) {
      out.push_back((v->tombstone ? std::string("<tombstone>") : v->value) + "@" +
                    std::to_string(v->timestamp.hlc) + "." + std::to_string(v->timestamp.node_id));
    } else {
      out.push_back(v.code() == Code::kNotFound ? "-" : "error:" + v.status().ToString());
    }
  }
  return out;
}

bool AllEqual(const std::vector<std::string>& versions) {
  for (const std::string& v : versions) {
    if (v != versions.front()) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : " | ") + p;
  return out;
}

TEST(FaultTest, PartitionOneFromTwoThreeCpRefusesOnTheMinorityApServesAndHealConverges) {
  auto cluster = StartFaultyCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  auto cp1 = cluster->ClientFor(1, Consistency::kCp, 2000);
  auto cp2 = cluster->ClientFor(2, Consistency::kCp, 2000);
  auto cp3 = cluster->ClientFor(3, Consistency::kCp, 2000);
  auto ap1 = cluster->ClientFor(1, Consistency::kAp, 2000);
  ASSERT_OK(cp1->Put("k", "before"));

  admins.Partition({1}, {2, 3});
  // Node 1 alone has no quorum: CP is refused, definitely not applied.
  Result<WriteResult> refused = cp1->Put("k", "minority");
  ASSERT_CODE(refused, Code::kUnavailable);
  ASSERT_CODE(cp1->Get("k"), Code::kUnavailable);
  // The majority serves CP.
  ASSERT_OK(cp2->Put("k", "majority"));
  auto majority_read = cp3->Get("k");
  ASSERT_OK(majority_read);
  EXPECT_EQ(majority_read->value, "majority");
  // AP on node 1 serves its own, stale, data and accepts writes.
  auto stale = ap1->Get("k");
  ASSERT_OK(stale);
  EXPECT_EQ(stale->value, "before");
  ASSERT_OK(ap1->Put("ap-during-partition", "from-1"));
  ASSERT_CODE(admins[2].ReadLocal("ap-during-partition"), Code::kNotFound);

  admins.ClearAll();
  // Node 1 held its peers dead during the partition, and fails CP fast until it hears them.
  ASSERT_OK(cluster->WaitForAlivePeers(1, 2));
  // CP everywhere reads the last CP write; the refused write never shows up.
  for (Client* c : {cp1.get(), cp2.get(), cp3.get()}) {
    auto got = c->Get("k");
    ASSERT_OK(got);
    EXPECT_EQ(got->value, "majority");
  }
  // Every replica converges: "k" by the CP reads' repair, the AP write by its hints.
  std::vector<std::string> k, ap;
  EXPECT_TRUE(Eventually([&] { return AllEqual(k = Replicas(admins, "k")); }, milliseconds(15000)))
      << Join(k);
  EXPECT_EQ(k.front().substr(0, k.front().find('@')), "majority");
  EXPECT_TRUE(Eventually([&] { return AllEqual(ap = Replicas(admins, "ap-during-partition")); },
                         milliseconds(15000)))
      << Join(ap);
  EXPECT_EQ(ap.front().substr(0, ap.front().find('@')), "from-1");
}

TEST(FaultTest, OneWayPartitionOneHearsTwoButTwoDoesNotHearOneAndItHeals) {
  auto cluster = StartFaultyCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  admins.Partition({1}, {2}, /*one_way=*/true);  // Messages from 1 to 2 are lost.
  auto state1 = admins[1].GetFaults();
  ASSERT_OK(state1);
  ASSERT_EQ(state1->links.size(), 1u);
  EXPECT_TRUE(state1->links[0].block_out);
  EXPECT_FALSE(state1->links[0].block_in);

  // Node 3 hears both: each of 1 and 2 keeps a CP quorum with it.
  auto cp1 = cluster->ClientFor(1, Consistency::kCp, 3000);
  auto cp2 = cluster->ClientFor(2, Consistency::kCp, 3000);
  ASSERT_OK(cp1->Put("cp", "from-1"));
  auto read_at_2 = cp2->Get("cp");
  ASSERT_OK(read_at_2);
  EXPECT_EQ(read_at_2->value, "from-1");

  // Node 2's writes reach node 1 (only node 1's acknowledgements are lost) ...
  auto ap1 = cluster->ClientFor(1, Consistency::kAp, 3000);
  auto ap2 = cluster->ClientFor(2, Consistency::kAp, 3000);
  ASSERT_OK(ap2->Put("from-2", "x"));
  EXPECT_TRUE(Eventually([&] { return admins[1].ReadLocal("from-2").ok(); }, milliseconds(5000)));
  // ... but node 1's never reach node 2, neither directly nor as hints.
  ASSERT_OK(ap1->Put("from-1", "y"));
  EXPECT_TRUE(Eventually([&] { return admins[3].ReadLocal("from-1").ok(); }, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(1500));  // Time for a hint replay that must not land.
  ASSERT_CODE(admins[2].ReadLocal("from-1"), Code::kNotFound);

  admins.ClearAll();
  std::vector<std::string> seen;
  EXPECT_TRUE(
      Eventually([&] { return AllEqual(seen = Replicas(admins, "from-1")); }, milliseconds(15000)))
      << Join(seen);
  EXPECT_EQ(seen.front().substr(0, 1), "y");
}

// Whether `value` may be read now, for a key written only by this (sequential) client through
// one coordinator, whose timestamps therefore grow with each write: the last acknowledged
// write, or any later write whose outcome is unknown (it may have taken effect).
struct RegisterModel {
  struct Write {
    std::string value;
    Code outcome;
  };
  std::vector<Write> writes;
  size_t floor = 0;  // Reads may not go back past a value already read.

  bool Allows(const std::optional<std::string>& value) {
    size_t first = floor;
    for (size_t i = writes.size(); i-- > floor;) {
      if (writes[i].outcome == Code::kOk) {
        first = i;
        break;
      }
    }
    bool acked_before = false;
    for (size_t i = 0; i < first && !acked_before; ++i)
      acked_before = writes[i].outcome == Code::kOk;
    if (!value.has_value()) {
      // Not found: only while no write may have taken effect up to `first`.
      if (acked_before || (first < writes.size() && writes[first].outcome == Code::kOk)) {
        return false;
      }
      for (size_t i = 0; i < first; ++i) {
        if (writes[i].outcome == Code::kUnknown) return false;
      }
      return true;
    }
    for (size_t i = first; i < writes.size(); ++i) {
      const bool may_be_visible =
          writes[i].outcome == Code::kOk || writes[i].outcome == Code::kUnknown;
      if (may_be_visible && writes[i].value == *value) {
        floor = i;
        return true;
      }
    }
    return false;
  }
};

TEST(FaultTest, ThirtyPercentDropOnEveryLinkCpOutcomesAreClassifiedAndNeverWrong) {
  // A short replica timeout: a lost message is noticed, and the call made again, sooner.
  auto cluster = StartFaultyCluster(3, 3, {"--replica-timeout-ms=250"});
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  for (NodeId id = 1; id <= 3; ++id) {
    std::vector<LinkFaultsPatch> patches;
    for (NodeId peer = 1; peer <= 3; ++peer) {
      if (peer != id) patches.push_back({.peer = peer, .drop_out = 0.3});
    }
    ASSERT_OK(admins[id].SetFaults(patches, 1234));
  }
  auto client = cluster->ClientFor(1, Consistency::kCp, 2000);
  constexpr int kKeys = 4;
  constexpr int kOps = 160;
  const auto give_up = SteadyClock::now() + std::chrono::seconds(150);
  std::map<std::string, RegisterModel> models;
  std::map<std::string, int> counts;  // "write OK", "read UNAVAILABLE", ...
  int ops = 0;
  for (; ops < kOps && SteadyClock::now() < give_up; ++ops) {
    const std::string key = "dropped:" + std::to_string(ops / 2 % kKeys);  // Write, then read.
    RegisterModel& model = models[key];
    if (ops % 2 == 0) {
      const std::string value = "v" + std::to_string(ops);
      Result<WriteResult> put = client->Put(key, value);
      ASSERT_TRUE(put.ok() || put.code() == Code::kUnavailable || put.code() == Code::kUnknown)
          << "a CP write may only succeed, fail for sure or be unknown: "
          << put.status().ToString();
      model.writes.push_back({value, put.code()});
      ++counts[std::string("write ") + std::string(CodeName(put.code()))];
    } else {
      Result<GetResult> got = client->Get(key);
      ASSERT_TRUE(got.ok() || got.code() == Code::kNotFound || got.code() == Code::kUnavailable ||
                  got.code() == Code::kTimeout)
          << got.status().ToString();
      ++counts[std::string("read ") + std::string(CodeName(got.code()))];
      if (got.ok() || got.code() == Code::kNotFound) {
        std::optional<std::string> value;
        if (got.ok()) value = got->value;
        ASSERT_TRUE(model.Allows(value))
            << "CP read of " << key << " returned " << value.value_or("<not found>")
            << ", which no linearizable history allows";
      }
    }
  }
  ASSERT_GT(ops, 20) << "too few operations finished to judge";
  int ok = counts["write OK"] + counts["read OK"] + counts["read NOT_FOUND"];
  std::string summary;
  for (const auto& [what, n] : counts) summary += " " + what + "=" + std::to_string(n);
  std::printf("30%% drop, %d CP ops: %.0f%% succeeded;%s\n", ops, 100.0 * ok / ops,
              summary.c_str());
  ::testing::Test::RecordProperty("cp_success_rate_percent", 100 * ok / ops);
  EXPECT_GT(ok, 0) << "no CP request succeeded at all under 30% loss";

  // The injector counted what it dropped.
  Result<std::string> metrics = testutil::HttpGet(cluster->node(1).http_port(), "/metrics");
  ASSERT_OK(metrics);
  EXPECT_NE(metrics->find("dialkv_fault_messages_dropped_total{peer=\"2\",direction=\"out\","
                          "cause=\"drop\"}"),
            std::string::npos);
}

TEST(FaultTest, ClockFiveSecondsAheadCannotMakeItsWritesWin) {
  auto cluster = StartFaultyCluster(3, 3);  // Skew guard: 500 ms (the default).
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  auto cp1 = cluster->ClientFor(1, Consistency::kCp, 3000);
  auto cp3 = cluster->ClientFor(3, Consistency::kCp, 3000);
  auto ap2 = cluster->ClientFor(2, Consistency::kAp, 3000);
  auto first = cp1->Put("skewed", "honest");
  ASSERT_OK(first);

  auto state = admins[2].SetClockOffset(5000);
  ASSERT_OK(state);
  EXPECT_EQ(state->clock_offset_ms, 5000);
  const auto skewed_at = SteadyClock::now();
  // Until its next gossip round shows node 2 that its clock is off, it accepts the AP write on
  // its own clock, 5 s ahead; the other replicas' guards refuse the version, and CP reads
  // elsewhere do not let it win. Once it noticed, it refuses the write ("clock skew").
  auto ahead = ap2->Put("skewed", "from-the-future");
  if (ahead.ok()) {
    EXPECT_GT(ahead->timestamp.hlc >> 16, (first->timestamp.hlc >> 16) + 4000);
  } else {
    EXPECT_EQ(ahead.status().code(), Code::kUnavailable) << ahead.status().ToString();
    EXPECT_NE(ahead.status().message().find("clock skew"), std::string::npos)
        << ahead.status().ToString();
  }
  for (Client* c : {cp1.get(), cp3.get()}) {
    auto got = c->Get("skewed");
    ASSERT_OK(got);
    EXPECT_EQ(got->value, "honest");
  }
  for (NodeId id : {1u, 3u}) {
    auto local = admins[id].ReadLocal("skewed");
    ASSERT_OK(local);
    EXPECT_EQ(local->value, "honest") << "node " << id << " took a version beyond its guard";
  }
  // Later honest CP writes still succeed and are read back.
  ASSERT_OK(cp1->Put("skewed", "later"));
  auto later = cp3->Get("skewed");
  ASSERT_OK(later);
  EXPECT_EQ(later->value, "later");
  ASSERT_LT(SteadyClock::now() - skewed_at, std::chrono::seconds(4))
      << "the checks above ran too slowly to be inside the 5 s skew";
  EXPECT_OK(admins[2].ClearFaults());
}

TEST(FaultTest, ClockSkewBelowTheGuardLwwFollowsTheHlcAndCpStaysLinearizable) {
  auto cluster = StartFaultyCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  ASSERT_OK(admins[2].SetClockOffset(300));  // Below the 500 ms guard.
  std::vector<std::unique_ptr<Client>> cp, ap;
  for (NodeId id = 1; id <= 3; ++id) {
    cp.push_back(cluster->ClientFor(id, Consistency::kCp, 3000));
    ap.push_back(cluster->ClientFor(id, Consistency::kAp, 3000));
  }
  // CP: alternate the writer between the skewed node and the others; every CP read anywhere
  // returns the write that completed last, in real time.
  for (int i = 0; i < 60; ++i) {
    const std::string value = "cp" + std::to_string(i);
    ASSERT_OK(cp[i % 3]->Put("register", value));
    for (int reader = 0; reader < 3; ++reader) {
      auto got = cp[reader]->Get("register");
      ASSERT_OK(got);
      ASSERT_EQ(got->value, value)
          << "write " << i << " by node " << i % 3 + 1 << ", read at node " << reader + 1;
    }
  }
  // AP: writes from the skewed node and another, back to back; every replica converges on the
  // one with the highest timestamp, whichever came last in real time.
  for (int i = 0; i < 20; ++i) {
    const std::string key = "lww:" + std::to_string(i);
    auto a = ap[1]->Put(key, "skewed");
    auto b = ap[0]->Put(key, "unskewed");
    ASSERT_OK(a);
    ASSERT_OK(b);
    const std::string winner = b->timestamp > a->timestamp ? "unskewed" : "skewed";
    std::vector<std::string> seen;
    EXPECT_TRUE(Eventually(
        [&] {
          seen = Replicas(admins, key);
          return AllEqual(seen) && seen.front().rfind(winner + "@", 0) == 0;
        },
        milliseconds(10000)))
        << key << ": expected every replica to hold \"" << winner << "\": " << Join(seen);
  }
}

TEST(FaultTest, FiveNodesMinorityPartitionServesCpExactlyForKeysWithAQuorumOnItsSide) {
  auto cluster = StartFaultyCluster(5, 3, {"--replica-timeout-ms=300"});
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  auto ring = cluster::Ring::Build({1, 2, 3, 4, 5}, {.vnodes = 16, .replication_factor = 3});
  ASSERT_OK(ring);
  admins.Partition({1, 2}, {3, 4, 5});
  // Once each side holds the other dead, a refused request fails after one replica timeout
  // rather than retrying until its deadline.
  ASSERT_OK(cluster->WaitForAlivePeers(1, 1));
  ASSERT_OK(cluster->WaitForAlivePeers(4, 2));
  auto minority = cluster->ClientFor(1, Consistency::kCp, 2000);
  auto majority = cluster->ClientFor(4, Consistency::kCp, 2000);
  int minority_served = 0, minority_refused = 0;
  for (int i = 0; i < 24; ++i) {
    const std::string key = "split:" + std::to_string(i);
    int on_minority_side = 0;
    for (NodeId r : ring->ReplicasFor(key)) on_minority_side += r <= 2 ? 1 : 0;
    Result<WriteResult> put = minority->Put(key, "m");
    if (on_minority_side >= 2) {
      ASSERT_OK(put);
      ++minority_served;
    } else {
      ASSERT_CODE(put, Code::kUnavailable);
      ++minority_refused;
    }
    Result<WriteResult> other = majority->Put(key + ":maj", "M");
    int maj_side = 0;
    for (NodeId r : ring->ReplicasFor(key + ":maj")) maj_side += r >= 3 ? 1 : 0;
    if (maj_side >= 2) {
      ASSERT_OK(other);
    } else {
      ASSERT_CODE(other, Code::kUnavailable);
    }
  }
  std::printf("5 nodes, {1,2} | {3,4,5}: the minority served %d CP writes, refused %d\n",
              minority_served, minority_refused);
  admins.ClearAll();
  // Node 4 held nodes 1 and 2 dead, and fails CP fast on their keys until it hears them.
  ASSERT_OK(cluster->WaitForAlivePeers(4, 4));
  for (int i = 0; i < 24; ++i) {
    const std::string key = "split:" + std::to_string(i);
    auto got = majority->Get(key);
    if (got.ok()) {
      EXPECT_EQ(got->value, "m");
    } else {
      ASSERT_CODE(got, Code::kNotFound);  // A refused write was never applied.
    }
  }
}

// The test-only bug switches break CP in the way they say, and only while they are on: the
// harness relies on them to show that it catches a broken CP path.
TEST(FaultTest, BugSwitchSkipReadRepairLetsACpReadBeFollowedByAnOlderOne) {
  auto cluster = StartFaultyCluster(3, 3, {"--hinted-handoff=false", "--ae-interval-ms=600000"});
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  auto cp2 = cluster->ClientFor(2, Consistency::kCp, 2000);
  auto ap1 = cluster->ClientFor(1, Consistency::kAp, 2000);
  // Returns what the second of two CP reads at node 2 sees, the first through {1,2} and the
  // second through {2,3}, after a newer version reached node 1 alone.
  auto probe = [&](const std::string& key) -> std::string {
    EXPECT_OK(cp2->Put(key, "old"));
    admins.Partition({1}, {2, 3});
    EXPECT_OK(ap1->Put(key, "new"));  // Node 1 only: no hints, no anti-entropy.
    // The put answered before its background copies to nodes 2 and 3 were sent; on a busy
    // machine one could still be queued at the heal below and get through. Each copy gives up
    // at the replica timeout (1 s, the default): past it, a copy not yet sent never will be.
    std::this_thread::sleep_for(milliseconds(1500));
    admins.Heal();
    admins.Partition({2}, {3});
    auto first = cp2->Get(key);  // Quorum {1,2}: sees "new".
    EXPECT_OK(first);
    EXPECT_EQ(first.ok() ? first->value : "", "new");
    admins.Heal();
    admins.Partition({1}, {2, 3});
    auto second = cp2->Get(key);  // Quorum {2,3}.
    admins.Heal();
    EXPECT_OK(second);
    return second.ok() ? second->value : second.status().ToString();
  };
  EXPECT_EQ(probe("repaired"), "new") << "without the bug the first read wrote \"new\" back";
  auto on = admins[2].SetBugSwitches({.skip_read_repair = true});
  ASSERT_OK(on);
  EXPECT_TRUE(on->skip_read_repair);
  EXPECT_EQ(probe("unrepaired"), "old") << "with the bug the first read left \"new\" on node 1";
  auto cleared = admins[2].ClearFaults();
  ASSERT_OK(cleared);
  EXPECT_FALSE(cleared->skip_read_repair);
}

TEST(FaultTest, BugSwitchSkipWriteTimestampPhaseLetsALaterCpWriteLoseUnderSkew) {
  auto cluster = StartFaultyCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  // Behind, within the skew guard (a node further behind sees every other node's versions as
  // beyond its guard, and refuses them).
  ASSERT_OK(admins[2].SetClockOffset(-400));
  admins.Partition({1}, {2});  // Node 2 learns node 1's clock only through node 3's gossip.
  auto cp1 = cluster->ClientFor(1, Consistency::kCp, 3000);
  auto cp2 = cluster->ClientFor(2, Consistency::kCp, 3000);
  auto cp3 = cluster->ClientFor(3, Consistency::kCp, 3000);
  // Counts, over `tries` keys, how often a CP write at node 2 that completed after one at
  // node 1 is not what a CP read then returns.
  auto lost_writes = [&](const std::string& prefix, int tries) {
    int lost = 0;
    for (int i = 0; i < tries; ++i) {
      const std::string key = prefix + std::to_string(i);
      EXPECT_OK(cp1->Put(key, "first"));
      EXPECT_OK(cp2->Put(key, "second"));
      auto got = cp3->Get(key);
      EXPECT_OK(got);
      lost += got.ok() && got->value != "second" ? 1 : 0;
    }
    return lost;
  };
  EXPECT_EQ(lost_writes("sane:", 20), 0) << "the timestamp phase orders every CP write";
  ASSERT_OK(admins[2].SetBugSwitches({.skip_write_timestamp_phase = true}));
  EXPECT_GT(lost_writes("buggy:", 20), 0) << "the bug should let node 2's later writes lose";
  ASSERT_OK(admins[2].SetBugSwitches({.skip_write_timestamp_phase = false}));
  EXPECT_EQ(lost_writes("fixed:", 20), 0);
}

TEST(FaultTest, WithoutTheFlagEveryAdminRequestIsRefusedAndNothingChanges) {
  TestCluster::Options o;
  o.nodes = 3;
  o.replication_factor = 3;
  auto started = TestCluster::Start(o);
  ASSERT_OK(started);
  auto& cluster = *started.value();
  auto admin = cluster.ClientFor(1, Consistency::kCp, 3000);
  auto cp = cluster.ClientFor(1, Consistency::kCp, 3000);
  ASSERT_OK(cp->Put("k", "v"));

  auto set = admin->SetFaults({{.peer = 2, .block_out = true, .block_in = true},
                               {.peer = 3, .block_out = true, .block_in = true}});
  ASSERT_CODE(set, Code::kPermissionDenied);
  EXPECT_NE(set.status().message().find("--enable-fault-injection"), std::string::npos)
      << set.status().ToString();
  ASSERT_CODE(admin->ClearFaults(), Code::kPermissionDenied);
  ASSERT_CODE(admin->GetFaults(), Code::kPermissionDenied);
  ASSERT_CODE(admin->SetClockOffset(5000), Code::kPermissionDenied);
  ASSERT_CODE(admin->ReadLocal("k"), Code::kPermissionDenied);

  // Nothing changed: node 1 still reaches its peers, and its clock was not moved.
  auto put = cp->Put("k", "after");
  ASSERT_OK(put);
  const int64_t wall_ms = static_cast<int64_t>(put->timestamp.hlc >> 16);
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  EXPECT_LT(wall_ms - now_ms, 1000);
  Result<std::string> metrics = testutil::HttpGet(cluster.node(1).http_port(), "/metrics");
  ASSERT_OK(metrics);
  EXPECT_NE(metrics->find("dialkv_admin_requests_total{request=\"set_faults\",status="
                          "\"PERMISSION_DENIED\"} 1"),
            std::string::npos);
}

// The value of an unlabelled counter on node `id`'s /metrics, or -1 when it is not there.
double CounterOn(TestCluster& cluster, NodeId id, const std::string& name) {
  Result<std::string> metrics = testutil::HttpGet(cluster.node(id).http_port(), "/metrics");
  if (!metrics.ok()) return -1;
  const std::string line = "\n" + name + " ";
  const size_t at = metrics->find(line);
  if (at == std::string::npos) return -1;
  return std::stod(metrics->substr(at + line.size()));
}

TEST(FaultTest, IsolatedNodeFailsCpFastOnceItsDetectorHoldsItsPeersDead) {
  // A replica timeout longer than the requests' deadline: without fast failure, each refused
  // request would wait out its whole deadline.
  auto cluster = StartFaultyCluster(
      3, 3, {"--suspect-after-ms=300", "--dead-after-ms=800", "--replica-timeout-ms=5000"});
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  auto cp1 = cluster->ClientFor(1, Consistency::kCp, 4000);
  ASSERT_OK(cp1->Put("k", "before"));
  const double before = CounterOn(*cluster, 1, "dialkv_cp_fast_failures_total");
  ASSERT_EQ(before, 0);

  admins.Partition({1}, {2, 3});
  const auto all_dead = [&] {
    Result<ClusterStatus> status = admins[1].ClusterStatus();
    if (!status.ok()) return false;
    int dead = 0;
    for (const NodeInfo& n : status->nodes) dead += n.state == "dead" ? 1 : 0;
    return dead == 2;
  };
  ASSERT_TRUE(Eventually(all_dead, milliseconds(15000))) << "node 1 never held its peers dead";

  const auto start = SteadyClock::now();
  Result<WriteResult> put = cp1->Put("k", "refused");
  const auto put_ms = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start).count();
  ASSERT_CODE(put, Code::kUnavailable);
  EXPECT_NE(put.status().message().find("failure detector holds 2 of 3 replicas dead"),
            std::string::npos)
      << put.status().ToString();
  const auto read_start = SteadyClock::now();
  Result<GetResult> get = cp1->Get("k");
  const auto get_ms =
      std::chrono::duration_cast<milliseconds>(SteadyClock::now() - read_start).count();
  ASSERT_CODE(get, Code::kUnavailable);
  EXPECT_NE(get.status().message().find("nothing was sent"), std::string::npos)
      << get.status().ToString();
  // Both took the path that sends nothing (the client does not retry its way there: a CP
  // write is retried only on UNAVAILABLE, and each attempt would count).
  EXPECT_GE(CounterOn(*cluster, 1, "dialkv_cp_fast_failures_total"), 2);
  RecordProperty("fast_put_ms", std::to_string(put_ms));
  RecordProperty("fast_get_ms", std::to_string(get_ms));

  admins.ClearAll();
  // Once node 1 hears its peers again, CP is served there, and the refused write never was.
  std::string value;
  EXPECT_TRUE(Eventually(
      [&] {
        Result<GetResult> got = cp1->Get("k");
        if (got.ok()) value = got->value;
        return got.ok();
      },
      milliseconds(15000)));
  EXPECT_EQ(value, "before");
}

TEST(FaultTest, ManyConcurrentRepairRequestsCostAtMostTwoRounds) {
  auto cluster = StartFaultyCluster(3, 3);
  ASSERT_NE(cluster, nullptr);
  Admins admins(*cluster);
  auto writer = cluster->ClientFor(1, Consistency::kAp, 3000);
  for (int i = 0; i < 20; ++i) ASSERT_OK(writer->Put("key-" + std::to_string(i), "v"));
  // Node 2's messages to its peers are slowed, so a round lasts longer than the requests take
  // to arrive: the first request's round, then one round for all the others.
  ASSERT_OK(admins[2].SetFaults(
      {{.peer = 1, .delay_ms = uint32_t{200}}, {.peer = 3, .delay_ms = uint32_t{200}}}));
  constexpr int kRequests = 32;
  std::vector<std::unique_ptr<Client>> clients;
  clients.reserve(kRequests);
  for (int i = 0; i < kRequests; ++i)
    clients.push_back(cluster->ClientFor(2, Consistency::kCp, 30000));
  std::vector<int> ok(kRequests, 0);
  std::vector<std::thread> threads;
  threads.reserve(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&ok, &clients, i] { ok[i] = clients[i]->Repair().ok() ? 1 : 0; });
  }
  for (std::thread& t : threads) t.join();
  int answered = 0;
  for (int n : ok) answered += n;
  EXPECT_EQ(answered, kRequests);
  const double rounds = CounterOn(*cluster, 2, "dialkv_ae_repair_rounds_total");
  const double coalesced = CounterOn(*cluster, 2, "dialkv_ae_repair_requests_coalesced_total");
  EXPECT_EQ(rounds + coalesced, kRequests) << "every request ran or joined a round";
  EXPECT_GE(rounds, 1);
  EXPECT_LE(rounds, 2);
  RecordProperty("repair_rounds", std::to_string(rounds));
}

}  // namespace
}  // namespace dialkv
