#include "server/net/frame_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/testutil/status_matchers.h"
#include "tests/unit/net/test_client.h"

namespace dialkv::net {
namespace {

using nettest::Loopback;
using nettest::PollUntil;
using nettest::TestClient;
using ::testing::HasSubstr;

constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr int kMaxPolls = 20'000;  // 1 ms apart: the test deadline.

v1::Envelope GetRequest(uint64_t id, std::string key) {
  v1::Envelope envelope;
  envelope.set_id(id);
  envelope.mutable_get_request()->set_key(std::move(key));
  return envelope;
}

std::string Frame(std::string_view body) {
  std::string out(kFrameHeaderBytes, '\0');
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) out[i] = static_cast<char>(body.size() >> (8 * i));
  out += body;
  return out;
}

// Answers a GetRequest with a GetReply whose value is the key.
asio::awaitable<v1::Envelope> Echo(v1::Envelope request) {
  v1::Envelope reply;
  reply.mutable_get_reply()->set_value(request.get_request().key());
  co_return reply;
}

// Waits, on the caller's executor, until `*flag` is set (polled every millisecond, for the test
// deadline at most). `flag` is a fixture member, which outlives the io threads.
asio::awaitable<void> WaitFor(const std::atomic<bool>* flag) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < kMaxPolls && !flag->load(); ++i) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(kAsTuple);
  }
}

// What handlers share with the test. Outlives the io threads (see the fixture).
struct HandlerState {
  std::atomic<bool> release{false};
  std::atomic<bool> fast_done{false};
  std::atomic<int> calls{0};
  std::atomic<int> active{0};
  std::atomic<int> max_active{0};
};

// Counts itself, then waits for `state->release` before echoing.
asio::awaitable<v1::Envelope> Gated(HandlerState* state, v1::Envelope request) {
  state->calls.fetch_add(1);
  const int active = state->active.fetch_add(1) + 1;
  int seen = state->max_active.load();
  while (seen < active && !state->max_active.compare_exchange_weak(seen, active)) {
  }
  co_await WaitFor(&state->release);
  state->active.fetch_sub(1);
  co_return co_await Echo(std::move(request));
}

// "slow" waits until a "fast" request was answered; anything else answers at once.
asio::awaitable<v1::Envelope> SlowAfterFast(HandlerState* state, v1::Envelope request) {
  if (request.get_request().key() == "slow") {
    co_await WaitFor(&state->fast_done);
  } else {
    state->fast_done.store(true);
  }
  co_return co_await Echo(std::move(request));
}

asio::awaitable<v1::Envelope> Big(v1::Envelope /*request*/) {
  v1::Envelope reply;
  reply.mutable_get_reply()->set_value(std::string(1 << 20, 'v'));
  co_return reply;
}

// Big, counting its calls.
asio::awaitable<v1::Envelope> BigCounted(HandlerState* state, v1::Envelope request) {
  state->calls.fetch_add(1);
  co_return co_await Big(std::move(request));
}

asio::awaitable<v1::Envelope> ThrowOnKeyThrow(v1::Envelope request) {
  if (request.get_request().key() == "throw") throw std::runtime_error("handler bug");
  co_return co_await Echo(std::move(request));
}

class FrameServerTest : public ::testing::Test {
 protected:
  FrameServerTest() { pool_.Start(); }

  void StartServer(RequestHandler handler, FrameServer::Options options = {}) {
    auto server = FrameServer::Listen(pool_, Loopback(), options, std::move(handler));
    ASSERT_OK(server);
    server_ = std::move(server).value();
    server_->Start();
  }

  RequestHandler GatedHandler() {
    return [state = &state_](v1::Envelope r) { return Gated(state, std::move(r)); };
  }

  // Connects `client` and checks one round trip, so the connection is being served.
  void ConnectAndEcho(TestClient* client, uint64_t id) {
    ASSERT_OK(client->Connect(server_->local_endpoint()));
    ASSERT_OK(client->Send({GetRequest(id, "ping")}));
    v1::Envelope reply;
    ASSERT_OK(client->Read(&reply));
    EXPECT_EQ(reply.id(), id);
    EXPECT_EQ(reply.get_reply().value(), "ping");
  }

  // Reads the ErrorReply a bad frame earns, then checks that the server closed.
  void ExpectErrorReplyThenClose(TestClient* client, uint64_t id, const std::string& message) {
    v1::Envelope reply;
    ASSERT_OK(client->Read(&reply));
    EXPECT_EQ(reply.id(), id);
    ASSERT_TRUE(reply.has_error_reply()) << reply.ShortDebugString();
    EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
    EXPECT_THAT(reply.error_reply().status().message(), HasSubstr(message));
    ASSERT_CODE(client->Read(&reply), Code::kUnavailable);
  }

  HandlerState state_;  // Declared before pool_: outlives the io threads.
  IoContextPool pool_{2};
  std::unique_ptr<FrameServer> server_;  // Destroyed before pool_.
};

TEST_F(FrameServerTest, AnswersARequestWithItsId) {
  StartServer(Echo);
  TestClient client;
  ConnectAndEcho(&client, 77);
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(FrameServerTest, AnswersThousandPipelinedRequestsOnOneConnection) {
  StartServer(Echo);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  constexpr uint64_t kRequests = 1000;
  std::vector<v1::Envelope> requests;
  for (uint64_t id = 1; id <= kRequests; ++id) {
    requests.push_back(GetRequest(id, "key-" + std::to_string(id)));
  }
  ASSERT_OK(client.Send(requests));
  std::set<uint64_t> answered;
  for (uint64_t i = 0; i < kRequests; ++i) {
    v1::Envelope reply;
    ASSERT_OK(client.Read(&reply));
    EXPECT_EQ(reply.get_reply().value(), "key-" + std::to_string(reply.id()));
    EXPECT_TRUE(answered.insert(reply.id()).second) << "id " << reply.id() << " answered twice";
  }
  EXPECT_EQ(answered.size(), kRequests);
  EXPECT_EQ(*answered.begin(), 1u);
  EXPECT_EQ(*answered.rbegin(), kRequests);
}

TEST_F(FrameServerTest, LargeFrameUnderTheLimitIsServed) {
  StartServer(Echo);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  std::string key(300 << 10, 'k');  // Read in growing steps: 64 KiB, 128 KiB, 256 KiB, all.
  key.back() = 'z';
  ASSERT_OK(client.Send({GetRequest(9, key)}));
  v1::Envelope reply;
  ASSERT_OK(client.Read(&reply));
  EXPECT_EQ(reply.id(), 9u);
  EXPECT_EQ(reply.get_reply().value(), key);
}

TEST_F(FrameServerTest, RepliesComeOutOfOrderWhenHandlersFinishOutOfOrder) {
  StartServer([state = &state_](v1::Envelope r) { return SlowAfterFast(state, std::move(r)); });
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  ASSERT_OK(client.Send({GetRequest(1, "slow"), GetRequest(2, "fast")}));
  v1::Envelope first;
  v1::Envelope second;
  ASSERT_OK(client.Read(&first));
  ASSERT_OK(client.Read(&second));
  EXPECT_EQ(first.id(), 2u);
  EXPECT_EQ(first.get_reply().value(), "fast");
  EXPECT_EQ(second.id(), 1u);
  EXPECT_EQ(second.get_reply().value(), "slow");
}

TEST_F(FrameServerTest, OversizedFrameGetsErrorReplyAndClosesOnlyThatConnection) {
  FrameServer::Options options;
  options.max_frame_bytes = 1024;
  StartServer(Echo, options);
  TestClient good;
  ConnectAndEcho(&good, 1);

  {
    TestClient bad;
    ASSERT_OK(bad.Connect(server_->local_endpoint()));
    // Announces 4096 bytes and sends some of them: the server must not read them.
    ASSERT_OK(bad.Write(Frame(std::string(4096, 'x')).substr(0, kFrameHeaderBytes + 2000)));
    ExpectErrorReplyThenClose(&bad, 0, "frame of 4096 bytes is over the limit of 1024 bytes");
  }

  ASSERT_OK(good.Send({GetRequest(2, "still here")}));
  v1::Envelope reply;
  ASSERT_OK(good.Read(&reply));
  EXPECT_EQ(reply.id(), 2u);
  EXPECT_EQ(reply.get_reply().value(), "still here");
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 1; }));
}

TEST_F(FrameServerTest, GarbageFrameGetsErrorReplyAndClosesOnlyThatConnection) {
  StartServer(Echo);
  TestClient good;
  ConnectAndEcho(&good, 1);

  TestClient bad;
  ASSERT_OK(bad.Connect(server_->local_endpoint()));
  ASSERT_OK(bad.Write(Frame(std::string("\x0f\x01\x02", 3))));
  ExpectErrorReplyThenClose(&bad, 0, "is not a dialkv.v1.Envelope");

  ASSERT_OK(good.Send({GetRequest(2, "still here")}));
  v1::Envelope reply;
  ASSERT_OK(good.Read(&reply));
  EXPECT_EQ(reply.get_reply().value(), "still here");
}

TEST_F(FrameServerTest, UnknownFieldGetsErrorReplyCarryingTheRequestId) {
  StartServer(Echo);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  v1::Envelope envelope = GetRequest(7, "k");
  ASSERT_OK(client.Write(Frame(envelope.SerializeAsString() + std::string("\x98\x06\x01", 3))));
  ExpectErrorReplyThenClose(&client, 7, "does not know");
}

TEST_F(FrameServerTest, ReplyQueuedBeforeABadFrameIsWrittenBeforeTheErrorReply) {
  StartServer(Echo);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  std::string bytes;
  AppendFrame(GetRequest(1, "first"), &bytes);  // Echo answers before the next frame is read.
  bytes += Frame(std::string("\x0f", 1));
  ASSERT_OK(client.Write(bytes));
  v1::Envelope reply;
  ASSERT_OK(client.Read(&reply));
  EXPECT_EQ(reply.id(), 1u);
  EXPECT_EQ(reply.get_reply().value(), "first");
  ExpectErrorReplyThenClose(&client, 0, "is not a dialkv.v1.Envelope");
}

TEST_F(FrameServerTest, InflightBoundPausesReadingWithoutLosingRequests) {
  FrameServer::Options options;
  options.max_inflight_per_connection = 4;
  StartServer(GatedHandler(), options);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  constexpr uint64_t kRequests = 20;
  std::vector<v1::Envelope> requests;
  for (uint64_t id = 1; id <= kRequests; ++id) requests.push_back(GetRequest(id, "k"));
  ASSERT_OK(client.Send(requests));

  // Four requests reach handlers, which hold them; the reader must then stop.
  ASSERT_TRUE(PollUntil([&] { return state_.calls.load() == 4; }));
  EXPECT_EQ(state_.max_active.load(), 4);
  state_.release.store(true);

  std::set<uint64_t> answered;
  for (uint64_t i = 0; i < kRequests; ++i) {
    v1::Envelope reply;
    ASSERT_OK(client.Read(&reply));
    answered.insert(reply.id());
  }
  EXPECT_EQ(answered.size(), kRequests);
  EXPECT_EQ(state_.calls.load(), static_cast<int>(kRequests));
  EXPECT_LE(state_.max_active.load(), 4);
}

TEST_F(FrameServerTest, ReplyBytesBoundPausesAClientThatDoesNotReadAndLosesNothing) {
  auto budget = std::make_shared<RequestBudget>(
      RequestBudget::Options{.max_requests = 0, .max_bytes = 0}, RequestBudget::Counters{});
  metrics::Counter pauses;
  FrameServer::Options options;
  options.max_connection_reply_bytes = 4 << 20;
  options.budget = budget;
  options.reply_pauses = &pauses;
  StartServer([state = &state_](v1::Envelope r) { return BigCounted(state, std::move(r)); },
              options);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  constexpr uint64_t kRequests = 64;  // 64 MiB of replies: far more than socket buffers hold.
  std::vector<v1::Envelope> requests;
  for (uint64_t id = 1; id <= kRequests; ++id) requests.push_back(GetRequest(id, "k"));
  ASSERT_OK(client.Send(requests));

  // The client reads nothing: replies fill the socket buffers, then 4 MiB more at most are
  // queued (one reply may pass the bound) and every other request waits, unstarted.
  ASSERT_TRUE(PollUntil([&] { return pauses.Value() > 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // Time to go wrong.
  EXPECT_LT(state_.calls.load(), static_cast<int>(kRequests));
  EXPECT_LE(budget->bytes(), (5u << 20) + kRequests * 64);

  // Reading them, the client gets every reply, none refused.
  std::set<uint64_t> answered;
  for (uint64_t i = 0; i < kRequests; ++i) {
    v1::Envelope reply;
    ASSERT_OK(client.Read(&reply));
    ASSERT_TRUE(reply.has_get_reply()) << reply.ShortDebugString().substr(0, 200);
    EXPECT_EQ(reply.get_reply().value().size(), 1u << 20);
    answered.insert(reply.id());
  }
  EXPECT_EQ(answered.size(), kRequests);
  EXPECT_TRUE(PollUntil([&] { return budget->bytes() == 0; }));
}

TEST_F(FrameServerTest, RequestsPastTheNodeBudgetAreAnsweredOverloadedWithoutBeingStarted) {
  metrics::Counter refused;
  auto budget =
      std::make_shared<RequestBudget>(RequestBudget::Options{.max_requests = 2, .max_bytes = 0},
                                      RequestBudget::Counters{.refused_requests = &refused});
  FrameServer::Options options;
  options.budget = budget;
  StartServer(GatedHandler(), options);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  std::vector<v1::Envelope> requests;
  for (uint64_t id = 1; id <= 5; ++id) requests.push_back(GetRequest(id, "k"));
  ASSERT_OK(client.Send(requests));

  // Two run (and are held); the other three are answered at once, never started.
  for (uint64_t id = 3; id <= 5; ++id) {
    v1::Envelope reply;
    ASSERT_OK(client.Read(&reply));
    EXPECT_EQ(reply.id(), id);
    ASSERT_TRUE(reply.has_error_reply()) << reply.ShortDebugString();
    EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_OVERLOADED);
    EXPECT_THAT(reply.error_reply().status().message(), HasSubstr("not started"));
  }
  EXPECT_EQ(state_.calls.load(), 2);
  EXPECT_EQ(refused.Value(), 3u);
  EXPECT_EQ(budget->requests(), 2u);

  state_.release.store(true);
  std::set<uint64_t> served;
  for (int i = 0; i < 2; ++i) {
    v1::Envelope reply;
    ASSERT_OK(client.Read(&reply));
    EXPECT_EQ(reply.get_reply().value(), "k");
    served.insert(reply.id());
  }
  EXPECT_EQ(served, (std::set<uint64_t>{1, 2}));
  EXPECT_TRUE(PollUntil([&] { return budget->requests() == 0 && budget->bytes() == 0; }));
  // With room again, the connection is served as before.
  ASSERT_OK(client.Send({GetRequest(6, "again")}));
  v1::Envelope reply;
  ASSERT_OK(client.Read(&reply));
  EXPECT_EQ(reply.get_reply().value(), "again");
}

TEST_F(FrameServerTest, BigRepliesPastTheNodeByteBudgetAreReplacedByOverloaded) {
  metrics::Counter refused_replies;
  auto budget = std::make_shared<RequestBudget>(
      RequestBudget::Options{.max_requests = 0, .max_bytes = 5u << 19},  // 2.5 MiB.
      RequestBudget::Counters{.refused_replies = &refused_replies});
  FrameServer::Options options;
  options.budget = budget;
  options.max_connection_reply_bytes = 0;  // Only the node's budget bounds this connection.
  StartServer([state = &state_](v1::Envelope r) { return BigCounted(state, std::move(r)); },
              options);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  constexpr uint64_t kRequests = 64;
  std::vector<v1::Envelope> requests;
  for (uint64_t id = 1; id <= kRequests; ++id) requests.push_back(GetRequest(id, "k"));
  ASSERT_OK(client.Send(requests));
  ASSERT_TRUE(PollUntil([&] { return state_.calls.load() == static_cast<int>(kRequests); }));
  EXPECT_LE(budget->bytes(), 5u << 19);

  // Every request is answered: with its value, or OVERLOADED when its reply did not fit.
  uint64_t overloaded = 0;
  std::set<uint64_t> answered;
  for (uint64_t i = 0; i < kRequests; ++i) {
    v1::Envelope reply;
    ASSERT_OK(client.Read(&reply));
    answered.insert(reply.id());
    if (reply.has_error_reply()) {
      EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_OVERLOADED);
      EXPECT_THAT(reply.error_reply().status().message(), HasSubstr("was not sent"));
      ++overloaded;
    } else {
      EXPECT_EQ(reply.get_reply().value().size(), 1u << 20);
    }
  }
  EXPECT_EQ(answered.size(), kRequests);
  EXPECT_GT(overloaded, 0u);  // 64 MiB cannot all sit in socket buffers and 2.5 MiB.
  EXPECT_EQ(refused_replies.Value(), overloaded);
  EXPECT_TRUE(PollUntil([&] { return budget->bytes() == 0; }));
}

TEST_F(FrameServerTest, ClientHalfCloseStillGetsEveryReply) {
  StartServer(Echo);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  std::vector<v1::Envelope> requests;
  for (uint64_t id = 1; id <= 50; ++id) requests.push_back(GetRequest(id, "k"));
  ASSERT_OK(client.Send(requests));
  client.ShutdownSend();
  for (int i = 0; i < 50; ++i) {
    v1::Envelope reply;
    ASSERT_OK(client.Read(&reply));
  }
  v1::Envelope reply;
  ASSERT_CODE(client.Read(&reply), Code::kUnavailable);
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(FrameServerTest, StopClosesConnectionsAndStopsAccepting) {
  StartServer(Echo);
  TestClient a;
  TestClient b;
  ConnectAndEcho(&a, 1);
  ConnectAndEcho(&b, 2);
  EXPECT_EQ(server_->open_connections(), 2u);
  const auto endpoint = server_->local_endpoint();

  server_->Stop();
  v1::Envelope reply;
  ASSERT_CODE(a.Read(&reply), Code::kUnavailable);
  ASSERT_CODE(b.Read(&reply), Code::kUnavailable);
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 0; }));
  EXPECT_TRUE(PollUntil([&] { return !TestClient().Connect(endpoint).ok(); }));
  server_->Stop();  // Idempotent.
}

TEST_F(FrameServerTest, StopWithHandlerInFlightDropsItsReply) {
  StartServer(GatedHandler());
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  ASSERT_OK(client.Send({GetRequest(1, "k")}));
  ASSERT_TRUE(PollUntil([&] { return state_.calls.load() == 1; }));

  server_->Stop();
  v1::Envelope reply;
  ASSERT_CODE(client.Read(&reply), Code::kUnavailable);
  state_.release.store(true);  // The handler outlives the connection's close.
  EXPECT_TRUE(PollUntil([&] { return state_.active.load() == 0; }));
  EXPECT_EQ(server_->open_connections(), 0u);
}

TEST_F(FrameServerTest, HandlerFinishingAfterClientLeftIsHarmless) {
  StartServer(GatedHandler());
  {
    TestClient client;
    ASSERT_OK(client.Connect(server_->local_endpoint()));
    ASSERT_OK(client.Send({GetRequest(1, "k")}));
    ASSERT_TRUE(PollUntil([&] { return state_.calls.load() == 1; }));
  }  // The client closes with a request in flight.
  state_.release.store(true);
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 0; }));
  TestClient next;
  ConnectAndEcho(&next, 2);
}

TEST_F(FrameServerTest, HandlerExceptionClosesOnlyItsConnection) {
  StartServer(ThrowOnKeyThrow);
  TestClient good;
  ConnectAndEcho(&good, 1);
  TestClient bad;
  ASSERT_OK(bad.Connect(server_->local_endpoint()));
  ASSERT_OK(bad.Send({GetRequest(1, "throw")}));
  v1::Envelope reply;
  ASSERT_CODE(bad.Read(&reply), Code::kUnavailable);
  ASSERT_OK(good.Send({GetRequest(2, "fine")}));
  ASSERT_OK(good.Read(&reply));
  EXPECT_EQ(reply.get_reply().value(), "fine");
}

TEST_F(FrameServerTest, IdleConnectionIsClosedAfterIdleTimeout) {
  FrameServer::Options options;
  options.idle_timeout_ms = 50;
  StartServer(Echo, options);
  TestClient client;
  ConnectAndEcho(&client, 1);
  v1::Envelope reply;
  ASSERT_CODE(client.Read(&reply), Code::kUnavailable);
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(FrameServerTest, ClientThatStopsReadingIsClosedAfterWriteTimeout) {
  FrameServer::Options options;
  options.write_timeout_ms = 100;
  StartServer(Big, options);
  TestClient client;
  ASSERT_OK(client.Connect(server_->local_endpoint()));
  ASSERT_OK(client.Send({GetRequest(1, "k")}));
  v1::Envelope reply;
  ASSERT_OK(client.Read(&reply));  // The connection is served...
  ASSERT_EQ(server_->open_connections(), 1u);
  std::vector<v1::Envelope> requests;
  for (uint64_t id = 2; id <= 65; ++id) requests.push_back(GetRequest(id, "k"));
  ASSERT_OK(client.Send(requests));  // ...then owed 64 MiB of replies it does not read.
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 0; }));
  // The client sees part of the replies, then the close (a FIN, or a reset when the server
  // closed with unsent bytes) rather than waiting forever.
  std::string rest;
  const Status end = client.ReadToEnd(&rest);
  EXPECT_TRUE(end.ok() || end.code() == Code::kUnavailable) << end.ToString();
  EXPECT_LT(rest.size(), 64u << 20);
}

TEST_F(FrameServerTest, ConnectionsBeyondTheLimitAreRefusedWithOverloadedAndCounted) {
  metrics::Counter refused;
  FrameServer::Options options;
  options.max_connections = 2;
  options.connections_refused = &refused;
  StartServer(Echo, options);
  TestClient first;
  ConnectAndEcho(&first, 1);
  auto second = std::make_unique<TestClient>();
  ConnectAndEcho(second.get(), 2);
  TestClient third;
  ASSERT_OK(third.Connect(server_->local_endpoint()));
  v1::Envelope reply;
  ASSERT_OK(third.Read(&reply));
  EXPECT_EQ(reply.id(), 0u);
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_OVERLOADED);
  EXPECT_THAT(reply.error_reply().status().message(), HasSubstr("limit of 2 connections"));
  EXPECT_TRUE(reply.error_reply().nothing_read());
  ASSERT_CODE(third.Read(&reply), Code::kUnavailable);
  EXPECT_EQ(refused.Value(), 1u);
  // The connections already served are untouched, and a closed one frees its place.
  ASSERT_OK(first.Send({GetRequest(3, "still")}));
  ASSERT_OK(first.Read(&reply));
  EXPECT_EQ(reply.get_reply().value(), "still");
  second.reset();
  EXPECT_TRUE(PollUntil([&] { return server_->open_connections() == 1; }));
  TestClient fourth;
  ConnectAndEcho(&fourth, 4);
  EXPECT_EQ(refused.Value(), 1u);
}

TEST_F(FrameServerTest, AFrameTrickledPastTheFrameReadTimeoutClosesOnlyItsConnection) {
  metrics::Counter timeouts;
  FrameServer::Options options;
  options.frame_read_timeout_ms = 200;
  options.frame_timeouts = &timeouts;
  StartServer(Echo, options);
  TestClient quiet;  // Whole frames, then silence: no frame is begun, so no deadline runs.
  ConnectAndEcho(&quiet, 1);
  TestClient slow;
  ASSERT_OK(slow.Connect(server_->local_endpoint()));
  std::string frame;
  AppendFrame(GetRequest(2, std::string(100, 'k')), &frame);
  // A byte every 50 ms: never idle, never done. Bounded: the frame's length, or 10 s.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (size_t sent = 0; sent + 1 < frame.size() && timeouts.Value() == 0 &&
                        std::chrono::steady_clock::now() < give_up;
       ++sent) {
    if (!slow.Write(frame.substr(sent, 1)).ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(PollUntil([&] { return timeouts.Value() == 1; }));
  v1::Envelope reply;
  EXPECT_CODE(slow.Read(&reply), Code::kUnavailable);
  ASSERT_OK(quiet.Send({GetRequest(3, "still")}));
  ASSERT_OK(quiet.Read(&reply));
  EXPECT_EQ(reply.get_reply().value(), "still");
  EXPECT_EQ(timeouts.Value(), 1u);
}

TEST_F(FrameServerTest, ListenOnPortInUseFailsWithAddressAndReason) {
  StartServer(Echo);
  const auto endpoint = server_->local_endpoint();
  auto second = FrameServer::Listen(pool_, endpoint, {}, Echo);
  ASSERT_CODE(second, Code::kUnavailable);
  EXPECT_EQ(
      second.status().message(),
      "cannot listen on 127.0.0.1:" + std::to_string(endpoint.port()) + ": Address already in use");
}

TEST_F(FrameServerTest, ListenOnAddressNotOfThisHostFails) {
  // 192.0.2.0/24 is reserved for documentation: no host owns it. Nothing is sent.
  auto server = FrameServer::Listen(
      pool_, asio::ip::tcp::endpoint(asio::ip::make_address_v4("192.0.2.1"), 0), {}, Echo);
  ASSERT_CODE(server, Code::kUnavailable);
  EXPECT_THAT(server.status().message(), HasSubstr("cannot listen on 192.0.2.1:0: "));
}

TEST_F(FrameServerTest, ListenRefusesAnEmptyHandlerOrZeroLimits) {
  ASSERT_CODE(FrameServer::Listen(pool_, Loopback(), {}, RequestHandler()), Code::kInvalidArgument);
  FrameServer::Options options;
  options.max_inflight_per_connection = 0;
  ASSERT_CODE(FrameServer::Listen(pool_, Loopback(), options, Echo), Code::kInvalidArgument);
}

}  // namespace
}  // namespace dialkv::net
