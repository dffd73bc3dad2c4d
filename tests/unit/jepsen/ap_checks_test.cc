#include "jepsen-like/check/ap_checks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

using testing::D;
using testing::MakeHistory;
using testing::R;
using testing::Spec;
using testing::W;

std::vector<CompletedOp> Pair(const std::vector<Spec>& specs) {
  Result<std::vector<CompletedOp>> ops = PairHistory(MakeHistory(specs));
  EXPECT_TRUE(ops.ok()) << ops.status().ToString();
  return ops.ok() ? *ops : std::vector<CompletedOp>{};
}

Version V(std::string value, uint64_t hlc, NodeId node) {
  return Version{std::move(value), Timestamp{hlc, node}, false};
}
Version Tombstone(uint64_t hlc, NodeId node) { return Version{"", Timestamp{hlc, node}, true}; }

// Every node in `nodes` holds `version` of `key`.
void HoldEverywhere(FinalState& s, const std::string& key, const std::optional<Version>& version,
                    const std::vector<NodeId>& nodes = {1, 2, 3}) {
  for (NodeId n : nodes) s.replicas[n][key] = version;
}

TEST(ConvergenceTest, IdenticalReplicasConverge) {
  FinalState s;
  HoldEverywhere(s, "a", V("x", 10, 1));
  HoldEverywhere(s, "b", Tombstone(11, 2));
  HoldEverywhere(s, "c", std::nullopt);
  s.replicas[1]["only-on-1"] = V("y", 3, 1);  // Not asked elsewhere: nothing to compare.
  ConvergenceResult r = CheckConvergence(s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.keys_compared, 4u);
  EXPECT_EQ(r.divergent_keys, 0u);
}

TEST(ConvergenceTest, DifferentVersionsOrAMissingVersionDiverge) {
  FinalState s;
  HoldEverywhere(s, "ok", V("x", 10, 1));
  HoldEverywhere(s, "ts", V("x", 10, 1));
  s.replicas[3]["ts"] = V("x", 10, 2);  // Same value, another timestamp.
  HoldEverywhere(s, "null", V("x", 10, 1));
  s.replicas[2]["null"] = std::nullopt;
  HoldEverywhere(s, "tomb", Tombstone(12, 1));
  s.replicas[1]["tomb"] = std::nullopt;  // A tombstone vs no version is divergence too.
  ConvergenceResult r = CheckConvergence(s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.keys_compared, 4u);
  EXPECT_EQ(r.divergent_keys, 3u);
  ASSERT_EQ(r.examples.size(), 3u);
  EXPECT_EQ(r.examples[0].key, "null");
  EXPECT_FALSE(r.examples[0].versions.at(2).has_value());
  EXPECT_EQ(r.examples[0].versions.at(1), V("x", 10, 1));

  ApCheckOptions one;
  one.max_examples = 1;
  ConvergenceResult capped = CheckConvergence(s, one);
  EXPECT_EQ(capped.divergent_keys, 3u);
  EXPECT_EQ(capped.examples.size(), 1u);
}

TEST(UnwrittenValueTest, ReadsAndFinalValuesMustComeFromWrites) {
  const std::vector<CompletedOp> ops = Pair({
      W(1, "k", "a", 0, 10).Ap(), W(2, "k", "b", 0, 10).Ap().Info(),
      W(3, "k", "c", 0, 10).Ap().Fail(), R(4, "k", "a", 20, 30).Ap(), R(4, "k", "b", 40, 50).Ap(),
      R(4, "k", std::nullopt, 60, 70).Ap(), R(5, "k", "ghost", 80, 90).Ap(),  // Never written.
      R(5, "k", "c", 100, 110).Ap(),      // Only a failed write carried it.
      R(5, "other", "a", 120, 130).Ap(),  // Written, but to another key.
  });
  FinalState s;
  HoldEverywhere(s, "k", V("a", 1, 1));
  s.replicas[2]["k"] = V("phantom", 2, 2);
  UnwrittenValueResult r = CheckUnwrittenValues(ops, &s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.reads_checked, 5u);  // ok reads that returned a value.
  EXPECT_EQ(r.unwritten_reads, 3u);
  EXPECT_EQ(r.final_values_checked, 3u);
  EXPECT_EQ(r.unwritten_final_values, 1u);
  ASSERT_EQ(r.examples.size(), 4u);
  EXPECT_EQ(r.examples[0].value, "ghost");
  EXPECT_FALSE(r.examples[0].written_by_failed_write);
  EXPECT_EQ(r.examples[1].value, "c");
  EXPECT_TRUE(r.examples[1].written_by_failed_write);
  EXPECT_EQ(r.examples[2].key, "other");
  EXPECT_EQ(r.examples[3].value, "phantom");
  EXPECT_EQ(r.examples[3].node, 2u);
  EXPECT_FALSE(r.examples[3].read.has_value());

  // Without a final state only reads are checked.
  UnwrittenValueResult reads_only = CheckUnwrittenValues(ops, nullptr);
  EXPECT_EQ(reads_only.final_values_checked, 0u);
  EXPECT_EQ(reads_only.unwritten_reads, 3u);
}

TEST(LostWriteTest, AcknowledgedWriteMustBeFinalOrBeaten) {
  const std::vector<CompletedOp> ops = Pair({
      W(1, "final", "a", 0, 10).Ap().Ts(100, 1),
      W(2, "beaten-final", "a", 0, 10).Ap().Ts(100, 1),
      W(3, "beaten-history", "a", 0, 10).Ap().Ts(100, 1),
      D(3, "beaten-history", 20, 30).Ap().Ts(200, 2),
      W(4, "lost", "a", 0, 10).Ap().Ts(100, 1),
      W(4, "lost", "old", 20, 30).Ap().Ts(50, 2),  // Later, but with an older timestamp.
      W(5, "no-ts", "a", 0, 10).Ap(),
      W(6, "not-asked", "a", 0, 10).Ap().Ts(100, 1),
      D(7, "deleted", 0, 10).Ap().Ts(100, 1),
      D(8, "deleted-gc", 0, 10).Ap().Ts(100, 1),
      W(9, "info", "a", 0, 10).Ap().Info(),  // Not acknowledged: not examined.
      W(9, "cp-lost", "a", 20, 30).Ts(100, 1),
  });
  FinalState s;
  HoldEverywhere(s, "final", V("a", 100, 1));
  s.replicas[3]["final"] = V("a", 90, 3);  // One replica behind is enough to hold it.
  HoldEverywhere(s, "beaten-final", V("z", 300, 3));
  // The delete that beat "a" was purged: only the history shows the newer version.
  HoldEverywhere(s, "beaten-history", std::nullopt);
  HoldEverywhere(s, "lost", V("old", 50, 2));
  HoldEverywhere(s, "no-ts", V("x", 1, 1));
  HoldEverywhere(s, "deleted", Tombstone(100, 1));
  HoldEverywhere(s, "deleted-gc", std::nullopt);
  HoldEverywhere(s, "cp-lost", std::nullopt, {2});
  HoldEverywhere(s, "info", std::nullopt);

  LostWriteResult r = CheckLostWrites(ops, s);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.acknowledged, 11u);
  EXPECT_EQ(r.present, 5u);  // final, the purged delete, "old", deleted, deleted-gc.
  EXPECT_EQ(r.beaten, 2u);   // beaten-final, beaten-history's "a".
  EXPECT_EQ(r.unverifiable, 2u);
  EXPECT_EQ(r.lost, 2u);  // lost's "a", cp-lost.
  EXPECT_EQ(r.lost_cp, 1u);
  ASSERT_EQ(r.examples.size(), 2u);
  EXPECT_EQ(r.examples[0].write.key, "lost");
  EXPECT_EQ(r.examples[0].write.value, "a");
  EXPECT_EQ(r.examples[0].newest_final, V("old", 50, 2));
  EXPECT_EQ(r.examples[1].write.key, "cp-lost");
  EXPECT_FALSE(r.examples[1].newest_final.has_value());
}

TEST(LostWriteTest, NothingAcknowledgedNothingLost) {
  FinalState s;
  HoldEverywhere(s, "k", V("a", 1, 1));
  LostWriteResult r = CheckLostWrites({}, s);
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.acknowledged, 0u);
}

TEST(StaleReadTest, RateAndStalenessOfApReads) {
  const std::vector<CompletedOp> ops = Pair({
      W(1, "k", "a", 0, 10).Ap().Ts(100, 1), W(1, "k", "b", 20, 30).Ap().Ts(200, 1),
      W(1, "k", "c", 40, 50).Ap().Ts(150, 2),  // Completed last, but LWW-older than "b".
      W(1, "k", "x", 75, 76).Ap().Info(),
      R(2, "k", std::nullopt, 5, 8).Ap(),  // Nothing completed yet: fresh.
      R(2, "k", "a", 12, 14).Ap(),         // Fresh.
      R(2, "k", "a", 35, 38).Ap(),         // Stale: "b" completed at 30.
      R(2, "k", "c", 60, 62).Ap(),         // Stale: "b" (newer than "c") completed at 30.
      R(2, "k", "b", 70, 72).Ap(),         // Fresh.
      R(2, "k", "x", 80, 82).Ap(),         // The info write has no timestamp: unverifiable.
      R(3, "k", "a", 90, 92),              // CP: not measured.
      R(3, "k", "a", 93, 94).Ap().Fail(),  // Not ok: not measured.
      W(4, "d", "p", 0, 10).Ap().Ts(10, 1), D(4, "d", 20, 30).Ap().Ts(20, 1),
      R(5, "d", std::nullopt, 40, 45).Ap(),  // Saw the delete: fresh.
      R(5, "d", "p", 50, 55).Ap(),           // Stale: deleted at 30.
      D(6, "e", 0, 10).Ap().Info(),
      R(7, "e", std::nullopt, 20, 25).Ap(),  // Which delete it saw is unknown: unverifiable.
  });
  StaleReadResult r = MeasureStaleReads(ops);
  EXPECT_EQ(r.reads, 9u);
  EXPECT_EQ(r.verifiable, 7u);
  EXPECT_EQ(r.stale, 3u);
  EXPECT_DOUBLE_EQ(r.stale_rate, 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(r.staleness.p50_ms, 20);
  EXPECT_DOUBLE_EQ(r.staleness.p99_ms, 30);
  EXPECT_DOUBLE_EQ(r.staleness.max_ms, 30);
  ASSERT_EQ(r.examples.size(), 3u);
  EXPECT_EQ(r.examples[0].read.value, "c");
  EXPECT_EQ(r.examples[0].newer_write.value, "b");
  EXPECT_DOUBLE_EQ(r.examples[0].staleness_ms, 30);
  EXPECT_EQ(r.examples[1].read.key, "d");
  EXPECT_EQ(r.examples[1].newer_write.f, OpFunction::kDelete);
  EXPECT_DOUBLE_EQ(r.examples[2].staleness_ms, 5);
}

TEST(StaleReadTest, NoReadsNoRate) {
  StaleReadResult r = MeasureStaleReads({});
  EXPECT_EQ(r.reads, 0u);
  EXPECT_EQ(r.stale_rate, 0);
  EXPECT_EQ(r.staleness.max_ms, 0);
}

TEST(AvailabilityTest, CountsPerModeInAndOutOfFaults) {
  const std::vector<CompletedOp> ops = Pair({
      W(1, "k", "a", 0, 10),
      W(1, "k", "b", 20, 30).Fail(),
      R(1, "k", std::nullopt, 40, 50).Info(),
      W(2, "k", "c", 60, 0).Pending(),
      R(3, "k", "a", 0, 10).Ap(),
      R(3, "k", "a", 100, 110).Ap(),
      W(3, "k", "d", 200, 210).Ap(),
  });
  const std::vector<TimeInterval> faults = {{15 * testing::kNsPerMs, 45 * testing::kNsPerMs},
                                            {205 * testing::kNsPerMs, 300 * testing::kNsPerMs}};
  AvailabilityResult r = MeasureAvailability(ops, faults);
  EXPECT_EQ(r.cp.overall.ok, 1u);
  EXPECT_EQ(r.cp.overall.fail, 1u);
  EXPECT_EQ(r.cp.overall.info, 2u);
  EXPECT_EQ(r.cp.overall.availability(), 0.25);
  EXPECT_EQ(r.cp.during_faults.availability(), 0.0);
  EXPECT_EQ(r.cp.during_faults.total(), 2u);
  EXPECT_EQ(r.cp.outside_faults.availability(), 0.5);
  EXPECT_EQ(r.ap.overall.availability(), 1.0);
  EXPECT_EQ(r.ap.during_faults.total(), 1u);
  EXPECT_EQ(r.ap.outside_faults.total(), 2u);

  AvailabilityResult none = MeasureAvailability({}, faults);
  EXPECT_FALSE(none.ap.overall.availability().has_value());
}

TEST(AvailabilityTest, PartitionsCountEachSideApart) {
  // Node 3 is cut off from 100 to 200 ms; a kill (not a partition) from 300 to 400 ms.
  const std::vector<CompletedOp> ops = Pair({
      W(1, "k", "a", 110, 120),                    // Majority side, served.
      R(2, "k", "a", 130, 140).OnNode(2),          // Majority side, served.
      W(3, "k", "b", 150, 1150).OnNode(3).Info(),  // Minority side, timed out.
      W(4, "k", "c", 160, 170).OnNode(3).Fail(),   // Minority side, refused.
      W(5, "k", "d", 190, 260).OnNode(3),          // Overlaps the partition's end: minority.
      W(6, "j", "x", 150, 160).OnNode(3).Ap(),     // AP on the minority side, served.
      W(7, "k", "e", 310, 320).Fail(),             // During the kill only: no side.
      R(8, "k", "e", 500, 510).OnNode(3),          // Outside every fault.
  });
  std::vector<TimeInterval> faults = {
      {.start_ns = 100 * testing::kNsPerMs, .end_ns = 200 * testing::kNsPerMs, .minority = {{3}}},
      {.start_ns = 300 * testing::kNsPerMs, .end_ns = 400 * testing::kNsPerMs}};
  AvailabilityResult r = MeasureAvailability(ops, faults);
  EXPECT_EQ(r.cp.partition_majority_side.ok, 2u);
  EXPECT_EQ(r.cp.partition_majority_side.total(), 2u);
  EXPECT_EQ(r.cp.partition_minority_side.ok, 1u);
  EXPECT_EQ(r.cp.partition_minority_side.fail, 1u);
  EXPECT_EQ(r.cp.partition_minority_side.info, 1u);
  EXPECT_EQ(r.cp.during_faults.total(), 6u);  // The kill's operation counts as during faults.
  EXPECT_EQ(r.ap.partition_minority_side.availability(), 1.0);
  EXPECT_EQ(r.ap.partition_majority_side.total(), 0u);

  // A partition that leaves every node a majority puts every operation on the majority side.
  faults[0].minority = std::vector<NodeId>{};
  r = MeasureAvailability(ops, faults);
  EXPECT_EQ(r.cp.partition_majority_side.total(), 5u);
  EXPECT_EQ(r.cp.partition_minority_side.total(), 0u);
  // Without partitions, no operation has a side.
  faults[0].minority.reset();
  r = MeasureAvailability(ops, faults);
  EXPECT_EQ(r.cp.partition_majority_side.total() + r.cp.partition_minority_side.total(), 0u);
}

}  // namespace
}  // namespace dialkv::jepsen
