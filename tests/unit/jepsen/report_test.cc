#include "jepsen-like/report/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "jepsen-like/report/svg.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

using testing::kNsPerMs;
using testing::MakeHistory;
using testing::R;
using testing::W;

constexpr int64_t kOrigin = 5'000;  // ms: histories need not start at zero.

size_t Count(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A partition from 55 to 95 ms; CP key `cp_key` is read stale (a linearizability violation),
// a CP write fails on the majority side (node 1) and another is indeterminate on the minority
// side (node 3) during the partition; AP is healthy.
RunReport SmallRun(const std::string& cp_key = "k") {
  RunReport run;
  run.info.command_line = "dialkv-jepsen --nodes 3 --workload register --seed 7";
  run.info.workload = "register";
  run.info.nemeses = {"partition-halves"};
  run.info.seed = 7;
  run.info.nodes = 3;
  run.info.duration_s = 0.1;
  run.info.started_at = "2024-05-01T12:00:00Z";
  run.history = MakeHistory({
      W(1, cp_key, "a", kOrigin + 0, kOrigin + 10),
      W(1, cp_key, "b", kOrigin + 20, kOrigin + 30),
      R(2, cp_key, "a", kOrigin + 40, kOrigin + 50),  // "b" was acknowledged before.
      W(3, "k2", "x", kOrigin + 60, kOrigin + 70).Fail(),
      W(4, "k2", "y", kOrigin + 80, kOrigin + 90).Info().OnNode(3),
      W(5, "ap", "v1", kOrigin + 0, kOrigin + 5).Ap(),
      R(6, "ap", "v1", kOrigin + 10, kOrigin + 15).Ap(),
  });
  run.nemesis = {{.name = "partition-halves",
                  .description = "{1,2} | {3}",
                  .start_ns = (kOrigin + 55) * kNsPerMs,
                  .end_ns = (kOrigin + 95) * kNsPerMs,
                  .minority = {{3}}}};
  const std::vector<TimeInterval> faults = {{.start_ns = run.nemesis[0].start_ns,
                                             .end_ns = run.nemesis[0].end_ns,
                                             .minority = run.nemesis[0].minority}};
  Result<CheckReport> checks = CheckRun(run.history, nullptr, faults);
  EXPECT_TRUE(checks.ok()) << checks.status().ToString();
  if (checks.ok()) run.checks = std::move(*checks);
  return run;
}

TEST(ReportTest, ResultsJsonHasRunNemesisChecksAndSummaryFigures) {
  const RunReport run = SmallRun();
  ASSERT_EQ(run.checks.verdict, Verdict::kViolation);

  const std::string text = ResultsJsonText(run);
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << text;
  EXPECT_EQ(j["run"]["seed"], 7);
  EXPECT_EQ(j["run"]["workload"], "register");
  ASSERT_EQ(j["nemesis"].size(), 1u);
  EXPECT_EQ(j["nemesis"][0]["name"], "partition-halves");
  EXPECT_EQ(j["nemesis"][0]["start_ns"], (kOrigin + 55) * kNsPerMs);
  EXPECT_EQ(j["checks"]["verdict"], "violation");
  EXPECT_EQ(j["checks"]["linearizability"]["violations"][0]["key"], "k");

  const auto& s = j["summary"];
  EXPECT_EQ(s["verdict"], "violation");
  EXPECT_EQ(s["operations"], 7);
  EXPECT_DOUBLE_EQ(s["duration_s"].get<double>(), 0.09);
  const auto& cp = s["modes"]["cp"];
  EXPECT_EQ(cp["ok"], 3);
  EXPECT_EQ(cp["fail"], 1);
  EXPECT_EQ(cp["info"], 1);
  EXPECT_DOUBLE_EQ(cp["availability"]["overall"].get<double>(), 0.6);
  EXPECT_DOUBLE_EQ(cp["availability"]["during_faults"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(cp["availability"]["outside_faults"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(cp["availability"]["partition_majority_side"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(cp["availability"]["partition_minority_side"].get<double>(), 0.0);
  EXPECT_EQ(j["checks"]["availability"]["cp"]["partition_minority_side"]["info"], 1);
  EXPECT_EQ(j["checks"]["availability"]["cp"]["partition_majority_side"]["fail"], 1);
  EXPECT_EQ(j["nemesis"][0]["minority"], nlohmann::ordered_json::array({3}));
  EXPECT_NEAR(cp["throughput_ops_s"].get<double>(), 3 / 0.09, 1e-9);
  EXPECT_EQ(cp["latency_ms"]["write"]["count"], 2);
  EXPECT_DOUBLE_EQ(cp["latency_ms"]["write"]["p99"].get<double>(), 10);
  EXPECT_EQ(cp["latency_ms"]["read"]["count"], 1);
  EXPECT_EQ(cp["latency_ms"]["delete"]["count"], 0);
  EXPECT_TRUE(cp["latency_ms"]["delete"]["p50"].is_null());
  const auto& ap = s["modes"]["ap"];
  EXPECT_EQ(ap["ok"], 2);
  EXPECT_EQ(ap["fail"], 0);
  EXPECT_TRUE(ap["availability"]["during_faults"].is_null());  // No AP op during the fault.
  EXPECT_DOUBLE_EQ(ap["latency_ms"]["all"]["max"].get<double>(), 5);
  EXPECT_TRUE(ap["stale_read_rate"].is_null());  // Writes carry no "ts": nothing verifiable.
}

TEST(ReportTest, PageHasEveryChartTheBandAndTheWitness) {
  const RunReport run = SmallRun();
  const std::string html = RenderHtml(run);
  // Latency, throughput, availability, and the witness's timeline.
  EXPECT_EQ(Count(html, "<svg"), 4u);
  EXPECT_EQ(Count(html, "</svg>"), 4u);
  EXPECT_NE(html.find("Latency of every completed operation"), std::string::npos);
  EXPECT_NE(html.find("Throughput"), std::string::npos);
  EXPECT_NE(html.find("Availability"), std::string::npos);
  // The partition, shaded on both time charts and labelled, and in the nemesis table.
  EXPECT_EQ(Count(html, "fill-opacity=\"0.13\""), 2u + 2u);  // Two bands plus two swatches.
  EXPECT_EQ(Count(html, ">1 partition-halves</text>"), 2u);
  EXPECT_NE(html.find("{1,2} | {3}"), std::string::npos);
  // Each side of the partition: the nemesis table names the minority, the availability chart
  // has a row per side (CP only: no AP operation overlapped the partition) and the page says
  // why the throughput of both sides falls.
  EXPECT_NE(html.find("<td>{3}</td>"), std::string::npos);
  EXPECT_NE(html.find(">cp, partitions: majority</text>"), std::string::npos);
  EXPECT_NE(html.find(">cp, partitions: minority</text>"), std::string::npos);
  EXPECT_EQ(html.find(">ap, partitions: majority</text>"), std::string::npos);
  EXPECT_NE(html.find("count the two sides apart"), std::string::npos);
  // The witness, as FormatWitness wrote it (escaped) and on its timeline.
  EXPECT_NE(html.find("cannot be linearized"), std::string::npos);
  EXPECT_NE(html.find("read -&gt; &quot;a&quot;"), std::string::npos);
  EXPECT_NE(html.find("Witness timeline"), std::string::npos);
  // The verdict, and the header's facts.
  EXPECT_NE(html.find(">VIOLATION<"), std::string::npos);
  EXPECT_NE(html.find("dialkv-jepsen --nodes 3 --workload register --seed 7"), std::string::npos);
  EXPECT_EQ(html.find("Sampled"), std::string::npos);
}

TEST(ReportTest, DiskAlarmsAreTheirOwnRowsBandsAndJsonEntries) {
  RunReport run = SmallRun();
  run.disk_alarms = {{.node = 2,
                      .message = "disk full: <0 bytes free>",
                      .start_ns = (kOrigin + 60) * kNsPerMs,
                      .end_ns = (kOrigin + 99) * kNsPerMs,
                      .cleared = true},
                     {.node = 3,
                      .message = "storage error",
                      .start_ns = (kOrigin + 80) * kNsPerMs,
                      .end_ns = (kOrigin + 99) * kNsPerMs,
                      .cleared = false}};
  const nlohmann::ordered_json j = ResultsJson(run);
  ASSERT_EQ(j["nemesis"].size(), 1u) << "alarms are not nemesis events";
  ASSERT_EQ(j["disk_alarms"].size(), 2u);
  EXPECT_EQ(j["disk_alarms"][0]["name"], "disk-alarm");
  EXPECT_EQ(j["disk_alarms"][0]["node"], 2);
  EXPECT_EQ(j["disk_alarms"][0]["description"], "node 2: disk full: <0 bytes free>");
  EXPECT_EQ(j["disk_alarms"][0]["start_ns"], (kOrigin + 60) * kNsPerMs);
  EXPECT_EQ(j["disk_alarms"][0]["cleared"], true);
  EXPECT_EQ(j["disk_alarms"][1]["cleared"], false);

  const std::string html = RenderHtml(run);
  // Numbered after the nemesis event, on both time charts, in the table, in the summary.
  EXPECT_EQ(Count(html, ">2 disk-alarm</text>"), 2u);
  EXPECT_NE(html.find("node 2: disk full: &lt;0 bytes free&gt;"), std::string::npos);
  EXPECT_NE(html.find("still up at the end"), std::string::npos);
  EXPECT_NE(html.find("disk-alarm node 2: 0.1 s to 0.1 s"), std::string::npos);

  EXPECT_EQ(FormatDiskAlarms(run.disk_alarms, kOrigin * kNsPerMs),
            "disk-alarm node 2: 0.1 s to 0.1 s (0.0 s, cleared): disk full: <0 bytes free>\n"
            "disk-alarm node 3: 0.1 s to 0.1 s (0.0 s, still up at the end): storage error\n");
  EXPECT_EQ(FormatDiskAlarms({}, 0), "disk alarms: none\n");
}

TEST(ReportTest, PageIsSelfContained) {
  const std::string html = Lower(RenderHtml(SmallRun()));
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
}

TEST(ReportTest, KeysAndValuesFromTheHistoryAreEscaped) {
  RunReport run = SmallRun("<script>&\"");  // The violating key.
  run.info.command_line = "dialkv-jepsen --x '<b>'";
  Op bad;  // Bytes that are not UTF-8, in a key and a value.
  bad.process = 9;
  bad.type = OpType::kInvoke;
  bad.f = OpFunction::kWrite;
  bad.key = "bad\xff\xfe<i>";
  bad.value = "v\xc3";
  bad.time_ns = (kOrigin + 91) * kNsPerMs;
  bad.mode = Consistency::kAp;
  run.history.push_back(bad);
  bad.type = OpType::kOk;
  bad.time_ns = (kOrigin + 92) * kNsPerMs;
  run.history.push_back(bad);
  run.checks.linearizability.skipped_keys.push_back(bad.key);
  run.checks.linearizability.unknown_keys.push_back(bad.key);

  const std::string html = RenderHtml(run);
  EXPECT_EQ(Lower(html).find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;&amp;&quot;"), std::string::npos);
  EXPECT_NE(html.find("bad\xEF\xBF\xBD\xEF\xBF\xBD&lt;i&gt;"), std::string::npos);
  EXPECT_EQ(html.find('\xff'), std::string::npos);

  // results.json stays valid JSON: invalid bytes are replaced, not thrown on.
  const std::string text = ResultsJsonText(run);
  EXPECT_FALSE(nlohmann::ordered_json::parse(text, nullptr, false).is_discarded());
  EXPECT_NE(text.find("<script>&\\\""), std::string::npos);
}

TEST(ReportTest, EscapeReplacesInvalidUtf8AndCutsAtCharacters) {
  EXPECT_EQ(report::Escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
  EXPECT_EQ(report::Escape("\xe2\x82\xac ok"), "\xe2\x82\xac ok");  // The euro sign.
  EXPECT_EQ(report::Escape("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // Surrogate.
  EXPECT_EQ(report::Escape("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // Overlong '/'.
  EXPECT_EQ(report::Escape(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(report::Escape("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 2),
            "\xe2\x82\xac\xe2\x82\xac\xE2\x80\xA6");
}

TEST(ReportTest, EmptyHistoryRendersAndWrites) {
  RunReport run;
  const std::string html = RenderHtml(run);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 3u);
  EXPECT_NE(html.find("no completed operations"), std::string::npos);
  EXPECT_NE(html.find("No violations."), std::string::npos);

  const nlohmann::ordered_json j = ResultsJson(run);
  EXPECT_EQ(j["summary"]["operations"], 0);
  EXPECT_TRUE(j["summary"]["modes"]["cp"]["throughput_ops_s"].is_null());
  EXPECT_TRUE(j["nemesis"].is_array());

  testutil::TempDir dir;
  ASSERT_OK(WriteReport(dir.path(), run));
  EXPECT_EQ(ReadFile(dir.path() / "report.html"), html);
  const std::string written = ReadFile(dir.path() / "results.json");
  EXPECT_FALSE(nlohmann::ordered_json::parse(written, nullptr, false).is_discarded());
  EXPECT_NE(written.find("\n  \"run\": {"), std::string::npos);  // Indented by two spaces.
}

TEST(ReportTest, MalformedHistoryIsReportedNotCharted) {
  RunReport run;
  Op orphan;  // A completion without an invocation.
  orphan.type = OpType::kOk;
  orphan.key = "k";
  run.history.push_back(orphan);
  const std::string html = RenderHtml(run);
  EXPECT_NE(html.find("The history is malformed"), std::string::npos);
}

TEST(ReportTest, WriteReportNamesTheFileItCannotWrite) {
  testutil::TempDir dir;
  const Status s = WriteReport(dir.path() / "missing", RunReport{});
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("results.json"), std::string::npos) << s.ToString();

  std::filesystem::create_directory(dir.path() / "html-is-a-dir");
  std::filesystem::create_directory(dir.path() / "html-is-a-dir" / "report.html");
  const Status h = WriteReport(dir.path() / "html-is-a-dir", RunReport{});
  EXPECT_EQ(h.code(), Code::kIOError);
  EXPECT_NE(h.message().find("report.html"), std::string::npos) << h.ToString();
}

// 50 processes, 1,000 operations each: CP writes on the process's own key, AP reads and
// writes on shared keys; every 97th operation fails, every 251st is indeterminate.
RunReport BigRun() {
  RunReport run;
  run.info.workload = "mixed";
  std::vector<testing::Spec> specs;
  uint64_t rng = 12345;
  const auto next = [&] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
  };
  int64_t process_id = 0;
  for (int p = 0; p < 50; ++p) {
    int64_t t = static_cast<int64_t>(next() % 5);
    int64_t process = process_id++;
    for (int i = 0; i < 1000; ++i) {
      const int64_t latency = 1 + static_cast<int64_t>(next() % 30);
      const int n = p * 1000 + i;
      const bool ap = n % 3 == 0;
      testing::Spec spec =
          ap && n % 2 == 0
              ? R(process, "ap" + std::to_string(n % 7), std::nullopt, t, t + latency).Ap()
          : ap ? W(process, "ap" + std::to_string(n % 7), "v" + std::to_string(n), t, t + latency)
                     .Ap()
               : W(process, "cp" + std::to_string(p), "v" + std::to_string(n), t, t + latency);
      if (n % 97 == 0) spec = std::move(spec).Fail();
      if (n % 251 == 0) spec = std::move(spec).Info();
      specs.push_back(std::move(spec));
      if (n % 251 == 0) process = process_id++;  // After info, a new process id.
      t += latency + static_cast<int64_t>(next() % 3);
    }
  }
  run.history = MakeHistory(specs);
  run.nemesis = {{"kill", "kill -9 node 2", 3'000 * kNsPerMs, 3'000 * kNsPerMs},
                 {"partition-halves", "{1,2} | {3}", 5'000 * kNsPerMs, 9'000 * kNsPerMs}};
  const std::vector<TimeInterval> faults = {{5'000 * kNsPerMs, 9'000 * kNsPerMs}};
  Result<CheckReport> checks = CheckRun(run.history, nullptr, faults);
  EXPECT_TRUE(checks.ok()) << checks.status().ToString();
  if (checks.ok()) run.checks = std::move(*checks);
  return run;
}

TEST(ReportTest, BigHistoryIsSampledAndStaysSmall) {
  const RunReport run = BigRun();
  ASSERT_EQ(run.checks.operations, 50'000u);
  const std::string html = RenderHtml(run);
  EXPECT_LT(html.size(), 3u << 20) << html.size();
  EXPECT_NE(html.find("Sampled: "), std::string::npos);
  EXPECT_NE(html.find("of 50000 completed operations are drawn"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), 3u);
  // Sampling is deterministic.
  EXPECT_EQ(RenderHtml(run), html);
}

}  // namespace
}  // namespace dialkv::jepsen
