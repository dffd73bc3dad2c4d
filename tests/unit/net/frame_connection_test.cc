#include "server/net/frame_connection.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/this_coro.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/net/frame_server.h"
#include "server/net/io_pool.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::net {
namespace {

using std::chrono::milliseconds;

TEST(BackoffTest, DoublesFromTheInitialPauseUpToTheMaximum) {
  Backoff backoff(50, 300);
  EXPECT_TRUE(backoff.enabled());
  EXPECT_EQ(backoff.Failed(), milliseconds(50));
  EXPECT_EQ(backoff.Failed(), milliseconds(100));
  EXPECT_EQ(backoff.Failed(), milliseconds(200));
  EXPECT_EQ(backoff.Failed(), milliseconds(300));
  EXPECT_EQ(backoff.Failed(), milliseconds(300));
}

TEST(BackoffTest, SuccessStartsOverFromTheInitialPause) {
  Backoff backoff(50, 2000);
  (void)backoff.Failed();
  (void)backoff.Failed();
  backoff.Succeeded();
  EXPECT_EQ(backoff.Failed(), milliseconds(50));
}

TEST(BackoffTest, ZeroInitialPauseDisablesIt) {
  Backoff backoff(0, 0);
  EXPECT_FALSE(backoff.enabled());
  EXPECT_EQ(backoff.Failed(), milliseconds(0));
  EXPECT_EQ(backoff.Failed(), milliseconds(0));
}

TEST(BackoffTest, LargePausesDoNotOverflow) {
  Backoff backoff(3'000'000'000u, 4'000'000'000u);
  EXPECT_EQ(backoff.Failed(), milliseconds(3'000'000'000u));
  EXPECT_EQ(backoff.Failed(), milliseconds(4'000'000'000u));
}

// ---- Requests queued together ----

// The key of request `i`: distinct, of varied sizes, some larger than a socket buffer, so one
// write of them all takes several system calls and arrives in many pieces.
std::string KeyOf(uint64_t i) {
  const size_t filler = i % 16 == 0 ? 200'000 : i % 100;
  return "key-" + std::to_string(i) + "-" + std::string(filler, static_cast<char>('a' + i % 26));
}

// The ids the server read, in the order it read them. Outlives the server's io thread.
struct Arrivals {
  std::mutex mu;
  std::vector<uint64_t> ids;
};

// Records the request's id, then answers it with its key. `arrivals` outlives the server.
asio::awaitable<v1::Envelope> RecordAndEcho(Arrivals* arrivals, v1::Envelope request) {
  {
    std::lock_guard<std::mutex> lock(arrivals->mu);
    arrivals->ids.push_back(request.id());
  }
  v1::Envelope reply;
  reply.mutable_get_reply()->set_value(request.get_request().key());
  co_return reply;
}

// What the calling side saw. Filled on the caller's io_context, read after it ran out of work.
struct Outcome {
  Status connected;
  std::vector<Status> sent;
  std::vector<std::string> values;  // Each request's reply value ("" when it got none).
  uint64_t writes_after_send = 0;
};

// Queues `count` requests in one go (no suspension in between), waits for every reply, then
// closes the connection. `connection` and `out` outlive the coroutine (the test runs its
// io_context until it is done).
asio::awaitable<void> SendAllAtOnce(Connection* connection, uint64_t count, Outcome* out) {
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  const auto deadline = SteadyClock::now() + std::chrono::seconds(20);
  Waiter waiter(executor);
  waiter.set_deadline(deadline);
  out->connected = co_await connection->Connect(&waiter);
  if (!out->connected.ok()) co_return;
  std::vector<std::unique_ptr<Call>> calls;
  for (uint64_t id = 1; id <= count; ++id) {
    v1::Envelope request;
    request.set_id(id);
    request.mutable_get_request()->set_key(KeyOf(id));
    calls.push_back(std::make_unique<Call>(executor));
    calls.back()->waiter.set_deadline(deadline);
    out->sent.push_back(connection->Send(id, request, calls.back().get()));
  }
  for (auto& call : calls) {
    co_await call->waiter.Wait();
    out->values.push_back(call->reply.has_value() ? call->reply->get_reply().value() : "");
  }
  out->writes_after_send = connection->writes();
  connection->Close(Status::Ok());
}

// A frame server on a free loopback port, on a pool of its own, that answers with
// RecordAndEcho; stopped when destroyed.
class EchoServer {
 public:
  EchoServer() {
    RequestHandler handler = [arrivals = arrivals_](v1::Envelope request) {
      return RecordAndEcho(arrivals.get(), std::move(request));
    };
    auto server =
        FrameServer::Listen(pool_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                            FrameServer::Options{}, std::move(handler));
    if (!server.ok()) {
      ADD_FAILURE() << server.status().ToString();
      return;
    }
    server_ = std::move(server).value();
    server_->Start();
    pool_.Start();
  }
  ~EchoServer() {
    if (server_ != nullptr) server_->Stop();
    pool_.Stop();
    pool_.Join();
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  bool ok() const { return server_ != nullptr; }
  uint16_t port() const { return server_->local_endpoint().port(); }
  // The ids of the requests it received, in arrival order.
  std::vector<uint64_t> ids() const {
    std::lock_guard<std::mutex> lock(arrivals_->mu);
    return arrivals_->ids;
  }

 private:
  std::shared_ptr<Arrivals> arrivals_ = std::make_shared<Arrivals>();
  IoContextPool pool_{1};
  std::unique_ptr<FrameServer> server_;  // Destroyed before the pool.
};

TEST(ConnectionTest, RequestsQueuedTogetherGoOutInOneWriteIntactAndInOrder) {
  constexpr uint64_t kRequests = 300;
  EchoServer server;
  ASSERT_TRUE(server.ok());

  asio::io_context io;
  Result<Endpoint> endpoint = ParseEndpoint("127.0.0.1:" + std::to_string(server.port()));
  ASSERT_OK(endpoint);
  Outcome out;
  {
    Connection connection(io.get_executor(), std::move(endpoint).value(), Connection::Options{});
    asio::co_spawn(io, SendAllAtOnce(&connection, kRequests, &out), asio::detached);
    io.run();  // Returns once the requests were answered and the connection closed.
  }

  ASSERT_OK(out.connected);
  ASSERT_EQ(out.sent.size(), kRequests);
  for (const Status& sent : out.sent) EXPECT_OK(sent);
  // Every frame queued before the writer ran went out in its one write...
  EXPECT_EQ(out.writes_after_send, 1u);
  // ...and arrived whole (each parsed, each answered with its own key) and in order.
  ASSERT_EQ(out.values.size(), kRequests);
  for (uint64_t id = 1; id <= kRequests; ++id) {
    EXPECT_EQ(out.values[id - 1], KeyOf(id)) << "request " << id;
  }
  std::vector<uint64_t> expected;
  for (uint64_t id = 1; id <= kRequests; ++id) expected.push_back(id);
  EXPECT_EQ(server.ids(), expected);
}

// ---- Name lookups ----

// Answers every lookup with 127.0.0.1:port, but the first one only once released. Shared with
// the lookup threads, which may outlive the connection.
struct HangingFirstLookup {
  std::mutex mu;
  std::condition_variable changed;
  bool released = false;
  int calls = 0;
};

// Two connection attempts in turn; their outcomes go to `out`. `connection` and `out` outlive
// the coroutine.
asio::awaitable<void> ConnectTwice(Connection* connection, std::vector<Status>* out) {
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Waiter waiter(executor);
    waiter.set_deadline(SteadyClock::now() + std::chrono::seconds(10));
    out->push_back(co_await connection->Connect(&waiter));
  }
  connection->Close(Status::Ok());
}

TEST(ConnectionTest, ALookupThatHangsDoesNotHoldUpTheNextAttempt) {
  EchoServer server;
  ASSERT_TRUE(server.ok());
  const uint16_t port = server.port();

  auto dns = std::make_shared<HangingFirstLookup>();
  Connection::Options options;
  options.lookup_timeout_ms = 200;
  options.lookup = [dns](const std::string&,
                         uint16_t wanted) -> Result<std::vector<asio::ip::tcp::endpoint>> {
    std::unique_lock<std::mutex> lock(dns->mu);
    if (dns->calls++ == 0) dns->changed.wait(lock, [&dns] { return dns->released; });
    return std::vector<asio::ip::tcp::endpoint>{
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), wanted)};
  };
  std::vector<Status> outcomes;
  {
    asio::io_context io;
    Connection connection(io.get_executor(),
                          Endpoint{"peer.invalid", port, "peer.invalid:" + std::to_string(port)},
                          options);
    asio::co_spawn(io, ConnectTwice(&connection, &outcomes), asio::detached);
    io.run();  // Returns after both attempts, while the first lookup still hangs.
  }
  {
    std::lock_guard<std::mutex> lock(dns->mu);
    dns->released = true;
  }
  dns->changed.notify_all();

  ASSERT_EQ(outcomes.size(), 2u);
  ASSERT_CODE(outcomes[0], Code::kUnavailable);
  EXPECT_NE(outcomes[0].message().find("no answer looking up peer.invalid within 200 ms"),
            std::string::npos)
      << outcomes[0].ToString();
  EXPECT_OK(outcomes[1]);  // A lookup of its own, answered at once.
  std::lock_guard<std::mutex> lock(dns->mu);
  EXPECT_EQ(dns->calls, 2);
}

}  // namespace
}  // namespace dialkv::net
