#pragma once
// What a run saves besides its history and final state (run.json), so that
// `dialkv-jepsen check DIR` can repeat its checks later, and the one function both use to turn
// a history into a verdict, results.json, report.html and an exit code:
//
//   run.json: {"format": 1,
//              "run": {command_line, workload, nemeses, seed, nodes, duration_s, started_at,
//                      server_version},
//              "check_options": {"max_time_per_key_ms", "max_cache_bytes_per_key",
//                                "max_witness_time_per_key_ms", "max_examples"},
//              "nemesis": [{"name", "description", "start_ns", "end_ns", "minority"}],
//              "disk_alarms": [{"node", "message", "start_ns", "end_ns", "cleared"}],
//              "harness_error": str | null}
//
// The nemesis events are also lines of history.jsonl; run.json keeps them as the intervals the
// availability measure uses, together with the disk alarms (which are not in the history), so
// a re-check measures exactly what the run measured.

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jepsen-like/check/check.h"
#include "jepsen-like/report/report.h"

namespace dialkv::jepsen {

struct RunRecord {
  RunInfo info;
  CheckOptions check;
  std::vector<NemesisEvent> nemesis;
  std::vector<DiskAlarmInterval> disk_alarms;
  // A harness error found after the history was recorded (e.g. a replica that could not be
  // read at the end); empty: none. It makes a passing run exit 2, and a re-check too.
  std::string harness_error;
};

nlohmann::ordered_json RunRecordJson(const RunRecord& record);
// Errors: kCorruption naming the field that is missing or mistyped.
Result<RunRecord> ParseRunRecord(std::string_view text);
// Errors: kIOError; kInvalidArgument when a string is not valid UTF-8.
Status WriteRunRecordFile(const std::filesystem::path& path, const RunRecord& record);
// Errors: kIOError when it cannot be read; as ParseRunRecord, prefixed with the path.
Result<RunRecord> ReadRunRecordFile(const std::filesystem::path& path);

// The nemesis events' intervals and the disk alarms': a node refuses writes until its alarm
// clears, which may be a moment after its disk fault ended.
std::vector<TimeInterval> FaultIntervals(const std::vector<NemesisEvent>& events,
                                         const std::vector<DiskAlarmInterval>& alarms);

// Checks `history` (client operations only) against `final_state` with record.check, writes
// results.json and report.html into `out_dir` (which must exist), prints the summary on stdout
// and the verdict on stderr, and returns the exit code: kExitViolation when a check found a
// counterexample; kExitHarnessError with a harness error, an undecided check, or when the
// history cannot be checked or the files written; kExitPass otherwise.
int CheckAndReport(const RunRecord& record, std::vector<Op> history, const FinalState& final_state,
                   const std::filesystem::path& out_dir);

// `dialkv-jepsen check`: budgets that replace the run's (unset: as the run had them).
struct RecheckOptions {
  std::optional<int64_t> max_time_per_key_ms;
  std::optional<uint64_t> max_cache_bytes_per_key;
  std::optional<int64_t> max_witness_time_per_key_ms;
};

// Re-checks the run saved in `dir` (history.jsonl, final.json, run.json) and writes its verdict
// into `out_dir` (results.json, report.html; `dir` itself when empty), as CheckAndReport.
// A run directory without final.json or run.json (a run that stopped early, or one older than
// run.json) is a harness error naming the missing file.
int RecheckRun(const std::filesystem::path& dir, const std::filesystem::path& out_dir,
               const RecheckOptions& options);

}  // namespace dialkv::jepsen
