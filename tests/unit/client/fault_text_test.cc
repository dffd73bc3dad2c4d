// How `dialkv fault` and `dialkv inspect` print faults and versions (client/cli/fault_text.h).
#include "client/cli/fault_text.h"

#include <gtest/gtest.h>

#include <string>

namespace dialkv::cli {
namespace {

LinkFaults Link(NodeId peer) { return LinkFaults{.peer = peer}; }

TEST(FaultTextTest, CleanNodeHasNoFaults) {
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 1}), "no faults");
  // A link listed without any fault is clean too.
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 1, .links = {Link(2)}}), "no faults");
}

TEST(FaultTextTest, EveryKindOfFaultIsOneClauseNamingItsPeers) {
  FaultState state{.node_id = 1, .seed = 7, .clock_offset_ms = 0};
  LinkFaults to3 = Link(3);
  to3.block_out = to3.block_in = true;
  to3.drop_out = 0.3;
  to3.delay_ms = 50;
  to3.jitter_ms = 20;
  LinkFaults to2 = Link(2);
  to2.drop_out = 0.3;
  to2.delay_ms = 50;
  to2.jitter_ms = 20;
  LinkFaults to4 = Link(4);
  to4.block_out = true;
  to4.drop_in = 0.125;
  LinkFaults to5 = Link(5);
  to5.block_in = true;
  to5.delay_ms = 1000;
  state.links = {to3, to2, to4, to5};  // Not in peer order: the text is.
  EXPECT_EQ(DescribeFaults(state),
            "partitioned from 3 (both ways); blocks messages to 4; blocks messages from 5; "
            "drop 30% of messages to 2,3; drop 12.5% of messages from 4; "
            "delay 50ms+0..20ms to 2,3; delay 1s to 5; seed 7; clock +0ms");
}

TEST(FaultTextTest, SeedIsShownOnlyWhenSomethingIsRandom) {
  LinkFaults blocked = Link(2);
  blocked.block_out = blocked.block_in = true;
  LinkFaults delayed = Link(3);
  delayed.delay_ms = 5;
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 1, .links = {blocked, delayed}, .seed = 9}),
            "partitioned from 2 (both ways); delay 5ms to 3; clock +0ms");
  delayed.jitter_ms = 2000;
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 1, .links = {delayed}, .seed = 9}),
            "delay 5ms+0..2s to 3; seed 9; clock +0ms");
}

TEST(FaultTextTest, ClockOffsetAloneIsAFault) {
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 2, .clock_offset_ms = 2000}), "clock +2s");
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 2, .clock_offset_ms = -500}), "clock -500ms");
}

TEST(FaultTextTest, DiskFaultsSayWhatWritesGet) {
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 2, .disk = DiskFault::kFull}),
            "clock +0ms; disk full (writes fail with ENOSPC)");
  EXPECT_EQ(DescribeFaults(FaultState{.node_id = 2, .disk = DiskFault::kIoError}),
            "clock +0ms; disk failing (writes fail with EIO)");
}

TEST(FaultTextTest, DurationsAndPercentages) {
  EXPECT_EQ(FormatDurationMs(0), "0ms");
  EXPECT_EQ(FormatDurationMs(0, true), "+0ms");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
  EXPECT_EQ(FormatDurationMs(60000), "60s");
  EXPECT_EQ(FormatDurationMs(-3'600'000, true), "-3600s");
  EXPECT_EQ(FormatPercent(0.3), "30%");
  EXPECT_EQ(FormatPercent(1), "100%");
  EXPECT_EQ(FormatPercent(0.001), "0.1%");
  EXPECT_EQ(FormatPercent(1.0 / 3), "33.33%");
}

TEST(FaultTextTest, VersionsShowTheirValueQuotedAndTheirTimestamp) {
  const Timestamp ts{(uint64_t{1732623456789} << 16) | 3, 2};
  EXPECT_EQ(DescribeVersion(LocalVersion{.node_id = 1, .value = "blue", .timestamp = ts}),
            "\"blue\" (at 1732623456789.3 by node 2)");
  EXPECT_EQ(
      DescribeVersion(LocalVersion{.node_id = 1, .value = "", .timestamp = ts, .tombstone = true}),
      "<tombstone> (at 1732623456789.3 by node 2)");
  EXPECT_EQ(DescribeVersion(LocalVersion{
                .node_id = 1, .value = std::string("a\"b\\c\n\0\xff", 8), .timestamp = ts}),
            "\"a\\\"b\\\\c\\x0a\\x00\\xff\" (at 1732623456789.3 by node 2)");
  const std::string long_value(250, 'x');
  EXPECT_EQ(DescribeVersion(LocalVersion{.node_id = 1, .value = long_value, .timestamp = ts}),
            "\"" + std::string(200, 'x') + "...\" (250 bytes) (at 1732623456789.3 by node 2)");
}

}  // namespace
}  // namespace dialkv::cli
