#include "bench/load/report.h"

#include <gtest/gtest.h>

#include "bench/load/svg_chart.h"

namespace dialkv::bench {
namespace {

RunSummary MakeRun(std::string system, std::string mode, double puts, double p50_ms) {
  RunStats stats;
  const auto n = static_cast<uint64_t>(puts);
  for (uint64_t i = 0; i < n; ++i) {
    stats.Record(OpKind::kPut, Code::kOk, static_cast<uint64_t>(p50_ms * 1e6), i * 2 / n);
  }
  stats.Record(OpKind::kGet, Code::kNotFound, 1'000'000, 0);
  stats.Record(OpKind::kGet, Code::kUnavailable, 5'000'000, 1);
  return Summarize(stats, 2.0, std::move(system), std::move(mode), "variant");
}

TEST(ReportTest, SummarizesOpsLatencyAndErrorsByCode) {
  const RunSummary run = MakeRun("dialkv", "cp", 1000, 2.0);
  ASSERT_EQ(run.ops.size(), 3u);  // put, get, all.
  const OpSummary* put = run.Find("put");
  ASSERT_NE(put, nullptr);
  EXPECT_EQ(put->ops, 1000u);
  EXPECT_DOUBLE_EQ(put->ops_per_s, 500);
  EXPECT_NEAR(put->latency.p50_ms, 2.0, 0.04);
  const OpSummary* get = run.Find("get");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(get->ops, 1u);  // NOT_FOUND is a served read.
  EXPECT_EQ(get->errors, 1u);
  EXPECT_EQ(get->by_code.at("UNAVAILABLE"), 1u);
  ASSERT_EQ(run.timeline.size(), 2u);
  EXPECT_EQ(run.timeline[1].errors, 1u);
  EXPECT_LT(run.timeline[1].success_rate(), 1.0);
}

TEST(ReportTest, JsonRoundTrips) {
  RunSummary run = MakeRun("redis", "ap", 100, 0.5);
  run.faults.push_back({.start_s = 1, .end_s = 2, .label = "node 3 isolated"});
  const Result<RunSummary> back = RunFromJson(ToJson(run));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back).dump(), ToJson(run).dump());
}

TEST(ReportTest, JsonWithoutAFieldIsRefusedByName) {
  nlohmann::ordered_json j = ToJson(MakeRun("etcd", "cp", 10, 1));
  j.erase("mode");
  const Result<RunSummary> back = RunFromJson(j);
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("mode"), std::string::npos);
}

TEST(ReportTest, ComparisonTableTakesTheMedianOfRepeatedRuns) {
  const std::vector<RunSummary> runs = {
      MakeRun("dialkv", "cp", 100, 1), MakeRun("dialkv", "cp", 300, 3),
      MakeRun("dialkv", "cp", 200, 2), MakeRun("redis", "ap", 50, 1)};
  const std::string table = ComparisonTable(runs);
  EXPECT_NE(table.find("| dialkv | cp | variant | put | 100 | 2.000 |"), std::string::npos)
      << table;
  EXPECT_NE(table.find("| 3 |"), std::string::npos);
  EXPECT_NE(table.find("| redis | ap | variant | put | 25 |"), std::string::npos) << table;
  EXPECT_EQ(table.find("| all |"), std::string::npos);
  EXPECT_DOUBLE_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(Median({}), 0);
}

TEST(ReportTest, CostRatioComparesModesOfOneSystem) {
  const std::vector<RunSummary> runs = {MakeRun("dialkv", "cp", 100, 2),
                                        MakeRun("dialkv", "ap", 300, 0.5)};
  const std::string text = CostRatioText(runs);
  EXPECT_NE(text.find("dialkv put: AP serves 3.0x the puts per second of CP"), std::string::npos)
      << text;
  EXPECT_NE(text.find("4.0x as long"), std::string::npos) << text;
  EXPECT_NE(FormatRunTable(runs).find("ap     put"), std::string::npos) << FormatRunTable(runs);
}

TEST(ReportTest, ChartsAreSelfContainedSvg) {
  RunSummary cp = MakeRun("dialkv", "cp", 100, 2);
  cp.faults.push_back({.start_s = 0.5, .end_s = 1.5, .label = "<node 3> isolated"});
  const std::vector<RunSummary> runs = {cp, MakeRun("dialkv", "ap", 300, 0.5)};
  for (const std::string& svg : {ThroughputChart(runs, "t"), TimelineChart(runs, "t")}) {
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
    EXPECT_NE(svg.find("</svg>"), std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_EQ(svg.find("href"), std::string::npos);
  }
  EXPECT_NE(TimelineChart(runs, "t").find("&lt;node 3&gt; isolated"), std::string::npos);
  EXPECT_NE(TimelineChart(runs, "t").find("fill-opacity"), std::string::npos);
}

TEST(ReportTest, FootprintSamplesParseAndChartWithTheirLimit) {
  const std::vector<FootprintSample> samples = ReadFootprintCsv(
      "t_s,node,disk_mb,wal_mb,sst_mb,rss_mb,ops_s,p99_ms,load1\n"
      "0,1,0.1,0.0,0.0,26.1,,,4.40\n"
      "15,1,4.9,1.5,3.3,48.3,2937,25.166,5.63\n"
      "not a row\n"
      "15,2,5.0,1.6,3.3,48.8,2937,25.166,5.63\n");
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].p99_ms, -1);  // No load yet.
  EXPECT_EQ(samples[1].t_s, 15);
  EXPECT_EQ(samples[1].disk_mb, 4.9);
  EXPECT_EQ(samples[1].rss_mb, 48.3);
  EXPECT_EQ(samples[1].p99_ms, 25.166);
  EXPECT_EQ(samples[2].node, 2);
  const std::string svg = FootprintChart(samples, 33.9, "<footprint>");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("&lt;footprint&gt;"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);  // The limit.
  EXPECT_NE(svg.find("node 2"), std::string::npos);
  EXPECT_EQ(FootprintChart(samples, 0, "t").find("stroke-dasharray"), std::string::npos);
}

}  // namespace
}  // namespace dialkv::bench
