#include "jepsen-like/check/linearizability.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil/status_matchers.h"
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

LinearizabilityResult Check(const std::vector<Spec>& specs,
                            const LinearizabilityOptions& options = {}) {
  return CheckLinearizability(Pair(specs), options);
}

// The witness's operations as "p<process> <f>" strings, in order, the culprit starred.
std::vector<std::string> Summary(const LinearizabilityWitness& w) {
  std::vector<std::string> out;
  for (size_t i = 0; i < w.ops.size(); ++i) {
    out.push_back("p" + std::to_string(w.ops[i].process) + " " +
                  std::string(OpFunctionName(w.ops[i].f)) + (w.culprit == i ? "*" : ""));
  }
  return out;
}

TEST(LinearizabilityTest, EmptyHistoryPasses) {
  LinearizabilityResult r = Check({});
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.keys_checked, 0u);
}

TEST(LinearizabilityTest, SequentialHistoryPasses) {
  LinearizabilityResult r = Check({
      R(1, "k", std::nullopt, 0, 5),
      W(1, "k", "a", 10, 20),
      R(2, "k", "a", 30, 40),
      D(3, "k", 50, 60),
      R(2, "k", std::nullopt, 70, 80),
  });
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.keys_checked, 1u);
  EXPECT_EQ(r.ops_checked, 5u);
}

TEST(LinearizabilityTest, ReadsOfTwoOverlappingWritesMaySeeEitherOrder) {
  // Both writes span [0, 100]: a read may see either, and a later read the other one.
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 100),
                      W(2, "k", "b", 0, 100),
                      R(3, "k", "a", 20, 30),
                      R(3, "k", "b", 40, 50),
                  })
                .verdict,
            Verdict::kPass);
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 100),
                      W(2, "k", "b", 0, 100),
                      R(3, "k", "b", 20, 30),
                      R(4, "k", "a", 40, 50),
                      R(3, "k", "a", 110, 120),
                  })
                .verdict,
            Verdict::kPass);
  // Concurrent readers that disagree are fine while the writes are still in flight.
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      W(2, "k", "b", 20, 100),
                      R(3, "k", "a", 30, 90),
                      R(4, "k", "b", 30, 90),
                  })
                .verdict,
            Verdict::kPass);
}

TEST(LinearizabilityTest, EachWriteTakesEffectOnce) {
  // a, then b, then a again: one of the writes would have to take effect twice.
  LinearizabilityResult r = Check({
      W(1, "k", "a", 0, 100),
      W(2, "k", "b", 0, 100),
      R(3, "k", "a", 20, 30),
      R(3, "k", "b", 40, 50),
      R(3, "k", "a", 60, 70),
  });
  EXPECT_EQ(r.verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, StaleReadIsAViolationWithAMinimalWitness) {
  LinearizabilityResult r = Check({
      W(1, "k", "a", 0, 10),
      R(2, "k", "a", 12, 15),
      W(1, "k", "b", 20, 30),
      R(2, "k", "b", 32, 35),
      R(3, "k", "a", 40, 50),  // Stale: "b" completed before this read began.
      R(2, "k", "b", 60, 70),
      W(4, "other", "x", 0, 100),
      R(5, "other", "x", 110, 120),
  });
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.keys_checked, 2u);
  ASSERT_EQ(r.violations.size(), 1u);
  const LinearizabilityWitness& w = r.violations[0];
  EXPECT_EQ(w.key, "k");
  EXPECT_EQ(Summary(w), (std::vector<std::string>{"p1 write", "p1 write", "p3 read*"}));
  EXPECT_EQ(w.ops[0].value, "a");
  EXPECT_EQ(w.ops[1].value, "b");
  EXPECT_EQ(w.ops[2].value, "a");

  const std::string text = FormatWitness(w, 0);
  EXPECT_NE(text.find("key \"k\""), std::string::npos) << text;
  EXPECT_NE(text.find("read -> \"a\""), std::string::npos) << text;
  EXPECT_NE(text.find("40.000"), std::string::npos) << text;
  EXPECT_NE(text.find("<- cannot be linearized"), std::string::npos) << text;
}

TEST(LinearizabilityTest, ReadAfterDeleteMustNotSeeTheOldValue) {
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      D(1, "k", 20, 30),
                      R(2, "k", std::nullopt, 40, 50),
                  })
                .verdict,
            Verdict::kPass);
  LinearizabilityResult r = Check({
      W(1, "k", "a", 0, 10),
      D(1, "k", 20, 30),
      R(2, "k", "a", 40, 50),
  });
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(Summary(r.violations[0]),
            (std::vector<std::string>{"p1 write", "p1 delete", "p2 read*"}));
}

TEST(LinearizabilityTest, InfoWriteMayTakeEffectLongAfterItsInvocation) {
  // The write timed out; a read long after sees it, and one in between did not yet.
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      W(2, "k", "b", 20, 30).Info(),
                      R(3, "k", "a", 500, 510),
                      R(3, "k", "b", 5000, 5010),
                  })
                .verdict,
            Verdict::kPass);
  // The same without any completion in the history.
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      W(2, "k", "b", 20, 0).Pending(),
                      R(3, "k", "a", 500, 510),
                      R(3, "k", "b", 5000, 5010),
                  })
                .verdict,
            Verdict::kPass);
  // Or never.
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      W(2, "k", "b", 20, 30).Info(),
                      R(3, "k", "a", 5000, 5010),
                  })
                .verdict,
            Verdict::kPass);
}

TEST(LinearizabilityTest, InfoWriteCannotTakeEffectBeforeItsInvocation) {
  LinearizabilityResult r = Check({
      R(3, "k", "b", 0, 10),
      W(2, "k", "b", 20, 30).Info(),
  });
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  const LinearizabilityWitness& w = r.violations[0];
  EXPECT_EQ(Summary(w), (std::vector<std::string>{"p3 read*", "p2 write"}));
  EXPECT_NE(w.reason.find("invoked after the read completed"), std::string::npos) << w.reason;
}

TEST(LinearizabilityTest, InfoWriteTakesEffectOnlyOnce) {
  // Once a later write overwrote it, the info write cannot reappear.
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10).Info(),
                      R(2, "k", "a", 20, 30),
                      W(3, "k", "b", 40, 50),
                      R(2, "k", "a", 60, 70),
                  })
                .verdict,
            Verdict::kViolation);
}

TEST(LinearizabilityTest, FailedWriteMustNeverBeSeen) {
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      W(2, "k", "b", 20, 30).Fail(),
                      R(3, "k", "a", 40, 50),
                  })
                .verdict,
            Verdict::kPass);
  LinearizabilityResult r = Check({
      W(1, "k", "a", 0, 10),
      W(2, "k", "b", 20, 30).Fail(),
      R(3, "k", "b", 40, 50),
  });
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  const LinearizabilityWitness& w = r.violations[0];
  EXPECT_EQ(Summary(w), (std::vector<std::string>{"p2 write", "p3 read*"}));
  EXPECT_EQ(w.ops[0].outcome, OpType::kFail);
  EXPECT_NE(w.reason.find("only failed writes"), std::string::npos) << w.reason;
}

TEST(LinearizabilityTest, ReadOfAValueNobodyWroteIsAViolation) {
  LinearizabilityResult r = Check({
      W(1, "k", "a", 0, 10),
      R(3, "k", "zzz", 40, 50),
  });
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(Summary(r.violations[0]), (std::vector<std::string>{"p3 read*"}));
  EXPECT_NE(r.violations[0].reason.find("no write of this key"), std::string::npos);
}

TEST(LinearizabilityTest, FailAndInfoReadsConstrainNothing) {
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      R(2, "k", std::nullopt, 20, 30).Fail(),
                      R(3, "k", std::nullopt, 20, 30).Info(),
                      R(4, "k", std::nullopt, 20, 0).Pending(),
                  })
                .verdict,
            Verdict::kPass);
}

TEST(LinearizabilityTest, TouchingIntervalsCountAsConcurrent) {
  // The read is invoked at the very instant the write completes: either order is allowed.
  EXPECT_EQ(Check({
                      W(1, "k", "a", 0, 10),
                      W(2, "k", "b", 10, 20),
                      R(3, "k", "a", 20, 30),
                  })
                .verdict,
            Verdict::kPass);
}

TEST(LinearizabilityTest, KeysWithApWritesAreSkippedAndApReadsIgnored) {
  LinearizabilityResult r = Check({
      W(1, "mixed", "a", 0, 10),
      W(2, "mixed", "b", 20, 30).Ap(),
      R(3, "mixed", "a", 40, 50),  // Would be stale if the key were CP only.
      W(4, "cp", "a", 0, 10),
      W(5, "cp", "b", 20, 30),
      R(6, "cp", "a", 40, 50).Ap(),  // A stale AP read: allowed.
      W(7, "failed-ap", "x", 0, 10),
      W(8, "failed-ap", "y", 20, 30).Ap().Fail(),
  });
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.skipped_keys, (std::vector<std::string>{"mixed"}));
  EXPECT_EQ(r.keys_checked, 2u);
}

// Many writes all in flight at once, then reads that no order of them explains: the search
// has to visit every subset of the writes before it can say so.
std::vector<Spec> Pathological(int writers) {
  std::vector<Spec> specs;
  specs.reserve(static_cast<size_t>(writers));
  for (int i = 0; i < writers; ++i) {
    specs.push_back(W(i, "k", "v" + std::to_string(i), 0, 100));
  }
  specs.push_back(R(100, "k", "v0", 200, 210));
  specs.push_back(R(100, "k", "v1", 220, 230));
  return specs;
}

TEST(LinearizabilityTest, ExhaustedTimeBudgetGivesUnknownNotAHang) {
  LinearizabilityOptions options;
  options.max_time_per_key = std::chrono::milliseconds(20);
  const auto start = std::chrono::steady_clock::now();
  LinearizabilityResult r = Check(Pathological(24), options);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_EQ(r.unknown_keys, (std::vector<std::string>{"k"}));
  ASSERT_EQ(r.keys.size(), 1u);
  EXPECT_NE(r.keys[0].unknown_reason.find("time budget"), std::string::npos)
      << r.keys[0].unknown_reason;
  EXPECT_TRUE(r.violations.empty());
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(LinearizabilityTest, ExhaustedMemoryBudgetGivesUnknown) {
  LinearizabilityOptions options;
  options.max_cache_bytes_per_key = 64 << 10;
  LinearizabilityResult r = Check(Pathological(24), options);
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  ASSERT_EQ(r.keys.size(), 1u);
  EXPECT_NE(r.keys[0].unknown_reason.find("memory budget"), std::string::npos)
      << r.keys[0].unknown_reason;
}

TEST(LinearizabilityTest, ModeratelyConcurrentWritesAreDecidedWithinTheDefaultBudget) {
  LinearizabilityResult r = Check(Pathological(10));
  EXPECT_EQ(r.verdict, Verdict::kViolation);
  ASSERT_EQ(r.violations.size(), 1u);
  // The shrunk witness: the two writes the reads saw and the read that cannot follow.
  EXPECT_EQ(Summary(r.violations[0]),
            (std::vector<std::string>{"p0 write", "p1 write", "p100 read", "p100 read*"}));
}

}  // namespace
}  // namespace dialkv::jepsen
