#include "server/net/io_pool.h"

#include <gtest/gtest.h>

#include <asio/post.hpp>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/unit/net/test_client.h"

namespace dialkv::net {
namespace {

using nettest::PollUntil;

TEST(IoContextPoolTest, NextIsRoundRobin) {
  IoContextPool pool(3);
  ASSERT_EQ(pool.size(), 3u);
  EXPECT_EQ(&pool.Next(), &pool.At(0));
  EXPECT_EQ(&pool.Next(), &pool.At(1));
  EXPECT_EQ(&pool.Next(), &pool.At(2));
  EXPECT_EQ(&pool.Next(), &pool.At(0));
}

TEST(IoContextPoolTest, EachContextRunsOnItsOwnThreadUntilStopped) {
  std::mutex mu;
  std::set<std::thread::id> threads;  // Guarded by mu.
  std::atomic<int> ran{0};
  {
    IoContextPool pool(3);
    pool.Start();
    for (size_t i = 0; i < pool.size(); ++i) {
      asio::post(pool.At(i), [&] {
        std::lock_guard<std::mutex> lock(mu);
        threads.insert(std::this_thread::get_id());
        ran.fetch_add(1);
      });
    }
    ASSERT_TRUE(PollUntil([&] { return ran.load() == 3; }));
    pool.Stop();
    pool.Join();
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(IoContextPoolTest, StopRunsHandlersQueuedBeforeIt) {
  std::atomic<int> ran{0};
  IoContextPool pool(1);
  pool.Start();
  for (int i = 0; i < 100; ++i) asio::post(pool.At(0), [&] { ran.fetch_add(1); });
  pool.Stop();
  pool.Join();
  EXPECT_EQ(ran.load(), 100);
}

TEST(IoContextPoolTest, DestructorStopsAndJoinsWithoutStart) {
  IoContextPool pool(2);  // Never started: destruction must not hang.
}

}  // namespace
}  // namespace dialkv::net
