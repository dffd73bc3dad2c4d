#include "bench/load/report.h"

#include <gtest/gtest.h>

#include <fstream>

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
  EXPECT_NE(FormatRunTable(runs).find("ap                put"), std::string::npos)
      << FormatRunTable(runs);
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

// A run of `seconds` seconds with a fault over [fault_start, fault_end): clients of the
// majority serve `ok` operations a second throughout; those of the isolated node serve `ok`
// outside the fault and get `ok` UNAVAILABLE errors a second during it.
RunSummary PartitionRun(const std::string& mode, int seconds, int fault_start, int fault_end,
                        int ok) {
  RunStats stats;
  for (int s = 0; s < seconds; ++s) {
    const bool faulted = s >= fault_start && s < fault_end;
    for (int i = 0; i < ok; ++i) {
      stats.Record(OpKind::kPut, Code::kOk, 1'000'000, s, Side::kMajority);
      stats.Record(OpKind::kPut, faulted ? Code::kUnavailable : Code::kOk, 1'000'000, s,
                   Side::kIsolated);
      stats.RecordCheckedRead(/*stale=*/faulted && i % 4 == 0, s, Side::kMajority);
    }
  }
  RunSummary run = Summarize(stats, seconds, "dialkv", mode, "variant");
  run.faults.push_back({.start_s = static_cast<double>(fault_start),
                        .end_s = static_cast<double>(fault_end),
                        .label = "node 3 isolated"});
  return run;
}

TEST(ReportTest, SidesErrorsByCodeAndStaleReadsAreKeptPerSecond) {
  const RunSummary run = PartitionRun("cp", 6, 2, 4, 10);
  ASSERT_EQ(run.sides.size(), 2u);
  const SideSummary* isolated = run.FindSide("isolated");
  ASSERT_NE(isolated, nullptr);
  ASSERT_EQ(isolated->timeline.size(), 6u);
  EXPECT_EQ(isolated->timeline[2].successes, 0u);
  EXPECT_EQ(isolated->timeline[2].errors_by_code.at("UNAVAILABLE"), 10u);
  EXPECT_EQ(isolated->timeline[1].successes, 10u);
  EXPECT_EQ(run.FindSide("majority")->timeline[2].successes, 10u);
  EXPECT_EQ(run.timeline[2].errors_by_code.at("UNAVAILABLE"), 10u);
  EXPECT_EQ(run.timeline[2].checked_reads, 10u);
  EXPECT_EQ(run.timeline[2].stale_reads, 3u);

  const WindowTotals during = Totals(isolated->timeline, 2, 4);
  EXPECT_EQ(during.seconds, 2u);
  EXPECT_EQ(during.errors_by_code.at("UNAVAILABLE"), 20u);
  EXPECT_DOUBLE_EQ(during.success_rate(), 0);
  EXPECT_DOUBLE_EQ(Totals(run.timeline, 2, 4).stale_rate(), 0.3);

  // Sides, codes and staleness survive the JSON; a file without them still loads.
  Result<RunSummary> back = RunFromJson(ToJson(run));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_NE(back->FindSide("isolated"), nullptr);
  EXPECT_EQ(back->FindSide("isolated")->timeline[3].errors_by_code.at("UNAVAILABLE"), 10u);
  EXPECT_EQ(back->timeline[2].stale_reads, 3u);
  nlohmann::json old = ToJson(run);
  old.erase("sides");
  old.erase("failover");
  ASSERT_TRUE(RunFromJson(old).ok());
}

TEST(ReportTest, RecoveryIsTheFirstWholeSecondAfterHealingBackAtThroughput) {
  RunSummary run = PartitionRun("cp", 10, 3, 6, 100);
  // The whole run at 200/s but the fault (100/s: only the majority serves) and the first
  // second after it.
  run.timeline[6].successes = 150;
  ASSERT_TRUE(RecoverySeconds(run).has_value());
  EXPECT_DOUBLE_EQ(*RecoverySeconds(run), 2);  // Second 8 (7..8 s) is back; healed at 6 s.
  for (size_t s = 6; s < run.timeline.size(); ++s) run.timeline[s].successes = 10;
  EXPECT_FALSE(RecoverySeconds(run).has_value());
  run.faults.clear();
  EXPECT_FALSE(RecoverySeconds(run).has_value());
}

TEST(ReportTest, PartitionTextSaysWhatEachSideGot) {
  const std::vector<RunSummary> runs = {PartitionRun("cp", 8, 2, 5, 10)};
  const std::string text = PartitionText(runs);
  EXPECT_NE(text.find("clients of the isolated node: 0 ok, UNAVAILABLE 30 (0.0% served)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("clients of the majority: 30 ok (100.0% served)"), std::string::npos) << text;
  EXPECT_NE(text.find("stale reads: 9 of 30 during the fault (30.0%), 0 of 30 after it"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("within 1.0 s of healing"), std::string::npos) << text;
}

// The run recorded beside the benchmark README (bench/compare/partition.json): its chart must
// show, without the JSON, what the scenario exists to show.
TEST(ReportTest, PartitionChartOfTheRecordedRunShowsTheTrade) {
  std::ifstream in(DIALKV_PARTITION_RESULT);
  ASSERT_TRUE(in) << DIALKV_PARTITION_RESULT;
  const nlohmann::json recorded = nlohmann::json::parse(in);
  std::vector<RunSummary> runs;
  for (const nlohmann::json& r : recorded.at("runs")) {
    Result<RunSummary> run = RunFromJson(r);
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    runs.push_back(std::move(run).value());
  }
  const std::string svg = TimelineChart(runs, "partition");
  const auto has = [&svg](const std::string& series) {
    return svg.find("data-series=\"" + series + "\"") != std::string::npos;
  };
  bool cp_minority_refused = false, ap_stale = false;
  for (const RunSummary& run : runs) {
    const std::string label = RunLabel(run);
    SCOPED_TRACE(label);
    ASSERT_EQ(run.faults.size(), 1u);
    const FaultInterval& fault = run.faults.front();
    // Throughput per second of each side, success rate, p99, and the fault shaded.
    EXPECT_TRUE(has(label + "|ops/s|isolated"));
    EXPECT_TRUE(has(label + "|ops/s|majority"));
    EXPECT_TRUE(has(label + "|success%|isolated"));
    EXPECT_TRUE(has(label + "|p99|all"));
    EXPECT_TRUE(has(label + "|stale%|all"));
    const SideSummary* isolated = run.FindSide("isolated");
    ASSERT_NE(isolated, nullptr);
    const WindowTotals during = Totals(isolated->timeline, fault.start_s, fault.end_s);
    const WindowTotals before = Totals(isolated->timeline, 0, fault.start_s);
    if (run.mode == "cp" && !run.failover) {
      // The isolated node's CP clients fail during the fault, not before it, and the chart
      // draws their errors.
      EXPECT_LT(during.success_rate(), 0.1);
      EXPECT_GT(before.success_rate(), 0.99);
      EXPECT_TRUE(has(label + "|errors/s|UNAVAILABLE"));
      cp_minority_refused = true;
    }
    if (run.mode == "ap") {
      // AP serves the clients of both sides throughout, at a cost in stale reads.
      EXPECT_GT(during.success_rate(), 0.99);
      EXPECT_GT(
          Totals(run.FindSide("majority")->timeline, fault.start_s, fault.end_s).success_rate(),
          0.99);
      ap_stale |= Totals(run.timeline, fault.start_s, fault.end_s).stale_reads > 0;
    }
    if (run.mode == "cp") {
      EXPECT_EQ(Totals(run.timeline, 0, 1e9).stale_reads, 0u);  // Linearizable reads.
    }
  }
  EXPECT_TRUE(cp_minority_refused);
  EXPECT_TRUE(ap_stale);
  EXPECT_NE(svg.find("fill-opacity=\"0.08\""), std::string::npos);  // The fault's shading.
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
