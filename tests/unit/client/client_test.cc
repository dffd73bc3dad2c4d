#include "dialkv/client.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/unit/client/fake_server.h"

namespace dialkv {
namespace {

using client_test::ClosedPort;
using client_test::FakeServer;
using Behavior = client_test::FakeServer::Behavior;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Polls `condition` until it holds or `limit` passes.
bool Eventually(const std::function<bool()>& condition, milliseconds limit = milliseconds(10000)) {
  const auto deadline = steady_clock::now() + limit;
  while (!condition()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::unique_ptr<Client> MakeClient(std::vector<std::string> endpoints, uint32_t timeout_ms = 5000) {
  ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.timeout_ms = timeout_ms;
  Result<std::unique_ptr<Client>> client = Client::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ClientTest, GetPutDeleteRoundTripsDecodeValuesAndTimestamps) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<GetResult> got = client->Get("alpha");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "value-of-alpha");
  EXPECT_EQ(got->timestamp, (Timestamp{client_test::kGetHlc, client_test::kGetNode}));

  Result<WriteResult> put = client->Put("alpha", std::string("\0binary\xff", 8));
  ASSERT_OK(put);
  EXPECT_EQ(put->timestamp, (Timestamp{client_test::kPutHlc, client_test::kPutNode}));

  Result<WriteResult> deleted = client->Delete("alpha");
  ASSERT_OK(deleted);
  EXPECT_EQ(deleted->timestamp, (Timestamp{client_test::kDeleteHlc, client_test::kDeleteNode}));
  EXPECT_EQ(node.connections(), 1u);
  EXPECT_EQ(node.last_timeout_ms() > 0 && node.last_timeout_ms() <= 5000, true);
}

TEST(ClientTest, StatusesFromTheNodeComeBackWithTheirMessages) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<GetResult> missing = client->Get("missing");
  ASSERT_CODE(missing, Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "key not found");

  Result<WriteResult> bad = client->Put("bad", "v");
  ASSERT_CODE(bad, Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "key is bad");

  // An ErrorReply for the request's id fails that request with its status.
  Result<GetResult> overloaded = client->Get("overloaded");
  ASSERT_CODE(overloaded, Code::kOverloaded);
  EXPECT_EQ(overloaded.status().message(), "node is overloaded; retry later");

  // None of these broke the connection.
  ASSERT_OK(client->Get("fine"));
  EXPECT_EQ(node.connections(), 1u);
}

TEST(ClientTest, PipelinedRequestsFromManyThreadsGetTheirOwnRepliesOutOfOrder) {
  constexpr int kThreads = 4;
  constexpr int kRequestsPerThread = 50;
  // The node answers only once every thread has a request in flight, newest first.
  FakeServer node(Behavior::kReverseBatches, kThreads);
  auto client = MakeClient({node.endpoint()}, 30000);
  ASSERT_NE(client, nullptr);

  std::vector<std::vector<std::string>> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&client, &errors, t] {
      for (int i = 0; i < kRequestsPerThread; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        Result<GetResult> got = client->Get(key);
        if (!got.ok()) {
          errors[t].push_back(key + ": " + got.status().ToString());
        } else if (got->value != "value-of-" + key) {
          errors[t].push_back(key + ": got " + got->value);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_TRUE(errors[t].empty()) << errors[t].front();
  EXPECT_EQ(node.requests(), uint64_t{kThreads * kRequestsPerThread});
  EXPECT_EQ(node.max_pending(), uint64_t{kThreads});  // All in flight at once...
  EXPECT_EQ(node.connections(), 1u);                  // ...on one connection.
}

TEST(ClientTest, FailsOverToTheNextEndpointWhenTheFirstRefusesConnections) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({"127.0.0.1:" + std::to_string(ClosedPort()), node.endpoint()});
  ASSERT_NE(client, nullptr);

  ASSERT_OK(client->Put("k", "v"));
  Result<GetResult> got = client->Get("k");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "value-of-k");
  EXPECT_EQ(node.requests(), 2u);
}

TEST(ClientTest, ReadIsRetriedElsewhereWhenItsConnectionDropsAfterSending) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({dropper.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<GetResult> got = client->Get("k");
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "value-of-k");
  EXPECT_EQ(dropper.requests(), 1u);
  EXPECT_EQ(node.requests(), 1u);
}

TEST(ClientTest, WriteIsUnknownWhenItsConnectionDropsAfterSending) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({dropper.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v");
  ASSERT_CODE(put, Code::kUnknown);
  EXPECT_TRUE(Contains(put.status().message(), "may have been applied")) << put.status().ToString();
  EXPECT_TRUE(Contains(put.status().message(), dropper.endpoint()));
  ASSERT_CODE(client->Delete("k"), Code::kUnknown);
  EXPECT_EQ(dropper.requests(), 2u);
  EXPECT_EQ(node.requests(), 0u);  // Never resent: it may have been applied.
}

TEST(ClientTest, ReadPastItsDeadlineTimesOut) {
  FakeServer silent(Behavior::kSilent);
  auto client = MakeClient({silent.endpoint()});
  ASSERT_NE(client, nullptr);

  const auto start = steady_clock::now();
  Result<GetResult> got = client->Get("k", RequestOptions{.timeout_ms = 100});
  const auto elapsed = steady_clock::now() - start;
  ASSERT_CODE(got, Code::kTimeout);
  EXPECT_GE(elapsed, milliseconds(100));
  EXPECT_LT(elapsed, milliseconds(4000));
  EXPECT_GT(silent.last_timeout_ms(), 0u);  // The node was told the deadline.
  EXPECT_LE(silent.last_timeout_ms(), 100u);
}

TEST(ClientTest, WritePastItsDeadlineIsUnknown) {
  FakeServer silent(Behavior::kSilent);
  auto client = MakeClient({silent.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v", RequestOptions{.timeout_ms = 100});
  ASSERT_CODE(put, Code::kUnknown);
  EXPECT_TRUE(Contains(put.status().message(), "may have been applied")) << put.status().ToString();
  ASSERT_CODE(client->Delete("k", RequestOptions{.timeout_ms = 50}), Code::kUnknown);
  // The connection is still usable: a late reply would be dropped, not misrouted.
  EXPECT_EQ(silent.connections(), 1u);
}

TEST(ClientTest, AllEndpointsDownIsUnavailableNamingEach) {
  const std::string first = "127.0.0.1:" + std::to_string(ClosedPort());
  const std::string second = "127.0.0.1:" + std::to_string(ClosedPort());
  auto client = MakeClient({first, second});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v");
  ASSERT_CODE(put, Code::kUnavailable);
  const std::string message = put.status().message();
  EXPECT_TRUE(Contains(message, first)) << message;
  EXPECT_TRUE(Contains(message, second)) << message;
  EXPECT_TRUE(Contains(message, "refused")) << message;
  ASSERT_CODE(client->Get("k"), Code::kUnavailable);
}

TEST(ClientTest, InvalidEndpointsAndOptionsAreRejected) {
  for (const char* bad : {"", "localhost", ":7379", "host:", "host:0", "host:65536", "host:12ab",
                          "[::1", "[::1]7379", "::1:7379", "a b:1"}) {
    ClientOptions options;
    options.endpoints = {"127.0.0.1:7379", bad};
    Result<std::unique_ptr<Client>> client = Client::Create(options);
    ASSERT_CODE(client, Code::kInvalidArgument);
    EXPECT_TRUE(Contains(client.status().message(), "host:port")) << client.status().ToString();
  }
  ASSERT_CODE(Client::Create(ClientOptions{}), Code::kInvalidArgument);
  ASSERT_CODE(Client::Create(ClientOptions{.endpoints = {"h:1"}, .timeout_ms = 0}),
              Code::kInvalidArgument);
  ASSERT_OK(Client::Create(ClientOptions{.endpoints = {"[::1]:7379", "node-1.example:7379"}}));

  auto client = MakeClient({"127.0.0.1:" + std::to_string(ClosedPort())});
  ASSERT_NE(client, nullptr);
  ASSERT_CODE(client->Get("k", RequestOptions{.timeout_ms = 0}), Code::kInvalidArgument);
}

TEST(ClientTest, RequestOverTheFrameLimitIsRejectedUnsent) {
  FakeServer node(Behavior::kAnswer);
  Result<std::unique_ptr<Client>> client =
      Client::Create(ClientOptions{.endpoints = {node.endpoint()}, .max_frame_bytes = 1024});
  ASSERT_OK(client);
  ASSERT_CODE((*client)->Put("k", std::string(2000, 'x')), Code::kInvalidArgument);
  EXPECT_EQ(node.requests(), 0u);
  ASSERT_OK((*client)->Put("k", std::string(100, 'x')));
}

TEST(ClientTest, ReconnectsAfterTheNodeClosedTheConnection) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);
  ASSERT_OK(client->Get("k"));
  node.CloseConnections();
  // A get may race the client noticing the close; reads are safe to repeat.
  EXPECT_TRUE(Eventually([&] { return client->Get("k").ok(); }));
  EXPECT_EQ(node.connections(), 2u);
}

struct AsyncOutcomes {
  std::optional<Result<WriteResult>> put;
  std::optional<Result<GetResult>> get;
  std::optional<Result<WriteResult>> deleted;
  std::thread::id resumed_on;
};

// `client` and `out` outlive the coroutine: the test runs it to completion before returning.
asio::awaitable<void> PutGetDelete(Client* client, AsyncOutcomes* out) {
  out->put = co_await client->AsyncPut("k", "v");
  out->get = co_await client->AsyncGet("k");
  out->deleted = co_await client->AsyncDelete("k", RequestOptions{.timeout_ms = 1000});
  out->resumed_on = std::this_thread::get_id();
}

TEST(ClientTest, AsyncCallsAreAwaitableFromACoroutineOnAForeignIoContext) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  asio::io_context foreign;
  AsyncOutcomes out;
  asio::co_spawn(foreign, PutGetDelete(client.get(), &out), asio::detached);
  foreign.run();  // Returns once the coroutine finished.

  ASSERT_TRUE(out.put.has_value() && out.get.has_value() && out.deleted.has_value());
  ASSERT_OK(*out.put);
  EXPECT_EQ((*out.put)->timestamp, (Timestamp{client_test::kPutHlc, client_test::kPutNode}));
  ASSERT_OK(*out.get);
  EXPECT_EQ((*out.get)->value, "value-of-k");
  ASSERT_OK(*out.deleted);
  EXPECT_EQ(out.resumed_on, std::this_thread::get_id());  // Resumed on its own executor.
}

// `client` and `out` outlive the coroutine, as above.
asio::awaitable<void> AwaitGet(Client* client, std::optional<Result<GetResult>>* out) {
  *out = co_await client->AsyncGet("k");
}
asio::awaitable<void> AwaitPut(Client* client, std::optional<Result<WriteResult>>* out) {
  *out = co_await client->AsyncPut("k", "v");
}

TEST(ClientTest, DestroyingTheClientCompletesPendingAsyncCalls) {
  FakeServer silent(Behavior::kSilent);
  auto client = MakeClient({silent.endpoint()}, 60000);
  ASSERT_NE(client, nullptr);

  asio::io_context foreign;
  std::optional<Result<GetResult>> got;
  std::optional<Result<WriteResult>> put;
  asio::co_spawn(foreign, AwaitGet(client.get(), &got), asio::detached);
  asio::co_spawn(foreign, AwaitPut(client.get(), &put), asio::detached);
  std::thread runner([&foreign] { foreign.run(); });
  const bool both_sent = Eventually([&] { return silent.requests() == 2; });

  client.reset();
  runner.join();
  ASSERT_TRUE(both_sent);
  ASSERT_TRUE(got.has_value() && put.has_value());
  ASSERT_CODE(*got, Code::kUnavailable);  // A read: nothing to be unsure about.
  ASSERT_CODE(*put, Code::kUnknown);      // A write that was sent: it may have been applied.
}

}  // namespace
}  // namespace dialkv
