// `dialkv fault ...` and `dialkv inspect` through the real CLI binary against real clusters:
// one started with --enable-fault-injection (shared by the tests, healed before each), and
// one without it, which refuses.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/command.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/test_cluster.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using testutil::CommandResult;
using testutil::RunCommand;
using testutil::TestCluster;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// A cluster of `nodes` nodes, each a replica of every key.
std::unique_ptr<TestCluster> StartCluster(int nodes, std::vector<std::string> extra_args) {
  return TestCluster::StartOrFail(
      {.nodes = nodes, .replication_factor = nodes, .extra_args = std::move(extra_args)});
}

// Every node's client address, comma-separated, in node order.
std::string Endpoints(TestCluster& cluster) {
  std::string endpoints;
  for (NodeId id = 1; id <= static_cast<NodeId>(cluster.size()); ++id) {
    endpoints += (endpoints.empty() ? "" : ",") + cluster.node(id).client_address();
  }
  return endpoints;
}

CommandResult Cli(TestCluster& cluster, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {DIALKV_CLI_PATH, "--endpoints", Endpoints(cluster)};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

class CliFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = StartCluster(3, {"--enable-fault-injection"}).release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    CommandResult clear = Cli({"fault", "clear"});  // Each test starts from a healed cluster.
    ASSERT_EQ(clear.exit_code, 0) << clear.err;
  }

  static CommandResult Cli(const std::vector<std::string>& args) {
    return dialkv::Cli(*cluster_, args);
  }

  // Node `id`'s faults, read through the client library.
  static Result<FaultState> FaultsOf(NodeId id) { return cluster_->ClientFor(id)->GetFaults(); }

  static TestCluster* cluster_;  // Owned; shared by the tests of this suite.
};

TestCluster* CliFaultTest::cluster_ = nullptr;

TEST_F(CliFaultTest, PartitionThenShowPrintsTheBlocksOnAllThreeNodes) {
  CommandResult partition = Cli({"fault", "partition", "1", "/", "2,3"});
  ASSERT_EQ(partition.exit_code, 0) << partition.err;
  const std::string want =
      "node 1: partitioned from 2,3 (both ways); clock +0ms\n"
      "node 2: partitioned from 1 (both ways); clock +0ms\n"
      "node 3: partitioned from 1 (both ways); clock +0ms\n";
  EXPECT_EQ(partition.out, want);
  CommandResult show = Cli({"fault", "show"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(show.out, want);

  Result<FaultState> two = FaultsOf(2);
  ASSERT_OK(two);
  EXPECT_EQ(two->links,
            std::vector<LinkFaults>({LinkFaults{.peer = 1, .block_out = true, .block_in = true}}));
}

TEST_F(CliFaultTest, DropWithAPeerSetsTheLinksToAndFromIt) {
  CommandResult drop = Cli({"fault", "drop", "0.3", "--peer", "2"});
  ASSERT_EQ(drop.exit_code, 0) << drop.err;
  const std::vector<std::string> lines = Lines(drop.out);
  ASSERT_EQ(lines.size(), 3u) << drop.out;
  EXPECT_TRUE(lines[0].starts_with("node 1: drop 30% of messages to 2; seed ")) << lines[0];
  EXPECT_TRUE(lines[1].starts_with("node 2: drop 30% of messages to 1,3; seed ")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("node 3: drop 30% of messages to 2; seed ")) << lines[2];

  const std::vector<std::vector<NodeId>> peers = {{2}, {1, 3}, {2}};
  for (NodeId id = 1; id <= 3; ++id) {
    Result<FaultState> state = FaultsOf(id);
    ASSERT_OK(state);
    std::vector<LinkFaults> want;
    for (NodeId peer : peers[id - 1]) want.push_back(LinkFaults{.peer = peer, .drop_out = 0.3});
    EXPECT_EQ(state->links, want) << "node " << id;
  }
}

TEST_F(CliFaultTest, ClockOffsetShowsOnTheNamedNodeOnly) {
  CommandResult clock = Cli({"fault", "clock", "+2s", "--node", "2"});
  ASSERT_EQ(clock.exit_code, 0) << clock.err;
  CommandResult show = Cli({"fault", "show"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(show.out, "node 1: no faults\nnode 2: clock +2s\nnode 3: no faults\n");
  Result<FaultState> two = FaultsOf(2);
  ASSERT_OK(two);
  EXPECT_EQ(two->clock_offset_ms, 2000);
}

TEST_F(CliFaultTest, DiskFullShowsInFaultsAndStatusUntilTheDiskIsOk) {
  CommandResult full = Cli({"fault", "disk", "full", "--node", "2"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  EXPECT_EQ(full.out,
            "node 1: no faults\nnode 2: clock +0ms; disk full (writes fail with ENOSPC)\n"
            "node 3: no faults\n");
  Result<FaultState> two = FaultsOf(2);
  ASSERT_OK(two);
  EXPECT_EQ(two->disk, DiskFault::kFull);
  // The node's alarm goes up at its next disk check (every second by default).
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  CommandResult status;
  do {
    std::this_thread::sleep_for(milliseconds(100));
    status = Cli({"status"});
  } while (status.out.find("DISK ALARM") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("node 2: "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("DISK ALARM: data dir "), std::string::npos) << status.out;

  CommandResult ok = Cli({"fault", "disk", "ok", "--node", "2"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "node 1: no faults\nnode 2: no faults\nnode 3: no faults\n");

  CommandResult bad = Cli({"fault", "disk", "melted", "--node", "2"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("expected full, io-error or ok"), std::string::npos) << bad.err;
}

TEST_F(CliFaultTest, ClearLeavesEveryNodeWithoutFaults) {
  ASSERT_EQ(Cli({"fault", "disk", "io-error", "--node", "2"}).exit_code, 0);
  ASSERT_EQ(Cli({"fault", "isolate", "3"}).exit_code, 0);
  ASSERT_EQ(Cli({"fault", "delay", "20ms", "--jitter", "10ms", "--peer", "1"}).exit_code, 0);
  ASSERT_EQ(Cli({"fault", "clock", "-500ms", "--node", "1"}).exit_code, 0);
  CommandResult clear = Cli({"fault", "clear"});
  ASSERT_EQ(clear.exit_code, 0) << clear.err;
  const std::string healed = "node 1: no faults\nnode 2: no faults\nnode 3: no faults\n";
  EXPECT_EQ(clear.out, healed);
  CommandResult show = Cli({"fault", "show"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(show.out, healed);
}

TEST_F(CliFaultTest, InspectAfterACpPutShowsTheSameVersionOnAllThreeNodes) {
  CommandResult put = Cli({"--mode", "cp", "put", "color", "teal"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  // A CP write returns once a quorum holds it; the third replica may apply it a moment later.
  CommandResult inspect;
  std::vector<std::string> lines;
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    inspect = Cli({"inspect", "color"});
    lines = Lines(inspect.out);
    if (inspect.exit_code == 0 && lines.size() == 3 && !Contains(inspect.out, "<none>")) break;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(milliseconds(50));  // Polling, with a deadline.
  }
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  ASSERT_EQ(lines.size(), 3u) << inspect.out;
  const std::string version = lines[0].substr(std::string("node 1: ").size());
  EXPECT_TRUE(version.starts_with("\"teal\" (at ")) << inspect.out;
  EXPECT_EQ(lines[0], "node 1: " + version);
  EXPECT_EQ(lines[1], "node 2: " + version);
  EXPECT_EQ(lines[2], "node 3: " + version);

  CommandResult missing = Cli({"inspect", "never-written"});
  ASSERT_EQ(missing.exit_code, 0) << missing.err;
  EXPECT_EQ(missing.out, "node 1: <none>\nnode 2: <none>\nnode 3: <none>\n");
}

TEST(CliFaultDisabledTest, NodesWithoutTheFlagRefuseAndTheCliSaysWhy) {
  auto cluster = StartCluster(2, {});
  ASSERT_NE(cluster, nullptr);

  CommandResult isolate = Cli(*cluster, {"fault", "isolate", "1"});
  EXPECT_EQ(isolate.exit_code, 5) << isolate.err;
  EXPECT_TRUE(Contains(isolate.err, "PERMISSION_DENIED")) << isolate.err;
  EXPECT_TRUE(Contains(isolate.err, "--enable-fault-injection")) << isolate.err;
  EXPECT_TRUE(Contains(isolate.err, "nothing was changed")) << isolate.err;

  CommandResult show = Cli(*cluster, {"fault", "show"});
  EXPECT_EQ(show.exit_code, 5) << show.err;
  const std::vector<std::string> lines = Lines(show.out);
  ASSERT_EQ(lines.size(), 2u) << show.out;
  for (NodeId id = 1; id <= 2; ++id) {
    EXPECT_TRUE(
        lines[id - 1].starts_with(cluster->node(id).client_address() + ": PERMISSION_DENIED: "))
        << lines[id - 1];
  }
  EXPECT_TRUE(Contains(show.err, "--enable-fault-injection")) << show.err;
}

}  // namespace
}  // namespace dialkv
