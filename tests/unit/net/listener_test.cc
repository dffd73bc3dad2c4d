#include "server/net/listener.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <utility>

#include "server/common/log_limiter.h"
#include "server/net/io_pool.h"
#include "tests/testutil/status_matchers.h"
#include "tests/unit/net/test_client.h"

namespace dialkv::net::internal {
namespace {

using nettest::Loopback;
using nettest::PollUntil;
using nettest::TestClient;
using ::testing::HasSubstr;

class ListenerTest : public ::testing::Test {
 protected:
  ListenerTest() { pool_.Start(); }
  // The hooks point at the counters: no handler may run once they are gone.
  ~ListenerTest() override {
    pool_.Stop();
    pool_.Join();
  }

  // A listener on a free port of 127.0.0.1 whose hooks count their calls; it closes every
  // socket it accepts.
  Result<std::shared_ptr<Listener>> Open(const ListenAddress& address = Loopback()) {
    Listener::Hooks hooks;
    hooks.accept = [this](asio::ip::tcp::socket socket) {
      asio::error_code ignored;
      socket.close(ignored);
      ++accepted_;
    };
    hooks.stop = [this] { ++stops_; };
    return Listener::Open(pool_, address, "test clients",
                          std::make_shared<LogLimiter>(std::chrono::milliseconds(1000)),
                          std::move(hooks));
  }

  // Whether a new connection to `endpoint` is refused.
  static bool Refused(const asio::ip::tcp::endpoint& endpoint) {
    TestClient client;
    return !client.Connect(endpoint).ok();
  }

  IoContextPool pool_{2};
  std::atomic<int> accepted_{0};
  std::atomic<int> stops_{0};
};

TEST(WatchdogPeriodTest, AQuarterOfTheShortestEnabledTimeoutWithinItsBounds) {
  using std::chrono::milliseconds;
  EXPECT_EQ(WatchdogPeriod({30'000, 0, 400}), milliseconds(100));  // 0: that one is off.
  EXPECT_EQ(WatchdogPeriod({0, 0}), milliseconds(60'000));         // None on: once a minute.
  EXPECT_EQ(WatchdogPeriod({600'000}), milliseconds(60'000));
  EXPECT_EQ(WatchdogPeriod({2}), milliseconds(1));  // Never below 1 ms.
}

TEST_F(ListenerTest, HandsEveryAcceptedSocketToTheAcceptHook) {
  Result<std::shared_ptr<Listener>> listener = Open();
  ASSERT_OK(listener);
  EXPECT_NE((*listener)->local_endpoint().port(), 0);
  (*listener)->Start();
  (*listener)->Start();  // Does nothing: one accept loop.
  TestClient first;
  TestClient second;
  ASSERT_OK(first.Connect((*listener)->local_endpoint()));
  ASSERT_OK(second.Connect((*listener)->local_endpoint()));
  EXPECT_TRUE(PollUntil([&] { return accepted_ == 2; })) << accepted_.load();
  (*listener)->Stop();
}

TEST_F(ListenerTest, StopClosesTheListeningSocketAndRunsTheStopHookOnce) {
  Result<std::shared_ptr<Listener>> listener = Open();
  ASSERT_OK(listener);
  (*listener)->Start();
  const asio::ip::tcp::endpoint endpoint = (*listener)->local_endpoint();
  (*listener)->Stop();
  (*listener)->Stop();
  EXPECT_EQ(stops_.load(), 1);
  EXPECT_TRUE(PollUntil([&] { return Refused(endpoint); }));
}

TEST_F(ListenerTest, StartAfterStopAcceptsNothing) {
  Result<std::shared_ptr<Listener>> listener = Open();
  ASSERT_OK(listener);
  const asio::ip::tcp::endpoint endpoint = (*listener)->local_endpoint();
  (*listener)->Stop();
  (*listener)->Start();
  EXPECT_TRUE(PollUntil([&] { return Refused(endpoint); }));
  EXPECT_EQ(accepted_.load(), 0);
  EXPECT_EQ(stops_.load(), 1);
}

TEST_F(ListenerTest, OpenOnAPortInUseFailsNamingTheAddress) {
  Result<std::shared_ptr<Listener>> first = Open();
  ASSERT_OK(first);
  Result<std::shared_ptr<Listener>> second = Open(Loopback((*first)->local_endpoint().port()));
  ASSERT_CODE(second, Code::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("cannot listen on 127.0.0.1:"));
  EXPECT_EQ(stops_.load(), 0);
}

}  // namespace
}  // namespace dialkv::net::internal
