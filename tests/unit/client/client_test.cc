#include "dialkv/client.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/unit/client/fake_server.h"
#include "tests/unit/client/make_client.h"

namespace dialkv {
namespace {

using client_test::ClosedPort;
using client_test::FakeServer;
using client_test::MakeClient;
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
  threads.reserve(kThreads);
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

TEST(ClientTest, AnAsyncCallResumedOnlyAfterTheClientIsGoneStillCompletes) {
  // The caller's io_context resumes the call after the client was destroyed and its state
  // freed: the call must touch nothing of it then (AddressSanitizer would report it).
  FakeServer silent(Behavior::kSilent);
  auto client = MakeClient({silent.endpoint()}, 60000);
  ASSERT_NE(client, nullptr);

  asio::io_context foreign;
  std::optional<Result<GetResult>> got;
  asio::co_spawn(foreign, AwaitGet(client.get(), &got), asio::detached);
  foreign.poll();  // Starts the call; `foreign` runs nothing more until run() below.
  ASSERT_TRUE(Eventually([&] { return silent.requests() == 1; }));
  client.reset();
  foreign.restart();
  foreign.run();
  ASSERT_TRUE(got.has_value());
  ASSERT_CODE(*got, Code::kUnavailable);
}

// ---- consistency mode ----

constexpr RequestOptions kAp{.consistency = Consistency::kAp};
constexpr RequestOptions kCp{.consistency = Consistency::kCp};

TEST(ClientTest, CpIsTheDefaultModeAndIsSentOnEveryRequest) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  ASSERT_OK(client->Get("k"));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);
  ASSERT_OK(client->Put("k", "v"));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);
  ASSERT_OK(client->Delete("k"));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);
}

TEST(ClientTest, PerRequestModeOverridesTheClientDefault) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  ASSERT_OK(client->Get("k", kAp));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_AP);
  ASSERT_OK(client->Put("k", "v"));  // Back to the default.
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);
  ASSERT_OK(client->Delete("k", kAp));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_AP);
}

TEST(ClientTest, ClientDefaultApIsSentAndCanBeOverriddenToCp) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient(
      ClientOptions{.endpoints = {node.endpoint()}, .default_consistency = Consistency::kAp});
  ASSERT_NE(client, nullptr);

  ASSERT_OK(client->Put("k", "v"));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_AP);
  ASSERT_OK(client->Get("k"));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_AP);
  ASSERT_OK(client->Delete("k", kCp));
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);
}

TEST(ClientTest, ModeOutsideTheEnumIsRejectedUnsent) {
  const auto bogus = static_cast<Consistency>(7);
  ASSERT_CODE(Client::Create(ClientOptions{.endpoints = {"h:1"}, .default_consistency = bogus}),
              Code::kInvalidArgument);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);
  ASSERT_CODE(client->Put("k", "v", RequestOptions{.consistency = bogus}), Code::kInvalidArgument);
  EXPECT_EQ(node.requests(), 0u);
}

// ---- retries ----

TEST(ClientTest, ApWriteIsResentToTheNextEndpointWhenItsConnectionDropsAfterSending) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({dropper.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v", kAp);
  ASSERT_OK(put);
  EXPECT_EQ(put->timestamp, (Timestamp{client_test::kPutHlc, client_test::kPutNode}));
  EXPECT_EQ(dropper.puts(), 1u);  // Both endpoints saw it.
  EXPECT_EQ(node.puts(), 1u);
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_AP);
}

TEST(ClientTest, ApDeleteAndGetAreResentWhenTheirConnectionDropsAfterSending) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer node(Behavior::kAnswer);
  // A fresh client per call, so each starts at the dropper.
  ASSERT_OK(MakeClient({dropper.endpoint(), node.endpoint()})->Delete("k", kAp));
  Result<GetResult> got = MakeClient({dropper.endpoint(), node.endpoint()})->Get("k", kAp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "value-of-k");
  EXPECT_EQ(dropper.requests(), 2u);
  EXPECT_EQ(node.requests(), 2u);
}

TEST(ClientTest, CpWriteIsNotResentWhenItsConnectionDropsAfterSending) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({dropper.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v", kCp);
  ASSERT_CODE(put, Code::kUnknown);
  EXPECT_TRUE(Contains(put.status().message(), "may have been applied")) << put.status().ToString();
  ASSERT_CODE(client->Delete("k", kCp), Code::kUnknown);
  EXPECT_EQ(dropper.requests(), 2u);
  EXPECT_EQ(node.requests(), 0u);
}

TEST(ClientTest, CpGetIsResentWhenItsConnectionDropsAfterSending) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({dropper.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<GetResult> got = client->Get("k", kCp);
  ASSERT_OK(got);
  EXPECT_EQ(got->value, "value-of-k");
  EXPECT_EQ(dropper.requests(), 1u);
  EXPECT_EQ(node.requests(), 1u);
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_CP);
}

TEST(ClientTest, UnavailableReplyToACpPutIsRetriedOnTheNextEndpoint) {
  FakeServer refuser(Code::kUnavailable);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({refuser.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v", kCp);
  ASSERT_OK(put);
  EXPECT_EQ(put->timestamp, (Timestamp{client_test::kPutHlc, client_test::kPutNode}));
  EXPECT_EQ(refuser.puts(), 1u);
  EXPECT_EQ(node.puts(), 1u);
  // Later requests start at the endpoint that answered.
  ASSERT_OK(client->Delete("k", kCp));
  EXPECT_EQ(refuser.requests(), 1u);
  EXPECT_EQ(node.requests(), 2u);
}

TEST(ClientTest, UnavailableReplyIsRetriedForEveryKindOfRequest) {
  FakeServer refuser(Code::kUnavailable);
  FakeServer node(Behavior::kAnswer);
  const std::vector<std::string> endpoints = {refuser.endpoint(), node.endpoint()};
  ASSERT_OK(MakeClient(endpoints)->Get("k", kCp));
  ASSERT_OK(MakeClient(endpoints)->Get("k", kAp));
  ASSERT_OK(MakeClient(endpoints)->Put("k", "v", kAp));
  ASSERT_OK(MakeClient(endpoints)->Delete("k", kCp));
  ASSERT_OK(MakeClient(endpoints)->Delete("k", kAp));
  ASSERT_OK(MakeClient(endpoints)->ClusterStatus());
  EXPECT_EQ(refuser.requests(), 6u);
  EXPECT_EQ(node.requests(), 6u);
}

TEST(ClientTest, UnknownReplyToAWriteIsNotRetried) {
  FakeServer unsure(Code::kUnknown);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({unsure.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v", kCp);
  ASSERT_CODE(put, Code::kUnknown);
  EXPECT_EQ(put.status().message(), "UNKNOWN from " + unsure.endpoint());
  ASSERT_CODE(client->Put("k", "v", kAp), Code::kUnknown);
  ASSERT_CODE(client->Delete("k", kAp), Code::kUnknown);
  EXPECT_EQ(unsure.requests(), 3u);
  EXPECT_EQ(node.requests(), 0u);
}

TEST(ClientTest, TimeoutReplyIsNotRetried) {
  FakeServer slow(Code::kTimeout);
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({slow.endpoint(), node.endpoint()});
  ASSERT_NE(client, nullptr);

  ASSERT_CODE(client->Put("k", "v", kAp), Code::kTimeout);
  ASSERT_CODE(client->Delete("k", kCp), Code::kTimeout);
  ASSERT_CODE(client->Get("k", kCp), Code::kTimeout);
  EXPECT_EQ(node.requests(), 0u);
}

TEST(ClientTest, EveryEndpointUnavailableIsUnavailableNamingEachWithItsReason) {
  FakeServer first(Code::kUnavailable);
  FakeServer second(Code::kUnavailable);
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  auto client = MakeClient({first.endpoint(), closed, second.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v", kCp);
  ASSERT_CODE(put, Code::kUnavailable);
  const std::string message = put.status().message();
  EXPECT_TRUE(Contains(message, "UNAVAILABLE from " + first.endpoint())) << message;
  EXPECT_TRUE(Contains(message, closed + " (")) << message;
  EXPECT_TRUE(Contains(message, "UNAVAILABLE from " + second.endpoint())) << message;
  EXPECT_EQ(first.requests(), 1u);  // One pass over the endpoints.
  EXPECT_EQ(second.requests(), 1u);
}

TEST(ClientTest, ApWriteResentAfterALostConnectionIsUnknownWhenTheResendFails) {
  // The first attempt may have been applied, so "definitely not applied" would be a lie.
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer refuser(Code::kUnavailable);
  auto client = MakeClient({dropper.endpoint(), refuser.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> put = client->Put("k", "v", kAp);
  ASSERT_CODE(put, Code::kUnknown);
  EXPECT_TRUE(Contains(put.status().message(), "may have been applied")) << put.status().ToString();
  EXPECT_EQ(dropper.requests(), 1u);
  EXPECT_EQ(refuser.requests(), 1u);
  // A read in the same situation changed nothing.
  ASSERT_CODE(client->Get("k", kAp), Code::kUnavailable);
}

TEST(ClientTest, RetriesStopAfterOnePassOverTheEndpoints) {
  FakeServer first(Behavior::kDropConnection);
  FakeServer second(Behavior::kDropConnection);
  auto client = MakeClient({first.endpoint(), second.endpoint()});
  ASSERT_NE(client, nullptr);

  ASSERT_CODE(client->Put("k", "v", kAp), Code::kUnknown);
  EXPECT_EQ(first.requests(), 1u);
  EXPECT_EQ(second.requests(), 1u);
  ASSERT_CODE(client->Get("k", kCp), Code::kUnavailable);
  EXPECT_EQ(first.requests() + second.requests(), 4u);
}

TEST(ClientTest, ResentWriteNeverWaitsPastItsDeadline) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer silent(Behavior::kSilent);
  auto client = MakeClient({dropper.endpoint(), silent.endpoint()});
  ASSERT_NE(client, nullptr);

  const auto start = steady_clock::now();
  Result<WriteResult> put =
      client->Put("k", "v", RequestOptions{.timeout_ms = 200, .consistency = Consistency::kAp});
  const auto elapsed = steady_clock::now() - start;
  ASSERT_CODE(put, Code::kUnknown);
  EXPECT_LT(elapsed, milliseconds(4000));
  EXPECT_EQ(silent.requests(), 1u);
  EXPECT_GT(silent.last_timeout_ms(), 0u);  // The resend carried what was left of the deadline.
  EXPECT_LE(silent.last_timeout_ms(), 200u);
}

// ---- replies ----

TEST(ClientTest, HintedWritesAreSurfaced) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<WriteResult> hinted = client->Put("hinted", "v", kAp);
  ASSERT_OK(hinted);
  EXPECT_TRUE(hinted->hinted);
  Result<WriteResult> plain = client->Put("k", "v", kAp);
  ASSERT_OK(plain);
  EXPECT_FALSE(plain->hinted);
  Result<WriteResult> deleted = client->Delete("hinted", kAp);
  ASSERT_OK(deleted);
  EXPECT_TRUE(deleted->hinted);
  EXPECT_EQ(deleted->timestamp, (Timestamp{client_test::kDeleteHlc, client_test::kDeleteNode}));
}

void ExpectCannedClusterStatus(const ClusterStatus& status) {
  EXPECT_EQ(status.node_id, client_test::kStatusNode);
  EXPECT_EQ(status.cluster_name, "test-cluster");
  EXPECT_EQ(status.replication_factor, client_test::kStatusReplicationFactor);
  const std::vector<v1::NodeStatus> want = FakeServer::CannedNodes();
  ASSERT_EQ(status.nodes.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const NodeInfo& got = status.nodes[i];
    EXPECT_EQ(got.node_id, want[i].node_id());
    EXPECT_EQ(got.peer_address, want[i].peer_address());
    EXPECT_EQ(got.state, want[i].state());
    EXPECT_EQ(got.generation, want[i].generation());
    EXPECT_EQ(got.heartbeat, want[i].heartbeat());
    EXPECT_EQ(got.last_heard_ms_ago, want[i].last_heard_ms_ago());
    EXPECT_EQ(got.live_keys, want[i].live_keys());
  }
}

TEST(ClientTest, ClusterStatusDecodesEveryField) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({"127.0.0.1:" + std::to_string(ClosedPort()), node.endpoint()});
  ASSERT_NE(client, nullptr);

  Result<ClusterStatus> status = client->ClusterStatus();
  ASSERT_OK(status);
  ExpectCannedClusterStatus(*status);
  // The canned rows differ in every field, so a field decoded from the wrong one shows.
  EXPECT_EQ(status->nodes[2].last_heard_ms_ago, -1);
  EXPECT_EQ(node.last_consistency(), v1::CONSISTENCY_DEFAULT);  // No mode on this request.
}

TEST(ClientTest, ClusterStatusReturnsTheNodesError) {
  FakeServer node(Code::kPermissionDenied);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);
  Result<ClusterStatus> status = client->ClusterStatus();
  ASSERT_CODE(status, Code::kPermissionDenied);
  EXPECT_EQ(status.status().message(), "PERMISSION_DENIED from " + node.endpoint());
}

// `client` and `out` outlive the coroutine, as above.
asio::awaitable<void> AwaitClusterStatus(Client* client,
                                         std::optional<Result<ClusterStatus>>* out) {
  RequestOptions options;
  options.timeout_ms = 2000;
  *out = co_await client->AsyncClusterStatus(options);
}

TEST(ClientTest, AsyncClusterStatusDecodesEveryField) {
  FakeServer node(Behavior::kAnswer);
  auto client = MakeClient({node.endpoint()});
  ASSERT_NE(client, nullptr);

  asio::io_context foreign;
  std::optional<Result<ClusterStatus>> status;
  asio::co_spawn(foreign, AwaitClusterStatus(client.get(), &status), asio::detached);
  foreign.run();
  ASSERT_TRUE(status.has_value());
  ASSERT_OK(*status);
  ExpectCannedClusterStatus(**status);
}

// ---- running on the caller's executor (ClientOptions::executor) ----

ClientOptions OnExecutor(std::vector<std::string> endpoints, const asio::any_io_executor& executor,
                         uint32_t timeout_ms = 5000) {
  ClientOptions options;
  options.endpoints = std::move(endpoints);
  options.timeout_ms = timeout_ms;
  options.executor = executor;
  return options;
}

TEST(ClientTest, AnExecutorOtherThanAnIoContextsOwnIsRefused) {
  // A sync call could not tell it runs on a strand's thread, and would wait there forever.
  asio::io_context io;
  Result<std::unique_ptr<Client>> client =
      Client::Create(OnExecutor({"127.0.0.1:1"}, asio::make_strand(io)));
  ASSERT_CODE(client, Code::kInvalidArgument);
  EXPECT_TRUE(Contains(client.status().message(), "io_context")) << client.status().message();
}

// Threads of this process, from /proc (0 when it cannot be read).
int ThreadCount() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return 0;
}

// PutGetDelete, then destroys the client on the thread that runs its executor. `client` and
// `out` outlive the coroutine.
asio::awaitable<void> PutGetDeleteThenDestroy(std::unique_ptr<Client>* client, AsyncOutcomes* out) {
  co_await PutGetDelete(client->get(), out);
  client->reset();
}

TEST(ClientTest, OnTheCallersExecutorCallsRunOnItsThreadAndTheClientStartsNone) {
  FakeServer node(Behavior::kAnswer);
  asio::io_context io;
  const int threads_before = ThreadCount();
  auto client = MakeClient(OnExecutor({node.endpoint()}, io.get_executor()));
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(ThreadCount(), threads_before);

  AsyncOutcomes out;
  asio::co_spawn(io, PutGetDeleteThenDestroy(&client, &out), asio::detached);
  io.run();  // Returns once the calls finished and the destroyed client freed its state.

  EXPECT_EQ(client, nullptr);
  ASSERT_TRUE(out.put.has_value() && out.get.has_value() && out.deleted.has_value());
  ASSERT_OK(*out.put);
  EXPECT_EQ((*out.put)->timestamp, (Timestamp{client_test::kPutHlc, client_test::kPutNode}));
  ASSERT_OK(*out.get);
  EXPECT_EQ((*out.get)->value, "value-of-k");
  ASSERT_OK(*out.deleted);
  EXPECT_EQ(out.resumed_on, std::this_thread::get_id());
  EXPECT_EQ(node.requests(), 3u);
  EXPECT_EQ(node.connections(), 1u);
}

struct FailoverOutcomes {
  std::optional<Result<WriteResult>> cp_put;
  std::optional<Result<WriteResult>> ap_put;
  std::optional<Result<GetResult>> get;
};

// Runs the calls, then destroys the client on its executor's thread. `client` and `out`
// outlive the coroutine.
asio::awaitable<void> PutsAndGetThroughFailover(std::unique_ptr<Client>* client,
                                                FailoverOutcomes* out) {
  out->cp_put = co_await (*client)->AsyncPut("k", "v");
  out->ap_put =
      co_await (*client)->AsyncPut("k", "v", RequestOptions{.consistency = Consistency::kAp});
  out->get = co_await (*client)->AsyncGet("k");
  client->reset();
}

TEST(ClientTest, OnTheCallersExecutorCallsFailOverByTheSameRules) {
  FakeServer dropper(Behavior::kDropConnection);
  FakeServer node(Behavior::kAnswer);
  asio::io_context io;
  auto client = MakeClient(
      OnExecutor({"127.0.0.1:" + std::to_string(ClosedPort()), dropper.endpoint(), node.endpoint()},
                 io.get_executor()));
  ASSERT_NE(client, nullptr);

  FailoverOutcomes out;
  asio::co_spawn(io, PutsAndGetThroughFailover(&client, &out), asio::detached);
  io.run();

  ASSERT_TRUE(out.cp_put.has_value() && out.ap_put.has_value() && out.get.has_value());
  // Refused by the first endpoint, lost after sending by the second: a CP write is not resent.
  ASSERT_CODE(*out.cp_put, Code::kUnknown);
  EXPECT_TRUE(Contains(out.cp_put->status().message(), dropper.endpoint()));
  // An AP write is resent to the third, which answers; so does a read, from there.
  ASSERT_OK(*out.ap_put);
  ASSERT_OK(*out.get);
  EXPECT_EQ((*out.get)->value, "value-of-k");
  EXPECT_EQ(dropper.requests(), 2u);
  EXPECT_EQ(node.requests(), 2u);
}

TEST(ClientTest, OnTheCallersExecutorSyncCallsServeOtherThreadsAndAreRefusedOnItsOwn) {
  FakeServer node(Behavior::kAnswer);
  asio::io_context io;
  auto client = MakeClient(OnExecutor({node.endpoint()}, io.get_executor()));
  ASSERT_NE(client, nullptr);
  auto work = asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });

  Result<WriteResult> put = client->Put("k", "v");  // From a thread of its own.
  std::promise<Status> on_executor;
  std::future<Status> refused = on_executor.get_future();
  asio::post(io, [&client, &on_executor] { on_executor.set_value(client->Get("k").status()); });
  const Status refused_status = refused.get();
  client.reset();  // From another thread: the state is freed on the executor.
  work.reset();
  runner.join();  // run() returns once the client freed its state.

  ASSERT_OK(put);
  EXPECT_EQ(put->timestamp, (Timestamp{client_test::kPutHlc, client_test::kPutNode}));
  ASSERT_CODE(refused_status, Code::kInvalidArgument);
  EXPECT_TRUE(Contains(refused_status.message(), "Async")) << refused_status.ToString();
  EXPECT_EQ(node.requests(), 1u);
}

TEST(ClientTest, OnTheCallersExecutorDestroyingTheClientCompletesPendingCalls) {
  FakeServer silent(Behavior::kSilent);
  asio::io_context io;
  auto client = MakeClient(OnExecutor({silent.endpoint()}, io.get_executor(), 60000));
  ASSERT_NE(client, nullptr);

  std::optional<Result<GetResult>> got;
  std::optional<Result<WriteResult>> put;
  asio::co_spawn(io, AwaitGet(client.get(), &got), asio::detached);
  asio::co_spawn(io, AwaitPut(client.get(), &put), asio::detached);
  std::thread runner([&io] { io.run(); });
  const bool both_sent = Eventually([&] { return silent.requests() == 2; });

  client.reset();
  runner.join();  // run() returns once both calls completed and the client freed its state.
  ASSERT_TRUE(both_sent);
  ASSERT_TRUE(got.has_value() && put.has_value());
  ASSERT_CODE(*got, Code::kUnavailable);
  ASSERT_CODE(*put, Code::kUnknown);
}

}  // namespace
}  // namespace dialkv
