#include "bench/load/staleness.h"

#include <gtest/gtest.h>

#include <string>

namespace dialkv::bench {
namespace {

using Clock = StalenessTracker::Clock;
using std::chrono::milliseconds;

class StalenessTest : public ::testing::Test {
 protected:
  // Writes key 0 from `sent` to `ended` (ms after t0); returns the value it stored.
  std::string Write(int sent, int ended, bool acknowledged = true) {
    std::string value(32, 'x');
    const uint64_t id = tracker_.BeginWrite(&value, t0_ + milliseconds(sent));
    tracker_.EndWrite(id, 0, acknowledged, t0_ + milliseconds(ended));
    return value;
  }

  StalenessTracker tracker_{4};
  const Clock::time_point t0_ = Clock::now();
};

TEST_F(StalenessTest, TagsNameTheirWrite) {
  std::string value(20, 'v');
  std::string other(20, 'v');
  const uint64_t first = tracker_.BeginWrite(&value, Clock::now());
  const uint64_t second = tracker_.BeginWrite(&other, Clock::now());
  EXPECT_NE(first, second);
  EXPECT_EQ(StalenessTracker::TagOf(value), first);
  EXPECT_EQ(StalenessTracker::TagOf(other), second);
  EXPECT_EQ(value.substr(StalenessTracker::kTagBytes), "vvvv");  // The rest is kept.
  EXPECT_EQ(StalenessTracker::TagOf("not a tag at all"), std::nullopt);
  EXPECT_EQ(StalenessTracker::TagOf("0123"), std::nullopt);  // Too short.
}

TEST_F(StalenessTest, AnOlderValueThanOneAcknowledgedBeforeTheReadIsStale) {
  const std::string old_value = Write(0, 1);
  const std::string new_value = Write(2, 3);  // Sent after the old one was acknowledged.
  const StalenessTracker::ReadStart read = tracker_.BeginRead(0);
  EXPECT_TRUE(tracker_.IsStale(read, old_value));
  EXPECT_FALSE(tracker_.IsStale(read, new_value));
  EXPECT_TRUE(tracker_.IsStale(read, std::nullopt));  // Lost: nothing found.
}

TEST_F(StalenessTest, ConcurrentAndUnacknowledgedWritesAreNotStale) {
  const std::string a = Write(0, 5);
  const std::string b = Write(1, 6);  // Overlaps a: last writer wins may order them either way.
  const std::string failed = Write(7, 8, /*acknowledged=*/false);
  const StalenessTracker::ReadStart read = tracker_.BeginRead(0);
  EXPECT_FALSE(tracker_.IsStale(read, a));
  EXPECT_FALSE(tracker_.IsStale(read, b));
  EXPECT_FALSE(tracker_.IsStale(read, failed));  // May have been applied after all.
}

TEST_F(StalenessTest, OnlyWritesAcknowledgedBeforeTheReadBeganCount) {
  const std::string old_value = Write(0, 1);
  const StalenessTracker::ReadStart read = tracker_.BeginRead(0);
  Write(2, 3);  // Acknowledged while the read was in flight.
  EXPECT_FALSE(tracker_.IsStale(read, old_value));
  EXPECT_FALSE(tracker_.IsStale(tracker_.BeginRead(1), std::nullopt));  // Key 1: never written.
}

}  // namespace
}  // namespace dialkv::bench
