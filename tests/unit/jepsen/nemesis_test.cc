// The harness's nemesis schedule (jepsen-like/harness/nemesis.h): seeded repeatability, the
// shape of each fault, and how faults compose into each node's state.
#include "jepsen-like/harness/nemesis.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace dialkv::jepsen {
namespace {

const std::vector<NodeId> kFive = {1, 2, 3, 4, 5};

ScheduleOptions Options(std::vector<NemesisKind> kinds, uint64_t seed = 7) {
  return ScheduleOptions{.kinds = std::move(kinds),
                         .nodes = kFive,
                         .interval_ms = 1000,
                         .duration_ms = 60'000,
                         .seed = seed,
                         .drop_probability = 0.3,
                         .max_clock_skew_ms = 400};
}

std::vector<Fault> Plan(const ScheduleOptions& options) {
  Result<std::vector<Fault>> schedule = PlanSchedule(options);
  EXPECT_TRUE(schedule.ok()) << schedule.status().ToString();
  return schedule.ok() ? *schedule : std::vector<Fault>{};
}

std::vector<NemesisKind> AllKinds() {
  Result<std::vector<NemesisKind>> all = ParseNemesisList("all");
  EXPECT_TRUE(all.ok());
  return all.ok() ? *all : std::vector<NemesisKind>{};
}

// Whether node `to` receives messages from `from` under `fault`.
bool Hears(const Fault& fault, NodeId to, NodeId from) {
  return std::find(fault.blocked.begin(), fault.blocked.end(), DirectedLink{from, to}) ==
         fault.blocked.end();
}

TEST(NemesisListTest, ParsesNamesAndAliasesInOrderOnce) {
  Result<std::vector<NemesisKind>> kinds = ParseNemesisList("kill,partition-halves,kill,clock");
  ASSERT_TRUE(kinds.ok());
  EXPECT_EQ(*kinds, (std::vector<NemesisKind>{NemesisKind::kKill, NemesisKind::kPartitionHalves,
                                              NemesisKind::kClock}));
  Result<std::vector<NemesisKind>> partitions = ParseNemesisList("partitions");
  ASSERT_TRUE(partitions.ok());
  EXPECT_EQ(partitions->size(), 5u);
  for (NemesisKind kind : *partitions) EXPECT_EQ(GroupOf(kind), NemesisGroup::kPartition);
  EXPECT_EQ(AllKinds().size(), 12u);
  ASSERT_TRUE(ParseNemesisList("none").ok());
  EXPECT_TRUE(ParseNemesisList("none")->empty());
  EXPECT_TRUE(ParseNemesisList("")->empty());
}

TEST(NemesisListTest, UnknownNameIsRefusedWithTheValidNames) {
  Result<std::vector<NemesisKind>> kinds = ParseNemesisList("partition-halves,earthquake");
  ASSERT_FALSE(kinds.ok());
  EXPECT_EQ(kinds.code(), Code::kInvalidArgument);
  EXPECT_NE(kinds.status().message().find("earthquake"), std::string::npos);
  EXPECT_NE(kinds.status().message().find("partition-ring"), std::string::npos);
}

TEST(NemesisScheduleTest, SameSeedGivesTheSameScheduleAndAnotherSeedAnother) {
  const std::vector<Fault> a = Plan(Options(AllKinds(), 42));
  const std::vector<Fault> b = Plan(Options(AllKinds(), 42));
  const std::vector<Fault> c = Plan(Options(AllKinds(), 43));
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(NemesisScheduleTest, NoKindsMeansNoFaults) { EXPECT_TRUE(Plan(Options({})).empty()); }

TEST(NemesisScheduleTest, FaultsStayWithinTheRunAndLeaveQuietTime) {
  const ScheduleOptions options = Options(AllKinds());
  const std::vector<Fault> schedule = Plan(options);
  ASSERT_FALSE(schedule.empty());
  EXPECT_GT(schedule.front().start_ms, 0) << "the run starts quiet";
  int64_t faulty_ms = 0;
  int64_t covered_until = 0;
  for (const Fault& f : schedule) {
    EXPECT_LT(f.start_ms, f.end_ms);
    EXPECT_LE(f.end_ms, options.duration_ms);
    faulty_ms += std::max<int64_t>(0, f.end_ms - std::max(f.start_ms, covered_until));
    covered_until = std::max(covered_until, f.end_ms);
  }
  // Quiet and faulty windows alternate with the same mean length.
  EXPECT_GT(faulty_ms, options.duration_ms / 4);
  EXPECT_LT(faulty_ms, options.duration_ms * 3 / 4);
}

TEST(NemesisScheduleTest, EveryChosenKindComesUp) {
  const std::vector<Fault> schedule = Plan(Options(AllKinds()));
  std::set<NemesisKind> seen;
  for (const Fault& f : schedule) seen.insert(f.kind);
  EXPECT_EQ(seen.size(), 12u);
}

TEST(NemesisScheduleTest, KindsOfDifferentGroupsComposeAndOneGroupNeverOverlapsItself) {
  const std::vector<Fault> schedule = Plan(Options(AllKinds()));
  int composed = 0;
  for (size_t i = 0; i < schedule.size(); ++i) {
    for (size_t j = i + 1; j < schedule.size(); ++j) {
      const Fault& a = schedule[i];
      const Fault& b = schedule[j];
      const bool overlap = a.start_ms < b.end_ms && b.start_ms < a.end_ms;
      if (!overlap) continue;
      EXPECT_NE(GroupOf(a.kind), GroupOf(b.kind))
          << NemesisName(a.kind) << " overlaps " << NemesisName(b.kind);
      ++composed;
    }
  }
  EXPECT_GT(composed, 0);
}

TEST(NemesisScheduleTest, OneGroupAloneNeverOverlaps) {
  const std::vector<Fault> schedule = Plan(Options(*ParseNemesisList("partitions")));
  for (size_t i = 1; i < schedule.size(); ++i) {
    EXPECT_LE(schedule[i - 1].end_ms, schedule[i].start_ms);
  }
}

TEST(NemesisScheduleTest, KillAndPauseLeaveAMajorityRunning) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (const Fault& f : Plan(Options({NemesisKind::kKill, NemesisKind::kPause}, seed))) {
      EXPECT_GE(f.nodes.size(), 1u);
      EXPECT_LE(f.nodes.size(), 2u);  // (5 - 1) / 2.
    }
  }
}

TEST(NemesisScheduleTest, ClockOffsetsStayWithinTheBoundOneWayAndAwayFromZero) {
  for (const Fault& f : Plan(Options({NemesisKind::kClock}))) {
    ASSERT_EQ(f.nodes.size(), f.clock_offsets_ms.size());
    EXPECT_LT(f.nodes.size(), kFive.size());
    for (int64_t offset : f.clock_offsets_ms) {
      EXPECT_GE(std::abs(offset), 100);
      EXPECT_LE(std::abs(offset), 400);
      // One direction per fault, so two skewed nodes differ by at most the bound too.
      EXPECT_EQ(offset < 0, f.clock_offsets_ms.front() < 0);
    }
  }
}

TEST(NemesisScheduleTest, PartitionsHaveTheirShapes) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    for (const Fault& f : Plan(Options(*ParseNemesisList("partitions"), seed))) {
      switch (f.kind) {
        case NemesisKind::kPartitionHalves:
        case NemesisKind::kPartitionIsolate:
        case NemesisKind::kPartitionBridge:
          // Two-way: every blocked link is blocked in both directions.
          for (const DirectedLink& d : f.blocked) EXPECT_FALSE(Hears(f, d.from, d.to));
          // Halves cut 12 directed links; isolating a node and a bridge each cut 8.
          EXPECT_EQ(f.blocked.size(), f.kind == NemesisKind::kPartitionHalves ? 12u : 8u);
          break;
        case NemesisKind::kPartitionOneWay:
          for (const DirectedLink& d : f.blocked) EXPECT_TRUE(Hears(f, d.from, d.to));
          break;
        case NemesisKind::kPartitionRing:
          // Each node hears exactly two others (a majority of five with itself), and no two
          // nodes hear the same set.
          {
            std::set<std::set<NodeId>> majorities;
            for (NodeId to : kFive) {
              std::set<NodeId> heard = {to};
              for (NodeId from : kFive) {
                if (from != to && Hears(f, to, from)) heard.insert(from);
              }
              EXPECT_EQ(heard.size(), 3u);
              majorities.insert(heard);
            }
            EXPECT_EQ(majorities.size(), 5u);
          }
          break;
        default:
          ADD_FAILURE() << "not a partition: " << NemesisName(f.kind);
      }
    }
  }
}

TEST(MinoritySideTest, NamesTheNodesThatCannotReachAMajorityBothWays) {
  const std::vector<NodeId> three = {1, 2, 3};
  // No link blocked: nobody is cut off.
  EXPECT_TRUE(MinoritySide(three, {}).empty());
  // Node 3 isolated, both ways.
  const std::vector<DirectedLink> isolate = {{1, 3}, {3, 1}, {2, 3}, {3, 2}};
  EXPECT_EQ(MinoritySide(three, isolate), (std::vector<NodeId>{3}));
  // One way is enough: node 3's requests reach nobody, so its round trips fail; the others
  // still have each other.
  EXPECT_EQ(MinoritySide(three, std::vector<DirectedLink>{{3, 1}, {3, 2}}),
            (std::vector<NodeId>{3}));
  // Halves of five: {1,2} | {3,4,5}.
  std::vector<DirectedLink> halves;
  for (NodeId a : {1, 2}) {
    for (NodeId b : {3, 4, 5}) {
      halves.push_back({a, b});
      halves.push_back({b, a});
    }
  }
  EXPECT_EQ(MinoritySide(kFive, halves), (std::vector<NodeId>{1, 2}));
  // Bridged halves of three: {1} | {2} bridged by 3. Each half reaches the bridge: two of three.
  EXPECT_TRUE(MinoritySide(three, std::vector<DirectedLink>{{1, 2}, {2, 1}}).empty());
}

TEST(MinoritySideTest, ThePlannedPartitionsCutOffWhatTheirShapeSays) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    for (const Fault& f : Plan(Options(*ParseNemesisList("partitions"), seed))) {
      const std::vector<NodeId> minority = MinoritySide(kFive, f.blocked);
      switch (f.kind) {
        case NemesisKind::kPartitionHalves:
          EXPECT_EQ(minority.size(), 2u) << f.description;
          break;
        case NemesisKind::kPartitionIsolate:
          EXPECT_EQ(minority.size(), 1u) << f.description;
          break;
        case NemesisKind::kPartitionBridge:
          // {a,b} | {c,d} bridged by e: each node reaches its half and the bridge, three of five.
          EXPECT_TRUE(minority.empty()) << f.description;
          break;
        case NemesisKind::kPartitionOneWay:
          EXPECT_GE(minority.size(), 1u) << f.description;
          EXPECT_LE(minority.size(), 2u) << f.description;
          break;
        case NemesisKind::kPartitionRing:
          // Every node hears a majority, but no two nodes hear each other: no round trip.
          EXPECT_EQ(minority, kFive) << f.description;
          break;
        default:
          ADD_FAILURE() << "not a partition: " << NemesisName(f.kind);
      }
    }
  }
}

TEST(NemesisScheduleTest, FaultsNeedThreeNodes) {
  ScheduleOptions options = Options({NemesisKind::kPartitionHalves});
  options.nodes = {1, 2};
  EXPECT_EQ(PlanSchedule(options).code(), Code::kInvalidArgument);
}

TEST(DesiredFaultsTest, NoActiveFaultGivesEveryNodeCleanLinksToEveryPeer) {
  const std::map<NodeId, NodeFaults> state = DesiredFaults(kFive, {});
  ASSERT_EQ(state.size(), 5u);
  for (const auto& [node, faults] : state) {
    ASSERT_EQ(faults.links.size(), 4u);
    for (const LinkFaults& link : faults.links) {
      EXPECT_NE(link.peer, node);
      EXPECT_EQ(link, LinkFaults{.peer = link.peer});
    }
    EXPECT_EQ(faults.clock_offset_ms, 0);
    EXPECT_FALSE(faults.killed || faults.paused);
  }
}

TEST(NemesisScheduleTest, ClockRestartStepsOneNodeBackWithinTheBound) {
  ASSERT_EQ(*ParseNemesisList("clock-restart"), std::vector{NemesisKind::kClockRestart});
  EXPECT_TRUE(NeedsProcessControl(NemesisKind::kClockRestart));
  const std::vector<Fault> schedule = Plan(Options({NemesisKind::kClockRestart}));
  ASSERT_FALSE(schedule.empty());
  for (const Fault& f : schedule) {
    ASSERT_EQ(f.nodes.size(), 1u);
    ASSERT_EQ(f.clock_offsets_ms.size(), 1u);
    EXPECT_LE(f.clock_offsets_ms[0], -200);  // Half the 400 ms bound at least, always back.
    EXPECT_GE(f.clock_offsets_ms[0], -400);
    const std::map<NodeId, NodeFaults> state = DesiredFaults(kFive, std::vector{&f});
    EXPECT_EQ(state.at(f.nodes[0]).clock_offset_ms, f.clock_offsets_ms[0]);
    EXPECT_FALSE(state.at(f.nodes[0]).killed) << "restarted at once, not held down";
  }
}

TEST(NemesisScheduleTest, DiskFaultsHitAMinorityAndSayWhich) {
  ASSERT_EQ(*ParseNemesisList("disk,disk-error"),
            (std::vector{NemesisKind::kDisk, NemesisKind::kDiskError}));
  EXPECT_EQ(GroupOf(NemesisKind::kDisk), NemesisGroup::kDisk);
  EXPECT_EQ(GroupOf(NemesisKind::kDiskError), NemesisGroup::kDisk);
  EXPECT_FALSE(NeedsProcessControl(NemesisKind::kDisk));  // Works in attach mode.
  std::set<size_t> sizes;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (const Fault& f : Plan(Options({NemesisKind::kDisk, NemesisKind::kDiskError}, seed))) {
      ASSERT_GE(f.nodes.size(), 1u);
      EXPECT_LE(f.nodes.size(), 2u);  // (5 - 1) / 2: a quorum of every key takes writes.
      EXPECT_TRUE(std::is_sorted(f.nodes.begin(), f.nodes.end()));
      EXPECT_TRUE(f.blocked.empty());
      sizes.insert(f.nodes.size());
      const std::string prefix = f.kind == NemesisKind::kDisk ? "disk full " : "disk failing ";
      EXPECT_EQ(f.description, prefix + FormatNodeSet(f.nodes));
    }
  }
  EXPECT_EQ(sizes, (std::set<size_t>{1, 2}));
  // With three nodes, always one.
  ScheduleOptions three = Options({NemesisKind::kDisk});
  three.nodes = {1, 2, 3};
  for (const Fault& f : Plan(three)) EXPECT_EQ(f.nodes.size(), 1u);
}

TEST(NemesisScheduleTest, DiskComposesWithOtherGroupsButNeverWithItself) {
  int composed = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const std::vector<Fault> schedule = Plan(Options(
        {NemesisKind::kDisk, NemesisKind::kDiskError, NemesisKind::kPartitionHalves}, seed));
    for (size_t i = 0; i < schedule.size(); ++i) {
      for (size_t j = i + 1; j < schedule.size(); ++j) {
        const Fault& a = schedule[i];
        const Fault& b = schedule[j];
        if (!(a.start_ms < b.end_ms && b.start_ms < a.end_ms)) continue;
        EXPECT_NE(GroupOf(a.kind), GroupOf(b.kind));
        ++composed;
      }
    }
  }
  EXPECT_GT(composed, 0);
}

TEST(DesiredFaultsTest, DiskFaultsSetTheirNodesDiskOnly) {
  Fault full{.kind = NemesisKind::kDisk, .start_ms = 0, .end_ms = 1};
  full.nodes = {2};
  Fault failing{.kind = NemesisKind::kDiskError, .start_ms = 0, .end_ms = 1};
  failing.nodes = {4, 5};
  Fault halves{.kind = NemesisKind::kPartitionHalves, .start_ms = 0, .end_ms = 1};
  halves.blocked = {{1, 2}, {2, 1}};
  const std::map<NodeId, NodeFaults> state =
      DesiredFaults(kFive, std::vector<const Fault*>{&full, &halves});
  EXPECT_EQ(state.at(2).disk, DiskFault::kFull);
  EXPECT_TRUE(state.at(2).links[0].block_out);  // The partition holds too.
  EXPECT_FALSE(state.at(2).killed || state.at(2).paused);
  EXPECT_EQ(state.at(2).clock_offset_ms, 0);
  for (NodeId other : {1u, 3u, 4u, 5u}) EXPECT_EQ(state.at(other).disk, DiskFault::kNone);

  const std::map<NodeId, NodeFaults> error = DesiredFaults(kFive, std::vector{&failing});
  EXPECT_EQ(error.at(4).disk, DiskFault::kIoError);
  EXPECT_EQ(error.at(5).disk, DiskFault::kIoError);
  EXPECT_EQ(error.at(1).disk, DiskFault::kNone);
  // Healed: no active fault, no disk fault.
  for (const auto& [node, faults] : DesiredFaults(kFive, {})) {
    EXPECT_EQ(faults.disk, DiskFault::kNone);
  }
}

TEST(DesiredFaultsTest, PartitionDropClockAndKillCompose) {
  Fault one_way{.kind = NemesisKind::kPartitionOneWay, .start_ms = 0, .end_ms = 1};
  one_way.blocked = {{1, 2}};
  Fault drop{.kind = NemesisKind::kDrop, .start_ms = 0, .end_ms = 1, .drop_probability = 0.25};
  Fault clock{.kind = NemesisKind::kClock, .start_ms = 0, .end_ms = 1};
  clock.nodes = {3};
  clock.clock_offsets_ms = {-300};
  Fault kill{.kind = NemesisKind::kKill, .start_ms = 0, .end_ms = 1};
  kill.nodes = {4};
  const std::vector<const Fault*> active = {&one_way, &drop, &clock, &kill};
  const std::map<NodeId, NodeFaults> state = DesiredFaults(kFive, active);

  // 1 -> 2 is lost at both ends; 2 -> 1 passes; every link drops a quarter.
  const LinkFaults& one_to_two = state.at(1).links[0];
  EXPECT_EQ(one_to_two.peer, 2u);
  EXPECT_TRUE(one_to_two.block_out);
  EXPECT_FALSE(one_to_two.block_in);
  EXPECT_DOUBLE_EQ(one_to_two.drop_out, 0.25);
  const LinkFaults& two_from_one = state.at(2).links[0];
  EXPECT_EQ(two_from_one.peer, 1u);
  EXPECT_TRUE(two_from_one.block_in);
  EXPECT_FALSE(two_from_one.block_out);
  EXPECT_EQ(state.at(3).clock_offset_ms, -300);
  EXPECT_EQ(state.at(1).clock_offset_ms, 0);
  EXPECT_TRUE(state.at(4).killed);
  EXPECT_FALSE(state.at(5).killed);
}

}  // namespace
}  // namespace dialkv::jepsen
