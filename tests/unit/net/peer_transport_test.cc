#include "server/net/peer_transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "server/common/clock.h"
#include "server/common/hlc.h"
#include "server/common/metrics.h"
#include "server/net/fault_injector.h"
#include "server/net/frame_server.h"
#include "server/net/peer_header.h"
#include "tests/testutil/held_port.h"
#include "tests/testutil/status_matchers.h"
#include "tests/unit/net/test_client.h"

namespace dialkv::net {
namespace {

using nettest::kTestDeadline;
using nettest::Loopback;
using nettest::PollUntil;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;
using ::testing::HasSubstr;

constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr int kMaxPolls = 20'000;  // 1 ms apart: the test deadline.
constexpr NodeId kSelf = 1;
constexpr NodeId kPeer = 2;
constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr int64_t kSkewGuardMs = 500;
constexpr milliseconds kCallTimeout{10'000};
// A call that "fails quickly" returns well before its kCallTimeout deadline.
constexpr milliseconds kQuickly{2'000};

// The peer side: what the handler shares with the test. Outlives the io threads.
struct Callee {
  explicit Callee(const Clock& clock) : hlc(clock, kPeer, {}) {}

  HybridLogicalClock hlc;
  std::string reply_cluster = "test";  // The cluster its replies claim. Set before serving.
  NodeId reply_node = kPeer;           // The node id its replies claim. Set before serving.
  NodeId member = kSelf;               // The only caller it accepts. Set before serving.
  std::atomic<int> requests{0};        // Served, each request of a batch counted.
  std::atomic<int> held{0};            // Requests for key "hold" waiting for `release`.
  std::atomic<bool> release{false};
  std::atomic<bool> serves_batches{false};  // Says so in its replies, and serves them.
  std::atomic<int> batches{0};              // Batches served.
  std::atomic<int> batch_items{0};          // Requests they carried.
};

// Waits on the caller's executor until `*flag` is set (polled every millisecond, for the test
// deadline at most). `flag` belongs to a Callee, which outlives the io threads.
asio::awaitable<void> WaitFor(const std::atomic<bool>* flag) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < kMaxPolls && !flag->load(); ++i) {
    timer.expires_after(milliseconds(1));
    co_await timer.async_wait(kAsTuple);
  }
}

// Serves a peer request as the peer service does: checks the header, folds in the caller's
// hlc, answers a ReplicaReadRequest with the key as the value, and stamps its own header.
asio::awaitable<void> Answer(Callee* callee, const v1::Envelope& request, v1::Envelope* reply) {
  callee->requests.fetch_add(1);
  const std::string& key = request.replica_read_request().key();
  if (key == "hold") {
    callee->held.fetch_add(1);
    co_await WaitFor(&callee->release);
  }
  reply->mutable_replica_read_reply()->mutable_version()->set_value(key);
}

// A batch (when the callee serves them) is served item by item, as the peer service does.
asio::awaitable<v1::Envelope> Serve(Callee* callee, v1::Envelope request) {
  v1::Envelope reply;
  const NodeId member = callee->member;
  const Status checked =
      CheckPeerHeader(request, "test", [member](NodeId n) { return n == member; });
  if (!checked.ok()) {
    callee->requests.fetch_add(1);
    ToProto(checked, reply.mutable_error_reply()->mutable_status());
  } else if (request.has_peer_batch_request() && callee->serves_batches.load()) {
    (void)callee->hlc.Observe(request.peer().hlc());
    callee->batches.fetch_add(1);
    for (const v1::Envelope& item : request.peer_batch_request().items()) {
      callee->batch_items.fetch_add(1);
      v1::Envelope* answer = reply.mutable_peer_batch_reply()->add_items();
      answer->set_id(item.id());
      co_await Answer(callee, item, answer);
    }
  } else {
    (void)callee->hlc.Observe(request.peer().hlc());
    co_await Answer(callee, request, &reply);
  }
  StampPeerHeader(&reply, callee->reply_cluster, callee->reply_node, callee->hlc);
  reply.mutable_peer()->set_serves_batches(callee->serves_batches.load());
  co_return reply;
}

v1::Envelope ReadRequest(std::string key) {
  v1::Envelope request;
  request.mutable_replica_read_request()->set_key(std::move(key));
  return request;
}

// A call's result in a default-constructible form (co_spawn's completion needs one).
struct CallResult {
  Status status;
  v1::Envelope reply;
};

// `transport` outlives the call (the fixture joins the io threads before destroying it).
asio::awaitable<CallResult> DoCall(PeerTransport* transport, NodeId peer, v1::Envelope request,
                                   Deadline deadline) {
  Result<v1::Envelope> result = co_await transport->Call(peer, std::move(request), deadline);
  if (!result.ok()) co_return CallResult{result.status(), {}};
  co_return CallResult{Status::Ok(), std::move(result).value()};
}

class PeerTransportTest : public ::testing::Test {
 protected:
  PeerTransportTest() {
    server_pool_.Start();
    pool_.Start();
  }

  ~PeerTransportTest() override { Shutdown(); }

  // Stops the server, the transport and the io threads, then destroys the transport. Once is
  // enough; a second call does nothing.
  void Shutdown() {
    callee_.release.store(true);
    server_.reset();
    if (transport_ != nullptr) transport_->Stop();
    pool_.Stop();
    server_pool_.Stop();
    pool_.Join();
    server_pool_.Join();
    transport_.reset();  // After the join: its connections' coroutines are done.
  }

  // Starts the peer's server on `port` (0: a free one). Returns false if the port is taken.
  bool StartServer(uint16_t port = 0, FaultInjector* faults = nullptr) {
    return StartServerOn(Loopback(port), faults);
  }
  // Starts the peer's server listening on the held port, which it adopts.
  bool StartServerOn(jepsen::ReservedPort& held) {
    ListenAddress address(Loopback(held.port()));
    address.inherited_fd = held.Release();
    return StartServerOn(address, nullptr);
  }
  bool StartServerOn(const ListenAddress& address, FaultInjector* faults) {
    Callee* callee = &callee_;
    RequestHandler handler = [callee](v1::Envelope r) { return Serve(callee, std::move(r)); };
    if (faults != nullptr) handler = WithFaults(faults, std::move(handler));
    auto server = FrameServer::Listen(server_pool_, address, {}, std::move(handler));
    if (!server.ok()) return false;
    server_ = std::move(server).value();
    server_->Start();
    return true;
  }
  uint16_t server_port() const { return server_->local_endpoint().port(); }

  PeerTransport::Options TransportOptions(uint16_t port) const {
    PeerTransport::Options options;
    options.self = kSelf;
    options.cluster_name = "test";
    options.peers = {{kPeer, "127.0.0.1:" + std::to_string(port)}};
    return options;
  }

  void MakeTransport(PeerTransport::Options options) {
    auto transport = PeerTransport::Create(pool_, caller_hlc_, std::move(options), &registry_);
    ASSERT_OK(transport);
    transport_ = std::move(transport).value();
  }
  void MakeTransport(uint16_t port) { MakeTransport(TransportOptions(port)); }

  // Calls from the pool's io_context `context` and waits for the result.
  CallResult CallFrom(size_t context, NodeId peer, std::string key,
                      milliseconds timeout = kCallTimeout) {
    auto done = std::make_shared<std::promise<CallResult>>();
    std::future<CallResult> result = done->get_future();
    Start(context, peer, std::move(key), timeout,
          [done](CallResult r) { done->set_value(std::move(r)); });
    if (result.wait_for(kTestDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "the call did not finish within the test deadline";
      return {Status::Internal("test deadline"), {}};
    }
    return result.get();
  }
  CallResult CallPeer(std::string key, milliseconds timeout = kCallTimeout) {
    return CallFrom(0, kPeer, std::move(key), timeout);
  }

  // Starts a call on the pool's io_context `context`; `done` runs there with its result.
  void Start(size_t context, NodeId peer, std::string key, milliseconds timeout,
             std::function<void(CallResult)> done) {
    v1::Envelope request = ReadRequest(std::move(key));
    // A timestamp read, which a batch may carry, unless the test reads values.
    request.mutable_replica_read_request()->set_timestamp_only(!read_values_);
    const Deadline deadline = SteadyClock::now() + timeout;
    asio::co_spawn(pool_.At(context), DoCall(transport_.get(), peer, std::move(request), deadline),
                   [done = std::move(done)](std::exception_ptr e, CallResult r) {
                     done(e ? CallResult{Status::Internal("call threw"), {}} : std::move(r));
                   });
  }

  // The value of one series in the registry's exposition; 0 when absent.
  uint64_t Metric(const std::string& series) const {
    const std::string text = "\n" + registry_.Expose();
    const std::string prefix = "\n" + series + " ";
    const size_t at = text.find(prefix);
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + prefix.size()));
  }
  // Starts one call per key on the link's io_context (context 0) from one handler there, so that
  // they are all queued before the link's next flush, and waits for every result, in key order.
  std::vector<CallResult> CallTogether(const std::vector<std::string>& keys,
                                       milliseconds timeout = kCallTimeout) {
    struct Results {
      std::mutex mu;
      std::vector<CallResult> results;
      size_t done = 0;
      std::promise<void> all;
    };
    auto shared = std::make_shared<Results>();
    shared->results.resize(keys.size());
    std::future<void> all = shared->all.get_future();
    asio::post(pool_.At(0), [this, shared, keys, timeout] {
      for (size_t i = 0; i < keys.size(); ++i) {
        Start(0, kPeer, keys[i], timeout, [shared, i, n = keys.size()](CallResult r) {
          std::lock_guard<std::mutex> lock(shared->mu);
          shared->results[i] = std::move(r);
          if (++shared->done == n) shared->all.set_value();
        });
      }
    });
    if (all.wait_for(kTestDeadline) != std::future_status::ready) {
      ADD_FAILURE() << "the calls did not finish within the test deadline";
      return {};
    }
    std::lock_guard<std::mutex> lock(shared->mu);
    return shared->results;
  }
  uint64_t Batches() const { return Metric("dialkv_peer_batches_total{peer=\"2\"}"); }
  uint64_t BatchedRequests() const {
    return Metric("dialkv_peer_batched_requests_total{peer=\"2\"}");
  }

  uint64_t ConnectAttempts() const {
    return Metric("dialkv_peer_connect_attempts_total{peer=\"2\"}");
  }

  // Declared before the pools: outlive the io threads.
  ManualClock caller_clock_{kNowMs};
  HybridLogicalClock caller_hlc_{caller_clock_, kSelf, {kSkewGuardMs}};
  ManualClock callee_clock_{kNowMs + 300};  // Ahead of the caller, within the skew guard.
  Callee callee_{callee_clock_};
  metrics::Registry registry_;
  IoContextPool server_pool_{1};
  IoContextPool pool_{2};
  std::unique_ptr<FrameServer> server_;
  std::unique_ptr<PeerTransport> transport_;
  bool read_values_ = false;  // Start() sends reads of values, which never go in batches.
};

TEST_F(PeerTransportTest, CallSucceedsAndFoldsTheCalleesClockIntoTheCallers) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  const uint64_t caller_before = caller_hlc_.Last();

  CallResult result = CallPeer("k");
  ASSERT_OK(result.status);
  EXPECT_EQ(result.reply.replica_read_reply().version().value(), "k");
  ASSERT_TRUE(result.reply.has_peer());
  EXPECT_EQ(result.reply.peer().node_id(), kPeer);
  // The callee's clock, 300 ms ahead, was folded into the caller's.
  EXPECT_GE(result.reply.peer().hlc() >> 16, static_cast<uint64_t>(kNowMs + 300));
  EXPECT_GE(caller_hlc_.Last(), result.reply.peer().hlc());
  EXPECT_GT(caller_hlc_.Last(), caller_before);
  // And the caller's hlc reached the callee (the stamp the handler checked and observed).
  EXPECT_GT(callee_.hlc.Last(), 0u);
  EXPECT_EQ(Metric("dialkv_peer_calls_total{peer=\"2\",outcome=\"ok\"}"), 1u);
  EXPECT_EQ(ConnectAttempts(), 1u);
}

TEST_F(PeerTransportTest, CallsShareOnePersistentConnection) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  for (int i = 0; i < 5; ++i) ASSERT_OK(CallFrom(i % 2, kPeer, "k" + std::to_string(i)).status);
  EXPECT_EQ(server_->open_connections(), 1u);
  EXPECT_EQ(ConnectAttempts(), 1u);
}

TEST_F(PeerTransportTest, ReplyBeyondTheSkewGuardIsNotFoldedIn) {
  callee_clock_.Set(kNowMs + kSkewGuardMs + 1500);
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());

  CallResult result = CallPeer("k");
  ASSERT_OK(result.status);  // The reply is still good; only its clock is refused.
  EXPECT_GE(result.reply.peer().hlc() >> 16, static_cast<uint64_t>(kNowMs + 2000));
  EXPECT_LT(caller_hlc_.Last() >> 16, static_cast<uint64_t>(kNowMs + kSkewGuardMs));
}

TEST_F(PeerTransportTest, UnknownPeerIsUnavailable) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  CallResult result = CallFrom(0, 7, "k");
  ASSERT_CODE(result.status, Code::kUnavailable);
  EXPECT_THAT(result.status.message(), HasSubstr("not in --peers"));
  EXPECT_EQ(callee_.requests.load(), 0);
}

TEST_F(PeerTransportTest, PeerNotListeningIsUnavailableQuicklyAndBackoffFailsFast) {
  jepsen::ReservedPort held = testutil::HeldPort();
  PeerTransport::Options options = TransportOptions(held.port());
  options.backoff_initial_ms = 60'000;  // The second call surely falls in the pause.
  options.backoff_max_ms = 60'000;
  MakeTransport(std::move(options));

  auto start = SteadyClock::now();
  CallResult first = CallPeer("k");
  ASSERT_CODE(first.status, Code::kUnavailable);
  EXPECT_LT(SteadyClock::now() - start, kQuickly);
  EXPECT_THAT(first.status.message(), HasSubstr("peer 2"));
  EXPECT_EQ(ConnectAttempts(), 1u);
  EXPECT_EQ(Metric("dialkv_peer_connect_failures_total{peer=\"2\"}"), 1u);

  start = SteadyClock::now();
  CallResult second = CallFrom(1, kPeer, "k");
  ASSERT_CODE(second.status, Code::kUnavailable);
  EXPECT_LT(SteadyClock::now() - start, kQuickly);
  EXPECT_THAT(second.status.message(), HasSubstr("next connection attempt in"));
  EXPECT_EQ(ConnectAttempts(), 1u);  // No attempt during the pause.
  EXPECT_EQ(Metric("dialkv_peer_calls_total{peer=\"2\",outcome=\"unavailable\"}"), 2u);
}

// Regression: right after a peer restarted, calls whose deadline outlasted the backoff pause
// failed at once with UNAVAILABLE (a CP request then failed although its peer was back).
TEST_F(PeerTransportTest, CallDuringAPauseShorterThanItsDeadlineWaitsAndReachesThePeer) {
  jepsen::ReservedPort held = testutil::HeldPort();
  PeerTransport::Options options = TransportOptions(held.port());
  options.backoff_initial_ms = 300;
  options.backoff_max_ms = 300;
  MakeTransport(std::move(options));
  ASSERT_CODE(CallPeer("k").status, Code::kUnavailable);  // Starts the 300 ms pause.
  ASSERT_TRUE(StartServerOn(held));
  CallResult during_pause = CallPeer("k", milliseconds(5000));
  EXPECT_OK(during_pause.status);
  EXPECT_EQ(ConnectAttempts(), 2u);  // One failed, one after the pause: no attempt in between.
}

TEST_F(PeerTransportTest, ReconnectsAfterTheBackoffOnceThePeerListens) {
  jepsen::ReservedPort held = testutil::HeldPort();
  PeerTransport::Options options = TransportOptions(held.port());
  options.backoff_initial_ms = 20;
  options.backoff_max_ms = 40;
  MakeTransport(std::move(options));
  ASSERT_CODE(CallPeer("k").status, Code::kUnavailable);

  ASSERT_TRUE(StartServerOn(held));
  Status last;
  EXPECT_TRUE(PollUntil([&] {
    last = CallPeer("k").status;
    return last.ok();
  })) << last.ToString();
  EXPECT_GE(ConnectAttempts(), 2u);
  EXPECT_EQ(server_->open_connections(), 1u);
}

TEST_F(PeerTransportTest, LostConnectionFailsTheCallInFlightAndTheNextCallReconnects) {
  ASSERT_TRUE(StartServer());
  const uint16_t port = server_port();
  MakeTransport(port);
  ASSERT_OK(CallPeer("warm").status);

  auto done = std::make_shared<std::promise<CallResult>>();
  std::future<CallResult> held = done->get_future();
  Start(0, kPeer, "hold", kCallTimeout, [done](CallResult r) { done->set_value(std::move(r)); });
  ASSERT_TRUE(PollUntil([&] { return callee_.held.load() == 1; }));
  server_->Stop();  // Closes the connection under the call.
  ASSERT_EQ(held.wait_for(kTestDeadline), std::future_status::ready);
  const CallResult lost = held.get();
  ASSERT_CODE(lost.status, Code::kUnavailable);
  EXPECT_THAT(lost.status.message(), HasSubstr("may have been delivered"));

  callee_.release.store(true);
  server_.reset();
  ASSERT_TRUE(PollUntil([&] { return StartServer(port); }));  // Once the old acceptor closed.
  ASSERT_OK(CallPeer("again").status);  // At once: the last attempt had succeeded.
  EXPECT_EQ(ConnectAttempts(), 2u);
}

TEST_F(PeerTransportTest, ReplyFromAnotherClusterIsPermissionDenied) {
  callee_.reply_cluster = "other";
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  CallResult result = CallPeer("k");
  ASSERT_CODE(result.status, Code::kPermissionDenied);
  EXPECT_THAT(result.status.message(), HasSubstr("\"other\""));
  EXPECT_THAT(result.status.message(), HasSubstr("\"test\""));
  EXPECT_EQ(caller_hlc_.Last() >> 16, static_cast<uint64_t>(kNowMs));  // Not folded in.
}

TEST_F(PeerTransportTest, ReplyFromAnotherNodeIsPermissionDenied) {
  callee_.reply_node = 3;
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  CallResult result = CallPeer("k");
  ASSERT_CODE(result.status, Code::kPermissionDenied);
  EXPECT_THAT(result.status.message(), HasSubstr("answered as node 3"));
}

TEST_F(PeerTransportTest, ErrorReplyOfThePeerIsReturnedAsItsStatus) {
  callee_.member = 5;  // The callee does not know node 1.
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  CallResult result = CallPeer("k");
  ASSERT_CODE(result.status, Code::kPermissionDenied);
  EXPECT_THAT(result.status.message(), HasSubstr("node 1 is not in --peers"));
  EXPECT_THAT(result.status.message(), HasSubstr("peer 2"));
}

TEST_F(PeerTransportTest, NoReplyBeforeTheDeadlineIsTimeout) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  const auto start = SteadyClock::now();
  CallResult result = CallPeer("hold", milliseconds(100));
  ASSERT_CODE(result.status, Code::kTimeout);
  EXPECT_GE(SteadyClock::now() - start, milliseconds(100));
  EXPECT_EQ(callee_.held.load(), 1);

  callee_.release.store(true);  // The late reply is dropped; the connection serves on.
  ASSERT_OK(CallPeer("k").status);
  EXPECT_EQ(ConnectAttempts(), 1u);
}

TEST_F(PeerTransportTest, CallsBeyondMaxCallsPerPeerAreOverloadedAndNotSent) {
  ASSERT_TRUE(StartServer());
  PeerTransport::Options options = TransportOptions(server_port());
  options.max_calls_per_peer = 2;
  MakeTransport(std::move(options));
  auto finished = std::make_shared<std::atomic<int>>(0);
  for (size_t context : {0, 1}) {
    Start(context, kPeer, "hold", kCallTimeout, [finished](CallResult) { finished->fetch_add(1); });
  }
  ASSERT_TRUE(PollUntil([&] { return callee_.held.load() == 2; }));

  CallResult refused = CallPeer("k");
  ASSERT_CODE(refused.status, Code::kOverloaded);
  EXPECT_THAT(refused.status.message(), HasSubstr("max_calls_per_peer"));
  EXPECT_THAT(refused.status.message(), HasSubstr("not sent"));
  EXPECT_EQ(callee_.requests.load(), 2);
  EXPECT_TRUE(PollUntil(
      [&] { return Metric("dialkv_peer_calls_total{peer=\"2\",outcome=\"overloaded\"}") == 1; }));

  // Once the held calls are answered their slots are free again.
  callee_.release.store(true);
  ASSERT_TRUE(PollUntil([&] { return finished->load() == 2; }));
  ASSERT_OK(CallPeer("k").status);
}

TEST_F(PeerTransportTest, DeadlineAlreadyPassedIsUnavailableAndNotSent) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  CallResult result = CallPeer("k", milliseconds(-1));
  ASSERT_CODE(result.status, Code::kUnavailable);
  EXPECT_THAT(result.status.message(), HasSubstr("not sent"));
  EXPECT_EQ(callee_.requests.load(), 0);
}

TEST_F(PeerTransportTest, ThousandConcurrentCallsFromTwoExecutorsAreAllAnswered) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  constexpr int kCalls = 1000;
  struct Tally {
    std::atomic<int> finished{0};
    std::atomic<int> matched{0};
  };
  auto tally = std::make_shared<Tally>();
  for (int i = 0; i < kCalls; ++i) {
    std::string key = "key-" + std::to_string(i);
    Start(i % 2, kPeer, key, kCallTimeout, [tally, key](CallResult r) {
      if (r.status.ok() && r.reply.replica_read_reply().version().value() == key) {
        tally->matched.fetch_add(1);
      }
      tally->finished.fetch_add(1);
    });
  }
  ASSERT_TRUE(PollUntil([&] { return tally->finished.load() == kCalls; }));
  EXPECT_EQ(tally->matched.load(), kCalls);
  EXPECT_EQ(server_->open_connections(), 1u);
  EXPECT_EQ(ConnectAttempts(), 1u);
  EXPECT_EQ(Metric("dialkv_peer_calls_total{peer=\"2\",outcome=\"ok\"}"),
            static_cast<uint64_t>(kCalls));
}

TEST_F(PeerTransportTest, StopFailsPendingAndLaterCalls) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  constexpr int kPending = 3;
  auto finished = std::make_shared<std::atomic<int>>(0);
  auto unavailable = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < kPending; ++i) {
    Start(i % 2, kPeer, "hold", kCallTimeout, [finished, unavailable](CallResult r) {
      if (r.status.code() == Code::kUnavailable) unavailable->fetch_add(1);
      finished->fetch_add(1);
    });
  }
  ASSERT_TRUE(PollUntil([&] { return callee_.held.load() == kPending; }));
  const auto start = SteadyClock::now();
  transport_->Stop();
  ASSERT_TRUE(PollUntil([&] { return finished->load() == kPending; }));
  EXPECT_LT(SteadyClock::now() - start, kQuickly);
  EXPECT_EQ(unavailable->load(), kPending);

  CallResult later = CallFrom(1, kPeer, "k");
  ASSERT_CODE(later.status, Code::kUnavailable);
  EXPECT_THAT(later.status.message(), HasSubstr("stopped"));
  transport_->Stop();  // Idempotent.
}

// The node's shutdown order with calls still waiting for replies (a pool stopped before
// Stop()'s closes ran, say): the pool stops and joins, the transport is destroyed, then the
// pool with the suspended calls (sanitizers check that none of them touches the transport).
TEST_F(PeerTransportTest, DestroyedAfterThePoolStoppedWithCallsInFlight) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  auto finished = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 2; ++i) {
    Start(i, kPeer, "hold", kCallTimeout, [finished](CallResult) { finished->fetch_add(1); });
  }
  ASSERT_TRUE(PollUntil([&] { return callee_.held.load() == 2; }));
  pool_.Stop();
  pool_.Join();
  transport_.reset();
  EXPECT_EQ(finished->load(), 0);  // Abandoned, never resumed.
}

TEST_F(PeerTransportTest, RequestOverTheFrameLimitIsInvalidArgumentAndNotSent) {
  ASSERT_TRUE(StartServer());
  PeerTransport::Options options = TransportOptions(server_port());
  options.max_frame_bytes = 1024;
  MakeTransport(std::move(options));
  ASSERT_CODE(CallPeer(std::string(2048, 'k')).status, Code::kInvalidArgument);
  EXPECT_EQ(callee_.requests.load(), 0);
  ASSERT_OK(CallPeer("k").status);
}

TEST_F(PeerTransportTest, CreateRejectsBadOptions) {
  PeerTransport::Options options = TransportOptions(7380);
  options.cluster_name.clear();
  ASSERT_CODE(PeerTransport::Create(pool_, caller_hlc_, options), Code::kInvalidArgument);

  options = TransportOptions(7380);
  options.peers[kSelf] = "127.0.0.1:7381";
  ASSERT_CODE(PeerTransport::Create(pool_, caller_hlc_, options), Code::kInvalidArgument);

  options = TransportOptions(7380);
  options.peers[3] = "no-port";
  const auto bad_address = PeerTransport::Create(pool_, caller_hlc_, options);
  ASSERT_CODE(bad_address, Code::kInvalidArgument);
  EXPECT_THAT(bad_address.status().message(), HasSubstr("peer 3"));

  options = TransportOptions(7380);
  options.backoff_initial_ms = 100;
  options.backoff_max_ms = 10;
  ASSERT_CODE(PeerTransport::Create(pool_, caller_hlc_, options), Code::kInvalidArgument);
}

// Fault injection (fault_injector.h): a message lost on either side looks to the caller like a
// reply that never came; the callee sees the request only when the request got through.

FaultInjector::Options InjectorOf(NodeId self) {
  FaultInjector::Options options;
  options.self = self;
  options.peers = {kSelf, kPeer};
  return options;
}

PeerTransport::Options WithInjector(PeerTransport::Options options, FaultInjector* faults) {
  options.faults = faults;
  return options;
}

LinkFaultsPatch Patch(NodeId peer) {
  LinkFaultsPatch patch;
  patch.peer = peer;
  return patch;
}

TEST_F(PeerTransportTest, RequestLostOnTheWayOutTimesOutAndNeverReachesThePeer) {
  FaultInjector faults(InjectorOf(kSelf), nullptr);
  LinkFaultsPatch patch = Patch(kPeer);
  patch.block_out = true;
  ASSERT_OK(faults.Apply({patch}, std::nullopt));
  ASSERT_TRUE(StartServer());
  MakeTransport(WithInjector(TransportOptions(server_port()), &faults));
  const auto start = SteadyClock::now();
  CallResult result = CallPeer("k", milliseconds(100));
  ASSERT_CODE(result.status, Code::kTimeout);
  EXPECT_THAT(result.status.message(), HasSubstr("may have been delivered"));
  EXPECT_GE(SteadyClock::now() - start, milliseconds(100));
  EXPECT_EQ(callee_.requests.load(), 0);

  faults.Clear();
  ASSERT_OK(CallPeer("k").status);
  EXPECT_EQ(callee_.requests.load(), 1);
}

TEST_F(PeerTransportTest, ReplyLostOnTheWayInTimesOutAfterThePeerServedIt) {
  FaultInjector faults(InjectorOf(kSelf), nullptr);
  LinkFaultsPatch patch = Patch(kPeer);
  patch.drop_in = 1.0;
  ASSERT_OK(faults.Apply({patch}, std::nullopt));
  ASSERT_TRUE(StartServer());
  MakeTransport(WithInjector(TransportOptions(server_port()), &faults));
  ASSERT_CODE(CallPeer("k", milliseconds(100)).status, Code::kTimeout);
  EXPECT_EQ(callee_.requests.load(), 1);
}

TEST_F(PeerTransportTest, DelayedRequestArrivesLateAndOnePastTheDeadlineIsNotSent) {
  FaultInjector faults(InjectorOf(kSelf), nullptr);
  LinkFaultsPatch patch = Patch(kPeer);
  patch.delay_ms = 150;
  ASSERT_OK(faults.Apply({patch}, std::nullopt));
  ASSERT_TRUE(StartServer());
  MakeTransport(WithInjector(TransportOptions(server_port()), &faults));
  const auto start = SteadyClock::now();
  ASSERT_OK(CallPeer("k").status);
  EXPECT_GE(SteadyClock::now() - start, milliseconds(150));

  ASSERT_CODE(CallPeer("k", milliseconds(50)).status, Code::kTimeout);
  EXPECT_EQ(callee_.requests.load(), 1);
}

TEST_F(PeerTransportTest, PeerPortLosesInboundRequestsAndOutboundRepliesOfABlockedLink) {
  FaultInjector faults(InjectorOf(kPeer), nullptr);  // The callee's injector.
  ASSERT_TRUE(StartServer(0, &faults));
  MakeTransport(server_port());

  LinkFaultsPatch deaf = Patch(kSelf);
  deaf.block_in = true;  // The callee does not hear the caller: the request is never served.
  ASSERT_OK(faults.Apply({deaf}, std::nullopt));
  ASSERT_CODE(CallPeer("k", milliseconds(100)).status, Code::kTimeout);
  EXPECT_EQ(callee_.requests.load(), 0);

  LinkFaultsPatch mute = Patch(kSelf);
  mute.block_in = false;
  mute.block_out = true;  // The caller does not hear the callee: served, but no reply.
  ASSERT_OK(faults.Apply({mute}, std::nullopt));
  ASSERT_CODE(CallPeer("k", milliseconds(100)).status, Code::kTimeout);
  EXPECT_EQ(callee_.requests.load(), 1);

  faults.Clear();  // The connection survived both: unanswered requests do not break it.
  ASSERT_OK(CallPeer("k").status);
  EXPECT_EQ(ConnectAttempts(), 1u);
}

std::vector<std::string> Keys(const std::string& prefix, int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

// Once the peer's replies say it serves batches, the requests queued for it in one pass of the
// link's event loop go in one frame, and each caller gets its own reply.
TEST_F(PeerTransportTest, CallsQueuedTogetherGoInOneBatchOnceThePeerServesBatches) {
  callee_.serves_batches.store(true);
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  ASSERT_OK(CallPeer("first").status);  // Alone: the peer has not said it serves batches yet.
  EXPECT_EQ(callee_.batches.load(), 0);

  const std::vector<std::string> keys = Keys("k", 20);
  const std::vector<CallResult> results = CallTogether(keys);
  ASSERT_EQ(results.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_OK(results[i].status);
    EXPECT_EQ(results[i].reply.replica_read_reply().version().value(), keys[i]);
    EXPECT_EQ(results[i].reply.peer().node_id(), kPeer) << "each reply carries the batch's header";
  }
  EXPECT_EQ(callee_.batches.load(), 1);
  EXPECT_EQ(callee_.batch_items.load(), 20);
  EXPECT_EQ(Batches(), 1u);
  EXPECT_EQ(BatchedRequests(), 20u);
}

// A read of a value goes alone even to a peer that serves batches: a few reads of large values
// in one batch would make its reply (one frame) too large.
TEST_F(PeerTransportTest, ReadsOfValuesGoAloneEvenToAPeerThatServesBatches) {
  callee_.serves_batches.store(true);
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  ASSERT_OK(CallPeer("first").status);
  read_values_ = true;
  for (const CallResult& result : CallTogether(Keys("k", 20))) ASSERT_OK(result.status);
  EXPECT_EQ(callee_.requests.load(), 21);
  EXPECT_EQ(callee_.batches.load(), 0);
}

// A peer of an older release, which does not say it serves batches, gets every request alone.
TEST_F(PeerTransportTest, APeerThatDoesNotServeBatchesGetsEveryRequestAlone) {
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  ASSERT_OK(CallPeer("first").status);
  for (const CallResult& result : CallTogether(Keys("k", 20))) ASSERT_OK(result.status);
  EXPECT_EQ(callee_.requests.load(), 21);
  EXPECT_EQ(callee_.batches.load(), 0);
  EXPECT_EQ(Batches(), 0u);
}

// A batch lost as a whole (the connection broke after it was sent) fails every call of it as
// one that may have been delivered: never as "not sent", which would let a CP coordinator
// answer UNAVAILABLE for a write that was maybe applied.
TEST_F(PeerTransportTest, ABatchLostWithItsConnectionFailsEveryCallAsMaybeDelivered) {
  callee_.serves_batches.store(true);
  ASSERT_TRUE(StartServer());
  MakeTransport(server_port());
  ASSERT_OK(CallPeer("first").status);

  auto shared = std::make_shared<std::vector<std::promise<CallResult>>>(5);
  std::vector<std::future<CallResult>> futures;
  for (auto& promise : *shared) futures.push_back(promise.get_future());
  asio::post(pool_.At(0), [this, shared] {
    for (size_t i = 0; i < shared->size(); ++i) {
      Start(0, kPeer, i == 0 ? "hold" : "k" + std::to_string(i), kCallTimeout,
            [shared, i](CallResult r) { (*shared)[i].set_value(std::move(r)); });
    }
  });
  ASSERT_TRUE(PollUntil([&] { return callee_.held.load() == 1; }));
  server_->Stop();  // Closes the connection under the batch, whose reply waits for "hold".
  for (auto& future : futures) {
    ASSERT_EQ(future.wait_for(kTestDeadline), std::future_status::ready);
    const CallResult lost = future.get();
    ASSERT_CODE(lost.status, Code::kUnavailable);
    EXPECT_THAT(lost.status.message(), HasSubstr("may have been delivered"));
  }
  EXPECT_EQ(callee_.batches.load(), 1);
}

// The fault injector judges every request of a batch on its own: a lost one is never served
// and its caller times out, while the others of the same batch are answered. `faults` is the
// sender's (requests out) or the receiver's (requests in).
class BatchFaultTest : public PeerTransportTest {
 protected:
  void DropHalf(bool at_receiver) {
    callee_.serves_batches.store(true);
    FaultInjector& faults = at_receiver ? receiver_faults_ : sender_faults_;
    ASSERT_TRUE(StartServer(0, at_receiver ? &faults : nullptr));
    MakeTransport(at_receiver ? TransportOptions(server_port())
                              : WithInjector(TransportOptions(server_port()), &faults));
    ASSERT_OK(CallPeer("first").status);
    LinkFaultsPatch patch = Patch(at_receiver ? kSelf : kPeer);
    if (at_receiver) {
      patch.drop_in = 0.5;
    } else {
      patch.drop_out = 0.5;
    }
    ASSERT_OK(faults.Apply({patch}, std::nullopt));
    const std::vector<CallResult> results = CallTogether(Keys("k", 40), milliseconds(300));
    int answered = 0;
    int timed_out = 0;
    for (const CallResult& result : results) {
      if (result.status.ok()) {
        ++answered;
      } else {
        ASSERT_CODE(result.status, Code::kTimeout);
        ++timed_out;
      }
    }
    EXPECT_GT(answered, 0);
    EXPECT_GT(timed_out, 0);
    EXPECT_EQ(answered + timed_out, 40);
    EXPECT_EQ(callee_.requests.load(), 1 + answered) << "the lost ones were never served";
    EXPECT_GE(callee_.batches.load(), 1);
  }

  ~BatchFaultTest() override { Shutdown(); }  // Before the injectors go.

  FaultInjector sender_faults_{InjectorOf(kSelf), nullptr};
  FaultInjector receiver_faults_{InjectorOf(kPeer), nullptr};
};

TEST_F(BatchFaultTest, TheSenderJudgesEachRequestOfABatchOnItsOwn) { DropHalf(false); }

TEST_F(BatchFaultTest, TheReceiverJudgesEachRequestOfABatchOnItsOwn) { DropHalf(true); }

}  // namespace
}  // namespace dialkv::net
