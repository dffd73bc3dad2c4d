#include "server/net/frame_connection.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace dialkv::net
