// run.json and re-checking a saved run (jepsen-like/harness/run_record.h).
#include "jepsen-like/harness/run_record.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "jepsen-like/harness/run.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

namespace fs = std::filesystem;
using testing::MakeHistory;
using testing::R;
using testing::W;

RunRecord SampleRecord() {
  RunRecord r;
  r.info = RunInfo{.command_line = "dialkv-jepsen --nodes 3 --seed 4",
                   .workload = "register",
                   .nemeses = {"partition-halves", "kill"},
                   .seed = 18'446'744'073'709'551'615u,
                   .nodes = 3,
                   .duration_s = 2.5,
                   .started_at = "2026-12-07T20:04:05Z",
                   .server_version = "dialkv 0.1.0"};
  r.check.linearizability.max_time_per_key = std::chrono::milliseconds(1234);
  r.check.linearizability.max_cache_bytes_per_key = 5 << 20;
  r.check.linearizability.max_witness_time_per_key = std::chrono::milliseconds(99);
  r.check.ap.max_examples = 3;
  r.nemesis = {NemesisEvent{.name = "partition-halves",
                            .description = "{1,2} | {3}",
                            .start_ns = 15'000'000,
                            .end_ns = 35'000'000,
                            .minority = {{3}}},
               NemesisEvent{.name = "kill",
                            .description = "kill -9 {2}",
                            .start_ns = 60'000'000,
                            .end_ns = 70'000'000}};
  r.disk_alarms = {DiskAlarmInterval{.node = 2,
                                     .message = "disk full",
                                     .start_ns = 900'000'000,
                                     .end_ns = 950'000'000,
                                     .cleared = false}};
  return r;
}

TEST(RunRecordTest, RoundTripsThroughItsJson) {
  const RunRecord r = SampleRecord();
  Result<RunRecord> back = ParseRunRecord(RunRecordJson(r).dump());
  ASSERT_OK(back);
  EXPECT_EQ(back->info.command_line, r.info.command_line);
  EXPECT_EQ(back->info.nemeses, r.info.nemeses);
  EXPECT_EQ(back->info.seed, r.info.seed);
  EXPECT_EQ(back->info.duration_s, r.info.duration_s);
  EXPECT_EQ(back->check.linearizability.max_time_per_key, std::chrono::milliseconds(1234));
  EXPECT_EQ(back->check.linearizability.max_cache_bytes_per_key, uint64_t{5} << 20);
  EXPECT_EQ(back->check.linearizability.max_witness_time_per_key, std::chrono::milliseconds(99));
  EXPECT_EQ(back->check.ap.max_examples, 3u);
  ASSERT_EQ(back->nemesis.size(), 2u);
  EXPECT_EQ(back->nemesis[0].description, "{1,2} | {3}");
  EXPECT_EQ(back->nemesis[0].end_ns, 35'000'000);
  EXPECT_EQ(back->nemesis[0].minority, std::vector<NodeId>{3});
  EXPECT_FALSE(back->nemesis[1].minority.has_value());
  ASSERT_EQ(back->disk_alarms.size(), 1u);
  EXPECT_FALSE(back->disk_alarms[0].cleared);
  EXPECT_EQ(back->harness_error, "");
  // A run.json written before the sides were recorded: its partitions have none.
  nlohmann::ordered_json older = RunRecordJson(r);
  older["nemesis"][0].erase("minority");
  back = ParseRunRecord(older.dump());
  ASSERT_OK(back);
  EXPECT_FALSE(back->nemesis[0].minority.has_value());
  older["nemesis"][0]["minority"] = "3";
  EXPECT_EQ(ParseRunRecord(older.dump()).code(), Code::kCorruption);
  EXPECT_EQ(ParseRunRecord(R"({"format": 2})").code(), Code::kCorruption);
  EXPECT_EQ(ParseRunRecord(R"({"format": 1, "run": {}})").code(), Code::kCorruption);
}

// A run directory as the harness leaves it: the history with its nemesis lines, final.json
// and run.json.
void WriteRun(const fs::path& dir, const std::vector<Op>& ops, const RunRecord& record) {
  fs::create_directories(dir);
  Result<std::unique_ptr<HistoryWriter>> writer = HistoryWriter::Open(dir / "history.jsonl");
  ASSERT_OK(writer);
  bool started = false;
  for (const Op& op : ops) {
    if (!started && op.time_ns >= record.nemesis[0].start_ns) {
      ASSERT_OK((*writer)->AppendNemesis({.f = "start-partition-halves",
                                          .value = "{1,2} | {3}",
                                          .time_ns = record.nemesis[0].start_ns}));
      started = true;
    }
    ASSERT_OK((*writer)->Append(op));
  }
  ASSERT_OK((*writer)->Close());
  ASSERT_OK(WriteFinalStateFile(dir / "final.json", FinalState{}));
  ASSERT_OK(WriteRunRecordFile(dir / "run.json", record));
}

nlohmann::json Results(const fs::path& dir) {
  std::ifstream in(dir / "results.json");
  return nlohmann::json::parse(in, nullptr, false);
}

TEST(RunRecordTest, RecheckFindsTheViolationAndWritesTheVerdictLikeARun) {
  testutil::TempDir tmp;
  const fs::path dir = tmp.path() / "run";
  WriteRun(dir,
           MakeHistory({W(1, "k", "a", 0, 10), W(2, "k", "b", 20, 30), R(3, "k", "a", 40, 50)}),
           SampleRecord());
  EXPECT_EQ(RecheckRun(dir, "", {}), kExitViolation);
  const nlohmann::json results = Results(dir);
  ASSERT_FALSE(results.is_discarded());
  EXPECT_EQ(results["summary"]["verdict"], "violation");
  EXPECT_EQ(results["run"]["command_line"], "dialkv-jepsen --nodes 3 --seed 4");
  ASSERT_EQ(results["nemesis"].size(), 2u);
  EXPECT_EQ(results["nemesis"][0]["minority"], nlohmann::json::array({3}));
  // Operations invoked inside the partition's interval count as "during faults", and on the
  // side of their node (node 1: the majority's).
  EXPECT_EQ(results["checks"]["availability"]["cp"]["during_faults"]["ok"], 1);
  EXPECT_EQ(results["checks"]["availability"]["cp"]["partition_majority_side"]["ok"], 1);
  EXPECT_EQ(results["checks"]["availability"]["cp"]["partition_minority_side"]["ok"], 0);
  EXPECT_TRUE(fs::exists(dir / "report.html"));
}

TEST(RunRecordTest, RecheckOfAPassingRunPassesAndItsHarnessErrorStillCounts) {
  testutil::TempDir tmp;
  const fs::path dir = tmp.path() / "run";
  RunRecord record = SampleRecord();
  WriteRun(dir, MakeHistory({W(1, "k", "a", 0, 10), R(2, "k", "a", 20, 30)}), record);
  const fs::path out = tmp.path() / "again";
  EXPECT_EQ(RecheckRun(dir, out, {}), kExitPass);
  EXPECT_EQ(Results(out)["summary"]["verdict"], "pass");
  EXPECT_FALSE(fs::exists(dir / "results.json"));  // Written to --out only.

  record.harness_error = "Unavailable: 1 replicas could not be read";
  ASSERT_OK(WriteRunRecordFile(dir / "run.json", record));
  EXPECT_EQ(RecheckRun(dir, out, {}), kExitHarnessError);
}

TEST(RunRecordTest, RecheckOfADirectoryWithoutRunJsonIsAHarnessError) {
  testutil::TempDir tmp;
  EXPECT_EQ(RecheckRun(tmp.path(), "", {}), kExitHarnessError);
}

}  // namespace
}  // namespace dialkv::jepsen
