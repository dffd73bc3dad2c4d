// Ports chosen without races: a node on port 0 reports what it bound in its ports file, a node
// takes sockets handed down to it (fd@N), and a restarted test node gets its ports back or an
// error naming the port another process holds.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "dialkv/client.h"
#include "jepsen-like/harness/process.h"
#include "jepsen-like/harness/server_child.h"
#include "tests/testutil/eventually.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv {
namespace {

using std::chrono::milliseconds;
using testutil::ServerProcess;

// Binds 127.0.0.1:port with SO_REUSEADDR, as a server would, and holds it. -1 on failure.
int BindLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 1) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(PortsTest, NodeOnPortZeroWritesTheBoundPortsAndRemovesTheFileOnShutdown) {
  testutil::TempDir dir;
  const std::filesystem::path ports_file = dir.Sub("ports.json");
  jepsen::ChildProcess server(
      {testutil::ServerBinary(), "--node-id=1", "--data-dir=" + dir.Sub("data"),
       "--listen=127.0.0.1:0", "--peer-listen=127.0.0.1:0", "--http-listen=127.0.0.1:0",
       "--resp-listen=127.0.0.1:0", "--ports-file=" + ports_file.string()},
      dir.Sub("node.log"));
  ASSERT_OK(server.Start());
  Result<jepsen::ServerPorts> ports = testutil::AwaitPortsFile(server, ports_file);
  ASSERT_TRUE(ports.ok()) << ports.status().ToString() << "\n" << server.LogTail(2000);
  EXPECT_NE(ports->client, 0);
  EXPECT_NE(ports->peer, 0);
  EXPECT_NE(ports->http, 0);
  EXPECT_NE(ports->resp, 0);

  // The file says where the node serves, and which process it is.
  auto client = Client::Create({.endpoints = {"127.0.0.1:" + std::to_string(ports->client)}});
  ASSERT_OK(client);
  ASSERT_OK((*client)->Put("k", "v"));
  EXPECT_EQ((*client)->Get("k")->value, "v");
  ASSERT_OK(testutil::HttpGet(ports->http, "/health"));
  std::ifstream in(ports_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"pid\":" + std::to_string(server.pid())), std::string::npos) << text;

  EXPECT_EQ(server.Terminate(milliseconds(10000)), "exited with code 0");
  EXPECT_FALSE(std::filesystem::exists(ports_file));
}

TEST(PortsTest, InheritedDescriptorThatIsNoSocketIsRefusedNamingTheFlag) {
  testutil::TempDir dir;
  jepsen::ChildProcess server(
      {testutil::ServerBinary(), "--node-id=1", "--data-dir=" + dir.Sub("data"),
       "--listen=127.0.0.1:0", "--peer-listen=fd@3", "--http-listen=127.0.0.1:0",
       "--resp-listen=off"},
      dir.Sub("node.log"));
  // Nothing inherited: descriptor 3 is closed, or one the server opened for itself.
  ASSERT_OK(server.Start());
  ASSERT_TRUE(testutil::Eventually([&] { return !server.Exited().empty(); }, milliseconds(20000)));
  EXPECT_EQ(server.exit_code(), 1);
  const std::string log = server.LogTail(2000);
  EXPECT_NE(log.find("cannot start node 1: --peer-listen 'fd@3': "), std::string::npos) << log;
  EXPECT_EQ(log.find("listening"), std::string::npos) << log;
}

TEST(PortsTest, RestartWaitsForAPortAnotherProcessHeldAndNamesItWhenHeldThroughout) {
  testutil::TempDir dir;
  ServerProcess::Options o;
  o.data_dir = dir.Sub("data");
  o.log_path = dir.Sub("node.log");
  o.ready_timeout = milliseconds(5000);
  auto server = ServerProcess::Start(o);
  ASSERT_OK(server);
  const uint16_t port = (*server)->client_port();
  ASSERT_EQ((*server)->Stop(), 0);

  // Held for longer than the ready timeout: the restart gives up and names the port.
  int held = BindLoopback(port);
  ASSERT_GE(held, 0);
  Status blocked = (*server)->Restart();
  ASSERT_CODE(blocked, Code::kUnavailable);
  EXPECT_NE(blocked.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << blocked.message();
  EXPECT_NE(blocked.message().find("held by another process"), std::string::npos)
      << blocked.message();

  // Released while the restart retries: it comes back on the same port.
  std::thread release([held] {
    std::this_thread::sleep_for(milliseconds(500));
    ::close(held);
  });
  Status restarted = (*server)->Restart();
  release.join();
  ASSERT_OK(restarted);
  EXPECT_EQ((*server)->client_port(), port);
  auto client = Client::Create({.endpoints = {(*server)->client_address()}});
  ASSERT_OK(client);
  ASSERT_OK((*client)->Put("back", "yes"));
}

}  // namespace
}  // namespace dialkv
