// The .hgrm writer (bench/load/hgrm.h) against HdrHistogram's outputPercentileDistribution
// format, line by line.
#include "bench/load/hgrm.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace dialkv::bench {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

constexpr const char* kHeader = "       Value     Percentile TotalCount 1/(1-Percentile)";

TEST(HgrmTest, OneValueGivesTheZeroAndHundredPercentRowsAndTheFooter) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.Record(1'000'000);  // 1 ms.
  const uint64_t upper = Histogram::BucketUpperBound(Histogram::BucketOf(1'000'000));
  ASSERT_EQ(upper, 1'007'615u);  // 1 ms falls in [999,424, 1,007,615] ns: middle 1,003,520.
  const std::vector<std::string> lines = Lines(PercentileDistribution(h));
  const std::vector<std::string> want = {
      kHeader,
      "",
      "       1.008 0.000000000000         10           1.00",
      "       1.008 1.000000000000         10",
      "#[Mean    =        1.004, StdDeviation   =        0.000]",
      "#[Max     =        1.008, Total count    =           10]",
      "#[Buckets =           34, SubBuckets     =          128]",
  };
  EXPECT_EQ(lines, want);
}

TEST(HgrmTest, EmptyHistogramHasHeaderAndZeroFooter) {
  const std::vector<std::string> lines = Lines(PercentileDistribution(Histogram{}));
  const std::vector<std::string> want = {
      kHeader,
      "",
      "#[Mean    =        0.000, StdDeviation   =        0.000]",
      "#[Max     =        0.000, Total count    =            0]",
      "#[Buckets =           34, SubBuckets     =          128]",
  };
  EXPECT_EQ(lines, want);
}

TEST(HgrmTest, RowsFollowHdrHistogramsPercentileTicksAndColumnWidths) {
  Histogram h;
  for (uint64_t us = 1; us <= 10'000; ++us) h.Record(us * 1000);  // 1 us .. 10 ms.
  const std::vector<std::string> lines = Lines(PercentileDistribution(h));
  ASSERT_GT(lines.size(), 10u);
  EXPECT_EQ(lines[0], kHeader);
  EXPECT_EQ(lines[1], "");
  // %12.3f %2.12f %10d %14.2f, and the last row without the fourth column.
  // (Each field after the first: one separating space, then its padding.)
  const std::regex row(R"( {0,11}\d+\.\d{3} \d\.\d{12} {1,10}\d+ {1,14}\d+\.\d{2})");
  const std::regex last(R"( {0,11}\d+\.\d{3} 1\.000000000000 {1,10}\d+)");
  const size_t footer = lines.size() - 3;
  std::vector<double> levels;
  uint64_t previous_count = 0;
  double previous_value = 0;
  for (size_t i = 2; i < footer; ++i) {
    const std::string& l = lines[i];
    ASSERT_TRUE(std::regex_match(l, i + 1 == footer ? last : row)) << i << ": '" << l << "'";
    EXPECT_EQ(l.size(), i + 1 == footer ? 12 + 1 + 14 + 1 + 10 : 12 + 1 + 14 + 1 + 10 + 1 + 14)
        << l;
    EXPECT_EQ(l.substr(12, 1), " ");
    EXPECT_EQ(l.substr(27, 1), " ");
    std::istringstream fields(l);
    double value = 0;
    double percentile = 0;
    uint64_t count = 0;
    fields >> value >> percentile >> count;
    EXPECT_GE(value, previous_value) << l;
    EXPECT_GE(count, previous_count) << l;
    // Each row's count reaches its percentile.
    EXPECT_GE(static_cast<double>(count), percentile * 10'000 - 1e-6) << l;
    if (i + 1 < footer) {
      double inverse = 0;
      fields >> inverse;
      EXPECT_NEAR(inverse, 1 / (1 - percentile), 0.006) << l;
    }
    levels.push_back(percentile);
    previous_value = value;
    previous_count = count;
  }
  // 5 ticks per half distance: tenths to 50%, then twentieths to 75%, fortieths to 87.5%, ...
  const std::vector<double> want = {0,      0.1, 0.2,    0.3,   0.4,    0.5,    0.55, 0.6,
                                    0.65,   0.7, 0.75,   0.775, 0.8,    0.825,  0.85, 0.875,
                                    0.8875, 0.9, 0.9125, 0.925, 0.9375, 0.94375};
  ASSERT_GE(levels.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(levels[i], want[i], 1e-12) << i;
  EXPECT_EQ(levels.back(), 1.0);
  EXPECT_EQ(previous_count, 10'000u);
  EXPECT_EQ(lines[footer].rfind("#[Mean    = ", 0), 0u);
  EXPECT_NE(lines[footer].find(", StdDeviation   = "), std::string::npos);
  EXPECT_EQ(lines[footer + 1].rfind("#[Max     = ", 0), 0u);
  EXPECT_NE(lines[footer + 1].find("Total count    =        10000]"), std::string::npos);
  EXPECT_EQ(lines[footer + 2], "#[Buckets =           34, SubBuckets     =          128]");
  // The mean of 1..10,000 us is 5.0005 ms; bucket middles keep it within 1%.
  std::istringstream mean_field(lines[footer].substr(12));
  double mean = 0;
  mean_field >> mean;
  EXPECT_NEAR(mean, 5.0005, 0.05);
}

}  // namespace
}  // namespace dialkv::bench
