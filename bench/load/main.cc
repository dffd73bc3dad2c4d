// dialkv-bench: closed- or open-loop load against dialkv, Redis or etcd (bench/README.md).
//   dialkv-bench --endpoints 127.0.0.1:7379,127.0.0.1:7389,127.0.0.1:7399 --mode both
//       --connections 16 --read-ratio 0.5 --duration 10 --json out.json --svg out.svg
//   dialkv-bench table a.json b.json ...   # the comparison table of earlier runs (Markdown)
//   dialkv-bench footprint-chart samples.csv --svg out.svg   # bench/footprint/run.sh's chart
// Flags are parsed and wired here; the load, backends and reports live beside this file.
#include <sys/utsname.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/load/hgrm.h"
#include "bench/load/partition.h"
#include "bench/load/report.h"
#include "bench/load/runner.h"
#include "bench/load/svg_chart.h"
#include "server/common/command_line.h"
#include "server/common/version.h"

namespace dialkv::bench {
namespace {

struct Flags {
  std::string target = "dialkv";
  std::string endpoints;
  std::string mode = "cp";
  std::string scenario = "load";
  std::string distribution = "uniform";
  std::string json_path, svg_path;
  std::string hgrm_dir;             // --hgrm-dir: one .hgrm file per run and operation.
  std::string label, variant_note;  // See --label, --variant-note.
  size_t isolate = 0;               // 1-based; 0: the last endpoint.
  double fault_start_s = 10, fault_s = 10;
  bool quiet = false;
  bool no_prefill = false;
  bool no_failover = false;
  std::string failover;  // on, off or both; empty: both for the partition scenario, else on.
  LoadOptions load;
  BackendOptions backend;
  std::vector<std::string> table_files;
  std::string footprint_csv;  // footprint-chart: run.sh's samples.csv.
  double footprint_limit_mb = 0;
  std::string footprint_title = "Sustained writes: disk, RSS and latency";
};

// The system's name in the table, JSON and chart: --label, else the target's.
std::string SystemName(const Flags& f) {
  return f.label.empty() ? std::string(TargetName(f.backend.target)) : f.label;
}

// What the mode means for the system, with --variant-note after it.
std::string Variant(const Flags& f) {
  const std::string variant = VariantName(f.backend);
  return f.variant_note.empty() ? variant : variant + "; " + f.variant_note;
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Now() {
  const std::time_t t = std::time(nullptr);
  char out[32];
  std::strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return out;
}

nlohmann::ordered_json Machine() {
  nlohmann::ordered_json m;
  utsname u{};
  if (uname(&u) == 0) m["host"] = std::string(u.sysname) + " " + u.release + " " + u.machine;
  m["cpus"] = std::thread::hardware_concurrency();
  if (std::ifstream in("/proc/loadavg"); in) {
    std::string load;
    std::getline(in, load);
    m["loadavg_at_end"] = load;
  }
  return m;
}

int Table(const std::vector<std::string>& files) {
  std::vector<RunSummary> runs;
  for (const std::string& f : files) {
    std::ifstream in(f);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("runs")) {
      std::fprintf(stderr, "dialkv-bench: %s is not a dialkv-bench JSON file\n", f.c_str());
      return 2;
    }
    for (const auto& r : j["runs"]) {
      Result<RunSummary> run = RunFromJson(r);
      if (!run.ok()) {
        std::fprintf(stderr, "dialkv-bench: %s: %s\n", f.c_str(), run.status().message().c_str());
        return 2;
      }
      runs.push_back(std::move(run).value());
    }
  }
  std::fputs(ComparisonTable(runs).c_str(), stdout);
  return 0;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) std::fprintf(stderr, "dialkv-bench: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

// footprint-chart: samples.csv in, SVG out. 0 written; 1 a file could not be read or written.
int WriteFootprintChart(const Flags& f) {
  std::ifstream in(f.footprint_csv);
  if (!in) {
    std::fprintf(stderr, "dialkv-bench: cannot read %s\n", f.footprint_csv.c_str());
    return 1;
  }
  std::stringstream csv;
  csv << in.rdbuf();
  const std::vector<FootprintSample> samples = ReadFootprintCsv(csv.str());
  if (samples.empty()) {
    std::fprintf(stderr, "dialkv-bench: no samples in %s\n", f.footprint_csv.c_str());
    return 1;
  }
  std::ofstream out(f.svg_path);
  out << FootprintChart(samples, f.footprint_limit_mb, f.footprint_title);
  if (!out) {
    std::fprintf(stderr, "dialkv-bench: cannot write %s\n", f.svg_path.c_str());
    return 1;
  }
  return 0;
}

// "open loop: offered 1000/s, achieved 998.4/s; 3 of 9984 operations started late (1 ms or
// more after their intended start), max lag 2.31 ms", and a warning when it fell behind.
std::string OpenLoopLine(const std::string& name, const OpenLoopStats& o) {
  char line[320];
  std::snprintf(line, sizeof(line),
                "%s open loop: offered %.0f/s, achieved %.1f/s; %llu of %llu operations started "
                "late (%lld ms or more after their intended start), max lag %.2f ms%s\n",
                name.c_str(), o.offered_per_s, o.achieved_per_s,
                static_cast<unsigned long long>(o.late), static_cast<unsigned long long>(o.started),
                static_cast<long long>(kOpenLoopLateAfter.count()),
                static_cast<double>(o.max_lag_ns) / 1e6,
                o.fell_behind() ? " - FELL BEHIND: the latencies include the backlog" : "");
  return line;
}

nlohmann::ordered_json OpenLoopJson(const OpenLoopStats& o) {
  return {{"offered_per_s", o.offered_per_s},
          {"achieved_per_s", o.achieved_per_s},
          {"started", o.started},
          {"late", o.late},
          {"late_after_ms", kOpenLoopLateAfter.count()},
          {"max_lag_ms", static_cast<double>(o.max_lag_ns) / 1e6},
          {"fell_behind", o.fell_behind()}};
}

// --hgrm-dir: DIR/<system>-<mode>[-no-failover]-<get|put>.hgrm for one run.
bool WriteHgrmFiles(const std::string& dir, const RunSummary& run, const RunStats& stats) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "dialkv-bench: cannot create %s: %s\n", dir.c_str(), ec.message().c_str());
    return false;
  }
  for (const OpKind kind : {OpKind::kGet, OpKind::kPut}) {
    if (stats.op(kind).total() == 0) continue;
    std::string name = run.system + "-" + run.mode + (run.failover ? "" : "-no-failover") + "-" +
                       std::string(OpName(kind)) + ".hgrm";
    for (char& c : name) {  // --label may hold anything; a file name gets [A-Za-z0-9._-].
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
    }
    if (!WriteFile((std::filesystem::path(dir) / name).string(),
                   PercentileDistribution(stats.op(kind).latency))) {
      return false;
    }
  }
  return true;
}

int Run(Flags& f, const std::string& command_line) {
  f.backend.endpoints = Split(f.endpoints);
  f.backend.target = f.target == "redis"  ? Target::kRedis
                     : f.target == "etcd" ? Target::kEtcd
                                          : Target::kDialkv;
  if (f.no_failover && !f.failover.empty() && f.failover != "off") {
    std::fprintf(stderr, "dialkv-bench: --no-failover contradicts --failover %s\n",
                 f.failover.c_str());
    return 2;
  }
  if (f.no_failover) f.failover = "off";
  if (f.failover.empty()) f.failover = f.scenario == "partition" ? "both" : "on";
  f.load.prefill = !f.no_prefill;
  f.load.progress = !f.quiet;
  f.load.distribution = f.distribution == "zipf" ? Distribution::kZipf : Distribution::kUniform;
  if (f.backend.endpoints.empty()) {
    std::fprintf(stderr, "dialkv-bench: --endpoints is required\n");
    return 2;
  }
  std::unique_ptr<IsolateNode> isolate;
  FaultSchedule schedule;
  if (f.scenario == "partition") {
    if (f.backend.target != Target::kDialkv) {
      std::fprintf(stderr, "dialkv-bench: the partition scenario drives dialkv only\n");
      return 2;
    }
    const size_t index = f.isolate == 0 ? f.backend.endpoints.size() - 1 : f.isolate - 1;
    ClientOptions admin;
    admin.token = f.backend.token;
    admin.tls_ca_file = f.backend.tls_ca_file;
    Result<std::unique_ptr<IsolateNode>> created =
        IsolateNode::Create(f.backend.endpoints, admin, index);
    if (!created.ok()) {
      std::fprintf(stderr, "dialkv-bench: %s\n", created.status().message().c_str());
      return 2;
    }
    isolate = std::move(created).value();
    schedule = {.control = isolate.get(), .start_s = f.fault_start_s, .length_s = f.fault_s};
    f.load.isolated_endpoint = index;
    f.load.check_staleness = true;
    if (f.load.ops == 0 && f.load.duration_s < f.fault_start_s + f.fault_s) {
      f.load.duration_s = f.fault_start_s + 2 * f.fault_s;
    }
  }
  const std::vector<std::string> modes =
      f.mode == "both" ? std::vector<std::string>{"cp", "ap"} : std::vector<std::string>{f.mode};
  const std::vector<bool> failovers =
      f.failover == "both" ? std::vector<bool>{true, false} : std::vector<bool>{f.failover == "on"};
  std::vector<RunSummary> runs;
  std::vector<std::optional<OpenLoopStats>> open_loops;
  for (const std::string& mode : modes) {
    for (const bool failover : failovers) {
      f.backend.mode = mode;
      f.backend.failover = failover;
      if (!f.quiet) {
        std::fprintf(stderr,
                     "== %s %s (%s)%s: %zu connections x %zu pipeline, %llu keys, %zu-byte "
                     "values, read ratio %.2f, %s\n",
                     SystemName(f).c_str(), mode.c_str(), Variant(f).c_str(),
                     failover ? "" : ", no failover", f.load.connections, f.load.pipeline,
                     static_cast<unsigned long long>(f.load.keys), f.load.value_bytes,
                     f.load.read_ratio, std::string(DistributionName(f.load.distribution)).c_str());
      }
      Result<RunResult> result = RunLoad(f.load, f.backend, schedule);
      if (!result.ok()) {
        std::fprintf(stderr, "dialkv-bench: %s %s: %s\n", f.target.c_str(), mode.c_str(),
                     result.status().ToString().c_str());
        return 1;
      }
      RunSummary run = Summarize(result->stats, result->seconds, SystemName(f), mode, Variant(f));
      run.faults = result->faults;
      run.failover = failover;
      if (!f.hgrm_dir.empty() && !WriteHgrmFiles(f.hgrm_dir, run, result->stats)) return 1;
      open_loops.push_back(result->open_loop);
      runs.push_back(std::move(run));
    }
  }
  std::fputs(FormatRunTable(runs).c_str(), stdout);
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!open_loops[i]) continue;
    const std::string name =
        runs[i].system + " " + runs[i].mode + (runs[i].failover ? "" : " (no failover)");
    std::fputs(OpenLoopLine(name, *open_loops[i]).c_str(), stdout);
  }
  if (f.scenario == "partition") std::fputs(("\n" + PartitionText(runs)).c_str(), stdout);
  if (!f.json_path.empty()) {
    nlohmann::ordered_json j;
    j["command"] = command_line;
    j["date"] = Now();
    j["machine"] = Machine();
    j["load"] = {{"target", f.target},
                 {"endpoints", f.backend.endpoints},
                 {"scenario", f.scenario},
                 {"connections", f.load.connections},
                 {"pipeline", f.load.pipeline},
                 {"keys", f.load.keys},
                 {"value_bytes", f.load.value_bytes},
                 {"read_ratio", f.load.read_ratio},
                 {"distribution", f.distribution},
                 {"rate", f.load.rate},
                 {"duration_s", f.load.duration_s},
                 {"ops", f.load.ops},
                 {"warmup_s", f.load.warmup_s},
                 {"timeout_ms", f.backend.timeout_ms},
                 {"failover", f.failover},
                 {"isolated_endpoint",  // 1-based, as --isolate; null: none.
                  f.load.isolated_endpoint ? nlohmann::json(*f.load.isolated_endpoint + 1)
                                           : nlohmann::json(nullptr)},
                 {"dialkv_client_threads", f.backend.dialkv_client_threads}};
    j["runs"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < runs.size(); ++i) {
      j["runs"].push_back(ToJson(runs[i]));
      if (open_loops[i]) j["runs"].back()["open_loop"] = OpenLoopJson(*open_loops[i]);
    }
    if (!WriteFile(f.json_path, j.dump(2) + "\n")) return 1;
  }
  if (!f.svg_path.empty()) {
    const std::string title = SystemName(f) + ": " + std::to_string(f.load.connections) +
                              " connections, read ratio " +
                              std::to_string(f.load.read_ratio).substr(0, 4);
    const std::string svg = f.scenario == "partition"
                                ? TimelineChart(runs, title + ", one node isolated")
                                : ThroughputChart(runs, title);
    if (!WriteFile(f.svg_path, svg)) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace dialkv::bench

int main(int argc, char** argv) {
  using dialkv::bench::Flags;
  Flags f;
  CLI::App app{
      "dialkv-bench: closed-loop load against dialkv, Redis or etcd, or open-loop with --rate"};
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", dialkv::VersionLine("dialkv-bench"),
                       "Print the version and the commit it was built from, and exit");
  app.add_option("--target", f.target, "dialkv, redis or etcd")
      ->check(CLI::IsMember({"dialkv", "redis", "etcd"}));
  app.add_option("--label", f.label,
                 "the system's name in the table, JSON and chart (default: the target), e.g. to "
                 "tell apart two configurations of one system");
  app.add_option("--variant-note", f.variant_note,
                 "added to the description of the mode in the table and JSON (what differs in "
                 "this configuration)");
  app.add_option(
      "--endpoints", f.endpoints,
      "host:port,... of every node (redis: the primary first; etcd: client URLs' host:port)");
  app.add_option("--token", f.backend.token,
                 "dialkv: the token to present to nodes that check tokens (kv:read and kv:write; "
                 "admin too for --scenario partition); see dialkv token create")
      ->envname("DIALKV_TOKEN");
  app.add_option("--tls-ca", f.backend.tls_ca_file,
                 "dialkv: PEM file of the CA that signed the nodes' certificates, for nodes whose "
                 "client port speaks TLS (--tls-cert)")
      ->envname("DIALKV_TLS_CA");
  app.add_option("--mode", f.mode, "cp, ap or both (see backend.h for what they mean per target)")
      ->check(CLI::IsMember({"cp", "ap", "both"}));
  app.add_option("--scenario", f.scenario,
                 "load, or partition (dialkv: isolate one node a while; every read is checked "
                 "for staleness and the clients of the isolated node are reported apart)")
      ->check(CLI::IsMember({"load", "partition"}));
  app.add_option("--connections", f.load.connections, "connections (dialkv: one client each)");
  app.add_option("--pipeline", f.load.pipeline, "operations outstanding per connection");
  app.add_option("--keys", f.load.keys, "size of the key space");
  app.add_option("--value-bytes", f.load.value_bytes, "bytes per value");
  app.add_option("--read-ratio", f.load.read_ratio, "fraction of operations that are gets (0..1)");
  app.add_option("--distribution", f.distribution, "uniform or zipf")
      ->check(CLI::IsMember({"uniform", "zipf"}));
  app.add_option("--zipf-theta", f.load.zipf_theta, "skew of zipf, 0..1 exclusive");
  app.add_option("--rate", f.load.rate,
                 "open loop: operations per second across every connection, each at a fixed "
                 "intended start, latency measured from it (no coordinated omission); reports "
                 "operations started late and the rate achieved. 0: closed loop");
  app.add_option("--hgrm-dir", f.hgrm_dir,
                 "write each run's latency histograms here, one HdrHistogram .hgrm file "
                 "(percentile distribution, ms) per mode and operation");
  app.add_option("--duration", f.load.duration_s, "seconds of measurement");
  app.add_option("--ops", f.load.ops, "operations to measure instead of a duration");
  app.add_option("--warmup", f.load.warmup_s, "seconds of load before measuring");
  app.add_flag("--no-prefill", f.no_prefill,
               "do not write every key once before a load that reads");
  app.add_option("--timeout-ms", f.backend.timeout_ms, "deadline of each operation");
  app.add_option("--failover", f.failover,
                 "dialkv: on (a connection's client fails over to the other nodes), off (each "
                 "connection talks to its one node only), or both (a run of each); default both "
                 "for --scenario partition, else on")
      ->check(CLI::IsMember({"on", "off", "both"}));
  app.add_flag("--no-failover", f.no_failover, "dialkv: the same as --failover off");
  app.add_flag("--dialkv-client-threads", f.backend.dialkv_client_threads,
               "dialkv: run each connection's client on an I/O thread of its own (calls hop "
               "there and back) instead of on the load generator's thread");
  app.add_option("--redis-wait-replicas", f.backend.redis_wait_replicas,
                 "redis cp: replicas WAIT waits for");
  app.add_option("--isolate", f.isolate,
                 "partition: which endpoint (1-based) to isolate; default the last");
  app.add_option("--fault-start", f.fault_start_s, "partition: seconds into the measurement");
  app.add_option("--fault-seconds", f.fault_s, "partition: how long the node stays isolated");
  app.add_option("--seed", f.load.seed, "seed of the key and operation choices");
  app.add_option("--json", f.json_path, "write the results as JSON here");
  app.add_option("--svg", f.svg_path, "write a chart here");
  app.add_flag("--quiet", f.quiet, "no progress lines");
  CLI::App* table = app.add_subcommand("table", "print the comparison table of JSON result files");
  table->add_option("files", f.table_files, "dialkv-bench JSON files")->required();
  CLI::App* footprint =
      app.add_subcommand("footprint-chart", "chart bench/footprint/run.sh's samples.csv as SVG");
  footprint->add_option("csv", f.footprint_csv, "samples.csv")->required();
  footprint->add_option("--svg", f.svg_path, "where to write the chart")->required();
  footprint->add_option("--limit-mb", f.footprint_limit_mb, "disk target to draw (0: none)");
  footprint->add_option("--title", f.footprint_title, "the chart's title");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*table) return dialkv::bench::Table(f.table_files);
  if (*footprint) return dialkv::bench::WriteFootprintChart(f);
  const std::string command_line = dialkv::RecordedCommandLine(argc, argv);
  try {
    return dialkv::bench::Run(f, command_line);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dialkv-bench: %s\n", e.what());
    return 1;
  }
}
