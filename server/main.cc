// dialkv-server: parses flags into api::Node::Options, starts the node, waits for SIGINT or
// SIGTERM, stops it. Exit codes: 0 clean shutdown; 1 the node could not start (data dir of
// another node or cluster, locked data dir, port in use, ...); 2 bad usage.

#include <CLI/CLI.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "server/api/node.h"
#include "server/common/logging.h"
#include "server/common/version.h"

namespace {

constexpr const char* kProgram = "dialkv-server";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "%s: %s; run '%s --help' for usage\n", kProgram, message.c_str(), kProgram);
  return 2;
}

void AddFlags(CLI::App& app, dialkv::api::Node::Options& o, std::string& log_level,
              std::string& resp_mode) {
  // A flag given twice takes its last value, so a wrapper (the harness, a script) can add
  // defaults first and let its caller's flags override them.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--node-id", o.node_id,
                 "This node's id: a number unique in the cluster, stable across restarts "
                 "(the data dir records it)")
      ->required()
      ->envname("DIALKV_NODE_ID");
  app.option_defaults()->always_capture_default();  // --help shows the defaults from here on.
  app.add_option("--cluster-name", o.cluster_name,
                 "The cluster's name; a node refuses a data dir of another cluster")
      ->envname("DIALKV_CLUSTER_NAME");
  app.add_option("--listen", o.listen,
                 "HOST:PORT for clients. On every listen flag, port 0 takes any free port (see "
                 "--ports-file), and fd@N listens on a TCP socket already bound by whoever "
                 "started the server, inherited as descriptor N")
      ->envname("DIALKV_LISTEN");
  app.add_option("--http-listen", o.http_listen,
                 "HOST:PORT (or fd@N) for operators: GET /health and /metrics (Prometheus)")
      ->envname("DIALKV_HTTP_LISTEN");
  app.add_option("--peer-listen", o.peer_listen,
                 "HOST:PORT (or fd@N) for other nodes of the cluster: replication and gossip")
      ->envname("DIALKV_PEER_LISTEN");
  o.resp_listen = "127.0.0.1:7382";
  app.add_option("--resp-listen", o.resp_listen,
                 "HOST:PORT (or fd@N) for Redis-protocol clients (redis-cli, Redis client "
                 "libraries; docs/resp.md), or 'off'")
      ->envname("DIALKV_RESP_LISTEN");
  app.add_option("--resp-default-mode", resp_mode,
                 "Consistency mode of a Redis-protocol connection until it sends DIALKV.MODE: cp "
                 "(linearizable, or an error while no quorum answers) or ap (always served, "
                 "possibly stale)")
      ->check(CLI::IsMember({"cp", "ap"}))
      ->envname("DIALKV_RESP_DEFAULT_MODE");
  app.add_option("--ports-file", o.ports_file,
                 "Once every port listens, write the addresses bound here, atomically, as "
                 "{\"node_id\":N,\"pid\":P,\"client\":\"H:P\",\"peer\":\"H:P\",\"http\":"
                 "\"H:P\",\"resp\":\"H:P\"} (resp while that port is on); removed at a clean "
                 "shutdown. For scripts that start nodes on port 0 "
                 "and wait for them")
      ->envname("DIALKV_PORTS_FILE");
  app.add_option("--cluster-secret-file", o.cluster_secret_file,
                 "File holding the cluster's shared secret (at least 32 bytes; make one with "
                 "'head -c 32 /dev/urandom | base64 > FILE'). Every peer connection then proves "
                 "both ways that it holds it before anything else is read; every node needs the "
                 "same file. Without it the peer port trusts whoever connects")
      ->envname("DIALKV_CLUSTER_SECRET_FILE");
  app.add_option("--auth-token-secret-file", o.auth_token_secret_file,
                 "File holding the secret client tokens are signed with (at least 32 bytes). "
                 "Every client connection must then present a token (dialkv token create) whose "
                 "scopes allow what it asks: kv:read (get, status), kv:write (put, del), admin "
                 "(repair, fault injection). Without it the client port serves whoever connects")
      ->envname("DIALKV_AUTH_TOKEN_SECRET_FILE");
  app.add_option("--token-leeway-s", o.token_leeway_s,
                 "A token is still honoured this many seconds past its exp and before its nbf, "
                 "for clocks that differ between the token's maker and the node")
      ->envname("DIALKV_TOKEN_LEEWAY_S");
  app.add_option("--tls-cert", o.tls_cert_file,
                 "PEM certificate chain for the client port, which then speaks TLS only "
                 "(clients need the CA that signed it: dialkv --tls-ca). Needs --tls-key")
      ->envname("DIALKV_TLS_CERT");
  app.add_option("--tls-key", o.tls_key_file, "PEM private key of --tls-cert")
      ->envname("DIALKV_TLS_KEY");
  app.add_option("--peer-tls-ca", o.peer_tls_ca_file,
                 "PEM CA certificate(s) of the cluster: with --peer-tls-cert and --peer-tls-key, "
                 "every peer connection runs mutual TLS, and each side's certificate must chain "
                 "to this CA (the dialling side also checks it names the peer's host as given "
                 "in --peers). Every node must use peer TLS, or none. The CA must sign this "
                 "cluster's nodes only: without --cluster-secret-file, any certificate it signed "
                 "may act as any node")
      ->envname("DIALKV_PEER_TLS_CA");
  app.add_option("--peer-tls-cert", o.peer_tls_cert_file,
                 "PEM certificate chain this node presents to its peers (both when it accepts "
                 "and when it dials: give it both serverAuth and clientAuth usage)")
      ->envname("DIALKV_PEER_TLS_CERT");
  app.add_option("--peer-tls-key", o.peer_tls_key_file, "PEM private key of --peer-tls-cert")
      ->envname("DIALKV_PEER_TLS_KEY");
  app.add_flag("--insecure", o.insecure,
               "Allow a client or peer port on a non-loopback address without a token secret "
               "and peer protection (--cluster-secret-file or peer TLS). Without it such a "
               "node refuses to start and names the missing flag")
      ->envname("DIALKV_INSECURE");
  app.add_option("--peers", o.peers,
                 "Every node of the cluster, this one included, as ID@HOST:PORT of its peer port, "
                 "comma-separated: 1@10.0.0.1:7380,2@10.0.0.2:7380,3@10.0.0.3:7380. Empty: a "
                 "cluster of this node alone. Every node must be given the same list")
      ->envname("DIALKV_PEERS");
  app.add_option("--replication-factor", o.replication_factor,
                 "Copies of each key (capped at the number of nodes); CP needs a majority of "
                 "them. Every node must use the same value")
      ->envname("DIALKV_REPLICATION_FACTOR");
  app.add_option("--vnodes", o.vnodes,
                 "Ring tokens per node: more spreads keys more evenly. Every node must use the "
                 "same value")
      ->envname("DIALKV_VNODES");
  app.add_option("--hinted-handoff", o.hinted_handoff,
                 "true: a replica that misses a write (down, slow) gets it later from a durable "
                 "hint kept by the coordinator; false: it waits for repair")
      ->envname("DIALKV_HINTED_HANDOFF");
  app.add_option("--hint-max-age-s", o.hint_max_age_s,
                 "Hints older than this are dropped instead of replayed")
      ->envname("DIALKV_HINT_MAX_AGE_S");
  app.add_option("--gossip-interval-ms", o.gossip_interval_ms,
                 "Time between heartbeat rounds with every other node")
      ->envname("DIALKV_GOSSIP_INTERVAL_MS");
  app.add_option("--suspect-after-ms", o.suspect_after_ms,
                 "A node not heard from for this long is suspect (asked last)")
      ->envname("DIALKV_SUSPECT_AFTER_MS");
  app.add_option("--dead-after-ms", o.dead_after_ms,
                 "A node not heard from for this long is dead: AP writes hint it without trying "
                 "it; its return triggers hint replay. CP requests that would need a dead replica "
                 "for their quorum answer UNAVAILABLE at once, sending nothing")
      ->envname("DIALKV_DEAD_AFTER_MS");
  app.add_option("--replica-timeout-ms", o.replica_timeout_ms,
                 "How long one call to a replica waits for its reply. A call without reply is "
                 "made again while the request's deadline allows (reads and CP writes: lost "
                 "messages cost latency, not the request); an AP write's replica is hinted "
                 "instead")
      ->envname("DIALKV_REPLICA_TIMEOUT_MS");
  app.add_option("--speculative-retry-ms", o.speculative_retry_ms,
                 "CP reads and the timestamp read of CP writes ask a quorum of the key's replicas "
                 "first, and the others only after this long without the quorum's answers (or "
                 "at once when one of them fails). The default, 10, is far above a healthy "
                 "exchange (under 1 ms on a LAN) and far below --replica-timeout-ms: a slow "
                 "replica costs at most this much more latency, and healthy requests spare one "
                 "exchange per extra replica. 0: ask every replica at once. 0 to 60000")
      ->envname("DIALKV_SPECULATIVE_RETRY_MS");
  app.add_option("--ae-interval-ms", o.ae_interval_ms,
                 "Time between anti-entropy rounds: each compares digests with one live peer and "
                 "repairs the keys that differ (`dialkv repair` runs one at once)")
      ->envname("DIALKV_AE_INTERVAL_MS");
  app.add_option("--ae-max-keys-per-s", o.ae_max_keys_per_s,
                 "At most this many versions repaired per second by anti-entropy, so repair "
                 "never starves client traffic (0: no limit)")
      ->envname("DIALKV_AE_MAX_KEYS_PER_S");
  app.add_option("--gc-grace-s", o.gc_grace_s,
                 "Tombstones are purged once older than this and after a complete anti-entropy "
                 "round with every other replica of their range; must be over --hint-max-age-s")
      ->envname("DIALKV_GC_GRACE_S");
  app.add_flag("--enable-fault-injection", o.enable_fault_injection,
               "Serve the fault-injection requests (drop, delay and partition peer messages, "
               "skew this node's clock, read a replica's raw version: `dialkv fault ...`). For "
               "tests only: without it those requests are refused with PERMISSION_DENIED")
      ->envname("DIALKV_ENABLE_FAULT_INJECTION");
  app.add_option("--data-dir", o.data_dir,
                 "Directory of this node's data (created if missing; locked while it runs)")
      ->required()
      ->envname("DIALKV_DATA_DIR");
  app.add_option("--threads", o.threads, "io threads serving connections (default: cores)")
      ->envname("DIALKV_THREADS");
  app.add_flag("--sync", o.sync,
               "fsync every write before acknowledging it (survives power loss; slower). "
               "Without it a write survives a process crash, not a power loss")
      ->envname("DIALKV_SYNC");
  app.add_option("--min-free-disk-bytes", o.min_free_disk_bytes,
                 "Free space the data dir's file system must keep: below it the node refuses "
                 "writes (UNAVAILABLE; clients go to another node) and serves reads, with a disk "
                 "alarm in status, /health and /metrics, until space is back (0: no watermark)")
      ->envname("DIALKV_MIN_FREE_DISK_BYTES");
  app.add_option("--disk-check-interval-ms", o.disk_check_interval_ms,
                 "How often the free space is measured and, after a failed disk write, resuming "
                 "writes is tried")
      ->envname("DIALKV_DISK_CHECK_INTERVAL_MS");
  app.add_option("--max-value-bytes", o.max_value_bytes,
                 "Largest value accepted; larger puts get INVALID_ARGUMENT")
      ->envname("DIALKV_MAX_VALUE_BYTES");
  app.add_option("--max-frame-bytes", o.max_frame_bytes,
                 "Largest request frame; a larger one is answered with an error and its "
                 "connection closed")
      ->envname("DIALKV_MAX_FRAME_BYTES");
  app.add_option("--max-connections", o.max_connections,
                 "Connections open at once on each of the client and peer ports; one more is "
                 "answered OVERLOADED and closed (0: no limit). Each open connection costs a "
                 "descriptor and a few KiB; keep the process's descriptor limit above twice this")
      ->envname("DIALKV_MAX_CONNECTIONS");
  app.add_option("--frame-read-timeout-ms", o.frame_read_timeout_ms,
                 "A frame must arrive whole within this of its first byte, or its connection is "
                 "closed (0: no limit): a client sending a frame byte by byte cannot hold a "
                 "connection for the idle timeout")
      ->envname("DIALKV_FRAME_READ_TIMEOUT_MS");
  app.add_option("--default-timeout-ms", o.default_timeout_ms,
                 "Deadline of requests that carry timeout_ms = 0")
      ->envname("DIALKV_DEFAULT_TIMEOUT_MS");
  app.add_option("--max-timeout-ms", o.max_timeout_ms,
                 "Longest deadline a request may ask for; longer ones are shortened to this "
                 "(counted): a client cannot pin a node's work for minutes")
      ->envname("DIALKV_MAX_TIMEOUT_MS");
  app.add_option("--max-connection-reply-bytes", o.max_connection_reply_bytes,
                 "Bytes of replies one client connection may have waiting to be written; past "
                 "them it stops reading and its requests wait (0: no limit), so a client that "
                 "does not read its replies cannot make the node hold them")
      ->envname("DIALKV_MAX_CONNECTION_REPLY_BYTES");
  app.add_option("--max-inflight-requests", o.max_inflight_requests,
                 "Client requests served at once, node-wide; more are answered OVERLOADED "
                 "without being started (0: no limit)")
      ->envname("DIALKV_MAX_INFLIGHT_REQUESTS");
  app.add_option("--max-inflight-bytes", o.max_inflight_bytes,
                 "Bytes of requests being served and replies not yet written, node-wide; past "
                 "them requests, and replies over 64 KiB (reads), are answered OVERLOADED (0: no "
                 "limit; else at least --max-frame-bytes)")
      ->envname("DIALKV_MAX_INFLIGHT_BYTES");
  app.add_option("--max-clock-skew-ms", o.max_clock_skew_ms,
                 "Timestamps further ahead of this node's clock are refused")
      ->envname("DIALKV_MAX_CLOCK_SKEW_MS");
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn, error, critical or off, optionally followed by "
                 "per-subsystem levels: info,api=debug (SPDLOG_LEVEL also works)")
      ->envname("DIALKV_LOG_LEVEL");
}

// RocksDB's WAL retention, memtables and compaction; defaults and trade-offs are in
// server/storage/rocks_tuning.h and docs/storage.md.
void AddStorageFlags(CLI::App& app, dialkv::storage::RocksTuning& t) {
  app.add_option("--rocksdb-max-total-wal-bytes", t.max_total_wal_bytes,
                 "Live write-ahead log files may total at most this; past it RocksDB flushes what "
                 "keeps the oldest alive. Bounds the WAL's disk and what a restart replays (0: "
                 "RocksDB's default, 4x all write buffers)")
      ->envname("DIALKV_ROCKSDB_MAX_TOTAL_WAL_BYTES");
  app.add_option("--rocksdb-memtable-budget-bytes", t.memtable_budget_bytes,
                 "Memory of all memtables together; past it the largest flushes (0: 1/32 of the "
                 "machine's memory, within 64-512 MiB)")
      ->envname("DIALKV_ROCKSDB_MEMTABLE_BUDGET_BYTES");
  app.add_option("--rocksdb-write-buffer-bytes", t.write_buffer_bytes,
                 "One memtable of the data column family, flushed to an SST file when full (0: "
                 "1/32 of the memtable budget, within 4-64 MiB)")
      ->envname("DIALKV_ROCKSDB_WRITE_BUFFER_BYTES");
  app.add_option("--rocksdb-flush-together", t.flush_together,
                 "true: every column family flushes with the others, so rarely written ones "
                 "(meta, hints) never keep WAL files alive; false: RocksDB's default")
      ->envname("DIALKV_ROCKSDB_FLUSH_TOGETHER");
  app.add_option("--rocksdb-wal-compression", t.wal_compression,
                 "true: compress WAL records with zstd (a little CPU per write, a WAL about as "
                 "small as the SSTs for compressible values)")
      ->envname("DIALKV_ROCKSDB_WAL_COMPRESSION");
  app.add_option("--rocksdb-compaction-rate-bytes", t.compaction_rate_bytes,
                 "Flush and compaction writes per second at most (auto-tuned below it when there "
                 "is little to do; 0: no limit)")
      ->envname("DIALKV_ROCKSDB_COMPACTION_RATE_BYTES");
  app.add_option("--rocksdb-background-jobs", t.max_background_jobs,
                 "Threads for flushes and compactions together")
      ->envname("DIALKV_ROCKSDB_BACKGROUND_JOBS");
  app.add_option("--rocksdb-db-options", t.db_options,
                 "Any other RocksDB DBOptions, as 'name=value;name=value' (the names of a RocksDB "
                 "OPTIONS file); applied last, they win over the flags above")
      ->envname("DIALKV_ROCKSDB_DB_OPTIONS");
  app.add_option("--rocksdb-data-cf-options", t.data_cf_options,
                 "RocksDB ColumnFamilyOptions of the data column family, as 'name=value;...'; "
                 "applied last")
      ->envname("DIALKV_ROCKSDB_DATA_CF_OPTIONS");
}

int Run(int argc, char** argv) {
  dialkv::api::Node::Options options;
  std::string log_level = "info";
  std::string resp_mode = "cp";
  CLI::App app{"dialkv-server: one node of a dialkv key-value store.", kProgram};
  app.set_version_flag("--version", dialkv::VersionLine(kProgram),
                       "Print the version and the commit it was built from, and exit");
  // CLI11 reads the config file before the environment and takes from each only the flags still
  // unset: the command line wins over the file, and the file over DIALKV_* variables. It reads
  // it before DIALKV_CONFIG too, so that variable is passed as the default file, required so a
  // missing one is an error rather than silently skipped.
  const char* env_config = std::getenv("DIALKV_CONFIG");
  const bool config_from_env = env_config != nullptr && *env_config != '\0';
  app.set_config("--config", config_from_env ? env_config : "",
                 "TOML file of flags, one per line as on the command line without the dashes: "
                 "cluster-name = \"prod\", listen = \"127.0.0.1:7379\", sync = true. Flags on "
                 "the command line win over it, and it wins over the DIALKV_* variables. Env: "
                 "DIALKV_CONFIG",
                 config_from_env)
      ->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);  // A misspelt name is no default.
  AddFlags(app, options, log_level, resp_mode);
  AddStorageFlags(app, options.storage_tuning);
  try {
    app.parse(argc, argv);
  } catch (const CLI::FileError& e) {  // A --config file that cannot be read; names it.
    return UsageError(std::string("--config: ") + e.what());
  } catch (const CLI::ConfigError& e) {  // Which names the line, not the file.
    return UsageError("--config " + app.get_config_ptr()->as<std::string>() + ": " + e.what() +
                      " (each line is NAME = VALUE, NAME a flag without its dashes)");
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    return UsageError(e.what());
  }
  options.resp_default_mode =
      resp_mode == "ap" ? dialkv::Consistency::kAp : dialkv::Consistency::kCp;
  if (!dialkv::SetLogLevels(log_level)) {
    return UsageError("--log-level '" + log_level +
                      "' is not trace, debug, info, warn, error, critical or off");
  }
  if (std::getenv("SPDLOG_LEVEL") != nullptr) dialkv::SetLogLevels(std::getenv("SPDLOG_LEVEL"));
  if (!dialkv::kDebugLogCompiledIn) {
    for (size_t i = 0; i < dialkv::kSubsystemCount; ++i) {
      const auto subsystem = static_cast<dialkv::Subsystem>(i);
      if (dialkv::Log(subsystem).level() <= spdlog::level::debug) {
        dialkv::Log(dialkv::Subsystem::kServer)
            .warn(
                "this build has no debug or trace lines (they are compiled out of Release "
                "builds): the {} logger, set to {}, shows info and above",
                dialkv::SubsystemName(subsystem),
                spdlog::level::to_string_view(dialkv::Log(subsystem).level()));
      }
    }
  }
  if (dialkv::Status valid = dialkv::api::Node::ValidateOptions(options); !valid.ok()) {
    return UsageError(valid.message());
  }

  // Before the node starts, so a signal that arrives during start-up is not lost.
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  spdlog::logger& log = dialkv::Log(dialkv::Subsystem::kServer);
  log.info("node {} starting: cluster '{}', data dir {}", options.node_id, options.cluster_name,
           options.data_dir);
  auto node = dialkv::api::Node::Start(options);
  if (!node.ok()) {
    std::fprintf(stderr, "%s: cannot start node %u: %s\n", kProgram, options.node_id,
                 node.status().message().c_str());
    return 1;
  }
  const auto& endpoints = (*node)->endpoints();
  const std::string resp =
      endpoints.resp.port() != 0 ? ", resp " + dialkv::api::FormatHostPort(endpoints.resp) : "";
  std::printf("%s: node %u listening: client %s, peer %s, http %s%s\n", kProgram, options.node_id,
              dialkv::api::FormatHostPort(endpoints.client).c_str(),
              dialkv::api::FormatHostPort(endpoints.peer).c_str(),
              dialkv::api::FormatHostPort(endpoints.http).c_str(), resp.c_str());
  std::fflush(stdout);

  int received = 0;
  signals.async_wait([&received](const asio::error_code& ec, int signal_number) {
    if (!ec) received = signal_number;
  });
  signals_io.run();
  log.info("received {}; shutting down", received == SIGINT ? "SIGINT" : "SIGTERM");
  (*node)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: fatal: %s\n", kProgram, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: fatal: unknown exception\n", kProgram);
  }
  return 1;
}
