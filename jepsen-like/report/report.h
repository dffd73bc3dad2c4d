#pragma once
// The report of one harness run: results.json and one self-contained report.html with SVG
// charts (no script, no external file, no network): latency over time per mode with the
// nemesis intervals shaded, throughput over time, availability per mode (during and outside
// faults), and the witness of every violation.
//
//   jepsen::RunReport run{...};  // Filled by dialkv-jepsen after the checks.
//   Status written = jepsen::WriteReport(out_dir, run);
//
// Thread-compatible.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "jepsen-like/check/check.h"
#include "jepsen-like/check/history.h"

namespace dialkv::jepsen {

// One nemesis action, on the history's clock (monotonic ns, as Op::time_ns).
struct NemesisEvent {
  std::string name;         // "partition-halves", "kill", "clock", ...
  std::string description;  // What it did: "{1,2} | {3}", "kill -9 node 2", "node 3 +800 ms".
  int64_t start_ns = 0;
  int64_t end_ns = 0;  // When it was healed; == start_ns for an instant action.
  // A partition's minority side (MinoritySide in harness/nemesis.h): the nodes that could not
  // reach a majority both ways while it lasted; nullopt for a fault that is not a partition.
  std::optional<std::vector<NodeId>> minority = {};
};

// {"name", "description", "start_ns", "end_ns", "minority": [node ids] | null}.
nlohmann::ordered_json NemesisEventJson(const NemesisEvent& event);

// An interval during which a node's disk alarm was up (it refused writes), as the harness saw
// it by polling the node's ClusterStatus, on the history's clock. The ends are the polls that
// first saw the alarm up and first saw it down again, so each is late by up to one poll.
struct DiskAlarmInterval {
  NodeId node = 0;
  std::string message;  // The node's reason, as first seen: "disk full: ...".
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  bool cleared = true;  // false: still up at the last poll (end_ns is that poll).
};

// The name of disk alarm intervals in results.json, the charts and the tables.
inline constexpr std::string_view kDiskAlarmName = "disk-alarm";
// "node 2: <message>".
std::string DescribeDiskAlarm(const DiskAlarmInterval& alarm);
// One line per interval, in seconds after `origin_ns` (the history's first event):
// "disk-alarm node 2: 12.3 s to 44.1 s (31.8 s, cleared): <message>"; "disk alarms: none" when
// there are none.
std::string FormatDiskAlarms(const std::vector<DiskAlarmInterval>& alarms, int64_t origin_ns);

// What the harness knows about the run, for the report's header and results.json.
struct RunInfo {
  std::string command_line;  // As typed, for repeating the run.
  std::string workload;      // "register", "lww", "mixed".
  std::vector<std::string> nemeses;
  uint64_t seed = 0;
  int nodes = 0;
  double duration_s = 0;
  std::string started_at;  // ISO 8601, UTC.
  std::string server_version;
};

struct RunReport {
  RunInfo info;
  std::vector<Op> history;            // Every event, in real-time order.
  std::vector<NemesisEvent> nemesis;  // In start order.
  // Effects the harness saw, apart from the faults that caused them: in start order.
  std::vector<DiskAlarmInterval> disk_alarms;
  CheckReport checks;  // CheckRun's result on `history`.
};

// results.json: {"run": info, "nemesis": [...], "disk_alarms": [...], "checks":
// ToJson(checks), "summary": {...}}.
//
// "run": RunInfo's fields by name. "nemesis": [NemesisEventJson] on the history's clock
// ("checks"."origin_time" is the history's first event). "disk_alarms": [{"name": "disk-alarm",
// "node", "description": "node 2: <message>", "start_ns", "end_ns", "cleared"}], on the same clock.
// "summary": {"verdict", "operations", "duration_s" (first to last event of the history),
//   "modes": {"cp": M, "ap": M + {"stale_read_rate"}}} where M is
//   {"ok", "fail", "info" (counts; info includes operations that never completed),
//    "availability": {"overall", "during_faults", "outside_faults", "partition_majority_side",
//      "partition_minority_side"} (ok / all; the sides count the operations that overlap a
//      partition, by whether their node could reach a majority),
//    "throughput_ops_s" (ok operations / duration_s),
//    "latency_ms": {"read" | "write" | "delete" | "all": {"count", "p50", "p99", "max"}}
//      (ok operations only, nearest-rank percentiles)}.
// Undefined figures (no operations, nothing verifiable) are null. Strings are copied from the
// history as they are: dump with error_handler_t::replace (see ResultsJsonText), since keys
// and values may be any bytes.
nlohmann::ordered_json ResultsJson(const RunReport& run);

// ResultsJson(run) as results.json holds it: indented by two spaces, invalid UTF-8 replaced
// by U+FFFD, a final newline.
std::string ResultsJsonText(const RunReport& run);

// The self-contained page: inline CSS and SVG only (no script, no URL, no external file).
// Every string from the history is HTML-escaped, invalid UTF-8 replaced. Above
// kMaxScatterPoints (20,000) completed operations the latency scatter is sampled
// deterministically (fail and info operations and the keys of witnesses are kept whole) and
// the page says so; tables always count every operation.
std::string RenderHtml(const RunReport& run);

// Writes `dir`/results.json and `dir`/report.html (the directory must exist).
// Errors: kIOError naming the file.
Status WriteReport(const std::filesystem::path& dir, const RunReport& run);

}  // namespace dialkv::jepsen
