#include "jepsen-like/harness/run.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <thread>

#include "jepsen-like/check/check.h"
#include "jepsen-like/harness/cluster.h"
#include "jepsen-like/harness/disk_alarms.h"
#include "jepsen-like/harness/final_state_reader.h"
#include "jepsen-like/harness/nemesis_runner.h"
#include "jepsen-like/harness/run_record.h"
#include "jepsen-like/report/report.h"

#ifndef DIALKV_VERSION
#define DIALKV_VERSION "unknown"
#endif

namespace dialkv::jepsen {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The nodes a run (or HoldCluster) starts itself.
Result<std::unique_ptr<Cluster>> StartLocalCluster(const HarnessOptions& options) {
  return Cluster::StartLocal({.nodes = options.nodes,
                              .server_path = options.server_path,
                              .dir = options.out,
                              .replication_factor = options.replication_factor,
                              .server_args = options.server_args,
                              .ready_timeout = std::chrono::seconds(20),
                              .client_tokens = options.client_tokens,
                              .tls = options.tls},
                             options.workload.op_timeout_ms);
}

constexpr auto kSettleTimeout = std::chrono::seconds(30);
constexpr auto kHealTimeout = std::chrono::seconds(30);
constexpr auto kProgressEvery = std::chrono::seconds(1);
constexpr auto kTickEvery = std::chrono::milliseconds(50);

void Say(const std::string& line) {
  std::fprintf(stderr, "dialkv-jepsen: %s\n", line.c_str());
  std::fflush(stderr);
}

std::string IsoUtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// A run writes into a fresh directory: old data dirs would be reused by the new servers.
Status PrepareOutDir(const std::filesystem::path& out) {
  std::error_code ec;
  if (out.empty()) return Status::InvalidArgument("--out is required");
  std::filesystem::create_directories(out, ec);
  if (ec) return Status::IOError("cannot create " + out.string() + ": " + ec.message());
  if (std::filesystem::exists(out / "history.jsonl", ec) ||
      std::filesystem::exists(out / "n1", ec)) {
    return Status::InvalidArgument("--out " + out.string() +
                                   " holds a previous run; give a new or empty directory");
  }
  return Status::Ok();
}

std::string Counts(std::string_view mode, const OutcomeCounts& c) {
  return std::string(mode) + " ok " + std::to_string(c.ok.load()) + " fail " +
         std::to_string(c.fail.load()) + " info " + std::to_string(c.info.load());
}

std::string ProgressLine(double elapsed_s, double total_s, WorkloadKind kind,
                         const Recorder& recorder, const std::string& nemesis) {
  char head[48];
  std::snprintf(head, sizeof(head), "[%5.0fs/%.0fs] ", elapsed_s, total_s);
  std::string line = head;
  if (kind != WorkloadKind::kLww) line += Counts("cp", recorder.counts(Consistency::kCp)) + " | ";
  if (kind != WorkloadKind::kRegister) {
    line += Counts("ap", recorder.counts(Consistency::kAp)) + " | ";
  }
  return line + "nemesis: " + nemesis;
}

std::vector<std::string> TouchedKeys(const std::vector<Op>& history) {
  std::set<std::string> keys;
  for (const Op& op : history) keys.insert(op.key);
  return {keys.begin(), keys.end()};
}

Result<std::vector<Fault>> Schedule(const HarnessOptions& options,
                                    const std::vector<NodeId>& nodes) {
  const auto duration_ms = static_cast<int64_t>(options.time_s * 1000);
  Result<std::vector<Fault>> schedule =
      PlanSchedule({.kinds = options.nemeses,
                    .nodes = nodes,
                    .interval_ms = options.nemesis_interval_ms,
                    .duration_ms = duration_ms,
                    .seed = options.seed,
                    .drop_probability = options.drop_probability,
                    .max_clock_skew_ms = options.max_clock_skew_ms});
  if (!schedule.ok()) return schedule;
  const bool has_clock = std::find(options.nemeses.begin(), options.nemeses.end(),
                                   NemesisKind::kClock) != options.nemeses.end();
  if (options.server_bug == ServerBug::kSkipWriteTimestampPhase && !has_clock) {
    // The bug only shows under skew: the lowest node runs behind for the whole run.
    Fault skew{.kind = NemesisKind::kClock, .start_ms = 0, .end_ms = duration_ms};
    skew.nodes = {nodes.front()};
    skew.clock_offsets_ms = {kBugClockSkewMs};
    skew.description = "node " + std::to_string(nodes.front()) + " " +
                       std::to_string(kBugClockSkewMs) + " ms (for the server bug)";
    schedule->insert(schedule->begin(), skew);
  }
  return schedule;
}

BugSwitches BugsFor(const std::optional<ServerBug>& bug) {
  BugSwitches bugs;
  if (bug == ServerBug::kSkipReadRepair) bugs.skip_read_repair = true;
  if (bug == ServerBug::kSkipWriteTimestampPhase) bugs.skip_write_timestamp_phase = true;
  return bugs;
}

// Everything a run holds, destroyed in reverse order: the workload before the cluster, the
// cluster (its servers stopped) last.
class Run {
 public:
  Run(const HarnessOptions& options, SteadyClock::time_point start,
      const std::atomic<bool>& interrupted)
      : options_(options), clock_(start), interrupted_(interrupted) {}

  int Execute();

 private:
  Status StartCluster();
  // Runs for `seconds`, ticking the nemesis (when `faults`) and printing progress.
  Status Drive(double seconds, bool faults);
  int Finish();
  RunInfo Info() const;

  const HarnessOptions& options_;
  HistoryClock clock_;
  const std::atomic<bool>& interrupted_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<NemesisRunner> nemesis_;
  std::unique_ptr<DiskAlarmWatcher> disk_alarms_;  // Polls until the final state is read.
  std::unique_ptr<Workload> workload_;
  std::string started_at_;
  double elapsed_s_ = 0;
  Status harness_error_;  // Found after the workload ran; the checks still run.
};

Status Run::StartCluster() {
  Result<std::unique_ptr<Cluster>> cluster = Status::Internal("unset");
  if (options_.endpoints.empty()) {
    Say("starting " + std::to_string(options_.nodes) + " dialkv-server nodes in " +
        options_.out.string());
    cluster = StartLocalCluster(options_);
  } else {
    Say("attaching to " + std::to_string(options_.endpoints.size()) + " nodes");
    cluster = Cluster::Attach(options_.endpoints, options_.workload.op_timeout_ms, options_.token,
                              options_.tls_ca_file);
  }
  if (!cluster.ok()) return cluster.status();
  cluster_ = std::move(cluster.value());
  return cluster_->WaitSettled(kSettleTimeout);
}

Status Run::Drive(double seconds, bool faults) {
  const auto begin = SteadyClock::now();
  auto next_progress = begin;
  const double total_s = options_.warmup_s + options_.time_s;
  while (true) {
    const double elapsed = std::chrono::duration<double>(SteadyClock::now() - begin).count();
    if (elapsed >= seconds) break;
    if (interrupted_.load()) return Status::Unavailable("interrupted");
    // Before the schedule starts, Tick(-1) starts nothing but still watches for crashes.
    const int64_t elapsed_ms = faults ? static_cast<int64_t>(elapsed * 1000) : -1;
    if (Status ticked = nemesis_->Tick(elapsed_ms); !ticked.ok()) return ticked;
    if (SteadyClock::now() >= next_progress) {
      Say(ProgressLine(elapsed_s_ + elapsed, total_s, options_.workload.kind, *recorder_,
                       nemesis_->ActiveDescription()));
      next_progress = std::max(next_progress + kProgressEvery, SteadyClock::now());
    }
    std::this_thread::sleep_for(kTickEvery);
  }
  elapsed_s_ += seconds;
  return Status::Ok();
}

int Run::Execute() {
  started_at_ = IsoUtcNow();
  if (Status valid = ValidateOptions(options_); !valid.ok()) {
    Say(valid.ToString());
    return kExitHarnessError;
  }
  if (Status out = PrepareOutDir(options_.out); !out.ok()) {
    Say(out.ToString());
    return kExitHarnessError;
  }
  if (Status started = StartCluster(); !started.ok()) {
    Say("the cluster did not start: " + started.ToString());
    return kExitHarnessError;
  }
  Result<std::vector<Fault>> schedule = Schedule(options_, cluster_->nodes());
  if (!schedule.ok()) {
    Say(schedule.status().ToString());
    return kExitHarnessError;
  }
  Result<std::unique_ptr<HistoryWriter>> writer =
      HistoryWriter::Open(options_.out / "history.jsonl");
  if (!writer.ok()) {
    Say(writer.status().ToString());
    return kExitHarnessError;
  }
  recorder_ = std::make_unique<Recorder>(clock_, std::move(writer.value()));
  nemesis_ =
      std::make_unique<NemesisRunner>(*cluster_, std::move(schedule.value()), clock_,
                                      NemesisRunner::Options{.drop_seed = options_.seed,
                                                             .bugs = BugsFor(options_.server_bug),
                                                             .recorder = recorder_.get()});
  if (Status ready = nemesis_->Start(); !ready.ok()) {
    Say("cannot reset the nodes' faults: " + ready.ToString());
    return kExitHarnessError;
  }
  disk_alarms_ = std::make_unique<DiskAlarmWatcher>(*cluster_, clock_, DiskAlarmWatcher::Options{});
  disk_alarms_->Start();
  if (options_.server_bug) {
    Say("server bug " + std::string(ServerBugName(*options_.server_bug)) + " is on on every node");
  }
  WorkloadOptions workload = options_.workload;
  if (!cluster_->owns_processes()) {
    // An attached cluster keeps the keys of earlier runs: start from keys nobody wrote.
    workload.key_prefix = "run" + std::to_string(std::time(nullptr)) + "-";
  }
  workload_ = std::make_unique<Workload>(workload, *cluster_, *recorder_);
  if (Status s = workload_->Start(); !s.ok()) {
    Say(s.ToString());
    return kExitHarnessError;
  }
  Status driven = Drive(options_.warmup_s, /*faults=*/false);
  if (driven.ok()) driven = Drive(options_.time_s, /*faults=*/true);
  workload_->Stop();
  if (!driven.ok()) {
    Say("the run stopped early: " + driven.ToString() + "; the history so far is in " +
        (options_.out / "history.jsonl").string());
    return kExitHarnessError;
  }
  return Finish();
}

int Run::Finish() {
  Say("healing every fault");
  if (Status healed = nemesis_->HealAll(kHealTimeout); !healed.ok()) harness_error_ = healed;
  if (harness_error_.ok()) {
    if (Status settled = cluster_->WaitSettled(kSettleTimeout); !settled.ok()) {
      harness_error_ = settled;
    }
  }
  Result<std::vector<Op>> history = recorder_->Finish();
  if (!history.ok()) {
    Say("cannot write the history: " + history.status().ToString());
    return kExitHarnessError;
  }
  const std::vector<std::string> keys = TouchedKeys(*history);
  Say("waiting for the replicas of " + std::to_string(keys.size()) + " keys to converge");
  Result<FinalStateRead> final_read = ReadConvergedState(
      *cluster_, keys, recorder_->HintedWrites(),
      {.vnodes = options_.vnodes,
       .converge_timeout =
           std::chrono::milliseconds(static_cast<int64_t>(options_.converge_timeout_s * 1000)),
       .poll_interval = std::chrono::milliseconds(250)},
      interrupted_);
  if (!final_read.ok()) {
    Say("cannot read the final state: " + final_read.status().ToString());
    return kExitHarnessError;
  }
  char waited[32];
  std::snprintf(waited, sizeof(waited), "%.1f", final_read->waited_s);
  Say(std::to_string(final_read->converged_keys) + " of " + std::to_string(final_read->keys) +
      " keys converged in " + waited + " s");
  if (!final_read->unread.empty()) {
    harness_error_ =
        Status::Unavailable(std::to_string(final_read->unread.size()) +
                            " replicas could not be read, e.g. " + final_read->unread.front());
  }
  const std::vector<DiskAlarmInterval> alarms = disk_alarms_->Stop();
  cluster_->Stop();  // Nothing more to ask the servers; free the machine for the checks.

  if (Status written = WriteFinalStateFile(options_.out / "final.json", final_read->state);
      !written.ok()) {
    Say(written.ToString());
    return kExitHarnessError;
  }
  const RunRecord record{.info = Info(),
                         .check = options_.check,
                         .nemesis = nemesis_->events(),
                         .disk_alarms = alarms,
                         .harness_error = harness_error_.ok() ? "" : harness_error_.ToString()};
  if (Status written = WriteRunRecordFile(options_.out / "run.json", record); !written.ok()) {
    Say(written.ToString());
    return kExitHarnessError;
  }
  return CheckAndReport(record, std::move(history.value()), final_read->state, options_.out);
}

RunInfo Run::Info() const {
  RunInfo info;
  info.command_line = options_.command_line;
  info.workload = std::string(WorkloadName(options_.workload.kind));
  for (NemesisKind kind : options_.nemeses) info.nemeses.emplace_back(NemesisName(kind));
  info.seed = options_.seed;
  info.nodes = static_cast<int>(cluster_->nodes().size());
  info.duration_s = options_.time_s;
  info.started_at = started_at_;
  info.server_version = "dialkv " DIALKV_VERSION;
  if (options_.server_bug) {
    // Also in the command line; said here too so nobody mistakes the run for a clean server's.
    info.server_version +=
        ", test-only bug " + std::string(ServerBugName(*options_.server_bug)) + " switched on";
  }
  return info;
}

}  // namespace

std::string_view ServerBugName(ServerBug bug) {
  switch (bug) {
    case ServerBug::kSkipReadRepair:
      return "skip-read-repair";
    case ServerBug::kSkipWriteTimestampPhase:
      return "skip-write-timestamp-phase";
  }
  return "unknown";
}

Result<ServerBug> ParseServerBug(std::string_view text) {
  for (ServerBug bug : {ServerBug::kSkipReadRepair, ServerBug::kSkipWriteTimestampPhase}) {
    if (text == ServerBugName(bug)) return bug;
  }
  return Status::InvalidArgument("unknown server bug '" + std::string(text) +
                                 "'; choose skip-read-repair or skip-write-timestamp-phase");
}

Status ValidateOptions(const HarnessOptions& options) {
  const bool attach = !options.endpoints.empty();
  for (NemesisKind kind : options.nemeses) {
    if (attach && NeedsProcessControl(kind)) {
      return Status::InvalidArgument("the " + std::string(NemesisName(kind)) +
                                     " nemesis needs the harness to start the servers; it is not "
                                     "available with --endpoints");
    }
  }
  if (!attach && options.server_path.empty()) {
    return Status::InvalidArgument("give --server PATH (and --nodes N), or --endpoints");
  }
  if (attach && options.tls) {
    return Status::InvalidArgument(
        "--tls starts a cluster with TLS; for a running one give its CA with --tls-ca");
  }
  if (!attach && !options.tls_ca_file.empty()) {
    return Status::InvalidArgument(
        "--tls-ca is for a running cluster (--endpoints); --tls makes the CA of a started one");
  }
  if (options.time_s <= 0 || options.warmup_s < 0 || options.converge_timeout_s < 0) {
    return Status::InvalidArgument("--time must be > 0, --warmup and --converge-timeout >= 0");
  }
  const WorkloadOptions& w = options.workload;
  if (w.keys < 1 || w.ops_per_key < 1 || w.concurrency < 1 || w.op_timeout_ms == 0) {
    return Status::InvalidArgument(
        "--keys, --ops-per-key, --concurrency and --op-timeout-ms must be at least 1");
  }
  if (!(w.read_fraction >= 0 && w.delete_fraction >= 0 &&
        w.read_fraction + w.delete_fraction <= 1)) {
    return Status::InvalidArgument("--read-fraction + --delete-fraction must be within 0..1");
  }
  if (options.max_clock_skew_ms >= 500) {
    // Past the servers' default guard a skewed node's writes are refused, which tests the
    // guard rather than last-writer-wins.
    return Status::InvalidArgument(
        "--max-clock-skew-ms must stay below the servers' 500 ms "
        "skew guard");
  }
  return Status::Ok();
}

int RunHarness(const HarnessOptions& options, std::chrono::steady_clock::time_point start,
               const std::atomic<bool>& interrupted) {
  Run run(options, start, interrupted);
  return run.Execute();
}

int HoldCluster(const HarnessOptions& options, const std::atomic<bool>& interrupted) {
  const auto fail = [](const std::string& message) {
    std::fprintf(stderr, "dialkv-jepsen: %s\n", message.c_str());
    return kExitHarnessError;
  };
  std::error_code ec;
  std::filesystem::create_directories(options.out, ec);
  if (ec) return fail("cannot create " + options.out.string() + ": " + ec.message());
  Result<std::unique_ptr<Cluster>> cluster = StartLocalCluster(options);
  if (!cluster.ok()) return fail(cluster.status().ToString());
  if (Status settled = (*cluster)->WaitSettled(std::chrono::seconds(30)); !settled.ok()) {
    return fail(settled.ToString());
  }
  std::string endpoints;
  for (NodeId node : (*cluster)->nodes()) {
    endpoints += (endpoints.empty() ? "" : ",") + (*cluster)->endpoint(node);
  }
  const std::filesystem::path file = options.out / "endpoints";
  {
    std::ofstream out(file.string() + ".tmp");
    out << endpoints << "\n";
    if (!out.flush()) return fail("cannot write " + file.string());
  }
  std::filesystem::rename(file.string() + ".tmp", file, ec);
  if (ec) return fail("cannot create " + file.string() + ": " + ec.message());
  const std::filesystem::path token_file = options.out / "token";
  if (Status written = WritePrivateFile(token_file, (*cluster)->token() + "\n"); !written.ok()) {
    return fail(written.ToString());
  }
  std::printf("%s\n", endpoints.c_str());
  std::fflush(stdout);
  while (!interrupted.load()) {
    if (const std::string crashed = (*cluster)->CrashedNodes(); !crashed.empty()) {
      return fail(crashed);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Until a signal comes.
  }
  (*cluster)->Stop();
  std::filesystem::remove(file, ec);
  return kExitPass;
}

}  // namespace dialkv::jepsen
