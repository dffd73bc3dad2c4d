#include "server/common/metrics.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace dialkv::metrics {
namespace {

TEST(MetricsTest, CounterWithLabelsIsExposedWithHelpAndType) {
  Registry registry;
  CounterFamily& requests =
      registry.AddCounter("dialkv_requests_total", "Requests served.", {"op", "status"});
  requests.WithLabels({"put", "OK"}).Inc(2);
  requests.WithLabels({"get", "NOT_FOUND"}).Inc();
  EXPECT_EQ(registry.Expose(),
            "# HELP dialkv_requests_total Requests served.\n"
            "# TYPE dialkv_requests_total counter\n"
            "dialkv_requests_total{op=\"get\",status=\"NOT_FOUND\"} 1\n"
            "dialkv_requests_total{op=\"put\",status=\"OK\"} 2\n");
}

TEST(MetricsTest, FamiliesAreExposedSortedByName) {
  Registry registry;
  registry.AddGauge("zeta", "Last.").Get().Set(1);
  registry.AddCounter("alpha_total", "First.").Get().Inc();
  const std::string text = registry.Expose();
  EXPECT_LT(text.find("alpha_total 1"), text.find("zeta 1")) << text;
}

TEST(MetricsTest, WithLabelsReturnsTheSameSeriesEachTime) {
  Registry registry;
  CounterFamily& family = registry.AddCounter("c_total", "C.", {"k"});
  Counter& a = family.WithLabels({"x"});
  Counter& b = family.WithLabels(std::vector<std::string>{"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &family.WithLabels({"y"}));
}

TEST(MetricsTest, RegisteringTheSameFamilyTwiceReturnsTheFirst) {
  Registry registry;
  CounterFamily& first = registry.AddCounter("c_total", "C.", {"k"});
  CounterFamily& second = registry.AddCounter("c_total", "C.", {"k"});
  EXPECT_EQ(&first, &second);
}

TEST(MetricsTest, GaugeGoesUpAndDownAndPrintsFractions) {
  Registry registry;
  Gauge& g = registry.AddGauge("queue_depth", "Depth.").Get();
  g.Set(5);
  g.Add(-2);
  g.Add(0.5);
  EXPECT_DOUBLE_EQ(g.Value(), 3.5);
  EXPECT_NE(registry.Expose().find("\nqueue_depth 3.5\n"), std::string::npos);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  HistogramFamily& family =
      registry.AddHistogram("latency_seconds", "Latency.", {"op"}, {0.25, 0.5, 1});
  Histogram& h = family.WithLabels({"get"});
  h.Observe(0.125);
  h.Observe(0.25);  // On a bound: counted in that bucket ("le").
  h.Observe(0.75);
  h.Observe(3);
  EXPECT_EQ(registry.Expose(),
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{op=\"get\",le=\"0.25\"} 2\n"
            "latency_seconds_bucket{op=\"get\",le=\"0.5\"} 2\n"
            "latency_seconds_bucket{op=\"get\",le=\"1\"} 3\n"
            "latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n"
            "latency_seconds_sum{op=\"get\"} 4.125\n"
            "latency_seconds_count{op=\"get\"} 4\n");
}

TEST(MetricsTest, HistogramWithoutLabelsHasOnlyLe) {
  Registry registry;
  registry.AddHistogram("h", "H.", {}, {1}).Get().Observe(2);
  const std::string text = registry.Expose();
  EXPECT_NE(text.find("h_bucket{le=\"1\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, DefaultLatencyBucketsPrintAsPlainDecimals) {
  Registry registry;
  registry.AddHistogram("d", "D.", {}, DefaultLatencyBucketsSeconds()).Get();
  const std::string text = registry.Expose();
  EXPECT_NE(text.find("le=\"0.0001\""), std::string::npos) << text;
  EXPECT_NE(text.find("le=\"2.5\""), std::string::npos) << text;
  EXPECT_NE(text.find("le=\"10\""), std::string::npos) << text;
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  registry.AddCounter("c_total", "Line one\nback\\slash", {"path"})
      .WithLabels({"a\"b\\c\nd"})
      .Inc();
  const std::string text = registry.Expose();
  EXPECT_NE(text.find("# HELP c_total Line one\\nback\\\\slash\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, SpecialValuesUseTheTextFormatSpelling) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(FormatValue(2), "2");
  EXPECT_EQ(FormatValue(-0.25), "-0.25");
}

TEST(MetricsTest, GaugeFuncIsSampledAtExpositionUntilItsHandleGoes) {
  Registry registry;
  int calls = 0;
  {
    GaugeFuncHandle handle = registry.AddGaugeFunc("keys", "Keys.", [&calls] {
      ++calls;
      return 42.0;
    });
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(registry.Expose(), "# HELP keys Keys.\n# TYPE keys gauge\nkeys 42\n");
    EXPECT_EQ(calls, 1);
    GaugeFuncHandle moved = std::move(handle);
    EXPECT_NE(registry.Expose().find("keys 42"), std::string::npos);
  }
  EXPECT_EQ(registry.Expose(), "");
  // The name is free again once the handle is gone.
  GaugeFuncHandle again = registry.AddGaugeFunc("keys", "Keys.", [] { return 1.0; });
  EXPECT_NE(registry.Expose().find("keys 1"), std::string::npos);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  Counter& c = registry.AddCounter("c_total", "C.").Get();
  Histogram& h = registry.AddHistogram("h", "H.", {}, {1}).Get();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        c.Inc();
        h.Observe(0.5);
      }
    });
  }
  // Exposition while updates run must not block them or crash.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(registry.Expose().empty());
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), uint64_t{kThreads} * kPerThread);
  const Histogram::Snapshot snap = h.Snap();
  EXPECT_EQ(snap.cumulative.back(), uint64_t{kThreads} * kPerThread);
  EXPECT_DOUBLE_EQ(snap.sum, 0.5 * kThreads * kPerThread);
}

TEST(MetricsDeathTest, InvalidNamesAreProgrammingErrors) {
  Registry registry;
  EXPECT_DEATH(registry.AddCounter("1bad", "x"), "check failed");
  EXPECT_DEATH(registry.AddCounter("ok_total", "x", {"bad-label"}), "check failed");
  EXPECT_DEATH(registry.AddHistogram("h", "x", {"le"}, {1}), "check failed");
  EXPECT_DEATH(registry.AddHistogram("h", "x", {}, {2, 1}), "check failed");
}

}  // namespace
}  // namespace dialkv::metrics
