#include "jepsen-like/check/history.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "jepsen-like/check/final_state.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

using testing::MakeHistory;
using testing::R;
using testing::W;

std::vector<Op> SampleHistory() {
  std::vector<Op> h = MakeHistory({
      W(1, "k1", "v1", 0, 10).Ts(123456789, 2),
      R(2, "k1", "v1", 5, 15).Ap().OnNode(3),
      W(3, "k2", "v2", 20, 30).Fail(),
      R(4, "k2", std::nullopt, 21, 31),
      W(5, "k1", "v\"3\"\n", 40, 50).Info(),
      testing::D(6, "k2", 60, 70).Ts(987654321, 1),
      R(7, "k1", std::nullopt, 80, 0).Pending(),
  });
  return h;
}

std::string Line(const Op& op) {
  Result<std::string> line = FormatOp(op);
  EXPECT_TRUE(line.ok()) << line.status().ToString();
  return line.ok() ? *line : "";
}

TEST(HistoryTest, FormatsFieldsInTheDocumentedOrder) {
  Op op;
  op.process = 3;
  op.type = OpType::kOk;
  op.f = OpFunction::kWrite;
  op.key = "k1";
  op.value = "v17";
  op.time_ns = 1800123;
  op.mode = Consistency::kAp;
  op.node = 2;
  op.ts = Timestamp{42, 2};
  EXPECT_EQ(Line(op),
            R"({"process":3,"type":"ok","f":"write","key":"k1","value":"v17","time":1800123,)"
            R"("mode":"ap","node":2,"ts":{"hlc":42,"node":2}})");
  op.f = OpFunction::kRead;
  op.type = OpType::kFail;
  op.value.reset();
  op.ts.reset();
  op.error = "UNAVAILABLE: no quorum";
  EXPECT_EQ(Line(op),
            R"({"process":3,"type":"fail","f":"read","key":"k1","value":null,"time":1800123,)"
            R"("mode":"ap","node":2,"error":"UNAVAILABLE: no quorum"})");
}

TEST(HistoryTest, RoundTripsThroughAStream) {
  const std::vector<Op> h = SampleHistory();
  std::stringstream text;
  ASSERT_OK(WriteHistory(text, h));
  Result<std::vector<Op>> back = ReadHistory(text);
  ASSERT_OK(back);
  EXPECT_EQ(*back, h);
}

TEST(HistoryTest, RoundTripsThroughAFileAndTheAppendingWriter) {
  testutil::TempDir dir;
  const std::vector<Op> h = SampleHistory();
  ASSERT_OK(WriteHistoryFile(dir.path() / "a.jsonl", h));
  Result<std::vector<Op>> a = ReadHistoryFile(dir.path() / "a.jsonl");
  ASSERT_OK(a);
  EXPECT_EQ(*a, h);

  Result<std::unique_ptr<HistoryWriter>> writer = HistoryWriter::Open(dir.path() / "b.jsonl");
  ASSERT_OK(writer);
  for (const Op& op : h) ASSERT_OK((*writer)->Append(op));
  EXPECT_EQ((*writer)->lines_written(), h.size());
  // Lines are flushed as they are appended: readable before Close.
  Result<std::vector<Op>> b = ReadHistoryFile(dir.path() / "b.jsonl");
  ASSERT_OK(b);
  EXPECT_EQ(*b, h);
  ASSERT_OK((*writer)->Close());
  ASSERT_OK((*writer)->Close());
  ASSERT_CODE((*writer)->Append(h[0]), Code::kIOError);
}

TEST(HistoryTest, ReadingSkipsBlankLinesAndIgnoresUnknownFields) {
  std::istringstream in(
      "\n"
      R"({"process":1,"type":"invoke","f":"read","key":"k","time":5,"mode":"cp","node":1,)"
      R"("extra":[1,2]})"
      "\n   \n"
      R"({"process":1,"type":"ok","f":"read","key":"k","value":"x","time":9,"mode":"cp",)"
      R"("node":1,"error":null})"
      "\n");
  Result<std::vector<Op>> ops = ReadHistory(in);
  ASSERT_OK(ops);
  ASSERT_EQ(ops->size(), 2u);
  EXPECT_FALSE((*ops)[0].value.has_value());  // Absent "value" reads as null.
  EXPECT_EQ((*ops)[1].value, "x");
  EXPECT_FALSE((*ops)[1].error.has_value());
}

// Each malformed line, and the reason its error must name.
struct Malformed {
  std::string line;
  std::string reason;
};

TEST(HistoryTest, MalformedLinesAreReportedWithTheirLineNumberAndReason) {
  const std::string good =
      R"({"process":1,"type":"invoke","f":"read","key":"k","time":5,"mode":"cp","node":1})";
  const std::vector<Malformed> cases = {
      {R"({"process":1,"type":"invoke")", "parse error"},
      {"[1,2]", "must be a JSON object"},
      {R"({"type":"invoke","f":"read","key":"k","time":5,"mode":"cp","node":1})",
       "missing field \"process\""},
      {R"({"process":1,"type":"begin","f":"read","key":"k","time":5,"mode":"cp","node":1})",
       "\"type\" must be one of invoke, ok, fail, info"},
      {R"({"process":1,"type":"invoke","f":"cas","key":"k","time":5,"mode":"cp","node":1})",
       "\"f\" must be one of read, write, delete"},
      {R"({"process":1,"type":"invoke","f":"read","key":"k","time":5,"mode":"xx","node":1})",
       "\"mode\" must be cp or ap"},
      {R"({"process":1,"type":"invoke","f":"read","key":"k","time":5.5,"mode":"cp","node":1})",
       "\"time\" must be an integer"},
      {R"({"process":1,"type":"invoke","f":"read","key":7,"time":5,"mode":"cp","node":1})",
       "\"key\" must be a string"},
      {R"({"process":1,"type":"invoke","f":"read","key":"k","time":5,"mode":"cp","node":-1})",
       "\"node\" must not be negative"},
      {R"({"process":1,"type":"invoke","f":"read","key":"k","time":5,"mode":"cp","node":1,)"
       R"("value":3})",
       "\"value\" must be a string or null"},
      {R"({"process":1,"type":"ok","f":"write","key":"k","time":5,"mode":"cp","node":1,)"
       R"("value":"v","ts":{"hlc":1}})",
       "in \"ts\": missing field \"node\""},
      {R"({"process":1,"type":"invoke","f":"read","key":"k","time":5,"mode":"cp","node":1,)"
       R"("time":18446744073709551615})",
       "out of range"},
  };
  for (const Malformed& c : cases) {
    std::istringstream in(good + "\n\n" + good + "\n" + c.line + "\n" + good + "\n");
    Result<std::vector<Op>> ops = ReadHistory(in);
    ASSERT_FALSE(ops.ok()) << c.line;
    EXPECT_EQ(ops.code(), Code::kCorruption);
    EXPECT_EQ(ops.status().message().rfind("line 4: ", 0), 0u) << ops.status().message();
    EXPECT_NE(ops.status().message().find(c.reason), std::string::npos)
        << "want \"" << c.reason << "\" in: " << ops.status().message();
  }
}

TEST(HistoryTest, FileErrorsNameThePath) {
  testutil::TempDir dir;
  ASSERT_CODE(ReadHistoryFile(dir.path() / "missing.jsonl"), Code::kIOError);
  {
    std::ofstream out(dir.path() / "bad.jsonl");
    out << "{}\n";
  }
  Result<std::vector<Op>> ops = ReadHistoryFile(dir.path() / "bad.jsonl");
  ASSERT_CODE(ops, Code::kCorruption);
  EXPECT_NE(ops.status().message().find("bad.jsonl: line 1: missing field"), std::string::npos)
      << ops.status().message();
}

TEST(HistoryTest, RefusesToWriteAValueThatIsNotUtf8) {
  Op op;
  op.key = "k";
  op.value = std::string("\xff\xfe", 2);
  ASSERT_CODE(FormatOp(op), Code::kInvalidArgument);
}

FinalState SampleFinalState() {
  FinalState s;
  s.replicas[1]["k1"] = Version{"v1", Timestamp{uint64_t{1} << 60, 2}, false};
  s.replicas[1]["k2"] = Version{"", Timestamp{77, 1}, true};
  s.replicas[1]["k3"] = std::nullopt;
  s.replicas[2]["k1"] = Version{"", Timestamp{5, 3}, false};  // An empty live value.
  s.replicas[4294967295u]["k2"] = std::nullopt;
  return s;
}

TEST(FinalStateTest, RoundTripsThroughTextAndFile) {
  const FinalState s = SampleFinalState();
  Result<std::string> text = FormatFinalState(s);
  ASSERT_OK(text);
  // Indented, fields in the documented order, a tombstone's value null.
  EXPECT_NE(text->find("      \"k2\": {\n"
                       "        \"value\": null,\n"
                       "        \"hlc\": 77,\n"
                       "        \"node\": 1,\n"
                       "        \"tombstone\": true\n"
                       "      },\n"
                       "      \"k3\": null\n"),
            std::string::npos)
      << *text;
  Result<FinalState> back = ParseFinalState(*text);
  ASSERT_OK(back);
  EXPECT_EQ(*back, s);

  testutil::TempDir dir;
  ASSERT_OK(WriteFinalStateFile(dir.path() / "final.json", s));
  Result<FinalState> from_file = ReadFinalStateFile(dir.path() / "final.json");
  ASSERT_OK(from_file);
  EXPECT_EQ(*from_file, s);
}

TEST(FinalStateTest, MalformedInputIsReportedWithWhereAndWhy) {
  const std::vector<Malformed> cases = {
      {"{\n  \"replicas\": {\n    \"1\": {\"k\": nul}\n  }\n}", "line 3, column"},
      {R"({"nodes": {}})", "missing field \"replicas\""},
      {R"({"replicas": {"one": {}}})", "\"one\" is not a node id"},
      {R"({"replicas": {"4294967296": {}}})", "is not a node id"},
      {R"({"replicas": {"1": {"k": {"value": null, "hlc": 1, "node": 1, "tombstone": false}}}})",
       "replicas[\"1\"][\"k\"]: a live version's value is null"},
      {R"({"replicas": {"1": {"k": {"value": "v", "node": 1, "tombstone": false}}}})",
       "replicas[\"1\"][\"k\"]: missing field \"hlc\""},
      {R"({"replicas": {"1": {"k": {"value": "v", "hlc": 1, "node": 1}}}})",
       "missing field \"tombstone\""},
      {R"({"replicas": {"1": {"k": "v"}}})", "must be an object {value, hlc, node, tombstone}"},
      {R"({"replicas": {"1": []}})", "must be an object keyed by key"},
  };
  for (const Malformed& c : cases) {
    Result<FinalState> s = ParseFinalState(c.line);
    ASSERT_FALSE(s.ok()) << c.line;
    EXPECT_EQ(s.code(), Code::kCorruption);
    EXPECT_NE(s.status().message().find(c.reason), std::string::npos)
        << "want \"" << c.reason << "\" in: " << s.status().message();
  }
}

// Nemesis lines, as Jepsen records them, sit among the client operations: readers hand them
// back apart and never to the checkers.
TEST(HistoryTest, NemesisLinesAreReadApartFromClientOperations) {
  const NemesisOp start{
      .f = NemesisStartF("partition-halves"), .value = "{1,2} | {3}", .time_ns = 12};
  const NemesisOp stop{
      .f = NemesisStopF("partition-halves"), .value = "{1,2} | {3}", .time_ns = 90'000'000};
  Result<std::string> line = FormatNemesisOp(start);
  ASSERT_OK(line);
  EXPECT_EQ(*line, R"({"process":"nemesis","type":"info","f":"start-partition-halves",)"
                   R"("value":"{1,2} | {3}","time":12})");
  const std::vector<Op> ops = SampleHistory();
  std::string text = *line + "\n";
  for (const Op& op : ops) text += Line(op) + "\n";
  Result<std::string> stop_line = FormatNemesisOp(stop);
  ASSERT_OK(stop_line);
  text += *stop_line + "\n";

  std::istringstream in(text);
  std::vector<NemesisOp> nemesis;
  Result<std::vector<Op>> back = ReadHistory(in, &nemesis);
  ASSERT_OK(back);
  EXPECT_EQ(*back, ops);
  ASSERT_EQ(nemesis.size(), 2u);
  EXPECT_EQ(nemesis[0], start);
  EXPECT_EQ(nemesis[1], stop);

  std::istringstream again(text);
  Result<std::vector<Op>> skipped = ReadHistory(again);  // Without a place for them.
  ASSERT_OK(skipped);
  EXPECT_EQ(*skipped, ops);
}

TEST(HistoryTest, ClientValueNamingTheNemesisIsStillAClientOperation) {
  std::vector<Op> ops = MakeHistory({W(1, "nemesis", "\"nemesis\"", 0, 10)});
  std::string text;
  for (const Op& op : ops) text += Line(op) + "\n";
  std::istringstream in(text);
  std::vector<NemesisOp> nemesis;
  Result<std::vector<Op>> back = ReadHistory(in, &nemesis);
  ASSERT_OK(back);
  EXPECT_EQ(*back, ops);
  EXPECT_TRUE(nemesis.empty());
}

TEST(HistoryTest, MalformedNemesisLinesAreCorruption) {
  for (
      const char* bad : {
          R"({"process":"nemesis","type":"ok","f":"start-kill","value":"node 2","time":1})",
          R"({"process":"nemesis","type":"info","value":"node 2","time":1})",
          R"({"process":"nemesis","type":"info","f":"start-kill","value":"node 2"})",
          R"({"process":"chaos","type":"info","f":"start-kill","value":"x","time":1,"x":"nemesis"})",
      }) {
    std::istringstream in(std::string(bad) + "\n");
    Result<std::vector<Op>> ops = ReadHistory(in);
    EXPECT_EQ(ops.code(), Code::kCorruption) << bad;
    EXPECT_NE(ops.status().message().find("line 1: "), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace dialkv::jepsen
