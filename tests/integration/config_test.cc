// dialkv-server --config: flags from a TOML file, with the command line winning over it and it
// winning over DIALKV_* variables; a missing or malformed file is bad usage (exit 2) naming it.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dialkv/client.h"
#include "jepsen-like/harness/process.h"
#include "jepsen-like/harness/server_child.h"
#include "tests/testutil/command.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using testutil::CommandResult;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ConfigTest, FileSetsFlagsCommandLineWinsOverItAndItWinsOverTheEnvironment) {
  testutil::TempDir dir;
  const std::string config = dir.Sub("node.toml");
  WriteFile(config,
            "# A node on free loopback ports.\n"
            "node-id = 1\n"
            "cluster-name = \"from-config\"\n"
            "data-dir = \"" +
                dir.Sub("data") +
                "\"\n"
                "listen = \"127.0.0.1:0\"\n"
                "peer-listen = \"127.0.0.1:0\"\n"
                "http-listen = \"127.0.0.1:0\"\n"
                "resp-listen = \"127.0.0.1:0\"\n"
                "sync = true\n");
  const std::filesystem::path ports_file = dir.Sub("ports.json");
  // The ports file comes from the environment alone: a variable still counts for a flag the
  // file leaves unset.
  jepsen::ChildProcess server(
      {"/usr/bin/env", "DIALKV_CLUSTER_NAME=from-env", "DIALKV_PORTS_FILE=" + ports_file.string(),
       testutil::ServerBinary(), "--config", config, "--node-id=3"},
      dir.Sub("node.log"));
  ASSERT_OK(server.Start());
  Result<jepsen::ServerPorts> ports = testutil::AwaitPortsFile(server, ports_file);
  ASSERT_TRUE(ports.ok()) << ports.status().ToString() << "\n" << server.LogTail(2000);

  auto client = Client::Create({.endpoints = {"127.0.0.1:" + std::to_string(ports->client)}});
  ASSERT_OK(client);
  Result<ClusterStatus> status = (*client)->ClusterStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->node_id, 3u);                  // The command line's, not the file's 1.
  EXPECT_EQ(status->cluster_name, "from-config");  // The file's, not the environment's.
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("data")));
  EXPECT_TRUE(Contains(server.LogTail(20000), "sync=on")) << server.LogTail(20000);
  EXPECT_EQ(server.Terminate(milliseconds(10000)), "exited with code 0");
}

TEST(ConfigTest, MissingOrMalformedFileExitsTwoNamingIt) {
  testutil::TempDir dir;
  const std::vector<std::string> flags = {"--node-id=1",
                                          "--data-dir=" + dir.Sub("data"),
                                          "--listen=127.0.0.1:0",
                                          "--peer-listen=127.0.0.1:0",
                                          "--http-listen=127.0.0.1:0",
                                          "--resp-listen=off"};
  auto run = [&](std::vector<std::string> argv) {
    argv.insert(argv.end(), flags.begin(), flags.end());
    return testutil::RunCommand(argv, "", milliseconds(20000));
  };

  const std::string missing = dir.Sub("absent.toml");
  CommandResult absent = run({testutil::ServerBinary(), "--config", missing});
  EXPECT_EQ(absent.exit_code, 2) << absent.err;
  EXPECT_TRUE(Contains(absent.err, "--config: " + missing + " was not readable")) << absent.err;

  // DIALKV_CONFIG names a file just as --config does, and must exist too.
  CommandResult from_env =
      run({"/usr/bin/env", "DIALKV_CONFIG=" + missing, testutil::ServerBinary()});
  EXPECT_EQ(from_env.exit_code, 2) << from_env.err;
  EXPECT_TRUE(Contains(from_env.err, missing)) << from_env.err;

  // A misspelt flag, and a line that is no NAME = VALUE at all.
  const std::string misspelt = dir.Sub("misspelt.toml");
  WriteFile(misspelt, "cluster-name = \"a\"\nlisten-port = 7379\n");
  CommandResult typo = run({testutil::ServerBinary(), "--config", misspelt});
  EXPECT_EQ(typo.exit_code, 2) << typo.err;
  EXPECT_TRUE(Contains(typo.err, "--config " + misspelt + ": ")) << typo.err;
  EXPECT_TRUE(Contains(typo.err, "listen-port")) << typo.err;

  const std::string garbage = dir.Sub("garbage.toml");
  WriteFile(garbage, "this is not a config file\n");
  CommandResult bad = run({testutil::ServerBinary(), "--config", garbage});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_TRUE(Contains(bad.err, "--config " + garbage + ": ")) << bad.err;
  EXPECT_FALSE(Contains(bad.out + bad.err, "listening")) << bad.out;

  // A value that is not of the flag's type names the flag.
  const std::string wrong_type = dir.Sub("wrong-type.toml");
  WriteFile(wrong_type, "vnodes = \"many\"\n");
  CommandResult type = run({testutil::ServerBinary(), "--config", wrong_type});
  EXPECT_EQ(type.exit_code, 2) << type.err;
  EXPECT_TRUE(Contains(type.err, "--vnodes")) << type.err;
}

// The example shipped for a loopback node is valid: every name a flag, every value its type.
TEST(ConfigTest, ShippedExampleParses) {
  CommandResult help =
      testutil::RunCommand({testutil::ServerBinary(), "--config", DIALKV_EXAMPLE_CONFIG, "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_TRUE(Contains(help.out, "--config")) << help.out;
}

}  // namespace
}  // namespace dialkv
