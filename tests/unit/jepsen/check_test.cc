#include "jepsen-like/check/check.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

using testing::MakeHistory;
using testing::R;
using testing::W;

constexpr int64_t kOrigin = 1'000;  // ms: histories need not start at zero.

std::vector<Op> HealthyHistory() {
  return MakeHistory({
      W(1, "cp", "a", kOrigin + 0, kOrigin + 10).Ts(100, 1),
      R(2, "cp", "a", kOrigin + 20, kOrigin + 30),
      W(3, "ap", "x", kOrigin + 0, kOrigin + 5).Ap().Ts(90, 2),
      R(4, "ap", std::nullopt, kOrigin + 1, kOrigin + 2).Ap(),
      W(3, "ap", "y", kOrigin + 40, kOrigin + 45).Ap().Ts(110, 3),
      R(4, "ap", "x", kOrigin + 50, kOrigin + 55).Ap(),  // Stale by 5 ms.
      W(5, "cp", "b", kOrigin + 60, kOrigin + 70).Fail(),
  });
}

FinalState HealthyFinalState() {
  FinalState s;
  for (NodeId n : {1u, 2u, 3u}) {
    s.replicas[n]["cp"] = Version{"a", Timestamp{100, 1}, false};
    s.replicas[n]["ap"] = Version{"y", Timestamp{110, 3}, false};
  }
  return s;
}

TEST(CheckRunTest, HealthyRunPassesAndMeasures) {
  const FinalState final_state = HealthyFinalState();
  const std::vector<TimeInterval> faults = {
      {(kOrigin + 55) * testing::kNsPerMs, (kOrigin + 80) * testing::kNsPerMs}};
  Result<CheckReport> report = CheckRun(HealthyHistory(), &final_state, faults);
  ASSERT_OK(report);
  EXPECT_EQ(report->verdict, Verdict::kPass);
  EXPECT_EQ(report->operations, 7u);
  EXPECT_EQ(report->origin_ns, kOrigin * testing::kNsPerMs);
  EXPECT_EQ(report->linearizability.keys_checked, 1u);
  ASSERT_TRUE(report->convergence.has_value());
  EXPECT_EQ(report->convergence->keys_compared, 2u);
  ASSERT_TRUE(report->lost_writes.has_value());
  EXPECT_EQ(report->lost_writes->present, 2u);
  EXPECT_EQ(report->lost_writes->beaten, 1u);
  EXPECT_EQ(report->stale_reads.stale, 1u);
  EXPECT_DOUBLE_EQ(report->stale_reads.staleness.max_ms, 5);
  EXPECT_EQ(report->availability.cp.during_faults.fail, 1u);

  nlohmann::ordered_json j = ToJson(*report);
  EXPECT_EQ(j["verdict"], "pass");
  EXPECT_EQ(j["operations"], 7);
  EXPECT_EQ(j["linearizability"]["verdict"], "pass");
  EXPECT_EQ(j["convergence"]["divergent_keys"], 0);
  EXPECT_EQ(j["lost_writes"]["lost"], 0);
  EXPECT_EQ(j["stale_reads"]["stale"], 1);
  EXPECT_EQ(j["stale_reads"]["examples"][0]["read"]["value"], "x");
  EXPECT_EQ(j["availability"]["cp"]["overall"]["availability"], 2.0 / 3.0);
  EXPECT_TRUE(j["availability"]["cp"]["outside_faults"]["availability"].is_number());
  // No AP operation during faults: the ratio is undefined, not zero.
  EXPECT_EQ(j["availability"]["ap"]["during_faults"]["ok"], 1);

  const std::string summary = FormatSummary(*report);
  EXPECT_NE(summary.find("verdict: pass (7 operations)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("stale reads (ap): 1 of 2 verifiable reads"), std::string::npos)
      << summary;
}

TEST(CheckRunTest, WithoutFinalStateSkipsConvergenceAndLostWrites) {
  Result<CheckReport> report = CheckRun(HealthyHistory(), nullptr, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->verdict, Verdict::kPass);
  EXPECT_FALSE(report->convergence.has_value());
  EXPECT_FALSE(report->lost_writes.has_value());
  nlohmann::ordered_json j = ToJson(*report);
  EXPECT_TRUE(j["convergence"].is_null());
  EXPECT_TRUE(j["lost_writes"].is_null());
  EXPECT_TRUE(j["availability"]["ap"]["during_faults"]["availability"].is_null());
}

TEST(CheckRunTest, ViolationsAnywhereMakeTheRunAViolationWithWitnesses) {
  std::vector<Op> history = MakeHistory({
      W(1, "cp", "a", kOrigin + 0, kOrigin + 10),
      W(1, "cp", "b", kOrigin + 20, kOrigin + 30),
      R(2, "cp", "a", kOrigin + 40, kOrigin + 50),
  });
  FinalState final_state;
  final_state.replicas[1]["cp"] = Version{"b", Timestamp{5, 1}, false};
  final_state.replicas[2]["cp"] = Version{"a", Timestamp{4, 1}, false};
  Result<CheckReport> report = CheckRun(history, &final_state, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->verdict, Verdict::kViolation);
  EXPECT_EQ(report->linearizability.verdict, Verdict::kViolation);
  EXPECT_EQ(report->convergence->verdict, Verdict::kViolation);

  nlohmann::ordered_json j = ToJson(*report);
  EXPECT_EQ(j["verdict"], "violation");
  const auto& witness = j["linearizability"]["violations"][0];
  EXPECT_EQ(witness["key"], "cp");
  EXPECT_EQ(witness["culprit"], 2);
  EXPECT_EQ(witness["ops"].size(), 3u);
  EXPECT_EQ(witness["ops"][2]["invoke_time"], (kOrigin + 40) * testing::kNsPerMs);
  // Times in the text are relative to the history's start.
  const std::string text = witness["text"];
  EXPECT_NE(text.find("40.000"), std::string::npos) << text;

  const std::string summary = FormatSummary(*report);
  EXPECT_NE(summary.find("linearizability (cp): violation"), std::string::npos) << summary;
  EXPECT_NE(summary.find("<- cannot be linearized"), std::string::npos) << summary;
  EXPECT_NE(summary.find("convergence: violation - 1 keys, 1 divergent"), std::string::npos)
      << summary;
}

TEST(CheckRunTest, MalformedHistoryIsAnError) {
  std::vector<Op> history = HealthyHistory();
  history.erase(history.begin());  // A completion without its invocation.
  ASSERT_CODE(CheckRun(history, nullptr, {}), Code::kInvalidArgument);
}

TEST(CheckRunTest, FilesWrittenByTheHarnessCheckTheSame) {
  testutil::TempDir dir;
  ASSERT_OK(WriteHistoryFile(dir.path() / "history.jsonl", HealthyHistory()));
  ASSERT_OK(WriteFinalStateFile(dir.path() / "final.json", HealthyFinalState()));
  Result<std::vector<Op>> history = ReadHistoryFile(dir.path() / "history.jsonl");
  ASSERT_OK(history);
  Result<FinalState> final_state = ReadFinalStateFile(dir.path() / "final.json");
  ASSERT_OK(final_state);
  Result<CheckReport> report = CheckRun(*history, &*final_state, {});
  ASSERT_OK(report);
  EXPECT_EQ(report->verdict, Verdict::kPass);
  EXPECT_EQ(report->lost_writes->present, 2u);
}

}  // namespace
}  // namespace dialkv::jepsen
