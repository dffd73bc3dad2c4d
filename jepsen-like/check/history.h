#pragma once
// The history of a Jepsen-like run: every client operation is recorded twice, once when a
// client process invokes it and once when it completes, as one JSON object per line of
// history.jsonl, in real-time order:
//
//   {"process": 3, "type": "invoke", "f": "write", "key": "k1", "value": "v17",
//    "time": 1200345, "mode": "cp", "node": 2}
//   {"process": 3, "type": "ok", "f": "write", "key": "k1", "value": "v17",
//    "time": 1800123, "mode": "cp", "node": 2, "ts": {"hlc": 113...408, "node": 2}}
//
// Fields: process (int), type ("invoke" | "ok" | "fail" | "info"), f ("read" | "write" |
// "delete"), key (str), value (str | null; a read's value is on its completion, a write's on
// both; an ok read with null means not found), time (int, ns on a monotonic clock), mode
// ("cp" | "ap"), node (int, the node the client talked to), error (str, optional: why it
// failed). `fail` means the operation definitely did not happen (UNAVAILABLE); `info` means it
// may have happened (UNKNOWN, TIMEOUT, a lost connection).
//
// Extension (readers may ignore it): "ts": {"hlc": int, "node": int}, on `ok` completions of
// writes and deletes, is the timestamp of the version the write created. The AP checkers need
// it to tell a lost write from one beaten by a newer version; without it such a write is
// counted as unverifiable. Unknown fields are ignored on reading, so the format can grow.
//
// Nemesis lines (as Jepsen records them): what the harness did to the cluster, in the same
// real-time order as the operations, with "process": "nemesis" and type "info":
//
//   {"process": "nemesis", "type": "info", "f": "start-partition-halves",
//    "value": "{1,2} | {3}", "time": 3400512}
//   {"process": "nemesis", "type": "info", "f": "stop-partition-halves",
//    "value": "{1,2} | {3}", "time": 8120377}
//
// f is "start-<fault>" or "stop-<fault>" with the fault's --nemesis name; value describes its
// targets. They are not client operations: ReadHistory returns them apart (NemesisOp), so the
// checkers never see them.
//
// This file only reads and writes lines; PairHistory (pairing.h) checks that invocations and
// completions match.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/types.h"
#include "server/common/status.h"

namespace dialkv::jepsen {

enum class OpType : uint8_t { kInvoke, kOk, kFail, kInfo };
enum class OpFunction : uint8_t { kRead, kWrite, kDelete };

// "invoke", "ok", "fail", "info".
std::string_view OpTypeName(OpType type);
// "read", "write", "delete".
std::string_view OpFunctionName(OpFunction f);

// One line of history.jsonl.
struct Op {
  int64_t process = 0;
  OpType type = OpType::kInvoke;
  OpFunction f = OpFunction::kRead;
  std::string key;
  std::optional<std::string> value;  // JSON null when absent.
  int64_t time_ns = 0;               // "time".
  Consistency mode = Consistency::kCp;
  NodeId node = 0;
  std::optional<std::string> error;  // Omitted from the line when absent.
  std::optional<Timestamp> ts;       // Extension "ts"; omitted when absent.

  friend bool operator==(const Op&, const Op&) = default;
};

// One nemesis line.
struct NemesisOp {
  std::string f;      // "start-kill", "stop-kill", ...
  std::string value;  // The targets: "kill -9 node 2".
  int64_t time_ns = 0;

  friend bool operator==(const NemesisOp&, const NemesisOp&) = default;
};

// "{1,3}" for a set of node ids, as nemesis lines and reports name them.
std::string FormatNodeSet(std::span<const NodeId> nodes);

// "start-<name>" / "stop-<name>".
std::string NemesisStartF(std::string_view name);
std::string NemesisStopF(std::string_view name);

// The line for `op`, without a newline. Errors: kInvalidArgument (not valid UTF-8).
Result<std::string> FormatNemesisOp(const NemesisOp& op);

// The line for `op`, without a newline; fields in the order documented above.
// Errors: kInvalidArgument when key, value or error is not valid UTF-8 (JSON strings are
// Unicode; workloads must generate printable keys and values).
Result<std::string> FormatOp(const Op& op);

// Parses one line.
// Errors: kCorruption naming the reason (not JSON, a missing field, a field of the wrong type
// or out of range, an unknown "type", "f" or "mode").
Result<Op> ParseOp(std::string_view line);

// Whether `line` is a nemesis line ("process": "nemesis"), and that line parsed.
// Errors: kCorruption as ParseOp (a missing "f", "value" or "time", a type other than info).
Result<std::optional<NemesisOp>> ParseNemesisLine(std::string_view line);

// Reads every line of `in`; blank lines are skipped. Client operations are returned; nemesis
// lines go to `nemesis` (when not null) and are skipped otherwise.
// Errors: kCorruption "line 12: <reason>" (1-based) for the first malformed line; kIOError
// when the stream fails.
Result<std::vector<Op>> ReadHistory(std::istream& in, std::vector<NemesisOp>* nemesis = nullptr);
// Errors: as ReadHistory, prefixed with the path; kIOError when the file cannot be opened.
Result<std::vector<Op>> ReadHistoryFile(const std::filesystem::path& path,
                                        std::vector<NemesisOp>* nemesis = nullptr);

// Writes one line per op.
// Errors: as FormatOp (nothing after the offending op is written); kIOError.
Status WriteHistory(std::ostream& out, const std::vector<Op>& ops);
// Creates or truncates `path`. Errors: as WriteHistory.
Status WriteHistoryFile(const std::filesystem::path& path, const std::vector<Op>& ops);

// Appends ops to a history file as they happen, one flushed line each, so a harness that dies
// mid-run leaves every recorded line complete and readable.
// Thread-compatible: a harness whose clients run on several threads serializes Append (the
// lines must stay in real-time order anyway, so the caller holds its own lock while it takes
// the time and appends).
class HistoryWriter {
 public:
  // Creates or truncates `path`. Errors: kIOError.
  static Result<std::unique_ptr<HistoryWriter>> Open(const std::filesystem::path& path);

  // Writes `op` as one line and flushes it to the OS (not fsynced).
  // Errors: as FormatOp (nothing written, the writer stays usable); kIOError (the writer is
  // broken; later calls fail too).
  [[nodiscard]] Status Append(const Op& op);
  // The same for a nemesis line.
  [[nodiscard]] Status AppendNemesis(const NemesisOp& op);

  // Flushes and closes; later Appends fail with kIOError. Idempotent.
  [[nodiscard]] Status Close();

  size_t lines_written() const { return lines_written_; }

 private:
  HistoryWriter(std::filesystem::path path, std::ofstream out);
  Status AppendLine(Result<std::string> line);

  std::filesystem::path path_;
  std::ofstream out_;
  size_t lines_written_ = 0;
};

}  // namespace dialkv::jepsen
