// `dialkv fault ...` and `dialkv inspect` (client/cli/fault_command.h) against fake nodes that
// keep a fault state: what each command changes on which node, what it prints, its errors and
// exit codes.
#include <gtest/gtest.h>

#include <memory>
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

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Three fake nodes with ids 1, 2, 3, in one cluster.
class CliFaultTest : public ::testing::Test {
 protected:
  CliFaultTest() {
    for (NodeId id = 1; id <= 3; ++id) {
      nodes_.push_back(std::make_unique<FakeServer>(id, std::vector<NodeId>{1, 2, 3}));
    }
  }

  FakeServer& node(NodeId id) { return *nodes_[id - 1]; }
  std::string endpoints() const {
    return nodes_[0]->endpoint() + "," + nodes_[1]->endpoint() + "," + nodes_[2]->endpoint();
  }

  // Runs the CLI with --endpoints `endpoints` (every fake by default) and `args`.
  static CommandResult Cli(const std::string& endpoints, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env",  "-u",          "DIALKV_ENDPOINTS",
                                     DIALKV_CLI_PATH, "--endpoints", endpoints};
    argv.insert(argv.end(), args.begin(), args.end());
    return testutil::RunCommand(argv);
  }
  CommandResult Cli(const std::vector<std::string>& args) const { return Cli(endpoints(), args); }

  uint64_t TotalRequests() const {
    uint64_t total = 0;
    for (const auto& node : nodes_) total += node->requests();
    return total;
  }

  std::vector<std::unique_ptr<FakeServer>> nodes_;
};

TEST_F(CliFaultTest, PartitionBlocksBothWaysAndPrintsEveryNode) {
  CommandResult r = Cli({"fault", "partition", "1", "/", "2,3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "node 1: partitioned from 2,3 (both ways); clock +0ms\n"
            "node 2: partitioned from 1 (both ways); clock +0ms\n"
            "node 3: partitioned from 1 (both ways); clock +0ms\n");
  const v1::FaultState one = node(1).fault_state();
  ASSERT_EQ(one.links_size(), 2);
  EXPECT_TRUE(one.links(0).block_out() && one.links(0).block_in());

  // show prints the same, in node order whatever the order of --endpoints.
  CommandResult show = Cli(node(3).endpoint() + "," + node(1).endpoint() + "," + node(2).endpoint(),
                           {"fault", "show"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(show.out, r.out);
}

TEST_F(CliFaultTest, OneWayPartitionBlocksOutAtTheFirstGroupAndInAtTheSecond) {
  CommandResult r = Cli({"fault", "partition", "1,2/3", "--one-way"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "node 1: blocks messages to 3; clock +0ms\n"
            "node 2: blocks messages to 3; clock +0ms\n"
            "node 3: blocks messages from 1,2; clock +0ms\n");
}

TEST_F(CliFaultTest, IsolateCutsOneNodeFromEveryOther) {
  CommandResult r = Cli({"fault", "isolate", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "node 1: partitioned from 2 (both ways); clock +0ms\n"
            "node 2: partitioned from 1,3 (both ways); clock +0ms\n"
            "node 3: partitioned from 2 (both ways); clock +0ms\n");
}

TEST_F(CliFaultTest, DropWithAPeerSetsOutboundLinksToAndFromIt) {
  CommandResult r = Cli({"fault", "drop", "0.3", "--peer", "2", "--seed", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "node 1: drop 30% of messages to 2; seed 7; clock +0ms\n"
            "node 2: drop 30% of messages to 1,3; seed 7; clock +0ms\n"
            "node 3: drop 30% of messages to 2; seed 7; clock +0ms\n");
  const v1::FaultState three = node(3).fault_state();
  ASSERT_EQ(three.links_size(), 1);
  EXPECT_EQ(three.links(0).peer(), 2u);
  EXPECT_DOUBLE_EQ(three.links(0).drop_out(), 0.3);
  EXPECT_EQ(three.links(0).drop_in(), 0);  // Each message is judged once, at its sender.
}

TEST_F(CliFaultTest, DropAndDelayWithoutAPeerCoverEveryLink) {
  ASSERT_EQ(Cli({"fault", "drop", "12.5%"}).exit_code, 0);
  CommandResult r = Cli({"fault", "delay", "50ms", "--jitter", "1s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "node 1: drop 12.5% of messages to 2,3; delay 50ms+0..1s to 2,3; seed 1; clock +0ms\n"
            "node 2: drop 12.5% of messages to 1,3; delay 50ms+0..1s to 1,3; seed 1; clock +0ms\n"
            "node 3: drop 12.5% of messages to 1,2; delay 50ms+0..1s to 1,2; seed 1; clock +0ms\n");
}

TEST_F(CliFaultTest, ClockSkewsOnlyTheNamedNode) {
  CommandResult r = Cli({"fault", "clock", "-500ms", "--node", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "node 1: no faults\n"
            "node 2: clock -500ms\n"
            "node 3: no faults\n");
  EXPECT_EQ(node(1).requests(), 1u);  // Only asked which node it is.
  EXPECT_EQ(node(2).requests(), 2u);
  EXPECT_EQ(node(3).requests(), 1u);
}

TEST_F(CliFaultTest, ClearHealsEveryNode) {
  ASSERT_EQ(Cli({"fault", "isolate", "1"}).exit_code, 0);
  ASSERT_EQ(Cli({"fault", "clock", "+2s", "--node", "3"}).exit_code, 0);
  CommandResult r = Cli({"fault", "clear"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "node 1: no faults\nnode 2: no faults\nnode 3: no faults\n");
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_EQ(node(id).fault_state().links_size(), 0) << id;
    EXPECT_EQ(node(id).fault_state().clock_offset_ms(), 0) << id;
  }
}

TEST_F(CliFaultTest, BadArgumentsExitTwoBeforeAnyNodeIsAsked) {
  const std::vector<std::vector<std::string>> bad = {
      {"fault", "partition", "1,2", "/", "2,3"},  // Overlapping groups.
      {"fault", "partition", "/", "3"},           // Empty group.
      {"fault", "partition", "1", "2"},           // No '/'.
      {"fault", "partition"},
      {"fault", "drop", "150%"},
      {"fault", "drop", "0.3", "--peer", "x"},
      {"fault", "delay", "50"},  // No unit.
      {"fault", "delay", "50ms", "--jitter", "2m"},
      {"fault", "delay", "61s"},
      {"fault", "clock", "+2s"},  // No --node.
      {"fault", "clock", "2h", "--node", "1"},
      {"fault", "isolate"},
      {"fault"},
      {"fault", "heal"},
      {"inspect"},
  };
  for (const auto& args : bad) {
    CommandResult r = Cli(args);
    std::string line;
    for (const auto& arg : args) line += arg + " ";
    EXPECT_EQ(r.exit_code, 2) << line << r.err;
    EXPECT_EQ(r.out, "") << line;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << line << "one line: " << r.err;
  }
  EXPECT_EQ(TotalRequests(), 0u);
}

TEST_F(CliFaultTest, UnknownNodeIdsExitTwoAndChangeNothing) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"fault", "partition", "1", "/", "4"},
                                             {"fault", "isolate", "9"},
                                             {"fault", "drop", "0.1", "--peer", "4"},
                                             {"fault", "clock", "+1s", "--node", "4"}}) {
    CommandResult r = Cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[1] << ": " << r.err;
    EXPECT_TRUE(Contains(r.err, "is not one of the endpoints' nodes (1, 2, 3)")) << r.err;
  }
  EXPECT_EQ(TotalRequests(), 12u);  // Only asked which node each endpoint is.
}

TEST_F(CliFaultTest, TheSameNodeListedTwiceIsBadUsage) {
  CommandResult r = Cli(node(1).endpoint() + "," + node(2).endpoint() + "," + node(1).endpoint(),
                        {"fault", "isolate", "2"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(Contains(r.err, "are both node 1")) << r.err;
  EXPECT_EQ(node(2).fault_state().links_size(), 0);
}

TEST(CliFaultRefusedTest, NodesWithoutFaultInjectionExitFiveNamingTheFlag) {
  FakeServer a(Code::kPermissionDenied);
  FakeServer b(Code::kPermissionDenied);
  const std::string endpoints = a.endpoint() + "," + b.endpoint();
  auto cli = [&endpoints](std::vector<std::string> args) {
    std::vector<std::string> argv = {DIALKV_CLI_PATH, "--endpoints", endpoints};
    argv.insert(argv.end(), args.begin(), args.end());
    return testutil::RunCommand(argv);
  };

  CommandResult isolate = cli({"fault", "isolate", "1"});
  EXPECT_EQ(isolate.exit_code, 5) << isolate.err;
  EXPECT_EQ(isolate.out, "");
  EXPECT_TRUE(Contains(isolate.err, "dialkv: PERMISSION_DENIED: ")) << isolate.err;
  EXPECT_TRUE(Contains(isolate.err, "--enable-fault-injection")) << isolate.err;
  EXPECT_TRUE(Contains(isolate.err, "nothing was changed")) << isolate.err;
  EXPECT_EQ(isolate.err.find('\n'), isolate.err.size() - 1) << "one line: " << isolate.err;

  CommandResult show = cli({"fault", "show"});
  EXPECT_EQ(show.exit_code, 5) << show.err;
  EXPECT_EQ(show.out, a.endpoint() + ": PERMISSION_DENIED: PERMISSION_DENIED from " + a.endpoint() +
                          "\n" + b.endpoint() + ": PERMISSION_DENIED: PERMISSION_DENIED from " +
                          b.endpoint() + "\n");
  EXPECT_TRUE(Contains(show.err, "--enable-fault-injection")) << show.err;

  CommandResult inspect = cli({"inspect", "k"});
  EXPECT_EQ(inspect.exit_code, 5) << inspect.err;
}

TEST(CliFaultPartialTest, ANodeThatRefusesItsPartIsNamedWithTheNodesThatChanged) {
  FakeServer one(1, {1, 2, 3});
  FakeServer two(2, {2, 3});  // Does not know node 1: refuses a patch naming it.
  FakeServer three(3, {1, 2, 3});
  const std::string endpoints = one.endpoint() + "," + two.endpoint() + "," + three.endpoint();
  CommandResult r = testutil::RunCommand(
      {DIALKV_CLI_PATH, "--endpoints", endpoints, "fault", "partition", "1", "/", "2,3"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out,
            "node 1: partitioned from 2,3 (both ways); clock +0ms\n"
            "node 2: no faults\n"
            "node 3: partitioned from 1 (both ways); clock +0ms\n");
  EXPECT_TRUE(Contains(r.err, "dialkv: INVALID_ARGUMENT: cannot change node 2 (" + two.endpoint() +
                                  "): INVALID_ARGUMENT: peer 1 is not"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "; changed: node 1, node 3; not changed: node 2\n")) << r.err;
}

TEST(CliFaultUnreachableTest, AnUnreachableNodeStopsAChangeButNotAClear) {
  FakeServer one(1, {1, 2});
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  const std::string endpoints = one.endpoint() + "," + closed;
  auto cli = [&endpoints](std::vector<std::string> args) {
    std::vector<std::string> argv = {DIALKV_CLI_PATH, "--endpoints", endpoints};
    argv.insert(argv.end(), args.begin(), args.end());
    return testutil::RunCommand(argv);
  };

  CommandResult clock = cli({"fault", "clock", "+1s", "--node", "1"});
  EXPECT_EQ(clock.exit_code, 3) << clock.err;
  EXPECT_TRUE(Contains(clock.err, "dialkv: UNAVAILABLE: cannot read the faults of " + closed))
      << clock.err;
  EXPECT_TRUE(Contains(clock.err, "nothing was changed")) << clock.err;
  EXPECT_EQ(one.fault_state().clock_offset_ms(), 0);

  CommandResult show = cli({"fault", "show"});
  EXPECT_EQ(show.exit_code, 3) << show.err;
  EXPECT_TRUE(Contains(show.out, "node 1: no faults\n" + closed + ": UNAVAILABLE: ")) << show.out;

  CommandResult clear = cli({"fault", "clear"});
  EXPECT_EQ(clear.exit_code, 3) << clear.err;
  EXPECT_TRUE(Contains(clear.err, "; changed: node 1; not changed: " + closed + "\n")) << clear.err;
}

TEST_F(CliFaultTest, InspectPrintsEveryNodesOwnVersion) {
  CommandResult r = Cli({"inspect", "k"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string at = " (at 1700000000003.7 by node 5)\n";
  EXPECT_EQ(r.out,
            "node 1: \"local-k\"" + at + "node 2: \"local-k\"" + at + "node 3: \"local-k\"" + at);
  CommandResult deleted = Cli({"inspect", "deleted"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(Contains(deleted.out, "node 2: <tombstone>" + at)) << deleted.out;
  CommandResult missing = Cli({"inspect", "missing"});
  ASSERT_EQ(missing.exit_code, 0) << missing.err;
  EXPECT_EQ(missing.out, "node 1: <none>\nnode 2: <none>\nnode 3: <none>\n");
}

TEST_F(CliFaultTest, ShowAsJsonGivesEachNodesFaultsAndEachUnreachableEndpointsError) {
  ASSERT_EQ(Cli({"fault", "partition", "1", "/", "2"}).exit_code, 0);
  ASSERT_EQ(Cli({"fault", "drop", "30%", "--peer", "3", "--seed", "7"}).exit_code, 0);
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult r = Cli(closed + "," + endpoints(), {"--output", "json", "fault", "show"});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // As with text: the first failure's.
  EXPECT_TRUE(Contains(r.err, "cannot read the faults of " + closed)) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  const nlohmann::json& entries = doc.at("endpoints");
  ASSERT_EQ(entries.size(), 4u) << r.out;
  // Node order, as the text lines; the endpoint without an id last.
  const nlohmann::json& one = entries.at(0);
  EXPECT_EQ(one.at("endpoint"), node(1).endpoint());
  EXPECT_EQ(one.at("node_id"), 1);
  const nlohmann::json& faults = one.at("faults");
  EXPECT_EQ(faults.at("summary"),
            "partitioned from 2 (both ways); drop 30% of messages to 3; seed 7; clock +0ms");
  ASSERT_EQ(faults.at("links").size(), 2u);
  EXPECT_EQ(faults.at("links").at(0).at("peer"), 2);
  EXPECT_EQ(faults.at("links").at(0).at("block_out"), true);
  EXPECT_EQ(faults.at("links").at(1).at("peer"), 3);
  EXPECT_DOUBLE_EQ(faults.at("links").at(1).at("drop_out").get<double>(), 0.3);
  EXPECT_EQ(faults.at("seed"), 7);
  EXPECT_EQ(faults.at("clock_offset_ms"), 0);
  EXPECT_EQ(faults.at("disk"), "none");
  EXPECT_EQ(entries.at(2).at("faults").at("links").size(), 2u);  // Node 3 drops to 1 and 2.
  const nlohmann::json& down = entries.at(3);
  EXPECT_EQ(down.at("endpoint"), closed);
  EXPECT_FALSE(down.contains("node_id"));
  EXPECT_EQ(down.at("error").at("code"), "UNAVAILABLE");

  // A command that changes faults prints the same document of every node after it.
  CommandResult cleared = Cli({"fault", "clear", "--output", "json"});
  ASSERT_EQ(cleared.exit_code, 0) << cleared.err;
  // Named: a range-for keeps alive the temporary it iterates, not one its expression reads from.
  const nlohmann::json cleared_doc = nlohmann::json::parse(cleared.out);
  for (const nlohmann::json& entry : cleared_doc.at("endpoints")) {
    EXPECT_EQ(entry.at("faults").at("summary"), "no faults") << cleared.out;
  }
}

TEST_F(CliFaultTest, InspectAsJsonGivesEachNodesVersionOrNull) {
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult r = Cli(node(2).endpoint() + "," + closed, {"--output", "json", "inspect", "k"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc.at("key"), "k");
  ASSERT_EQ(doc.at("endpoints").size(), 2u);
  const nlohmann::json& two = doc.at("endpoints").at(0);
  EXPECT_EQ(two.at("node_id"), 2);
  const nlohmann::json& version = two.at("version");
  EXPECT_EQ(version.at("value"), "local-k");
  EXPECT_EQ(version.at("tombstone"), false);
  EXPECT_EQ(version.at("written_by_node_id"), 5);
  EXPECT_EQ(version.at("timestamp").at("wall_ms"), 1700000000003);
  EXPECT_EQ(version.at("timestamp").at("logical"), 7);
  EXPECT_EQ(version.at("timestamp").at("text"), "1700000000003.7");
  EXPECT_EQ(doc.at("endpoints").at(1).at("error").at("code"), "UNAVAILABLE");

  CommandResult missing = Cli({"inspect", "missing", "--output", "json"});
  ASSERT_EQ(missing.exit_code, 0) << missing.err;
  const nlohmann::json missing_doc = nlohmann::json::parse(missing.out);
  for (const nlohmann::json& entry : missing_doc.at("endpoints")) {
    EXPECT_TRUE(entry.at("version").is_null()) << missing.out;
  }
  CommandResult deleted = Cli({"inspect", "deleted", "--output", "json"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(nlohmann::json::parse(deleted.out).at("endpoints").at(0).at("version").at("tombstone"),
            true);
}

TEST_F(CliFaultTest, InspectNamesAnUnreachableNodeAndExitsThree) {
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  CommandResult r = Cli(closed + "," + node(2).endpoint(), {"inspect", "k"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(Contains(r.out, "node 2: \"local-k\"")) << r.out;
  EXPECT_TRUE(Contains(r.out, closed + ": UNAVAILABLE: ")) << r.out;
  EXPECT_TRUE(Contains(r.err, "dialkv: UNAVAILABLE: cannot read key \"k\" at " + closed)) << r.err;
}

TEST(CliFaultHelpTest, EverySubcommandAndFlagIsExplained) {
  CommandResult fault = testutil::RunCommand({DIALKV_CLI_PATH, "fault", "--help"});
  ASSERT_EQ(fault.exit_code, 0) << fault.err;
  for (const char* part : {"partition", "isolate", "drop", "delay", "clock", "clear", "show",
                           "--enable-fault-injection", "node 2: "}) {
    EXPECT_TRUE(Contains(fault.out, part)) << part << " missing from:\n" << fault.out;
  }
  const std::vector<std::pair<std::string, std::vector<std::string>>> flags = {
      {"partition", {"GROUPS", "--one-way"}},
      {"isolate", {"NODE"}},
      {"drop", {"PROBABILITY", "--peer", "--seed"}},
      {"delay", {"DELAY", "--jitter", "--peer"}},
      {"clock", {"OFFSET", "--node"}},
  };
  for (const auto& [sub, parts] : flags) {
    CommandResult help = testutil::RunCommand({DIALKV_CLI_PATH, "fault", sub, "--help"});
    ASSERT_EQ(help.exit_code, 0) << sub << ": " << help.err;
    for (const std::string& part : parts) {
      EXPECT_TRUE(Contains(help.out, part)) << part << " missing from:\n" << help.out;
    }
  }
  CommandResult top = testutil::RunCommand({DIALKV_CLI_PATH, "--help"});
  EXPECT_TRUE(Contains(top.out, "inspect")) << top.out;
}

}  // namespace
}  // namespace dialkv
