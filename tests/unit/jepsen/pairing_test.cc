#include "jepsen-like/check/pairing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

using testing::D;
using testing::kNsPerMs;
using testing::MakeHistory;
using testing::R;
using testing::W;

Op Event(int64_t process, OpType type, OpFunction f, std::string key, int64_t time_ns,
         std::optional<std::string> value = std::nullopt) {
  Op op;
  op.process = process;
  op.type = type;
  op.f = f;
  op.key = std::move(key);
  op.time_ns = time_ns;
  op.value = std::move(value);
  return op;
}

TEST(PairHistoryTest, PairsEachInvocationWithItsProcessCompletion) {
  const std::vector<Op> h = MakeHistory({
      W(1, "k", "a", 0, 10).Ts(7, 1),
      R(2, "k", "a", 5, 15).Ap(),
      W(3, "k", "b", 6, 20).Fail(),
      D(4, "k", 8, 30).Info(),
      R(5, "k", std::nullopt, 40, 50),
      W(6, "k", "c", 45, 0).Pending(),
  });
  Result<std::vector<CompletedOp>> ops = PairHistory(h);
  ASSERT_OK(ops);
  ASSERT_EQ(ops->size(), 6u);
  const std::vector<CompletedOp>& o = *ops;
  for (size_t i = 0; i < o.size(); ++i) EXPECT_EQ(o[i].id, i);

  EXPECT_EQ(o[0].outcome, OpType::kOk);
  EXPECT_EQ(o[0].value, "a");
  EXPECT_EQ(o[0].invoke_ns, 0);
  EXPECT_EQ(o[0].complete_ns, 10 * kNsPerMs);
  EXPECT_EQ(o[0].ts, (Timestamp{7, 1}));
  EXPECT_EQ(o[0].effect_deadline_ns(), 10 * kNsPerMs);

  EXPECT_EQ(o[1].mode, Consistency::kAp);
  EXPECT_EQ(o[1].value, "a");  // A read's value comes from its completion.

  EXPECT_EQ(o[2].outcome, OpType::kFail);
  EXPECT_EQ(o[2].error, "UNAVAILABLE: test");

  EXPECT_EQ(o[3].outcome, OpType::kInfo);
  EXPECT_EQ(o[3].effect_deadline_ns(), std::numeric_limits<int64_t>::max());

  EXPECT_EQ(o[4].outcome, OpType::kOk);
  EXPECT_FALSE(o[4].value.has_value());  // Not found.

  // Never completed: treated as info.
  EXPECT_EQ(o[5].outcome, OpType::kInfo);
  EXPECT_FALSE(o[5].complete_ns.has_value());
  EXPECT_EQ(o[5].value, "c");
  EXPECT_EQ(o[5].effect_deadline_ns(), std::numeric_limits<int64_t>::max());
}

TEST(PairHistoryTest, RejectsAProcessWithTwoOutstandingOperations) {
  const std::vector<Op> h = {
      Event(1, OpType::kInvoke, OpFunction::kRead, "k", 0),
      Event(1, OpType::kInvoke, OpFunction::kRead, "k", 1),
  };
  Result<std::vector<CompletedOp>> ops = PairHistory(h);
  ASSERT_CODE(ops, Code::kInvalidArgument);
  EXPECT_NE(ops.status().message().find("history[1] (process 1) invokes while its operation "
                                        "invoked at history[0] is outstanding"),
            std::string::npos)
      << ops.status().message();
}

TEST(PairHistoryTest, RejectsACompletionWithoutInvocation) {
  const std::vector<Op> h = {
      Event(1, OpType::kInvoke, OpFunction::kRead, "k", 0),
      Event(1, OpType::kOk, OpFunction::kRead, "k", 1),
      Event(1, OpType::kOk, OpFunction::kRead, "k", 2),
  };
  Result<std::vector<CompletedOp>> ops = PairHistory(h);
  ASSERT_CODE(ops, Code::kInvalidArgument);
  EXPECT_NE(ops.status().message().find("history[2]"), std::string::npos);
  EXPECT_NE(ops.status().message().find("without an outstanding invocation"), std::string::npos);
}

TEST(PairHistoryTest, RejectsCompletionsThatDoNotMatchTheirInvocation) {
  const std::vector<std::vector<Op>> bad = {
      {Event(1, OpType::kInvoke, OpFunction::kRead, "k", 0),
       Event(1, OpType::kOk, OpFunction::kWrite, "k", 1, "v")},
      {Event(1, OpType::kInvoke, OpFunction::kRead, "k", 0),
       Event(1, OpType::kOk, OpFunction::kRead, "other", 1)},
      {Event(1, OpType::kInvoke, OpFunction::kRead, "k", 5),
       Event(1, OpType::kOk, OpFunction::kRead, "k", 4)},
      {Event(1, OpType::kInvoke, OpFunction::kWrite, "k", 0, "a"),
       Event(1, OpType::kOk, OpFunction::kWrite, "k", 1, "b")},
      {Event(1, OpType::kInvoke, OpFunction::kWrite, "k", 0)},
  };
  for (const std::vector<Op>& h : bad) {
    EXPECT_EQ(PairHistory(h).code(), Code::kInvalidArgument);
  }
  std::vector<Op> mode = {Event(1, OpType::kInvoke, OpFunction::kRead, "k", 0),
                          Event(1, OpType::kOk, OpFunction::kRead, "k", 1)};
  mode[1].mode = Consistency::kAp;
  EXPECT_EQ(PairHistory(mode).code(), Code::kInvalidArgument);
}

TEST(PairHistoryTest, AProcessMayInvokeAgainAfterItsCompletion) {
  const std::vector<Op> h = MakeHistory({
      W(1, "k", "a", 0, 10),
      R(1, "k", "a", 10, 20),
      W(1, "k", "b", 20, 30).Info(),
  });
  Result<std::vector<CompletedOp>> ops = PairHistory(h);
  ASSERT_OK(ops);
  EXPECT_EQ(ops->size(), 3u);
}

}  // namespace
}  // namespace dialkv::jepsen
