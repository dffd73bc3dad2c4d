#include "server/net/endpoint.h"

#include <gtest/gtest.h>

#include "tests/testutil/status_matchers.h"

namespace dialkv::net {
namespace {

TEST(EndpointTest, ParsesHostAndPort) {
  Result<Endpoint> endpoint = ParseEndpoint("node-1.example:7379");
  ASSERT_OK(endpoint);
  EXPECT_EQ(endpoint->host, "node-1.example");
  EXPECT_EQ(endpoint->port, 7379);
  EXPECT_EQ(endpoint->name, "node-1.example:7379");
}

TEST(EndpointTest, ParsesBracketedIpv6) {
  Result<Endpoint> endpoint = ParseEndpoint("[::1]:65535");
  ASSERT_OK(endpoint);
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 65535);
}

TEST(EndpointTest, RejectsMalformedTextSayingWhatIsExpected) {
  for (const char* bad : {"", "host", ":1", "host:", "host:0", "host:65536", "host:-1", "host:1x",
                          "[::1", "[::1]", "[]:1", "::1:1", "a/b:1", "a,b:1"}) {
    Result<Endpoint> endpoint = ParseEndpoint(bad);
    ASSERT_CODE(endpoint, Code::kInvalidArgument);
    EXPECT_NE(endpoint.status().message().find("expected host:port"), std::string::npos)
        << endpoint.status().ToString();
  }
}

}  // namespace
}  // namespace dialkv::net
