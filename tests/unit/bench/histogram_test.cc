#include "bench/load/histogram.h"

#include <gtest/gtest.h>

namespace dialkv::bench {
namespace {

TEST(HistogramTest, EmptyHistogramReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(0.99), 0u);
  EXPECT_EQ(h.max_ns(), 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 50u);
  EXPECT_EQ(h.Percentile(0.99), 99u);
  EXPECT_EQ(h.Percentile(1.0), 100u);
  EXPECT_DOUBLE_EQ(h.mean_ns(), 50.5);
}

TEST(HistogramTest, PercentilesOfLargeValuesAreWithinTwoPercent) {
  Histogram h;
  for (uint64_t v = 1; v <= 100'000; ++v) h.Record(v * 1000);  // 1 us .. 100 ms.
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double expected = q * 100'000 * 1000;
    EXPECT_NEAR(static_cast<double>(h.Percentile(q)), expected, expected * 0.02) << q;
  }
  EXPECT_EQ(h.max_ns(), 100'000'000u);
  EXPECT_EQ(h.Percentile(1.0), 100'000'000u);  // Clamped to the exact maximum.
}

TEST(HistogramTest, BucketsAreContiguousAndOrdered) {
  uint64_t previous_upper = 0;
  for (size_t b = 1; b < 2000; ++b) {
    const uint64_t upper = Histogram::BucketUpperBound(b);
    EXPECT_GT(upper, previous_upper);
    EXPECT_EQ(Histogram::BucketOf(upper), b);
    EXPECT_EQ(Histogram::BucketOf(previous_upper + 1), b);
    previous_upper = upper;
  }
}

TEST(HistogramTest, HugeValuesLandInTheTopBucket) {
  Histogram h;
  h.Record(UINT64_MAX);
  h.Record(1);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.max_ns(), UINT64_MAX);
  EXPECT_GT(h.Percentile(1.0), uint64_t{1} << 39);
}

TEST(HistogramTest, MergeAddsCountsAndKeepsTheMaximum) {
  Histogram a, b;
  for (int i = 0; i < 10; ++i) a.Record(10);
  for (int i = 0; i < 10; ++i) b.Record(1000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 20u);
  EXPECT_EQ(a.max_ns(), 1000u);
  EXPECT_EQ(a.Percentile(0.5), 10u);
  EXPECT_NEAR(static_cast<double>(a.Percentile(0.9)), 1000, 16);
  Histogram empty;
  empty.Merge(a);
  EXPECT_EQ(empty.count(), 20u);
}

}  // namespace
}  // namespace dialkv::bench
