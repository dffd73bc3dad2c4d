// dialkv-jepsen: parses flags into a HarnessOptions, handles SIGINT/SIGTERM, runs the harness
// (jepsen-like/harness/run.h). Exit codes: 0 every check passed, 1 a violation, 2 a harness
// error (bad usage included).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include "client/cli/fault_args.h"
#include "jepsen-like/check/export.h"
#include "jepsen-like/harness/run.h"
#include "jepsen-like/harness/run_record.h"
#include "jepsen-like/harness/store.h"
#include "server/common/command_line.h"
#include "server/common/version.h"

namespace {

constexpr const char* kProgram = "dialkv-jepsen";

std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void OnSignal(int) { g_interrupted.store(true); }

void InstallSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // A second Ctrl-C ends the harness at once.
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int UsageError(const std::string& message) {
  std::fprintf(stderr, "%s: %s; run '%s --help' for usage\n", kProgram, message.c_str(), kProgram);
  return dialkv::jepsen::kExitHarnessError;
}

// The dialkv-server of the same build: next to this binary's directory in the build tree
// (build/jepsen-like/dialkv-jepsen -> build/server/dialkv-server), or beside it (installed).
std::string DefaultServerPath() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  for (const auto& candidate : {self.parent_path().parent_path() / "server" / "dialkv-server",
                                self.parent_path() / "dialkv-server"}) {
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate.string();
  }
  return "";
}

constexpr uint64_t kBytesPerMiB = uint64_t{1} << 20;

// `check DIR`: re-check a saved run.
struct CheckCommand {
  std::string dir;
  std::string out;
  std::optional<int64_t> max_time_per_key_ms;
  std::optional<uint64_t> max_memory_per_key_mib;
  std::optional<int64_t> max_witness_time_per_key_ms;
};

// `export --format F DIR`: the CP operations for another checker.
struct ExportCommand {
  std::string dir;
  std::string format;
  std::string output;
};

int RunCheck(const CheckCommand& c) {
  dialkv::jepsen::RecheckOptions options;
  options.max_time_per_key_ms = c.max_time_per_key_ms;
  if (c.max_memory_per_key_mib) {
    options.max_cache_bytes_per_key = *c.max_memory_per_key_mib * kBytesPerMiB;
  }
  options.max_witness_time_per_key_ms = c.max_witness_time_per_key_ms;
  return dialkv::jepsen::RecheckRun(c.dir, c.out, options);
}

int RunExport(const ExportCommand& c) {
  auto format = dialkv::jepsen::ParseExportFormat(c.format);
  if (!format.ok()) return UsageError(format.status().message());
  const std::filesystem::path path = std::filesystem::is_directory(c.dir)
                                         ? std::filesystem::path(c.dir) / "history.jsonl"
                                         : std::filesystem::path(c.dir);
  auto history = dialkv::jepsen::ReadHistoryFile(path);
  if (!history.ok()) {
    std::fprintf(stderr, "%s: %s\n", kProgram, history.status().ToString().c_str());
    return dialkv::jepsen::kExitHarnessError;
  }
  auto text = dialkv::jepsen::ExportHistory(*history, *format);
  if (!text.ok()) {
    std::fprintf(stderr, "%s: %s\n", kProgram, text.status().ToString().c_str());
    return dialkv::jepsen::kExitHarnessError;
  }
  if (c.output.empty() || c.output == "-") {
    std::fwrite(text->data(), 1, text->size(), stdout);
    return std::fflush(stdout) == 0 ? dialkv::jepsen::kExitPass : dialkv::jepsen::kExitHarnessError;
  }
  std::FILE* out = std::fopen(c.output.c_str(), "wb");
  const bool written =
      out != nullptr && std::fwrite(text->data(), 1, text->size(), out) == text->size();
  if (out == nullptr || std::fclose(out) != 0 || !written) {
    std::fprintf(stderr, "%s: cannot write %s\n", kProgram, c.output.c_str());
    return dialkv::jepsen::kExitHarnessError;
  }
  return dialkv::jepsen::kExitPass;
}

int Run(int argc, char** argv, std::chrono::steady_clock::time_point start) {
  using dialkv::jepsen::HarnessOptions;
  HarnessOptions o;
  std::string workload = "register";
  std::string nemesis = "partitions,drop";
  std::string interval = "5s";
  std::string server_bug;
  std::string endpoints;
  std::optional<uint64_t> seed;
  bool hold = false;
  std::string store = "store";
  int64_t max_time_per_key_ms = o.check.linearizability.max_time_per_key.count();
  uint64_t max_memory_per_key_mib = o.check.linearizability.max_cache_bytes_per_key / kBytesPerMiB;
  int64_t max_witness_time_per_key_ms = o.check.linearizability.max_witness_time_per_key.count();

  CLI::App app{
      "dialkv-jepsen: runs a workload against a dialkv cluster while a nemesis injects faults, "
      "records the history, and checks what CP and AP promise (linearizability of CP keys; AP "
      "convergence, no lost or invented writes; stale reads and availability measured). "
      "Writes history.jsonl (nemesis events included), final.json, run.json, results.json and "
      "report.html to --out, or to STORE/<workload>/<time>/ with STORE/latest pointing at it. "
      "'check DIR' re-checks a saved run; 'export' hands its CP history to Porcupine or Knossos. "
      "Exit 0: every check passed; 1: a violation (with a witness); 2: a harness error or an "
      "undecided check.",
      kProgram};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", dialkv::VersionLine(kProgram),
                       "Print the version and the commit it was built from, and exit");
  app.add_option("--nodes", o.nodes, "Servers to start on 127.0.0.1 (ids 1..N)");
  app.add_option("--server", o.server_path,
                 "The dialkv-server binary (default: the one of this build tree)");
  app.add_option("--endpoints", endpoints,
                 "Attach to a running cluster instead: HOST:PORT of every node's client port, "
                 "comma-separated; every node must run with --enable-fault-injection. The kill "
                 "and pause nemeses are not available then");
  app.add_option("--token", o.token,
                 "With --endpoints: the token to present to nodes that check tokens (every "
                 "scope: kv:read, kv:write, admin; dialkv token create). A cluster the harness "
                 "starts gets secrets and a token of its own")
      ->envname("DIALKV_TOKEN");
  app.add_option("--tls-ca", o.tls_ca_file,
                 "With --endpoints: the CA that signed the nodes' certificates, for nodes whose "
                 "client port speaks TLS (--tls-cert)")
      ->envname("DIALKV_TLS_CA");
  app.add_flag("--tls", o.tls,
               "Start the local cluster with TLS on every client port and mutual TLS between "
               "peers, with a CA and certificate made for the run in --out/tls");
  app.add_option("--workload", workload,
                 "register: CP reads, writes and deletes (linearizability); lww: the same in AP "
                 "(convergence, lost writes, staleness); mixed: both side by side on separate "
                 "keys under the same faults");
  app.add_option("--nemesis", nemesis,
                 "Faults, comma-separated: drop, partition-halves, partition-isolate, "
                 "partition-ring (majorities ring), partition-bridge, partition-one-way, kill "
                 "(kill -9, then restart), pause (SIGSTOP, then SIGCONT), clock (skew), "
                 "clock-restart (kill -9, restart with the clock stepped back), disk (a minority's "
                 "disks full), disk-error (a minority's disks failing writes); "
                 "'partitions' = every partition, 'all', 'none'");
  app.add_option("--nemesis-interval", interval,
                 "Mean length of the quiet and faulty windows, which alternate (e.g. 5s, 800ms)");
  app.add_option("--time", o.time_s, "Seconds of workload under the nemesis (after the warm-up)");
  app.add_option("--warmup", o.warmup_s, "Seconds of workload before the first fault");
  app.add_option("--seed", seed,
                 "Seeds the nemesis schedule, the workload and the nodes' drop choices; the "
                 "same seed repeats them (default: random, printed)");
  app.add_option("--out", o.out,
                 "Directory for the run's files and the nodes' data and logs; a new or empty one "
                 "(default: a new directory in --store)");
  app.add_option("--store", store,
                 "Without --out: each run goes to STORE/<workload>/<YYYYMMDDTHHMMSSZ>[-N]/, and "
                 "STORE/<workload>/latest and STORE/latest point at the newest");
  app.add_option("--keys", o.workload.keys, "Key slots per mode");
  app.add_option("--ops-per-key", o.workload.ops_per_key,
                 "Operations on one key before its slot moves to a new key (bounds the cost of "
                 "the linearizability check)");
  app.add_option("--concurrency", o.workload.concurrency, "Client processes per mode");
  app.add_option("--rate", o.workload.rate,
                 "Target operations per second per mode (0: as fast as they go)");
  app.add_option("--op-timeout-ms", o.workload.op_timeout_ms, "Deadline of each operation");
  app.add_option("--read-fraction", o.workload.read_fraction, "Share of reads");
  app.add_option("--delete-fraction", o.workload.delete_fraction,
                 "Share of deletes; the rest are writes");
  app.add_option("--replication-factor", o.replication_factor,
                 "The started servers' --replication-factor");
  app.add_option("--vnodes", o.vnodes,
                 "The servers' --vnodes (the harness computes each key's replicas)");
  app.add_option("--server-arg", o.server_args,
                 "An extra flag for every started server, e.g. --server-arg=--ae-interval-ms=5000 "
                 "(repeatable)");
  app.add_option("--drop-probability", o.drop_probability,
                 "Share of the messages the drop nemesis loses on every link");
  app.add_option("--max-clock-skew-ms", o.max_clock_skew_ms,
                 "The clock nemesis skews nodes by up to this, all ahead or all behind, so no two "
                 "differ by more (keep it below the servers' 500 ms guard)");
  app.add_option("--converge-timeout", o.converge_timeout_s,
                 "After healing, seconds to wait for the replicas of every key to agree");
  app.add_option("--server-bug", server_bug,
                 "Switch on a test-only server bug on every node, to show the checkers catch "
                 "it: skip-read-repair (CP reads skip their write-back) or "
                 "skip-write-timestamp-phase (CP writes skip the timestamp read; without the "
                 "clock nemesis node 1 then runs 400 ms behind)");
  const auto add_budgets = [](CLI::App& to, auto& time_ms, auto& memory_mib, auto& witness_ms,
                              const std::string& default_note) {
    to.add_option(
        "--max-time-per-key-ms", time_ms,
        "Linearizability: a key's search that takes longer is undecided (unknown)" + default_note);
    to.add_option(
        "--max-memory-per-key-mib", memory_mib,
        "Linearizability: a key's search that memoizes more is undecided (unknown)" + default_note);
    to.add_option("--max-witness-time-per-key-ms", witness_ms,
                  "Linearizability: time spent shrinking a violation's witness" + default_note);
  };
  add_budgets(app, max_time_per_key_ms, max_memory_per_key_mib, max_witness_time_per_key_ms, "");

  CheckCommand check;
  CLI::App* check_app = app.add_subcommand(
      "check",
      "Re-check a saved run: reads DIR/history.jsonl, final.json and run.json, runs every "
      "checker with the run's budgets (or those given), writes results.json and report.html "
      "(into DIR, or --out) and exits as the run did (0 pass, 1 violation, 2 unknown or a "
      "harness error)");
  check_app->add_option("dir", check.dir, "The run's directory (e.g. store/latest)")
      ->required()
      ->check(CLI::ExistingDirectory);
  check_app->add_option("--out", check.out,
                        "Write results.json and report.html here (default: DIR)");
  add_budgets(*check_app, check.max_time_per_key_ms, check.max_memory_per_key_mib,
              check.max_witness_time_per_key_ms, " (default: the run's, from run.json)");

  ExportCommand export_command;
  CLI::App* export_app = app.add_subcommand(
      "export",
      "Print the CP operations of a saved history for another linearizability checker: "
      "porcupine (JSON of Porcupine's Operation) or knossos (Jepsen's EDN history, [key value] "
      "tuples); see jepsen-like/README.md");
  export_app->add_option("dir", export_command.dir, "The run's directory, or a history.jsonl")
      ->required()
      ->check(CLI::ExistingPath);
  export_app->add_option("--format", export_command.format, "porcupine or knossos")->required();
  export_app->add_option("-o,--output", export_command.output, "Write here instead of stdout");
  app.require_subcommand(0, 1);

  bool no_client_tokens = false;
  app.add_flag("--no-client-tokens", no_client_tokens,
               "Start the local cluster without client token checks (its peers still "
               "authenticate each other), e.g. to measure what the checks cost");
  app.add_flag(
      "--hold", hold,
      "Run no workload: start --nodes servers (with --server, --server-arg, "
      "--replication-factor) on race-free ports, write their client addresses to "
      "--out/endpoints (and the token their clients need to --out/token; with --tls, their CA is "
      "--out/tls/ca.pem), print them, and "
      "keep them up until SIGINT or SIGTERM. For "
      "scripts that need a local cluster, such as bench/compare/run.sh");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    return UsageError(e.what());
  }
  if (check_app->parsed()) return RunCheck(check);
  if (export_app->parsed()) return RunExport(export_command);

  o.check.linearizability.max_time_per_key = std::chrono::milliseconds(max_time_per_key_ms);
  o.check.linearizability.max_cache_bytes_per_key = max_memory_per_key_mib * kBytesPerMiB;
  o.check.linearizability.max_witness_time_per_key =
      std::chrono::milliseconds(max_witness_time_per_key_ms);
  auto workload_kind = dialkv::jepsen::ParseWorkload(workload);
  if (!workload_kind.ok()) return UsageError(workload_kind.status().message());
  o.workload.kind = *workload_kind;
  auto kinds = dialkv::jepsen::ParseNemesisList(nemesis);
  if (!kinds.ok()) return UsageError(kinds.status().message());
  o.nemeses = *kinds;
  auto interval_ms = dialkv::cli::ParseDurationMs(interval, 3'600'000);
  if (!interval_ms.ok() || *interval_ms == 0) {
    return UsageError("--nemesis-interval: " + (interval_ms.ok() ? std::string("must be > 0")
                                                                 : interval_ms.status().message()));
  }
  o.nemesis_interval_ms = *interval_ms;
  if (!server_bug.empty()) {
    auto bug = dialkv::jepsen::ParseServerBug(server_bug);
    if (!bug.ok()) return UsageError(bug.status().message());
    o.server_bug = *bug;
  }
  for (size_t at = 0; !endpoints.empty() && at <= endpoints.size();) {
    const size_t comma = std::min(endpoints.find(',', at), endpoints.size());
    if (comma > at) o.endpoints.push_back(endpoints.substr(at, comma - at));
    at = comma + 1;
  }
  if (o.endpoints.empty() && o.server_path.empty()) o.server_path = DefaultServerPath();
  o.seed = seed.value_or(std::random_device{}() * uint64_t{0x100000001} ^ std::random_device{}());
  o.workload.seed = o.seed;
  o.command_line = dialkv::RecordedCommandLine(argc, argv);
  o.client_tokens = !no_client_tokens;
  if (!seed) o.command_line += " --seed " + std::to_string(o.seed);
  if (dialkv::Status valid = dialkv::jepsen::ValidateOptions(o); !valid.ok()) {
    return UsageError(valid.message());
  }
  if (hold && o.out.empty()) return UsageError("--hold needs --out DIR");
  InstallSignalHandlers();
  if (hold) return dialkv::jepsen::HoldCluster(o, g_interrupted);
  if (o.out.empty()) {
    auto dir = dialkv::jepsen::CreateStoreRunDir(store, workload, std::time(nullptr));
    if (!dir.ok()) return UsageError(dir.status().ToString());
    o.out = *dir;
    std::fprintf(stderr, "%s: this run's files go to %s\n", kProgram, o.out.string().c_str());
  }
  std::fprintf(stderr, "%s: seed %llu (repeat with --seed %llu)\n", kProgram,
               static_cast<unsigned long long>(o.seed), static_cast<unsigned long long>(o.seed));
  return dialkv::jepsen::RunHarness(o, start, g_interrupted);
}

}  // namespace

int main(int argc, char** argv) {
  const auto start = std::chrono::steady_clock::now();  // The history's clock starts here.
  try {
    return Run(argc, argv, start);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", kProgram, e.what());
    return dialkv::jepsen::kExitHarnessError;
  }
}
