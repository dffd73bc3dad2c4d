#pragma once
// One harness run from start to verdict:
//   1. start N servers in the output directory (or attach to a running cluster) and wait until
//      every node sees every other alive;
//   2. clear every node's faults; switch on the requested server bug on every node;
//   3. run the workload: a warm-up without faults, then `time_s` seconds under the nemesis
//      schedule, with a progress line on stderr every second;
//   4. stop the workload, heal every fault (restart killed nodes, resume paused ones, clear
//      links, clocks and bugs) and wait until the nodes see each other again;
//   5. wait until the replicas of every touched key agree (or a bound passes) and read the
//      final state with ReadLocal;
//   6. write history.jsonl (as it happens, nemesis events included), final.json and run.json
//      (run_record.h), check the history (CheckAndReport), write results.json and report.html,
//      print the summary;
//   7. stop every server it started.
// Exit codes: kExitPass when every check passes; kExitViolation when a check found a
// counterexample; kExitHarnessError when the run could not be carried out, or a checker could
// not decide (verdict "unknown": not a pass). A violation wins over a harness error found
// after the history was recorded: the counterexample stands either way.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jepsen-like/check/check.h"
#include "jepsen-like/harness/nemesis.h"
#include "jepsen-like/harness/workload.h"

namespace dialkv::jepsen {

inline constexpr int kExitPass = 0;
inline constexpr int kExitViolation = 1;
inline constexpr int kExitHarnessError = 2;

// The test-only server bugs the harness can switch on (Client::SetBugSwitches).
enum class ServerBug : uint8_t { kSkipReadRepair, kSkipWriteTimestampPhase };
std::string_view ServerBugName(ServerBug bug);  // "skip-read-repair", ...
// Errors: kInvalidArgument naming the valid names.
Result<ServerBug> ParseServerBug(std::string_view text);

// With skip-write-timestamp-phase and no clock nemesis, the lowest node's clock runs this far
// behind for the whole run: the bug needs skew to bite, and this stays under the servers'
// 500 ms guard.
inline constexpr int64_t kBugClockSkewMs = -400;

struct HarnessOptions {
  // Local cluster (when `endpoints` is empty).
  int nodes = 3;
  std::string server_path;
  uint32_t replication_factor = 3;
  std::vector<std::string> server_args;  // Extra flags for every server.
  bool client_tokens = true;             // The servers check client tokens.
  bool tls = false;  // Client ports and peers use TLS (Cluster::LocalOptions::tls).
  // Attach mode: the client port of every node.
  std::vector<std::string> endpoints;
  std::string token;        // Attach mode: presented to the nodes (empty: none).
  std::string tls_ca_file;  // Attach mode: CA of the nodes' TLS certificates (empty: no TLS).
  uint32_t vnodes = 16;     // The servers' --vnodes (to find each key's replicas).

  WorkloadOptions workload;

  std::vector<NemesisKind> nemeses;
  int64_t nemesis_interval_ms = 5000;
  double drop_probability = 0.2;
  int64_t max_clock_skew_ms = 400;
  std::optional<ServerBug> server_bug;

  double time_s = 30;   // Under the nemesis, after the warm-up.
  double warmup_s = 2;  // Workload without faults first.
  double converge_timeout_s = 30;
  uint64_t seed = 0;
  CheckOptions check;  // The checkers' budgets (saved in run.json for re-checks).
  std::filesystem::path out;
  std::string command_line;  // For the report.
};

// Errors: kInvalidArgument naming the flag: kill or pause in attach mode, no server binary
// nor endpoints, a non-positive time, key count, concurrency or timeout, fractions beyond 1, a
// clock skew bound at or over the servers' 500 ms guard.
Status ValidateOptions(const HarnessOptions& options);

// Runs it; returns the exit code. `interrupted` (set by a SIGINT/SIGTERM handler) ends the run
// early: the servers are stopped and the harness error code returned.
int RunHarness(const HarnessOptions& options, std::chrono::steady_clock::time_point start,
               const std::atomic<bool>& interrupted);

// Starts options.nodes servers as a run would (same flags, ports reserved for them), writes
// their client addresses, comma-separated, to out/endpoints (and the token their clients present
// to out/token, readable by its owner only; with TLS its CA is out/tls/ca.pem), prints them,
// and keeps the cluster
// up until `interrupted`; then stops every node. For scripts (the benchmarks) that need a
// cluster on race-free ports. Returns kExitPass, or kExitHarnessError when a node did not come
// up or crashed while held (the message says which, with its log).
int HoldCluster(const HarnessOptions& options, const std::atomic<bool>& interrupted);

}  // namespace dialkv::jepsen
