// dialkv: the command-line client. Parses flags and calls dialkv::Client; values go to stdout
// as raw bytes, errors to stderr as one line.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/cli/fault_command.h"
#include "client/cli/json_output.h"
#include "client/cli/output.h"
#include "client/cli/token_command.h"
#include "dialkv/client.h"
#include "server/common/version.h"

namespace {

using dialkv::cli::ExitCode;
using dialkv::cli::Fail;
using dialkv::cli::kExitOk;
using dialkv::cli::kExitOtherError;
using dialkv::cli::kExitUsage;
using dialkv::cli::OutputFormat;
using dialkv::cli::Printable;
using dialkv::cli::PrintError;
using dialkv::cli::WriteStdout;

constexpr uint32_t kMaxTimeoutMs = 24 * 3600 * 1000;
// A value read from stdin may be at most this large: the default frame limit of the nodes.
constexpr size_t kMaxStdinValueBytes = 16u << 20;

constexpr const char* kFooter = R"(Modes (--mode, for get, put and del):
  cp  Linearizable: reads and writes wait for a quorum of the key's replicas, so a read sees
      every write that finished before it. While no quorum answers, requests fail with
      UNAVAILABLE (not applied) or, for a write, UNKNOWN (it may have been applied).
  ap  Available: served by whichever replica answers; a read may be stale, and a write is
      accepted while the node that receives it is up, reaching the other replicas later.
      Concurrent writes resolve by last-writer-wins.
  Linearizability holds only for a key whose every read and write uses cp.

status asks the first reachable endpoint how it sees the cluster and prints one line per
node: id, peer address, state (self, alive, suspect, dead), generation (grows at each restart),
keys stored, and when it was last heard from. Exit 0, or 3 when no endpoint is reachable.

status then asks every endpoint how far behind its anti-entropy is: when the oldest of its
ranges last completed a full round with every other replica.

repair runs one anti-entropy round now on every endpoint in turn: each node compares digests
with every live peer it shares ranges with and pushes and pulls the versions that differ,
then collects the tombstones it may. One line per node says what moved. The round may take
long on a large store: it waits up to max(--timeout-ms, 10 minutes).

fault (see dialkv fault --help) and inspect ask every endpoint, one node each, so
--endpoints must list every node. They need nodes started with --enable-fault-injection.
inspect prints one line per node: its id, then its own stored version of KEY, quoted, or
<tombstone> or <none>, with the version's timestamp (wall-clock ms.logical counter) and the
node that wrote it, e.g.  node 2: "blue" (at 1732623456789.3 by node 1)

Tokens: nodes started with --auth-token-secret-file answer only requests from a connection
that presented a token (--token or DIALKV_TOKEN) made with the same secret by
'dialkv token create'. Its scopes decide what it may do: kv:read (get, status), kv:write (put,
del), admin (repair, fault, inspect); --prefix limits it to keys that start with a prefix.
A missing, bad or expired token fails with UNAUTHENTICATED, a request the token does not
allow with PERMISSION_DENIED (exit 5 for both); nothing is applied.

TLS: for nodes whose client port speaks TLS (--tls-cert), give the CA that signed their
certificates with --tls-ca or DIALKV_TLS_CA. A certificate that does not verify, or does not
name the host in --endpoints, fails with UNAVAILABLE (exit 3) before anything is sent.

Output (--output json, for status, inspect and every fault command): one JSON document
on stdout with what the text shows, for scripts. Names are snake_case; counts, sizes (bytes),
ids and durations (_ms) are numbers; a time is NAME_ms (ms since the Unix epoch) with NAME_utc
(ISO 8601), both null when there is none; an unknown value is null. Every endpoint asked gets
one entry in "endpoints", with its "node_id" when known and either its data or
{"error": {"code": "UNAVAILABLE", "message": "..."}}. Exit codes and stderr are as with text.
  status:  {"cluster_name", "replication_factor", "seen_by_node_id", "clock_skewed",
            "disk_alarm": {"raised", "low_space", "storage_error", "message", "free_bytes",
                           "min_free_bytes", "since_ms", "since_utc"},
            "nodes": [{"node_id", "peer_address", "state", "generation", "heartbeat",
                       "live_keys", "last_heard_ms_ago", "clock_offset_ms",
                       "clock_offset_rtt_ms"}],
            "endpoints": [{"endpoint", "node_id", "generation", "clock_skewed", "disk_alarm",
                           "anti_entropy": {"oldest_full_round_ms", "oldest_full_round_utc",
                                            "oldest_full_round_age_ms"},
                           "storage": {"data_dir_bytes", "sst_bytes", "wal_bytes", ...},
                           "nodes": [its own view]}]}
           When no endpoint answers: {"error": {"code", "message"}} alone.
  fault:   {"endpoints": [{"endpoint", "node_id", "faults": {"summary", "seed",
            "clock_offset_ms", "disk", "test_bugs", "links": [{"peer", "block_out",
            "block_in", "drop_out", "drop_in", "delay_ms", "jitter_ms"}]}}]}
  inspect: {"key", "endpoints": [{"endpoint", "node_id", "version": null or {"tombstone",
            "value" (null unless UTF-8), "value_base64", "value_bytes", "written_by_node_id",
            "timestamp": {"wall_ms", "wall_utc", "logical", "text"}}}]}
For example:  dialkv --output json status | jq -r '.endpoints[] | select(.error) | .endpoint'

Exit codes:
  0  ok (also when a write was accepted as hints; a note says so on stderr)
  1  not found (get)
  2  bad usage or INVALID_ARGUMENT
  3  UNAVAILABLE: definitely not applied, safe to retry
  4  UNKNOWN (a write that may have been applied) or TIMEOUT (a read)
  5  any other error
Values are written to stdout as raw bytes, without a trailing newline.
Errors are written to stderr as one line: "dialkv: CODE: message".)";

constexpr const char* kHintedNote =
    "note: no replica acknowledged in time; the write is held as hints and will be delivered";

// Flags that apply to every subcommand.
struct GlobalFlags {
  std::string endpoints = "127.0.0.1:7379";
  uint32_t timeout_ms = 5000;
  std::string mode = "cp";      // For get, put and del.
  std::string token;            // Presented on every connection; empty: none.
  std::string tls_ca;           // CA file for nodes whose client port speaks TLS; empty: plain TCP.
  std::string output = "text";  // For status, inspect and fault: text or json.
};

struct KeyValueArgs {
  std::string key;
  std::string value;  // For put; "-" reads it from stdin.
};

std::vector<std::string> SplitEndpoints(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    out.emplace_back(item);
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

// Reads all of stdin as raw bytes.
dialkv::Result<std::string> ReadStdin() {
  std::string value;
  char buffer[64 * 1024];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), stdin);
    value.append(buffer, n);
    if (value.size() > kMaxStdinValueBytes) {
      return dialkv::Status::InvalidArgument("value on stdin is over " +
                                             std::to_string(kMaxStdinValueBytes) + " bytes");
    }
    if (n < sizeof(buffer)) break;
  }
  if (std::ferror(stdin)) {
    return dialkv::Status::IOError(std::string("cannot read stdin: ") + std::strerror(errno));
  }
  return value;
}

std::optional<dialkv::Consistency> ParseMode(std::string_view mode) {
  if (mode == "cp") return dialkv::Consistency::kCp;
  if (mode == "ap") return dialkv::Consistency::kAp;
  return std::nullopt;
}

std::string LastHeard(const dialkv::NodeInfo& node) {
  if (node.state == "self") return "-";
  const int64_t ms = node.last_heard_ms_ago;
  if (ms < 0) return "never";
  if (ms < 10'000) return std::to_string(ms) + " ms ago";
  return std::to_string(ms / 1000) + " s ago";
}

// "+12 ms" (that node's clock is ahead of the answering node's), "-" when not estimated.
std::string ClockOffset(const dialkv::NodeInfo& node) {
  if (!node.clock_offset_known) return "-";
  return (node.clock_offset_ms > 0 ? "+" : "") + std::to_string(node.clock_offset_ms) + " ms";
}

// Rows of cells as text columns separated by two spaces, each as wide as its widest cell.
std::string AlignColumns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

// "cluster NAME: N nodes, replication factor R, as seen by node ID" and the table of nodes.
std::string FormatStatus(const dialkv::ClusterStatus& status) {
  std::string out = "cluster " + Printable(status.cluster_name) + ": " +
                    std::to_string(status.nodes.size()) + " nodes, replication factor " +
                    std::to_string(status.replication_factor) + ", as seen by node " +
                    std::to_string(status.node_id) + "\n";
  std::vector<std::vector<std::string>> rows = {
      {"ID", "PEER ADDRESS", "STATE", "GENERATION", "KEYS", "LAST HEARD", "CLOCK OFFSET"}};
  for (const dialkv::NodeInfo& node : status.nodes) {
    rows.push_back({std::to_string(node.node_id), Printable(node.peer_address),
                    Printable(node.state), std::to_string(node.generation),
                    std::to_string(node.live_keys), LastHeard(node), ClockOffset(node)});
  }
  out += AlignColumns(rows);
  if (status.clock_skewed) {
    out += "clock skew: node " + std::to_string(status.node_id) +
           "'s clock differs from a majority of its peers' by more than --max-clock-skew-ms; "
           "it refuses to coordinate writes\n";
  }
  if (status.disk_alarm.raised()) {
    out += "DISK ALARM on node " + std::to_string(status.node_id) + ": " +
           Printable(status.disk_alarm.message) + "\n";
  }
  return out;
}

// A write the node accepted but holds as hints succeeded; say so without failing.
int WriteDone(const dialkv::Result<dialkv::WriteResult>& written) {
  if (!written.ok()) return Fail(written.status());
  if (written->hinted) PrintError(kHintedNote);
  return kExitOk;
}

int RunGet(dialkv::Client& client, const KeyValueArgs& args) {
  dialkv::Result<dialkv::GetResult> got = client.Get(args.key);
  if (!got.ok()) return Fail(got.status());
  return WriteStdout(got->value);
}

int RunPut(dialkv::Client& client, const KeyValueArgs& args) {
  std::string value = args.value;
  if (value == "-") {
    dialkv::Result<std::string> in = ReadStdin();
    if (!in.ok()) return Fail(in.status());
    value = std::move(in).value();
  }
  return WriteDone(client.Put(args.key, value));
}

int RunDelete(dialkv::Client& client, const KeyValueArgs& args) {
  return WriteDone(client.Delete(args.key));
}

// A client whose only endpoint is `endpoint`, for requests about that one node.
dialkv::Result<std::unique_ptr<dialkv::Client>> NodeClient(const std::string& endpoint,
                                                           const dialkv::ClientOptions& base) {
  dialkv::ClientOptions options = base;
  options.endpoints = {endpoint};
  return dialkv::Client::Create(std::move(options));
}

// "last full round 2.4 s ago" or "no complete round since it started".
std::string AntiEntropyLag(const dialkv::ClusterStatus& status) {
  if (status.ae_oldest_full_round_ms == 0) return "no complete round since it started";
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const double ago_s = static_cast<double>(now_ms - status.ae_oldest_full_round_ms) / 1000.0;
  char text[64];
  std::snprintf(text, sizeof(text), "last full round %.1f s ago", ago_s < 0 ? 0.0 : ago_s);
  return text;
}

// "1.5 MiB", "830 B": sizes for people.
std::string Bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

// "disk 54.0 MiB (SST 40.0 MiB, WAL 3.0 MiB), memtables ..., write stalls 0, recovery 310 ms".
std::string StorageSummary(const dialkv::ClusterStatus::Storage& s) {
  return "disk " + Bytes(s.data_dir_bytes) + " (SST " + Bytes(s.sst_bytes) + ", WAL " +
         Bytes(s.wal_bytes) + "), live data ~" + Bytes(s.live_data_bytes) + ", memtables " +
         Bytes(s.memtable_bytes) + ", pending compaction " + Bytes(s.pending_compaction_bytes) +
         ", write stalls " + std::to_string(s.write_stalls) + " (" +
         std::to_string(s.write_stall_ms) + " ms, longest " +
         std::to_string(s.longest_write_stall_ms) + " ms), recovery " +
         std::to_string(s.recovery_ms) + " ms";
}

int RunStatus(dialkv::Client& client, const std::vector<std::string>& endpoints,
              const dialkv::ClientOptions& base, OutputFormat format) {
  dialkv::Result<dialkv::ClusterStatus> status = client.ClusterStatus();
  if (!status.ok()) {
    // A script reading stdout still gets a document that says why.
    if (format == OutputFormat::kJson) {
      (void)WriteStdout(
          dialkv::cli::DumpJson({{"error", dialkv::cli::ErrorJson(status.status())}}));
    }
    return Fail(status.status());
  }
  std::vector<dialkv::cli::EndpointStatus> answers;
  answers.reserve(endpoints.size());
  for (const std::string& endpoint : endpoints) {
    answers.push_back({endpoint, [&]() -> dialkv::Result<dialkv::ClusterStatus> {
                         auto node = NodeClient(endpoint, base);
                         if (!node.ok()) return node.status();
                         return (*node)->ClusterStatus();
                       }()});
  }
  if (format == OutputFormat::kJson) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    return WriteStdout(dialkv::cli::DumpJson(dialkv::cli::StatusJson(*status, answers, now_ms)));
  }
  // Each endpoint's own view: "node 1: ..." or "127.0.0.1:7399: UNAVAILABLE ...".
  std::string anti_entropy = "anti-entropy:\n";
  std::string storage = "storage:\n";
  for (const auto& [endpoint, own] : answers) {
    if (!own.ok()) {
      const std::string line = "  " + Printable(endpoint + ": " + own.status().ToString()) + "\n";
      anti_entropy += line;
      storage += line;
      continue;
    }
    const std::string who = "  node " + std::to_string(own->node_id) + ": ";
    anti_entropy += who + AntiEntropyLag(*own) + "\n";
    storage += who + StorageSummary(own->storage);
    // Every node's disk alarm shows here, since each endpoint is asked anyway.
    if (own->disk_alarm.raised()) storage += "; DISK ALARM: " + Printable(own->disk_alarm.message);
    storage += "\n";
  }
  return WriteStdout(FormatStatus(*status) + anti_entropy + storage);
}

// Runs a repair round on every endpoint in turn; the exit code of the first failure.
int RunRepair(const std::vector<std::string>& endpoints, dialkv::ClientOptions base) {
  constexpr uint32_t kMinRepairTimeoutMs = 600'000;
  base.timeout_ms = std::max(base.timeout_ms, kMinRepairTimeoutMs);
  int exit_code = kExitOk;
  std::string out;
  for (const std::string& endpoint : endpoints) {
    auto client = NodeClient(endpoint, base);
    dialkv::Result<dialkv::RepairReport> report =
        client.ok() ? (*client)->Repair() : dialkv::Result<dialkv::RepairReport>(client.status());
    if (!report.ok()) {
      PrintError(endpoint + ": " + report.status().ToString());
      if (exit_code == kExitOk) exit_code = ExitCode(report.code());
      continue;
    }
    out = "node " + std::to_string(report->node_id) + ":";
    if (report->exchanges.empty()) out += " no live peer shares a range with it";
    for (const dialkv::RepairExchange& e : report->exchanges) {
      out += " [peer " + std::to_string(e.peer) + ": " +
             (e.status.ok() ? (e.complete ? std::string("complete") : std::string("partial"))
                            : Printable(e.status.ToString())) +
             ", " + std::to_string(e.ranges_out_of_sync) + " of " +
             std::to_string(e.ranges_compared) + " ranges differed, pushed " +
             std::to_string(e.keys_pushed) + ", pulled " + std::to_string(e.keys_pulled) + ", " +
             std::to_string(e.bytes_exchanged) + " bytes]";
      if (!e.status.ok() && exit_code == kExitOk) exit_code = ExitCode(e.status.code());
    }
    const int written = WriteStdout(out + "\n");
    if (written != kExitOk) return written;
  }
  return exit_code;
}

int Main(int argc, char** argv) {
  CLI::App app("dialkv: read and write keys of a dialkv cluster, see its nodes, inject faults.",
               "dialkv");
  app.footer(kFooter);
  app.set_version_flag("--version", dialkv::VersionLine("dialkv"),
                       "Print the version and the commit it was built from, and exit");
  app.require_subcommand(1);
  app.fallthrough();  // Global flags may also follow the subcommand.

  GlobalFlags flags;
  app.add_option("--endpoints", flags.endpoints,
                 "Comma-separated host:port client addresses of the nodes to use, tried in "
                 "order with failover")
      ->envname("DIALKV_ENDPOINTS")
      ->capture_default_str();
  app.add_option("--timeout-ms", flags.timeout_ms,
                 "Deadline of the request in milliseconds; past it a read fails with TIMEOUT "
                 "and a write that was sent with UNKNOWN")
      ->envname("DIALKV_TIMEOUT_MS")
      ->check(CLI::Range(uint32_t{1}, kMaxTimeoutMs))
      ->capture_default_str();
  app.add_option("--mode", flags.mode,
                 "Consistency of get, put and del: cp (linearizable, or an error while no "
                 "quorum answers) or ap (always served, possibly stale); see below")
      ->envname("DIALKV_MODE")
      ->check(CLI::IsMember({"cp", "ap"}))
      ->capture_default_str();
  app.add_option("--token", flags.token,
                 "Token to present to nodes started with --auth-token-secret-file (see 'dialkv "
                 "token create'); prefer the environment variable, which other users cannot see "
                 "in the process list")
      ->envname("DIALKV_TOKEN");
  app.add_option("--tls-ca", flags.tls_ca,
                 "PEM file of the CA that signed the nodes' certificates, for nodes started with "
                 "--tls-cert: connections then use TLS and check that each node's certificate "
                 "names the host in --endpoints")
      ->envname("DIALKV_TLS_CA");
  app.add_option("--output", flags.output,
                 "Output of status, inspect and fault: text (for people) or json (one document "
                 "for scripts; see below)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  KeyValueArgs args;
  CLI::App* get = app.add_subcommand("get", "Print the value of KEY to stdout (exit 1: not found)");
  get->add_option("KEY", args.key, "The key")->required();
  CLI::App* put = app.add_subcommand("put", "Write VALUE under KEY");
  put->add_option("KEY", args.key, "The key")->required();
  put->add_option("VALUE", args.value, "The value; - reads it from stdin as raw bytes")->required();
  CLI::App* del = app.add_subcommand("del", "Delete KEY");
  del->add_option("KEY", args.key, "The key")->required();
  CLI::App* status = app.add_subcommand(
      "status", "Print each node's id, peer address, state, generation, keys, last heard");
  const dialkv::cli::FaultCommands faults(&app);
  CLI::App* repair =
      app.add_subcommand("repair", "Run one anti-entropy round now on every endpoint (see below)");
  dialkv::cli::TokenArgs token_args;
  CLI::App* token = dialkv::cli::AddTokenCommand(&app, &token_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help.
    PrintError(std::string("usage: ") + e.what() + " (see dialkv --help)");
    return kExitUsage;
  }
  const std::optional<dialkv::Consistency> mode = ParseMode(flags.mode);
  if (!mode.has_value()) {
    PrintError("usage: --mode must be cp or ap, got \"" + Printable(flags.mode) +
               "\" (see dialkv --help)");
    return kExitUsage;
  }

  const OutputFormat format = flags.output == "json" ? OutputFormat::kJson : OutputFormat::kText;
  if (format == OutputFormat::kJson && !status->parsed() && !faults.parsed()) {
    PrintError("usage: --output json is for status, inspect and fault (see dialkv --help)");
    return kExitUsage;
  }

  if (token->parsed()) return dialkv::cli::RunTokenCreate(token_args);

  dialkv::ClientOptions options;
  options.endpoints = SplitEndpoints(flags.endpoints);
  options.timeout_ms = flags.timeout_ms;
  options.default_consistency = *mode;
  options.token = flags.token;
  options.tls_ca_file = flags.tls_ca;
  if (faults.parsed()) return faults.Run(options.endpoints, options, format);
  if (repair->parsed()) return RunRepair(options.endpoints, options);
  dialkv::Result<std::unique_ptr<dialkv::Client>> client = dialkv::Client::Create(options);
  if (!client.ok()) return Fail(client.status());

  if (get->parsed()) return RunGet(**client, args);
  if (put->parsed()) return RunPut(**client, args);
  if (del->parsed()) return RunDelete(**client, args);
  if (status->parsed()) {
    return RunStatus(**client, options.endpoints, options, format);
  }
  PrintError("usage: no subcommand (see dialkv --help)");
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    PrintError(std::string("INTERNAL: ") + e.what());
  } catch (...) {
    PrintError("INTERNAL: unknown exception");
  }
  return kExitOtherError;
}
