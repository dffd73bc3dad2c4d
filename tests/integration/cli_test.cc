// The dialkv CLI against a real node: raw values, stdin, and the exit codes scripts rely on.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "server/common/version.h"
#include "tests/testutil/command.h"
#include "tests/testutil/held_port.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv {
namespace {

using testutil::CommandResult;
using testutil::RunCommand;
using testutil::ServerProcess;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerProcess::Options o;
    o.data_dir = dir_.Sub("data");
    o.log_path = dir_.Sub("node.log");
    auto server = ServerProcess::Start(o);
    ASSERT_OK(server);
    server_ = std::move(server.value());
  }

  CommandResult Cli(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> argv = {DIALKV_CLI_PATH, "--endpoints", server_->client_address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, input);
  }

  testutil::TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliTest, PutGetDelWithExitCodes) {
  CommandResult put = Cli({"put", "color", "blue"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  CommandResult get = Cli({"get", "color"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "blue");  // Raw bytes, no newline added.
  CommandResult del = Cli({"del", "color"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  CommandResult missing = Cli({"get", "color"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("NOT_FOUND"), std::string::npos) << missing.err;
}

TEST_F(CliTest, PutDashReadsBinaryValueFromStdin) {
  const std::string value("line1\nline2\0\xff tail", 18);
  CommandResult put = Cli({"put", "bin", "-"}, value);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  CommandResult get = Cli({"get", "bin"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, value);
}

TEST_F(CliTest, InvalidArgumentAndBadUsageExitTwo) {
  CommandResult long_key = Cli({"put", std::string(5000, 'k'), "v"});
  EXPECT_EQ(long_key.exit_code, 2);
  EXPECT_NE(long_key.err.find("INVALID_ARGUMENT"), std::string::npos) << long_key.err;
  CommandResult no_key = Cli({"get"});
  EXPECT_EQ(no_key.exit_code, 2);
  CommandResult unknown = Cli({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
}

// Every binary a user runs says which release and commit it is, and exits 0.
TEST(VersionTest, EveryBinaryAnswersVersion) {
  for (const auto& [path, name] :
       std::vector<std::pair<std::string, std::string>>{{DIALKV_CLI_PATH, "dialkv"},
                                                        {DIALKV_SERVER_PATH, "dialkv-server"},
                                                        {DIALKV_JEPSEN_PATH, "dialkv-jepsen"}}) {
    const CommandResult r = RunCommand({path, "--version"});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_EQ(r.out, VersionLine(name) + "\n") << name;
    EXPECT_NE(r.out.find(name + " 0."), std::string::npos) << r.out;
  }
}

TEST_F(CliTest, UnreachableNodeExitsThreeWithOneLineError) {
  const jepsen::ReservedPort held = testutil::HeldPort();
  const std::string dead = "127.0.0.1:" + std::to_string(held.port());
  CommandResult r = RunCommand({DIALKV_CLI_PATH, "--endpoints", dead, "get", "k"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
}

TEST_F(CliTest, StatusAsJsonDescribesTheNodeAndAnUnreachableEndpoint) {
  const jepsen::ReservedPort held = testutil::HeldPort();
  const std::string dead = "127.0.0.1:" + std::to_string(held.port());
  CommandResult r = RunCommand({DIALKV_CLI_PATH, "--output", "json", "--endpoints",
                                server_->client_address() + "," + dead, "status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc.at("cluster_name"), "test");
  EXPECT_EQ(doc.at("seen_by_node_id"), 1);
  EXPECT_EQ(doc.at("clock_skewed"), false);
  EXPECT_EQ(doc.at("disk_alarm").at("raised"), false);
  ASSERT_EQ(doc.at("nodes").size(), 1u);
  EXPECT_EQ(doc.at("nodes").at(0).at("state"), "self");
  EXPECT_GE(doc.at("nodes").at(0).at("generation").get<uint64_t>(), 1u);

  ASSERT_EQ(doc.at("endpoints").size(), 2u);
  const nlohmann::json& own = doc.at("endpoints").at(0);
  EXPECT_EQ(own.at("endpoint"), server_->client_address());
  EXPECT_EQ(own.at("node_id"), 1);
  EXPECT_EQ(own.at("generation"), doc.at("nodes").at(0).at("generation"));
  EXPECT_GT(own.at("storage").at("data_dir_bytes").get<uint64_t>(), 0u);
  EXPECT_TRUE(own.at("anti_entropy").contains("oldest_full_round_ms"));
  const nlohmann::json& down = doc.at("endpoints").at(1);
  EXPECT_EQ(down.at("endpoint"), dead);
  EXPECT_EQ(down.at("error").at("code"), "UNAVAILABLE");
}

TEST_F(CliTest, FailsOverToTheNextEndpoint) {
  const jepsen::ReservedPort held = testutil::HeldPort();
  const std::string dead = "127.0.0.1:" + std::to_string(held.port());
  CommandResult put = RunCommand(
      {DIALKV_CLI_PATH, "--endpoints", dead + "," + server_->client_address(), "put", "k", "v"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
}

}  // namespace
}  // namespace dialkv
