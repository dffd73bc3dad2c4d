// dialkv-jepsen end to end: the real harness binary starts real servers, runs a few seconds of
// workload under faults, and checks. A correct cluster passes; a cluster with a test-only CP
// bug switched on fails with a linearizability witness, and the same seed without it passes.
// Under disk faults the nodes' disk alarms are recorded in results.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jepsen-like/check/final_state.h"
#include "jepsen-like/check/history.h"
#include "jepsen-like/check/pairing.h"
#include "tests/testutil/command.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv {
namespace {

using testutil::CommandResult;

// Generous: a run takes its --time plus start-up, heal, convergence and checks (seconds).
constexpr auto kRunTimeout = std::chrono::seconds(120);

class JepsenTest : public ::testing::Test {
 protected:
  CommandResult Harness(const std::string& name, std::vector<std::string> args) {
    out_ = dir_.path() / name;
    std::vector<std::string> argv = {DIALKV_JEPSEN_PATH, "--server", testutil::ServerBinary(),
                                     "--out", out_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = testutil::RunCommand(argv, "", kRunTimeout);
    // The run's own summary helps whoever reads a failure.
    std::cout << "--- dialkv-jepsen " << name << " exit " << r.exit_code << "\n" << r.out;
    return r;
  }

  // Flags of the skip-read-repair scenario. Message drops on every link make some CP writes
  // reach only their coordinator's replica before their deadline (they end `info`); while that
  // version sits on one replica, a CP read whose quorum includes it returns it, and without the
  // write-back a later read whose quorum excludes it returns the older value.
  static std::vector<std::string> ReadRepairScenario() {
    return {"--nodes",
            "3",
            "--workload",
            "register",
            "--nemesis",
            "drop",
            "--drop-probability",
            "0.5",
            "--nemesis-interval",
            "3s",
            "--time",
            "30",  // About 3 violations per 20 s when run alone: 30 s keeps a margin under load.
            "--warmup",
            "1",
            "--keys",
            "2",
            "--concurrency",
            "10",
            "--rate",
            "200",
            "--read-fraction",
            "0.7",
            "--delete-fraction",
            "0",
            "--op-timeout-ms",
            "300",
            "--seed",
            "3"};
  }

  testutil::TempDir dir_;
  std::filesystem::path out_;
};

TEST_F(JepsenTest, RegisterRunUnderPartitionsPassesAndWritesEveryFile) {
  CommandResult r = Harness(
      "register", {"--nodes", "3", "--workload", "register", "--nemesis", "partitions",
                   "--nemesis-interval", "2s", "--time", "10", "--warmup", "1", "--seed", "11"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("linearizability (cp): pass"), std::string::npos) << r.out;
  for (const char* file : {"history.jsonl", "final.json", "results.json", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(out_ / file)) << file;
  }
  // The history is in the harness's history format: it parses and every invocation pairs.
  Result<std::vector<jepsen::Op>> history = jepsen::ReadHistoryFile(out_ / "history.jsonl");
  ASSERT_OK(history);
  Result<std::vector<jepsen::CompletedOp>> ops = jepsen::PairHistory(*history);
  ASSERT_OK(ops);
  EXPECT_GT(ops->size(), 50u);
  size_t cp = 0;
  for (const jepsen::CompletedOp& op : *ops) cp += op.mode == Consistency::kCp ? 1 : 0;
  EXPECT_EQ(cp, ops->size());
  Result<jepsen::FinalState> final_state = jepsen::ReadFinalStateFile(out_ / "final.json");
  ASSERT_OK(final_state);
  EXPECT_EQ(final_state->replicas.size(), 3u);
  // The progress lines went to stderr, the partitions named in them.
  EXPECT_NE(r.err.find("nemesis: partition-"), std::string::npos) << r.err;
}

TEST_F(JepsenTest, SkipReadRepairIsCaughtWithALinearizabilityWitness) {
  std::vector<std::string> args = ReadRepairScenario();
  args.insert(args.end(), {"--server-bug", "skip-read-repair"});
  CommandResult r = Harness("bug", args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.out.find("linearizability (cp): violation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<- cannot be linearized"), std::string::npos) << r.out;
}

TEST_F(JepsenTest, SameSeedWithoutTheBugPasses) {
  CommandResult r = Harness("no-bug", ReadRepairScenario());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("linearizability (cp): pass"), std::string::npos) << r.out;
}

// The disk alarm intervals results.json lists; each must have cleared once its fault ended.
size_t ClearedDiskAlarms(const std::filesystem::path& results) {
  std::ifstream in(results);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << results;
  if (j.is_discarded() || !j.contains("disk_alarms")) return 0;
  size_t cleared = 0;
  for (const auto& alarm : j["disk_alarms"]) {
    EXPECT_EQ(alarm["name"], "disk-alarm");
    EXPECT_GE(alarm["node"].get<int>(), 1);
    EXPECT_LE(alarm["node"].get<int>(), 3);
    EXPECT_LT(alarm["start_ns"].get<int64_t>(), alarm["end_ns"].get<int64_t>());
    EXPECT_TRUE(alarm["cleared"].get<bool>()) << alarm.dump();
    cleared += alarm["cleared"].get<bool>() ? 1 : 0;
  }
  return cleared;
}

TEST_F(JepsenTest, DiskNemesisRaisesAlarmsThatClearAndTheRunPasses) {
  CommandResult r = Harness(
      "disk", {"--nodes", "3", "--workload", "mixed", "--nemesis", "disk", "--nemesis-interval",
               "4s", "--time", "12", "--warmup", "1", "--keys", "4", "--seed", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("linearizability (cp): pass"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("nemesis: disk: disk full {"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("disk-alarm node "), std::string::npos) << r.out;
  EXPECT_GE(ClearedDiskAlarms(out_ / "results.json"), 1u);
}

// Seed 7 composes a full disk on node 2 with the partition {3} | {1,2} in one window, then fills
// node 2's disk again alone.
TEST_F(JepsenTest, DiskComposedWithPartitionsPasses) {
  CommandResult r =
      Harness("disk-partition", {"--nodes", "3", "--workload", "mixed", "--nemesis",
                                 "disk,partition-halves", "--nemesis-interval", "3s", "--time",
                                 "15", "--warmup", "1", "--keys", "4", "--seed", "7"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("linearizability (cp): pass"), std::string::npos) << r.out;
  EXPECT_GE(ClearedDiskAlarms(out_ / "results.json"), 1u);
}

TEST_F(JepsenTest, AttachModeRefusesProcessNemeses) {
  CommandResult r =
      testutil::RunCommand({DIALKV_JEPSEN_PATH, "--endpoints", "127.0.0.1:1", "--nemesis", "kill",
                            "--out", (dir_.path() / "attach").string()},
                           "", std::chrono::seconds(30));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not available with --endpoints"), std::string::npos) << r.err;
}

nlohmann::json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

// Without --out a run lands in the store, store/latest points at it, its history carries the
// nemesis's start and stop lines, `check` on the saved directory gives the run's verdict and
// exit code, and `export` turns its CP operations into Porcupine's form.
TEST_F(JepsenTest, StoredRunIsRecheckedToTheSameVerdict) {
  const std::filesystem::path store = dir_.path() / "store";
  CommandResult r = testutil::RunCommand({DIALKV_JEPSEN_PATH,
                                          "--server",
                                          testutil::ServerBinary(),
                                          "--store",
                                          store.string(),
                                          "--nodes",
                                          "3",
                                          "--workload",
                                          "register",
                                          "--nemesis",
                                          "partition-halves",
                                          "--nemesis-interval",
                                          "600ms",
                                          "--time",
                                          "3",
                                          "--warmup",
                                          "0.5",
                                          "--keys",
                                          "2",
                                          "--converge-timeout",
                                          "10",
                                          "--seed",
                                          "13"},
                                         "", kRunTimeout);
  std::cout << "--- dialkv-jepsen (store) exit " << r.exit_code << "\n" << r.out;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::filesystem::path latest = store / "latest";
  ASSERT_TRUE(std::filesystem::is_symlink(latest));
  ASSERT_TRUE(std::filesystem::equivalent(latest, store / "register" / "latest"));
  const std::filesystem::path run = std::filesystem::canonical(latest);
  EXPECT_EQ(run.parent_path(), std::filesystem::canonical(store / "register"));
  for (const char* file :
       {"history.jsonl", "final.json", "run.json", "results.json", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(run / file)) << file;
  }

  std::vector<jepsen::NemesisOp> nemesis;
  Result<std::vector<jepsen::Op>> history =
      jepsen::ReadHistoryFile(run / "history.jsonl", &nemesis);
  ASSERT_OK(history);
  ASSERT_OK(jepsen::PairHistory(*history));
  ASSERT_GE(nemesis.size(), 2u);
  size_t starts = 0;
  size_t stops = 0;
  for (const jepsen::NemesisOp& n : nemesis) {
    starts += n.f == "start-partition-halves" ? 1 : 0;
    stops += n.f == "stop-partition-halves" ? 1 : 0;
    EXPECT_NE(n.value.find(" | "), std::string::npos) << n.value;  // "{1,2} | {3}".
  }
  EXPECT_GE(starts, 1u);
  EXPECT_EQ(starts, stops);
  const nlohmann::json original = ReadJson(run / "results.json");
  ASSERT_FALSE(original.is_discarded());
  ASSERT_EQ(original["nemesis"].size(), starts);
  EXPECT_EQ(original["nemesis"][0]["start_ns"], nemesis[0].time_ns);

  const std::filesystem::path again = dir_.path() / "again";
  CommandResult c =
      testutil::RunCommand({DIALKV_JEPSEN_PATH, "check", latest.string(), "--out", again.string()},
                           "", std::chrono::seconds(60));
  EXPECT_EQ(c.exit_code, r.exit_code) << c.err;
  EXPECT_NE(c.out.find("linearizability (cp): pass"), std::string::npos) << c.out;
  const nlohmann::json rechecked = ReadJson(again / "results.json");
  ASSERT_FALSE(rechecked.is_discarded());
  // The same verdict and the same figures (timings of the search aside).
  EXPECT_EQ(rechecked["summary"], original["summary"]);
  EXPECT_EQ(rechecked["checks"]["verdict"], original["checks"]["verdict"]);
  EXPECT_EQ(rechecked["checks"]["linearizability"]["ops_checked"],
            original["checks"]["linearizability"]["ops_checked"]);
  EXPECT_EQ(rechecked["checks"]["availability"], original["checks"]["availability"]);
  EXPECT_EQ(rechecked["nemesis"], original["nemesis"]);

  CommandResult e =
      testutil::RunCommand({DIALKV_JEPSEN_PATH, "export", "--format", "porcupine", run.string()},
                           "", std::chrono::seconds(60));
  ASSERT_EQ(e.exit_code, 0) << e.err;
  const nlohmann::json ops = nlohmann::json::parse(e.out, nullptr, false);
  ASSERT_TRUE(ops.is_array());
  EXPECT_GT(ops.size(), 0u);
  EXPECT_LE(ops.size(), original["checks"]["operations"].get<size_t>());
}

}  // namespace
}  // namespace dialkv
