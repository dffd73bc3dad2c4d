#include "server/net/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/testutil/status_matchers.h"
#include "tests/unit/net/test_client.h"

namespace dialkv::net {
namespace {

using nettest::Loopback;
using nettest::PollUntil;
using nettest::TestClient;
using ::testing::HasSubstr;

// A response as the client saw it.
struct Parsed {
  int status = 0;
  std::string head;  // Status line and headers.
  std::string body;
};

Parsed Parse(const std::string& raw) {
  Parsed parsed;
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || raw.compare(0, 9, "HTTP/1.1 ") != 0) return parsed;
  parsed.status = std::stoi(raw.substr(9, 3));
  parsed.head = raw.substr(0, end + 2);
  parsed.body = raw.substr(end + 4);
  return parsed;
}

HttpResponse Route(const std::string& path) {
  HttpResponse response;
  if (path == "/x") {
    response.body = "served " + path + "\n";
  } else {
    response.status = 404;
    response.body = "no route for " + path + "\n";
  }
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() { pool_.Start(); }

  void StartServer(HttpServer::Options options = {}) {
    auto server = HttpServer::Listen(pool_, Loopback(), options, Route);
    ASSERT_OK(server);
    server_ = std::move(server).value();
    server_->Start();
  }

  // Sends `request` on a new connection and reads the response until the server closes.
  Parsed Exchange(const std::string& request) {
    TestClient client;
    std::string raw;
    EXPECT_OK(client.Connect(server_->local_endpoint()));
    EXPECT_OK(client.Write(request));
    EXPECT_OK(client.ReadToEnd(&raw));
    return Parse(raw);
  }

  IoContextPool pool_{2};
  std::unique_ptr<HttpServer> server_;  // Destroyed before pool_.
};

TEST_F(HttpServerTest, GetIsRoutedToTheHandler) {
  StartServer();
  const Parsed response = Exchange("GET /x?verbose=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "served /x\n");
  EXPECT_THAT(response.head, HasSubstr("\r\nContent-Length: 10\r\n"));
  EXPECT_THAT(response.head, HasSubstr("\r\nConnection: close\r\n"));
  EXPECT_THAT(response.head, HasSubstr("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
}

TEST_F(HttpServerTest, UnknownPathGetsTheHandlers404) {
  StartServer();
  const Parsed response = Exchange("GET /nope HTTP/1.0\r\n\r\n");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "no route for /nope\n");
}

TEST_F(HttpServerTest, PostIs405WithAllowHeader) {
  StartServer();
  const Parsed response =
      Exchange("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");  // Body never read.
  EXPECT_EQ(response.status, 405);
  EXPECT_THAT(response.head, HasSubstr("\r\nAllow: GET\r\n"));
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  StartServer();
  const Parsed response =
      Exchange("GET /x HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n");
  EXPECT_EQ(response.status, 431);
  EXPECT_THAT(response.body, HasSubstr("8192 bytes"));
}

TEST_F(HttpServerTest, MalformedRequestLineIs400) {
  StartServer();
  EXPECT_EQ(Exchange("GET\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange("GET /x HTTP/1.1 extra\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange("GET x HTTP/1.1\r\n\r\n").status, 400);
  EXPECT_EQ(Exchange("GET /x SPDY/3\r\n\r\n").status, 400);
}

TEST_F(HttpServerTest, SlowRequestIs408) {
  HttpServer::Options options;
  options.read_timeout_ms = 100;
  StartServer(options);
  const Parsed response = Exchange("GET /x HTTP/1.1\r\n");  // Never finishes its headers.
  EXPECT_EQ(response.status, 408);
}

TEST_F(HttpServerTest, StopStopsAccepting) {
  StartServer();
  EXPECT_EQ(Exchange("GET /x HTTP/1.1\r\n\r\n").status, 200);
  const auto endpoint = server_->local_endpoint();
  server_->Stop();
  EXPECT_TRUE(PollUntil([&] { return !TestClient().Connect(endpoint).ok(); }));
}

TEST_F(HttpServerTest, ListenOnPortInUseFailsWithAddressAndReason) {
  StartServer();
  const auto endpoint = server_->local_endpoint();
  auto second = HttpServer::Listen(pool_, endpoint, Route);
  ASSERT_CODE(second, Code::kUnavailable);
  EXPECT_EQ(
      second.status().message(),
      "cannot listen on 127.0.0.1:" + std::to_string(endpoint.port()) + ": Address already in use");
}

}  // namespace
}  // namespace dialkv::net
