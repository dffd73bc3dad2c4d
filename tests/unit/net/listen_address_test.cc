#include "server/net/listen_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/net/frame_server.h"
#include "tests/testutil/held_port.h"
#include "tests/testutil/status_matchers.h"
#include "tests/unit/net/test_client.h"

namespace dialkv::net {
namespace {

using ::testing::HasSubstr;

TEST(ListenAddressTest, InheritedBoundSocketGivesItsAddress) {
  jepsen::ReservedPort held = testutil::HeldPort();
  const std::string spec = "fd@" + std::to_string(held.fd());
  ASSERT_TRUE(IsInheritedSocketSpec(spec));
  Result<ListenAddress> address = InheritedSocket(spec, "--listen");
  ASSERT_OK(address);
  EXPECT_EQ(address->inherited_fd, held.fd());
  EXPECT_EQ(address->endpoint.port(), held.port());
  EXPECT_EQ(ToString(*address), spec + " (127.0.0.1:" + std::to_string(held.port()) + ")");
}

TEST(ListenAddressTest, WhatIsNoBoundTcpSocketIsRefusedNamingTheFlag) {
  EXPECT_FALSE(IsInheritedSocketSpec("127.0.0.1:7379"));
  ASSERT_CODE(InheritedSocket("fd@", "--listen"), Code::kInvalidArgument);
  ASSERT_CODE(InheritedSocket("fd@x3", "--listen"), Code::kInvalidArgument);
  ASSERT_CODE(InheritedSocket("fd@-1", "--listen"), Code::kInvalidArgument);

  Result<ListenAddress> closed = InheritedSocket("fd@987654", "--peer-listen");
  ASSERT_CODE(closed, Code::kInvalidArgument);
  EXPECT_THAT(closed.status().message(),
              HasSubstr("--peer-listen 'fd@987654': no such open descriptor"));

  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  Result<ListenAddress> pipe = InheritedSocket("fd@" + std::to_string(pipe_fds[0]), "--listen");
  ASSERT_CODE(pipe, Code::kInvalidArgument);
  EXPECT_THAT(pipe.status().message(), HasSubstr("not a socket"));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);

  const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  Result<ListenAddress> datagram = InheritedSocket("fd@" + std::to_string(udp), "--listen");
  ASSERT_CODE(datagram, Code::kInvalidArgument);
  EXPECT_THAT(datagram.status().message(), HasSubstr("not a TCP socket"));
  ::close(udp);

  const int unbound = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Result<ListenAddress> loose = InheritedSocket("fd@" + std::to_string(unbound), "--listen");
  ASSERT_CODE(loose, Code::kInvalidArgument);
  EXPECT_THAT(loose.status().message(), HasSubstr("not bound"));
  ::close(unbound);
}

TEST(ListenAddressTest, ServerAdoptsAHeldPortAndServesOnIt) {
  jepsen::ReservedPort held = testutil::HeldPort();
  Result<ListenAddress> address = InheritedSocket("fd@" + std::to_string(held.fd()), "--listen");
  ASSERT_OK(address);
  held.Release();  // The server owns the socket now.
  IoContextPool pool(1);
  pool.Start();
  auto server = FrameServer::Listen(
      pool, *address, {},
      [](v1::Envelope request) -> asio::awaitable<v1::Envelope> { co_return request; });
  ASSERT_OK(server);
  EXPECT_EQ((*server)->local_endpoint().port(), held.port());
  (*server)->Start();
  nettest::TestClient client;
  ASSERT_OK(client.Connect(nettest::Loopback(held.port())));
  (*server)->Stop();
  pool.Stop();
  pool.Join();
}

}  // namespace
}  // namespace dialkv::net
