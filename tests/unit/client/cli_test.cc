// The dialkv CLI (client/cli/main.cc) against the fake node: --mode, status, hinted writes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/testutil/command.h"
#include "tests/unit/client/fake_server.h"

namespace dialkv {
namespace {

using client_test::ClosedPort;
using client_test::FakeServer;
using testutil::CommandResult;
using Behavior = client_test::FakeServer::Behavior;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Runs the CLI with `env` ("NAME=value") added to an environment without the DIALKV_ flags
// the tests set, so the caller's environment cannot change the outcome.
CommandResult Cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "DIALKV_MODE", "-u", "DIALKV_ENDPOINTS"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(DIALKV_CLI_PATH);
  argv.insert(argv.end(), args.begin(), args.end());
  return testutil::RunCommand(argv);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST(CliFakeNodeTest, ModeFlagAndEnvironmentAreSentWithGetPutDel) {
  FakeServer node(Behavior::kAnswer);
  const std::string endpoints = node.endpoint();

  CommandResult get = Cli({"--endpoints", endpoints, "get", "k"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "value-of-k");
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);  // The default.

  CommandResult put = Cli({"--endpoints", endpoints, "--mode", "ap", "put", "k", "v"});
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_AP);

  CommandResult del = Cli({"--endpoints", endpoints, "del", "k"}, {"DIALKV_MODE=ap"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_AP);

  // The flag wins over the environment, and may follow the subcommand.
  CommandResult cp =
      Cli({"--endpoints", endpoints, "get", "k", "--mode", "cp"}, {"DIALKV_MODE=ap"});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);
  EXPECT_EQ(node.requests(), 4u);
}

TEST(CliFakeNodeTest, BadModeIsBadUsage) {
  FakeServer node(Behavior::kAnswer);
  CommandResult flag = Cli({"--endpoints", node.endpoint(), "--mode", "quorum", "get", "k"});
  EXPECT_EQ(flag.exit_code, 2) << flag.err;
  EXPECT_TRUE(Contains(flag.err, "--mode")) << flag.err;
  CommandResult env = Cli({"--endpoints", node.endpoint(), "get", "k"}, {"DIALKV_MODE=CP!"});
  EXPECT_EQ(env.exit_code, 2) << env.err;
  EXPECT_TRUE(Contains(env.err, "mode")) << env.err;
  EXPECT_EQ(node.requests(), 0u);
}

TEST(CliFakeNodeTest, HintedWriteExitsZeroWithANoteOnStderr) {
  FakeServer node(Behavior::kAnswer);
  const std::string note =
      "dialkv: note: no replica acknowledged in time; the write is held as hints and will be "
      "delivered\n";
  CommandResult put = Cli({"--endpoints", node.endpoint(), "--mode", "ap", "put", "hinted", "v"});
  EXPECT_EQ(put.exit_code, 0);
  EXPECT_EQ(put.err, note);
  EXPECT_EQ(put.out, "");
  CommandResult del = Cli({"--endpoints", node.endpoint(), "--mode", "ap", "del", "hinted"});
  EXPECT_EQ(del.exit_code, 0);
  EXPECT_EQ(del.err, note);
  CommandResult plain = Cli({"--endpoints", node.endpoint(), "--mode", "ap", "put", "k", "v"});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(plain.err, "");
}

TEST(CliFakeNodeTest, StatusPrintsAnAlignedTableOfNodes) {
  FakeServer node(Behavior::kAnswer);
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult status = Cli({"--endpoints", closed + "," + node.endpoint(), "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.err, "");

  const std::vector<std::string> lines = Lines(status.out);
  ASSERT_EQ(lines.size(), 12u) << status.out;
  EXPECT_EQ(lines[0], "cluster test-cluster: 4 nodes, replication factor 3, as seen by node 7");
  EXPECT_EQ(lines[1],
            "ID  PEER ADDRESS         STATE    GENERATION  KEYS   LAST HEARD  CLOCK OFFSET");
  EXPECT_EQ(lines[2], "7   10.0.0.7:7380        self     3           12345  -           -");
  EXPECT_EQ(lines[3], "8   node-8.example:7380  alive    1           12000  250 ms ago  +12 ms");
  EXPECT_EQ(lines[4], "9   [::1]:7390           dead     5           0      never       -");
  EXPECT_EQ(lines[5], "10  10.0.0.10:7380       suspect  2           7      65 s ago    -40 ms");
  // Then each endpoint's anti-entropy lag, an unreachable one with its error.
  EXPECT_EQ(lines[6], "anti-entropy:");
  EXPECT_TRUE(Contains(lines[7], closed + ": UNAVAILABLE")) << lines[7];
  EXPECT_EQ(lines[8], "  node 7: no complete round since it started");
  // And each endpoint's storage.
  EXPECT_EQ(lines[9], "storage:");
  EXPECT_TRUE(Contains(lines[10], closed + ": UNAVAILABLE")) << lines[10];
  EXPECT_EQ(lines[11],
            "  node 7: disk 54.5 MiB (SST 40.0 MiB, WAL 3.0 MiB), live data ~36.0 MiB, memtables "
            "12.0 MiB, pending compaction 512 B, write stalls 2 (70 ms, longest 45 ms), recovery "
            "310 ms");
}

TEST(CliFakeNodeTest, StatusAsJsonCarriesTheTableAndEachEndpoint) {
  FakeServer node(Behavior::kAnswer);
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult status =
      Cli({"--endpoints", closed + "," + node.endpoint(), "status", "--output", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.err, "");
  const nlohmann::json doc = nlohmann::json::parse(status.out);
  EXPECT_EQ(doc.at("cluster_name"), "test-cluster");
  EXPECT_EQ(doc.at("replication_factor"), 3);
  EXPECT_EQ(doc.at("seen_by_node_id"), 7);
  ASSERT_EQ(doc.at("nodes").size(), 4u);
  const nlohmann::json& alive = doc.at("nodes").at(1);
  EXPECT_EQ(alive.at("node_id"), 8);
  EXPECT_EQ(alive.at("peer_address"), "node-8.example:7380");
  EXPECT_EQ(alive.at("state"), "alive");
  EXPECT_EQ(alive.at("generation"), 1);
  EXPECT_EQ(alive.at("live_keys"), 12000);
  EXPECT_EQ(alive.at("last_heard_ms_ago"), 250);
  EXPECT_EQ(alive.at("clock_offset_ms"), 12);
  EXPECT_EQ(doc.at("nodes").at(3).at("clock_offset_ms"), -40);

  ASSERT_EQ(doc.at("endpoints").size(), 2u);
  const nlohmann::json& down = doc.at("endpoints").at(0);
  EXPECT_EQ(down.at("endpoint"), closed);
  EXPECT_EQ(down.at("error").at("code"), "UNAVAILABLE");
  EXPECT_TRUE(down.at("error").at("message").is_string());
  const nlohmann::json& up = doc.at("endpoints").at(1);
  EXPECT_EQ(up.at("endpoint"), node.endpoint());
  EXPECT_EQ(up.at("node_id"), 7);
  EXPECT_EQ(up.at("generation"), 3);
  EXPECT_TRUE(up.at("anti_entropy").at("oldest_full_round_ms").is_null());
  EXPECT_EQ(up.at("storage").at("data_dir_bytes"), uint64_t{109} << 19);
  EXPECT_EQ(up.at("storage").at("longest_write_stall_ms"), 45);
  EXPECT_EQ(up.at("disk_alarm").at("raised"), false);

  // The default stays the text table.
  CommandResult text = Cli({"--endpoints", node.endpoint(), "status", "--output", "text"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(Lines(text.out).at(0),
            "cluster test-cluster: 4 nodes, replication factor 3, as seen by node 7");
}

TEST(CliFakeNodeTest, StatusAsJsonWhenNoEndpointIsReachableIsAnErrorDocument) {
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult status = Cli({"--output", "json", "--endpoints", closed, "status"});
  EXPECT_EQ(status.exit_code, 3) << status.err;
  EXPECT_TRUE(Contains(status.err, "UNAVAILABLE")) << status.err;
  const nlohmann::json doc = nlohmann::json::parse(status.out);
  EXPECT_EQ(doc.at("error").at("code"), "UNAVAILABLE");
  EXPECT_TRUE(Contains(doc.at("error").at("message").get<std::string>(), closed)) << status.out;
}

TEST(CliFakeNodeTest, OutputIsCheckedAndOnlyForCommandsThatPrintNodes) {
  FakeServer node(Behavior::kAnswer);
  CommandResult bad = Cli({"--endpoints", node.endpoint(), "--output", "yaml", "status"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_TRUE(Contains(bad.err, "--output")) << bad.err;
  CommandResult get = Cli({"--endpoints", node.endpoint(), "--output", "json", "get", "k"});
  EXPECT_EQ(get.exit_code, 2) << get.err;
  EXPECT_TRUE(Contains(get.err, "--output json is for status, inspect and fault")) << get.err;
  EXPECT_EQ(node.requests(), 0u);
}

TEST(CliFakeNodeTest, StatusExitsThreeWhenNoEndpointIsReachable) {
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult status = Cli({"--endpoints", closed, "status"});
  EXPECT_EQ(status.exit_code, 3) << status.err;
  EXPECT_TRUE(Contains(status.err, "UNAVAILABLE")) << status.err;
  EXPECT_EQ(status.err.find('\n'), status.err.size() - 1) << "one line: " << status.err;
  EXPECT_EQ(status.out, "");
}

TEST(CliFakeNodeTest, HelpExplainsModesAndStatus) {
  CommandResult help = Cli({"--help"});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const char* part : {"--mode", "DIALKV_MODE", "Linearizable", "stale", "status", "--output",
                           "\"seen_by_node_id\"", "{\"error\": {\"code\": \"UNAVAILABLE\""}) {
    EXPECT_TRUE(Contains(help.out, part)) << part << " missing from:\n" << help.out;
  }
}

}  // namespace
}  // namespace dialkv
