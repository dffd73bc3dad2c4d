// The disk alarm intervals the harness records from its polls
// (jepsen-like/harness/disk_alarms.h).
#include "jepsen-like/harness/disk_alarms.h"

#include <gtest/gtest.h>

namespace dialkv::jepsen {
namespace {

TEST(AlarmIntervalsTest, NothingRaisedGivesNoInterval) {
  AlarmIntervals alarms;
  alarms.Observe(1, 100, false, "");
  alarms.Observe(2, 100, false, "");
  EXPECT_TRUE(alarms.Intervals(1000).empty());
}

TEST(AlarmIntervalsTest, AnIntervalRunsFromTheFirstPollUpToTheFirstPollDown) {
  AlarmIntervals alarms;
  alarms.Observe(2, 100, false, "");
  alarms.Observe(2, 350, true, "disk full: 0 bytes free");
  alarms.Observe(2, 600, true, "a later message");  // The first message is kept.
  alarms.Observe(2, 850, false, "");
  alarms.Observe(2, 1100, false, "");
  const std::vector<DiskAlarmInterval> got = alarms.Intervals(2000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].node, 2u);
  EXPECT_EQ(got[0].message, "disk full: 0 bytes free");
  EXPECT_EQ(got[0].start_ns, 350);
  EXPECT_EQ(got[0].end_ns, 850);
  EXPECT_TRUE(got[0].cleared);
}

TEST(AlarmIntervalsTest, AnAlarmStillUpEndsAtTheLastPollNotCleared) {
  AlarmIntervals alarms;
  alarms.Observe(3, 500, true, "storage error");
  const std::vector<DiskAlarmInterval> got = alarms.Intervals(900);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].start_ns, 500);
  EXPECT_EQ(got[0].end_ns, 900);
  EXPECT_FALSE(got[0].cleared);
  // Asking does not close it: a later poll still can.
  alarms.Observe(3, 1200, false, "");
  ASSERT_EQ(alarms.Intervals(1300).size(), 1u);
  EXPECT_TRUE(alarms.Intervals(1300)[0].cleared);
  EXPECT_EQ(alarms.Intervals(1300)[0].end_ns, 1200);
}

TEST(AlarmIntervalsTest, NodesAreTrackedApartAndListedInStartOrder) {
  AlarmIntervals alarms;
  alarms.Observe(3, 100, true, "three");
  alarms.Observe(1, 200, true, "one, first time");
  alarms.Observe(1, 300, false, "");
  alarms.Observe(1, 400, true, "one, second time");
  alarms.Observe(3, 500, false, "");
  const std::vector<DiskAlarmInterval> got = alarms.Intervals(600);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].node, 3u);
  EXPECT_EQ(got[0].end_ns, 500);
  EXPECT_EQ(got[1].node, 1u);
  EXPECT_EQ(got[1].message, "one, first time");
  EXPECT_EQ(got[1].end_ns, 300);
  EXPECT_EQ(got[2].node, 1u);
  EXPECT_EQ(got[2].message, "one, second time");
  EXPECT_FALSE(got[2].cleared);
}

}  // namespace
}  // namespace dialkv::jepsen
