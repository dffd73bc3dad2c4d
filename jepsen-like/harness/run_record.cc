#include "jepsen-like/harness/run_record.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "jepsen-like/check/json_fields.h"
#include "jepsen-like/harness/run.h"

namespace dialkv::jepsen {
namespace {

using Json = nlohmann::ordered_json;
using internal::GetInt64;
using internal::GetString;

constexpr int kRunRecordFormat = 1;

void Say(const std::string& line) {
  std::fprintf(stderr, "dialkv-jepsen: %s\n", line.c_str());
  std::fflush(stderr);
}

Status Prefixed(const Status& s, std::string_view where) {
  return Status(s.code(), std::string(where) + ": " + s.message());
}

Result<RunInfo> ParseInfo(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Corruption("field \"run\" must be an object");
  RunInfo info;
  Result<std::string> s = GetString(j, "command_line");
  if (!s.ok()) return s.status();
  info.command_line = *s;
  if (s = GetString(j, "workload"); !s.ok()) return s.status();
  info.workload = *s;
  const nlohmann::json* nemeses = internal::FindField(j, "nemeses");
  if (nemeses == nullptr || !nemeses->is_array()) {
    return Status::Corruption("field \"nemeses\" must be an array of strings");
  }
  for (const nlohmann::json& n : *nemeses) {
    if (!n.is_string()) return Status::Corruption("field \"nemeses\" must be an array of strings");
    info.nemeses.push_back(n.get<std::string>());
  }
  Result<uint64_t> seed = internal::GetUint64(j, "seed");
  if (!seed.ok()) return seed.status();
  info.seed = *seed;
  Result<int64_t> nodes = GetInt64(j, "nodes");
  if (!nodes.ok()) return nodes.status();
  info.nodes = static_cast<int>(*nodes);
  const nlohmann::json* duration = internal::FindField(j, "duration_s");
  if (duration == nullptr || !duration->is_number()) {
    return Status::Corruption("field \"duration_s\" must be a number");
  }
  info.duration_s = duration->get<double>();
  if (s = GetString(j, "started_at"); !s.ok()) return s.status();
  info.started_at = *s;
  if (s = GetString(j, "server_version"); !s.ok()) return s.status();
  info.server_version = *s;
  return info;
}

Result<CheckOptions> ParseCheckOptions(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Corruption("field \"check_options\" must be an object");
  CheckOptions o;
  Result<int64_t> time = GetInt64(j, "max_time_per_key_ms");
  if (!time.ok()) return time.status();
  o.linearizability.max_time_per_key = std::chrono::milliseconds(*time);
  Result<uint64_t> bytes = internal::GetUint64(j, "max_cache_bytes_per_key");
  if (!bytes.ok()) return bytes.status();
  o.linearizability.max_cache_bytes_per_key = *bytes;
  Result<int64_t> witness = GetInt64(j, "max_witness_time_per_key_ms");
  if (!witness.ok()) return witness.status();
  o.linearizability.max_witness_time_per_key = std::chrono::milliseconds(*witness);
  Result<uint64_t> examples = internal::GetUint64(j, "max_examples");
  if (!examples.ok()) return examples.status();
  o.ap.max_examples = *examples;
  return o;
}

Result<std::vector<NemesisEvent>> ParseEvents(const nlohmann::json& j) {
  if (!j.is_array()) return Status::Corruption("field \"nemesis\" must be an array");
  std::vector<NemesisEvent> events;
  for (const nlohmann::json& e : j) {
    if (!e.is_object()) return Status::Corruption("a nemesis event must be an object");
    NemesisEvent event;
    Result<std::string> s = GetString(e, "name");
    if (!s.ok()) return s.status();
    event.name = *s;
    if (s = GetString(e, "description"); !s.ok()) return s.status();
    event.description = *s;
    Result<int64_t> t = GetInt64(e, "start_ns");
    if (!t.ok()) return t.status();
    event.start_ns = *t;
    if (t = GetInt64(e, "end_ns"); !t.ok()) return t.status();
    event.end_ns = *t;
    // Absent from the run.json of a harness that did not record sides; null for a fault that
    // is not a partition.
    if (const nlohmann::json* minority = internal::FindField(e, "minority");
        minority != nullptr && !minority->is_null()) {
      if (!minority->is_array()) return Status::Corruption("field \"minority\" must be an array");
      std::vector<NodeId> nodes;
      for (const nlohmann::json& node : *minority) {
        if (!node.is_number_unsigned()) {
          return Status::Corruption("field \"minority\" must hold node ids");
        }
        nodes.push_back(node.get<NodeId>());
      }
      event.minority = std::move(nodes);
    }
    events.push_back(std::move(event));
  }
  return events;
}

Result<std::vector<DiskAlarmInterval>> ParseAlarms(const nlohmann::json& j) {
  if (!j.is_array()) return Status::Corruption("field \"disk_alarms\" must be an array");
  std::vector<DiskAlarmInterval> alarms;
  for (const nlohmann::json& a : j) {
    if (!a.is_object()) return Status::Corruption("a disk alarm must be an object");
    DiskAlarmInterval alarm;
    Result<uint64_t> node = internal::GetUint64(a, "node");
    if (!node.ok()) return node.status();
    alarm.node = static_cast<NodeId>(*node);
    Result<std::string> message = GetString(a, "message");
    if (!message.ok()) return message.status();
    alarm.message = *message;
    Result<int64_t> t = GetInt64(a, "start_ns");
    if (!t.ok()) return t.status();
    alarm.start_ns = *t;
    if (t = GetInt64(a, "end_ns"); !t.ok()) return t.status();
    alarm.end_ns = *t;
    Result<bool> cleared = internal::GetBool(a, "cleared");
    if (!cleared.ok()) return cleared.status();
    alarm.cleared = *cleared;
    alarms.push_back(std::move(alarm));
  }
  return alarms;
}

Result<std::string> ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path.string());
  return text.str();
}

}  // namespace

Json RunRecordJson(const RunRecord& record) {
  Json j;
  j["format"] = kRunRecordFormat;
  const RunInfo& info = record.info;
  j["run"] = Json{{"command_line", info.command_line},
                  {"workload", info.workload},
                  {"nemeses", info.nemeses},
                  {"seed", info.seed},
                  {"nodes", info.nodes},
                  {"duration_s", info.duration_s},
                  {"started_at", info.started_at},
                  {"server_version", info.server_version}};
  const LinearizabilityOptions& lin = record.check.linearizability;
  j["check_options"] = Json{{"max_time_per_key_ms", lin.max_time_per_key.count()},
                            {"max_cache_bytes_per_key", lin.max_cache_bytes_per_key},
                            {"max_witness_time_per_key_ms", lin.max_witness_time_per_key.count()},
                            {"max_examples", record.check.ap.max_examples}};
  Json events = Json::array();
  for (const NemesisEvent& e : record.nemesis) events.push_back(NemesisEventJson(e));
  j["nemesis"] = std::move(events);
  Json alarms = Json::array();
  for (const DiskAlarmInterval& a : record.disk_alarms) {
    alarms.push_back(Json{{"node", a.node},
                          {"message", a.message},
                          {"start_ns", a.start_ns},
                          {"end_ns", a.end_ns},
                          {"cleared", a.cleared}});
  }
  j["disk_alarms"] = std::move(alarms);
  j["harness_error"] = record.harness_error.empty() ? Json(nullptr) : Json(record.harness_error);
  return j;
}

Result<RunRecord> ParseRunRecord(std::string_view text) {
  Result<nlohmann::json> parsed = internal::ParseJson(text);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Status::Corruption("run.json must hold a JSON object");
  Result<int64_t> format = GetInt64(j, "format");
  if (!format.ok()) return format.status();
  if (*format != kRunRecordFormat) {
    return Status::Corruption("unknown run.json format " + std::to_string(*format));
  }
  RunRecord record;
  const auto field = [&j](std::string_view name) -> Result<const nlohmann::json*> {
    const nlohmann::json* f = internal::FindField(j, name);
    if (f == nullptr) return Status::Corruption("missing field \"" + std::string(name) + "\"");
    return f;
  };
  Result<const nlohmann::json*> f = field("run");
  if (!f.ok()) return f.status();
  Result<RunInfo> info = ParseInfo(**f);
  if (!info.ok()) return info.status();
  record.info = std::move(*info);
  if (f = field("check_options"); !f.ok()) return f.status();
  Result<CheckOptions> check = ParseCheckOptions(**f);
  if (!check.ok()) return check.status();
  record.check = *check;
  if (f = field("nemesis"); !f.ok()) return f.status();
  Result<std::vector<NemesisEvent>> events = ParseEvents(**f);
  if (!events.ok()) return events.status();
  record.nemesis = std::move(*events);
  if (f = field("disk_alarms"); !f.ok()) return f.status();
  Result<std::vector<DiskAlarmInterval>> alarms = ParseAlarms(**f);
  if (!alarms.ok()) return alarms.status();
  record.disk_alarms = std::move(*alarms);
  Result<std::optional<std::string>> error = internal::GetOptionalString(j, "harness_error");
  if (!error.ok()) return error.status();
  record.harness_error = error->value_or("");
  return record;
}

Status WriteRunRecordFile(const std::filesystem::path& path, const RunRecord& record) {
  Result<std::string> text = internal::DumpJson(RunRecordJson(record), 2);
  if (!text.ok()) return Prefixed(text.status(), path.string());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IOError("cannot create " + path.string());
  out << *text << "\n";
  out.close();
  if (!out) return Status::IOError("cannot write " + path.string());
  return Status::Ok();
}

Result<RunRecord> ReadRunRecordFile(const std::filesystem::path& path) {
  Result<std::string> text = ReadText(path);
  if (!text.ok()) return text.status();
  Result<RunRecord> record = ParseRunRecord(*text);
  if (!record.ok()) return Prefixed(record.status(), path.string());
  return record;
}

std::vector<TimeInterval> FaultIntervals(const std::vector<NemesisEvent>& events,
                                         const std::vector<DiskAlarmInterval>& alarms) {
  std::vector<TimeInterval> intervals;
  for (const NemesisEvent& e : events) {
    intervals.push_back({.start_ns = e.start_ns, .end_ns = e.end_ns, .minority = e.minority});
  }
  for (const DiskAlarmInterval& a : alarms) intervals.push_back({a.start_ns, a.end_ns});
  return intervals;
}

int CheckAndReport(const RunRecord& record, std::vector<Op> history, const FinalState& final_state,
                   const std::filesystem::path& out_dir) {
  Say("checking " + std::to_string(history.size()) + " history events");
  const std::vector<TimeInterval> intervals = FaultIntervals(record.nemesis, record.disk_alarms);
  // The report's origin: the history's earliest event.
  int64_t origin_ns = history.empty() ? 0 : history.front().time_ns;
  for (const Op& op : history) origin_ns = std::min(origin_ns, op.time_ns);
  Result<CheckReport> checks = CheckRun(history, &final_state, intervals, record.check);
  if (!checks.ok()) {
    Say("cannot check the history: " + checks.status().ToString());
    return kExitHarnessError;
  }
  RunReport report{.info = record.info,
                   .history = std::move(history),
                   .nemesis = record.nemesis,
                   .disk_alarms = record.disk_alarms,
                   .checks = std::move(checks.value())};
  if (Status written = WriteReport(out_dir, report); !written.ok()) {
    Say(written.ToString());
    return kExitHarnessError;
  }
  std::fputs(FormatSummary(report.checks).c_str(), stdout);
  std::fputs(FormatDiskAlarms(report.disk_alarms, origin_ns).c_str(), stdout);
  std::printf("files: %s/{history.jsonl,final.json,run.json,results.json,report.html}\n",
              out_dir.string().c_str());
  std::fflush(stdout);

  const Verdict verdict = report.checks.verdict;
  if (verdict == Verdict::kViolation) {
    if (!record.harness_error.empty()) Say("also a harness error: " + record.harness_error);
    Say("violation: exit 1");
    return kExitViolation;
  }
  if (!record.harness_error.empty()) {
    Say("harness error: " + record.harness_error + ": exit 2");
    return kExitHarnessError;
  }
  if (verdict == Verdict::kUnknown) {
    Say("a checker could not decide (verdict unknown): exit 2");
    return kExitHarnessError;
  }
  Say("every check passed: exit 0");
  return kExitPass;
}

int RecheckRun(const std::filesystem::path& dir, const std::filesystem::path& out_dir,
               const RecheckOptions& options) {
  Result<RunRecord> record = ReadRunRecordFile(dir / "run.json");
  if (!record.ok()) {
    Say(record.status().ToString() + " (a run that stopped early has none)");
    return kExitHarnessError;
  }
  Result<std::vector<Op>> history = ReadHistoryFile(dir / "history.jsonl");
  if (!history.ok()) {
    Say(history.status().ToString());
    return kExitHarnessError;
  }
  Result<FinalState> final_state = ReadFinalStateFile(dir / "final.json");
  if (!final_state.ok()) {
    Say(final_state.status().ToString());
    return kExitHarnessError;
  }
  LinearizabilityOptions& lin = record->check.linearizability;
  if (options.max_time_per_key_ms) {
    lin.max_time_per_key = std::chrono::milliseconds(*options.max_time_per_key_ms);
  }
  if (options.max_cache_bytes_per_key) {
    lin.max_cache_bytes_per_key = *options.max_cache_bytes_per_key;
  }
  if (options.max_witness_time_per_key_ms) {
    lin.max_witness_time_per_key = std::chrono::milliseconds(*options.max_witness_time_per_key_ms);
  }
  const std::filesystem::path out = out_dir.empty() ? dir : out_dir;
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    Say("cannot create " + out.string() + ": " + ec.message());
    return kExitHarnessError;
  }
  return CheckAndReport(*record, std::move(history.value()), *final_state, out);
}

}  // namespace dialkv::jepsen
