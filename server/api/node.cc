#include "server/api/node.h"

#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "server/antientropy/anti_entropy.h"
#include "server/api/admin_service.h"
#include "server/api/client_auth.h"
#include "server/api/kv_service.h"
#include "server/api/resp_service.h"
#include "server/api/storage_metrics.h"
#include "server/cluster/clock_offsets.h"
#include "server/cluster/gossiper.h"
#include "server/cluster/membership.h"
#include "server/cluster/ring.h"
#include "server/common/logging.h"
#include "server/common/random.h"
#include "server/common/secret_file.h"
#include "server/common/version.h"
#include "server/net/peer_transport.h"
#include "server/net/resp_server.h"
#include "server/replication/coordinator.h"
#include "server/replication/hint_replayer.h"
#include "server/replication/hint_store.h"
#include "server/replication/local_replica.h"
#include "server/replication/peer_service.h"
#include "server/storage/hlc_bound.h"
#include "server/storage/rocksdb_engine.h"

namespace dialkv::api {
namespace {

// Bytes a Put envelope adds around its key and value: ids, tags, lengths, the timeout.
constexpr uint32_t kEnvelopeOverheadBytes = 64;
constexpr size_t kMaxThreads = 1024;
constexpr uint32_t kMinFrameBytes = 4096 + kEnvelopeOverheadBytes;
constexpr uint32_t kMaxFrameBytes = 1u << 30;
constexpr uint32_t kMaxTimeoutMs = 10 * 60'000;  // The highest --max-timeout-ms.
constexpr int64_t kMaxClockSkewMs = 24 * 3600 * 1000;
constexpr int64_t kMinHlcBoundWindowMs = 50;  // The HLC bound renews at most this often.
constexpr size_t kMaxClusterNameBytes = 255;
constexpr uint32_t kMaxReplicationFactor = 16;
constexpr uint32_t kMaxVnodes = 4096;
constexpr uint32_t kMaxIntervalMs = 10 * 60'000;
constexpr uint32_t kMaxSpeculativeRetryMs = 60'000;

Status OutOfRange(std::string_view flag, uint64_t value, uint64_t min, uint64_t max) {
  return Status::InvalidArgument(std::string(flag) + " must be " + std::to_string(min) + " to " +
                                 std::to_string(max) + ", not " + std::to_string(value));
}

// The five dialkv_disk_* gauges share one copy of the disk alarm per scrape instead of taking
// DiskHealth's lock (and building its message) once each: the first of them sampled takes the
// copy, the other four read it. The registry samples gauge callbacks one at a time, under its
// lock, each once per scrape, so no lock is needed here and every scrape gets a fresh copy.
class DiskGauges {
 public:
  static constexpr int kGauges = 5;

  explicit DiskGauges(const storage::DiskHealth* disk) : disk_(disk) {}

  const storage::DiskAlarm& Sample() {
    if (samples_left_ == 0) {
      alarm_ = disk_->AlarmWithoutMessage();
      samples_left_ = kGauges;
    }
    --samples_left_;
    return alarm_;
  }

 private:
  const storage::DiskHealth* const disk_;
  storage::DiskAlarm alarm_;
  int samples_left_ = 0;  // Gauges of this scrape yet to read alarm_.
};

std::string JsonEscape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::string FormatHostPort(const asio::ip::tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

Result<HostPort> ParseHostPort(std::string_view text, std::string_view flag) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(flag) + " '" + std::string(text) +
                                   "' is not HOST:PORT (" + std::string(why) + ")");
  };
  HostPort out;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("an IPv6 address goes in brackets: [::1]:7379");
    }
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("the port is missing");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return bad("an IPv6 address goes in brackets: [::1]:7379");
    }
    port = text.substr(colon + 1);
  }
  if (out.host.empty()) return bad("the host is missing; 0.0.0.0 listens on every interface");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

Result<asio::ip::tcp::endpoint> ResolveHostPort(std::string_view text, std::string_view flag) {
  Result<HostPort> parsed = ParseHostPort(text, flag);
  if (!parsed.ok()) return parsed.status();
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(parsed->host, ec);
  if (!ec) return asio::ip::tcp::endpoint(address, parsed->port);
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(parsed->host, std::to_string(parsed->port), ec);
  if (ec || results.empty()) {
    return Status::InvalidArgument(std::string(flag) + " '" + std::string(text) +
                                   "': cannot resolve host '" + parsed->host +
                                   "': " + (ec ? ec.message() : std::string("no address")));
  }
  return results.begin()->endpoint();
}

Result<net::ListenAddress> ResolveListenAddress(std::string_view text, std::string_view flag) {
  if (net::IsInheritedSocketSpec(text)) return net::InheritedSocket(text, flag);
  Result<asio::ip::tcp::endpoint> endpoint = ResolveHostPort(text, flag);
  if (!endpoint.ok()) return endpoint.status();
  return net::ListenAddress(*endpoint);
}

Result<std::vector<PeerSpec>> ParsePeers(std::string_view text) {
  std::vector<PeerSpec> peers;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view entry = text.substr(start, comma - start);
    start = comma + 1;
    const size_t at = entry.find('@');
    NodeId id = 0;
    auto [end, ec] = std::from_chars(entry.data(), entry.data() + (at == entry.npos ? 0 : at), id);
    if (at == std::string_view::npos || ec != std::errc() || end != entry.data() + at) {
      return Status::InvalidArgument("--peers entry '" + std::string(entry) +
                                     "' is not ID@HOST:PORT (e.g. 1@127.0.0.1:7380)");
    }
    DIALKV_RETURN_IF_ERROR(ParseHostPort(entry.substr(at + 1), "--peers entry"));
    for (const PeerSpec& p : peers) {
      if (p.node_id == id) {
        return Status::InvalidArgument("--peers lists node " + std::to_string(id) + " twice");
      }
      if (p.address == entry.substr(at + 1)) {
        return Status::InvalidArgument("--peers gives nodes " + std::to_string(p.node_id) +
                                       " and " + std::to_string(id) + " the same address " +
                                       p.address);
      }
    }
    peers.push_back(PeerSpec{id, std::string(entry.substr(at + 1))});
    if (comma == text.size()) break;
  }
  return peers;
}

size_t Node::DefaultThreads() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

Status Node::ValidateOptions(const Options& o) {
  if (o.data_dir.empty()) {
    return Status::InvalidArgument("--data-dir is required: the directory of this node's data");
  }
  if (o.cluster_name.empty() || o.cluster_name.size() > kMaxClusterNameBytes) {
    return Status::InvalidArgument("--cluster-name must be 1 to " +
                                   std::to_string(kMaxClusterNameBytes) + " bytes, not " +
                                   std::to_string(o.cluster_name.size()));
  }
  if (o.threads < 1 || o.threads > kMaxThreads) {
    return OutOfRange("--threads", o.threads, 1, kMaxThreads);
  }
  if (o.storage_threads < 1 || o.storage_threads > kMaxThreads) {
    return OutOfRange("storage threads", o.storage_threads, 1, kMaxThreads);
  }
  if (o.max_frame_bytes < kMinFrameBytes || o.max_frame_bytes > kMaxFrameBytes) {
    return OutOfRange("--max-frame-bytes", o.max_frame_bytes, kMinFrameBytes, kMaxFrameBytes);
  }
  const uint64_t largest_put =
      uint64_t{o.max_value_bytes} + o.max_key_bytes + kEnvelopeOverheadBytes;
  if (largest_put > o.max_frame_bytes) {
    return Status::InvalidArgument(
        "--max-value-bytes " + std::to_string(o.max_value_bytes) + " plus the largest key (" +
        std::to_string(o.max_key_bytes) + " bytes) and " + std::to_string(kEnvelopeOverheadBytes) +
        " bytes of envelope must fit in --max-frame-bytes " + std::to_string(o.max_frame_bytes) +
        "; raise --max-frame-bytes or lower --max-value-bytes");
  }
  if (o.disk_check_interval_ms < 10 || o.disk_check_interval_ms > 60'000) {
    return OutOfRange("--disk-check-interval-ms", o.disk_check_interval_ms, 10, 60'000);
  }
  if (o.max_timeout_ms < 1 || o.max_timeout_ms > kMaxTimeoutMs) {
    return OutOfRange("--max-timeout-ms", o.max_timeout_ms, 1, kMaxTimeoutMs);
  }
  if (o.default_timeout_ms < 1 || o.default_timeout_ms > o.max_timeout_ms) {
    return Status::InvalidArgument("--default-timeout-ms must be 1 to --max-timeout-ms (" +
                                   std::to_string(o.max_timeout_ms) + "), not " +
                                   std::to_string(o.default_timeout_ms));
  }
  if (o.max_inflight_bytes != 0 && o.max_inflight_bytes < o.max_frame_bytes) {
    return Status::InvalidArgument("--max-inflight-bytes " + std::to_string(o.max_inflight_bytes) +
                                   " must hold at least one frame of --max-frame-bytes " +
                                   std::to_string(o.max_frame_bytes) + " (or be 0: no limit)");
  }
  if (o.max_clock_skew_ms < 0 || o.max_clock_skew_ms > kMaxClockSkewMs) {
    return Status::InvalidArgument("--max-clock-skew-ms must be 0 to " +
                                   std::to_string(kMaxClockSkewMs) + ", not " +
                                   std::to_string(o.max_clock_skew_ms));
  }
  for (const auto& [text, flag] :
       {std::pair{&o.listen, "--listen"}, std::pair{&o.http_listen, "--http-listen"},
        std::pair{&o.peer_listen, "--peer-listen"}}) {
    // An inherited socket is checked at Start(): only the running process has its descriptor.
    if (!net::IsInheritedSocketSpec(*text)) DIALKV_RETURN_IF_ERROR(ParseHostPort(*text, flag));
  }
  if (!IsListenOff(o.resp_listen) && !net::IsInheritedSocketSpec(o.resp_listen)) {
    DIALKV_RETURN_IF_ERROR(ParseHostPort(o.resp_listen, "--resp-listen"));
  }
  if (!o.peers.empty()) {
    Result<std::vector<PeerSpec>> peers = ParsePeers(o.peers);
    if (!peers.ok()) return peers.status();
    bool self_listed = false;
    for (const PeerSpec& p : *peers) self_listed = self_listed || p.node_id == o.node_id;
    if (!self_listed) {
      return Status::InvalidArgument("--peers must list every node, this one included; node " +
                                     std::to_string(o.node_id) + " is missing");
    }
  }
  if (o.replication_factor < 1 || o.replication_factor > kMaxReplicationFactor) {
    return OutOfRange("--replication-factor", o.replication_factor, 1, kMaxReplicationFactor);
  }
  if (o.vnodes < 1 || o.vnodes > kMaxVnodes) return OutOfRange("--vnodes", o.vnodes, 1, kMaxVnodes);
  if (o.gossip_interval_ms < 1 || o.gossip_interval_ms > kMaxIntervalMs) {
    return OutOfRange("--gossip-interval-ms", o.gossip_interval_ms, 1, kMaxIntervalMs);
  }
  if (o.suspect_after_ms < o.gossip_interval_ms || o.suspect_after_ms > kMaxIntervalMs) {
    return OutOfRange("--suspect-after-ms", o.suspect_after_ms, o.gossip_interval_ms,
                      kMaxIntervalMs);
  }
  if (o.dead_after_ms < o.suspect_after_ms || o.dead_after_ms > kMaxIntervalMs) {
    return OutOfRange("--dead-after-ms", o.dead_after_ms, o.suspect_after_ms, kMaxIntervalMs);
  }
  if (o.replica_timeout_ms < 1 || o.replica_timeout_ms > kMaxIntervalMs) {
    return OutOfRange("--replica-timeout-ms", o.replica_timeout_ms, 1, kMaxIntervalMs);
  }
  if (o.speculative_retry_ms > kMaxSpeculativeRetryMs) {
    return OutOfRange("--speculative-retry-ms", o.speculative_retry_ms, 0, kMaxSpeculativeRetryMs);
  }
  if (o.hint_max_age_s < 1) return OutOfRange("--hint-max-age-s", o.hint_max_age_s, 1, ~0u);
  if (o.ae_interval_ms < 1 || o.ae_interval_ms > kMaxIntervalMs) {
    return OutOfRange("--ae-interval-ms", o.ae_interval_ms, 1, kMaxIntervalMs);
  }
  if (o.hinted_handoff && o.gc_grace_s <= o.hint_max_age_s) {
    // A hint older than the grace period could bring back a value whose tombstone is gone.
    return Status::InvalidArgument(
        "--gc-grace-s (" + std::to_string(o.gc_grace_s) + ") must be over --hint-max-age-s (" +
        std::to_string(o.hint_max_age_s) +
        "): a tombstone must outlive every hint that could carry the value it deleted");
  }
  return Status::Ok();
}

bool PeerTlsOn(const Node::Options& o) {
  return !o.peer_tls_ca_file.empty() || !o.peer_tls_cert_file.empty() ||
         !o.peer_tls_key_file.empty();
}

bool IsListenOff(std::string_view text) { return text == "off"; }

Status CheckProtectedMode(const Node::Options& o, const asio::ip::tcp::endpoint& client,
                          const asio::ip::tcp::endpoint& peer,
                          const asio::ip::tcp::endpoint* resp) {
  if (o.insecure) return Status::Ok();
  const bool client_open = !client.address().is_loopback();
  const bool peer_open = !peer.address().is_loopback();
  const bool resp_open = resp != nullptr && !resp->address().is_loopback();
  if (!client_open && !peer_open && !resp_open) return Status::Ok();
  std::string missing;
  if (o.auth_token_secret_file.empty()) missing = "--auth-token-secret-file";
  if (o.cluster_secret_file.empty() && !PeerTlsOn(o)) {
    missing += std::string(missing.empty() ? "" : " and ") +
               "--cluster-secret-file (or --peer-tls-ca/--peer-tls-cert/--peer-tls-key)";
  }
  if (missing.empty()) return Status::Ok();
  const std::string where = client_open ? "--listen " + FormatHostPort(client)
                            : resp_open ? "--resp-listen " + FormatHostPort(*resp)
                                        : "--peer-listen " + FormatHostPort(peer);
  return Status::InvalidArgument(
      where +
      " is reachable from other hosts, and anyone who reaches it could read and write "
      "every key: give " +
      missing +
      " (docs/security.md), listen on 127.0.0.1, or pass --insecure to run open on a network "
      "you trust");
}

Node::Node(Options options) : options_(std::move(options)) {}

Node::~Node() { Stop(); }

Result<std::unique_ptr<Node>> Node::Start(Options options) {
  DIALKV_RETURN_IF_ERROR(ValidateOptions(options));
  std::unique_ptr<Node> node(new Node(std::move(options)));
  Status started = node->Init();
  if (!started.ok()) return started;  // ~Node() undoes what Init() did.
  return node;
}

Status Node::Init() {
  Result<net::ListenAddress> client_endpoint = ResolveListenAddress(options_.listen, "--listen");
  if (!client_endpoint.ok()) return client_endpoint.status();
  Result<net::ListenAddress> http_endpoint =
      ResolveListenAddress(options_.http_listen, "--http-listen");
  if (!http_endpoint.ok()) return http_endpoint.status();
  Result<net::ListenAddress> peer_endpoint =
      ResolveListenAddress(options_.peer_listen, "--peer-listen");
  if (!peer_endpoint.ok()) return peer_endpoint.status();
  std::optional<net::ListenAddress> resp_endpoint;
  if (!IsListenOff(options_.resp_listen)) {
    Result<net::ListenAddress> resolved =
        ResolveListenAddress(options_.resp_listen, "--resp-listen");
    if (!resolved.ok()) return resolved.status();
    resp_endpoint = std::move(resolved).value();
  }
  DIALKV_RETURN_IF_ERROR(CheckProtectedMode(options_, client_endpoint->endpoint,
                                            peer_endpoint->endpoint,
                                            resp_endpoint ? &resp_endpoint->endpoint : nullptr));
  std::vector<PeerSpec> peers = {
      PeerSpec{options_.node_id, FormatHostPort(peer_endpoint->endpoint)}};
  if (!options_.peers.empty()) {
    Result<std::vector<PeerSpec>> parsed = ParsePeers(options_.peers);
    if (!parsed.ok()) return parsed.status();
    peers = std::move(parsed.value());
  }

  disk_health_ =
      std::make_shared<storage::DiskHealth>(options_.data_dir, options_.min_free_disk_bytes);
  if (options_.enable_fault_injection) disk_faults_ = std::make_shared<storage::DiskFaults>();
  storage::RocksEngine::Options engine_options;
  engine_options.path = options_.data_dir;
  engine_options.sync = options_.sync;
  engine_options.block_cache_bytes = options_.storage_block_cache_bytes;
  engine_options.health = disk_health_;
  engine_options.faults = disk_faults_;
  engine_options.tuning = options_.storage_tuning;
  Result<std::unique_ptr<storage::RocksEngine>> engine = storage::RocksEngine::Open(engine_options);
  if (!engine.ok()) return engine.status();
  rocks_ = engine->get();
  storage::RocksEngine* rocks = rocks_;
  engine_ = std::move(engine.value());
  storage::DiskMonitor::Options monitor_options;
  monitor_options.path = options_.data_dir;
  monitor_options.interval = std::chrono::milliseconds(options_.disk_check_interval_ms);
  disk_monitor_ = std::make_unique<storage::DiskMonitor>(
      monitor_options, disk_health_, disk_faults_, [rocks] { return rocks->Resume(); });
  DIALKV_RETURN_IF_ERROR(storage::ClaimIdentity(
      *engine_, storage::Identity{options_.node_id, options_.cluster_name}, options_.data_dir));
  Result<uint64_t> generation = cluster::NextGeneration(*engine_);
  if (!generation.ok()) return generation.status();
  generation_ = *generation;

  const Clock* hlc_clock = options_.clock;
  if (hlc_clock == nullptr) {
    system_clock_ = std::make_unique<SystemClock>();
    hlc_clock = system_clock_.get();
  }
  hlc_clock_ = hlc_clock;
  HybridLogicalClock::Options hlc_options;
  hlc_options.max_clock_skew_ms = options_.max_clock_skew_ms;
  // A node that crashed restarts above its bound, up to one window ahead of where it stopped:
  // half the skew guard keeps its first timestamps acceptable to its peers, at the price of a
  // renewal (one small meta write) every few hundred ms of wall time while it writes.
  hlc_options.bound_window_ms =
      std::max<int64_t>(kMinHlcBoundWindowMs, options_.max_clock_skew_ms / 2);
  hlc_ = std::make_unique<HybridLogicalClock>(*hlc_clock, options_.node_id, hlc_options);
  DIALKV_RETURN_IF_ERROR(StartClockAboveThePast());
  metrics_ = std::make_unique<metrics::Registry>();
  metrics_
      ->AddGauge("dialkv_node_info", "Always 1; labels name this node.",
                 {"node_id", "cluster", "generation"})
      .WithLabels(
          {std::to_string(options_.node_id), options_.cluster_name, std::to_string(generation_)})
      .Set(1);
  metrics_
      ->AddGauge("dialkv_build_info",
                 "Always 1; labels say the release and the git commit this binary was built from.",
                 {"version", "commit"})
      .WithLabels({std::string(Version()), std::string(GitCommit())})
      .Set(1);

  io_pool_ = std::make_unique<net::IoContextPool>(options_.threads);
  // Only fsyncing writes leave the io threads; replication/local_replica.h says why.
  if (options_.sync) {
    storage_pool_ = std::make_unique<asio::thread_pool>(options_.storage_threads);
  }
  DIALKV_RETURN_IF_ERROR(InitCluster(peers));

  KvService::Options service_options;
  service_options.max_key_bytes = options_.max_key_bytes;
  service_options.max_value_bytes = options_.max_value_bytes;
  service_options.default_timeout_ms = options_.default_timeout_ms;
  service_options.max_timeout_ms = options_.max_timeout_ms;
  kv_service_ = std::make_unique<KvService>(
      service_options, *coordinator_, *metrics_, [this] { return ClusterStatus(); },
      [this] { return Repair(); });
  AdminService::Options admin_options;
  admin_options.self = options_.node_id;
  admin_options.max_key_bytes = options_.max_key_bytes;
  admin_options.read_timeout_ms = options_.default_timeout_ms;
  admin_service_ =
      std::make_unique<AdminService>(admin_options, fault_injector_.get(), system_clock_.get(),
                                     *local_replica_, *coordinator_, *metrics_);
  if (disk_faults_ != nullptr) {
    admin_service_->SetDiskFaults(disk_faults_,
                                  [monitor = disk_monitor_.get()] { monitor->CheckSoon(); });
  }

  std::unique_ptr<auth::TokenVerifier> verifier;
  if (!options_.auth_token_secret_file.empty()) {
    Result<std::string> secret =
        ReadSecretFile(options_.auth_token_secret_file, "--auth-token-secret-file");
    if (!secret.ok()) return secret.status();
    verifier = std::make_unique<auth::TokenVerifier>(std::move(secret).value(),
                                                     int64_t{options_.token_leeway_s});
  }
  client_auth_ = std::make_unique<ClientAuth>(std::move(verifier), ClientHandler(), *metrics_);

  net::FrameServer::Options frame_options;
  frame_options.max_frame_bytes = options_.max_frame_bytes;
  frame_options.max_connections = options_.max_connections;
  frame_options.frame_read_timeout_ms = options_.frame_read_timeout_ms;
  metrics::CounterFamily& refused = metrics_->AddCounter(
      "dialkv_connections_refused_total",
      "Connections refused because --max-connections were open on the port, by port.", {"port"});
  metrics::CounterFamily& frame_timeouts = metrics_->AddCounter(
      "dialkv_frame_read_timeouts_total",
      "Connections closed because a frame was not complete within --frame-read-timeout-ms of "
      "its first byte, by port.",
      {"port"});
  metrics::CounterFamily& pauses = metrics_->AddCounter(
      "dialkv_connection_reply_pauses_total",
      "Times a connection stopped reading because --max-connection-reply-bytes of its replies "
      "were not yet written (its client reads slowly or not at all), by port.",
      {"port"});
  metrics::CounterFamily& budget_refusals = metrics_->AddCounter(
      "dialkv_overloaded_total",
      "Requests answered OVERLOADED without being started, and big replies replaced by "
      "OVERLOADED, because the node-wide budget was spent: reason inflight_requests "
      "(--max-inflight-requests), inflight_bytes (--max-inflight-bytes, requests) or reply_bytes "
      "(--max-inflight-bytes, replies).",
      {"reason"});
  request_budget_ = std::make_shared<net::RequestBudget>(
      net::RequestBudget::Options{.max_requests = options_.max_inflight_requests,
                                  .max_bytes = options_.max_inflight_bytes},
      net::RequestBudget::Counters{
          .refused_requests = &budget_refusals.WithLabels({"inflight_requests"}),
          .refused_bytes = &budget_refusals.WithLabels({"inflight_bytes"}),
          .refused_replies = &budget_refusals.WithLabels({"reply_bytes"})});
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_inflight_requests", "Client requests being served now (--max-inflight-requests).",
      [budget = request_budget_.get()] { return static_cast<double>(budget->requests()); }));
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_inflight_bytes",
      "Bytes of requests being served and of replies not yet written, on every port "
      "(--max-inflight-bytes).",
      [budget = request_budget_.get()] { return static_cast<double>(budget->bytes()); }));
  frame_options.budget = request_budget_;
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_group_commit_batches",
      "Storage batches written by group commit since the node started (with --sync; each is one "
      "WAL write and one fsync).",
      [local = local_replica_.get()] { return static_cast<double>(local->group_commits()); }));
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_group_commit_writes",
      "Replica writes those batches carried; divided by dialkv_group_commit_batches, the mean "
      "group size.",
      [local = local_replica_.get()] {
        return static_cast<double>(local->group_commit_writes());
      }));
  // One copy of the alarm per scrape serves the five gauges (DiskGauges).
  auto disk = std::make_shared<DiskGauges>(disk_health_.get());
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_disk_alarm",
      "1 while the disk alarm is raised (free space under --min-free-disk-bytes, or a failed "
      "disk write): the node refuses writes and serves reads.",
      [disk] { return disk->Sample().raised() ? 1.0 : 0.0; }));
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_disk_alarm_low_space", "1 while free space is under --min-free-disk-bytes.",
      [disk] { return disk->Sample().low_space ? 1.0 : 0.0; }));
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_disk_alarm_storage_error",
      "1 while the storage engine is stopped by a failed write (it resumes by itself).",
      [disk] { return disk->Sample().storage_error ? 1.0 : 0.0; }));
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_disk_free_bytes", "Free space of the data dir's file system, as last measured.",
      [disk] { return static_cast<double>(disk->Sample().free_bytes); }));
  node_gauges_.push_back(metrics_->AddGaugeFunc(
      "dialkv_disk_alarms_raised", "Times the disk alarm went up since the node started.",
      [disk] { return static_cast<double>(disk->Sample().raised_total); }));
  net::FrameServer::Options peer_port_options = frame_options;
  frame_options.max_connection_reply_bytes = options_.max_connection_reply_bytes;
  frame_options.connections_refused = &refused.WithLabels({"client"});
  frame_options.frame_timeouts = &frame_timeouts.WithLabels({"client"});
  frame_options.reply_pauses = &pauses.WithLabels({"client"});
  // A peer connection carries many clients' requests: its replies are bounded by the
  // coordinators' own budgets and per-connection request limit, not by one client's pace.
  peer_port_options.max_connection_reply_bytes = 0;
  peer_port_options.admit_requests = false;
  peer_port_options.connections_refused = &refused.WithLabels({"peer"});
  peer_port_options.frame_timeouts = &frame_timeouts.WithLabels({"peer"});
  frame_options.handshake = client_auth_->Handshake();
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    Result<std::shared_ptr<net::TlsContext>> tls = net::TlsContext::ForServer(
        {.ca_file = "", .cert_file = options_.tls_cert_file, .key_file = options_.tls_key_file},
        "--tls-cert/--tls-key");
    if (!tls.ok()) return tls.status();
    frame_options.tls = std::move(tls).value();
  }
  peer_port_options.tls = peer_tls_server_;
  if (authenticator_ != nullptr) {
    peer_port_options.handshake = [this](net::Stream& stream, net::FrameReader& reader) {
      return AuthenticatePeer(stream, reader);
    };
  }
  Result<std::unique_ptr<net::FrameServer>> peer_server =
      net::FrameServer::Listen(*io_pool_, *peer_endpoint, peer_port_options, PeerHandler());
  if (!peer_server.ok()) return peer_server.status();
  peer_server_ = std::move(peer_server.value());
  Result<std::unique_ptr<net::FrameServer>> frame_server =
      net::FrameServer::Listen(*io_pool_, *client_endpoint, frame_options, ClientHandler());
  if (!frame_server.ok()) return frame_server.status();
  frame_server_ = std::move(frame_server.value());
  Result<std::unique_ptr<net::HttpServer>> http_server = net::HttpServer::Listen(
      *io_pool_, *http_endpoint, [this](const std::string& path) { return ServeHttp(path); });
  if (!http_server.ok()) return http_server.status();
  http_server_ = std::move(http_server.value());
  endpoints_.client = frame_server_->local_endpoint();
  endpoints_.http = http_server_->local_endpoint();
  endpoints_.peer = peer_server_->local_endpoint();
  if (resp_endpoint.has_value()) {
    DIALKV_RETURN_IF_ERROR(StartResp(*resp_endpoint, refused.WithLabels({"resp"}),
                                     frame_timeouts.WithLabels({"resp"})));
  }

  storage_metrics_ = std::make_unique<StorageMetrics>(*rocks_, *metrics_);
  storage::Engine* engine_ptr = engine_.get();
  keys_gauge_ = metrics_->AddGaugeFunc(
      "dialkv_keys_stored", "Keys whose newest version is not a tombstone.",
      [engine_ptr] { return static_cast<double>(engine_ptr->LiveKeyCount()); });
  net::FrameServer* frame_ptr = frame_server_.get();
  connections_gauge_ = metrics_->AddGaugeFunc(
      "dialkv_connections_open", "Client connections currently open.",
      [frame_ptr] { return static_cast<double>(frame_ptr->open_connections()); });

  io_pool_->Start();
  peer_server_->Start();
  frame_server_->Start();
  http_server_->Start();
  if (resp_server_ != nullptr) resp_server_->Start();
  gossiper_->Start(io_pool_->Next().get_executor());
  if (hint_replayer_ != nullptr) hint_replayer_->Start(io_pool_->Next().get_executor());
  anti_entropy_->Start(io_pool_->Next().get_executor());
  DIALKV_RETURN_IF_ERROR(WritePortsFile());
  Log(Subsystem::kServer)
      .info(
          "node {} (generation {}) of cluster '{}': {} members, replication factor {}; serving "
          "clients on {}, peers on {}, http on {}; data dir {}; {} io threads; {}; hinted handoff "
          "{}",
          options_.node_id, generation_, options_.cluster_name, ring_->nodes().size(),
          ring_->replication_factor(), FormatHostPort(endpoints_.client),
          FormatHostPort(endpoints_.peer), FormatHostPort(endpoints_.http), options_.data_dir,
          options_.threads,
          options_.sync ? "sync on: writes fsync on " + std::to_string(options_.storage_threads) +
                              " storage threads"
                        : std::string("sync off: storage calls inline"),
          options_.hinted_handoff ? "on" : "off");
  if (fault_injector_ != nullptr) {
    Log(Subsystem::kServer)
        .warn(
            "node={} fault injection is enabled (--enable-fault-injection): any client may drop, "
            "delay and partition this node's peer messages and skew its clock",
            options_.node_id);
  }
  return Status::Ok();
}

Status Node::StartClockAboveThePast() {
  Result<storage::HlcStart> start = storage::LoadHlcStart(*engine_);
  if (!start.ok()) return start.status();
  hlc_->StartAbove(start->floor);
  storage::Engine* engine = engine_.get();
  hlc_->SetBoundKeeper(start->persisted_bound, [engine](uint64_t bound) {
    return storage::PersistHlcBound(*engine, bound);
  });
  // Renewed now, so that the first write does not pay for it.
  const Timestamp first = hlc_->Now();
  auto hlc_text = [](uint64_t hlc) {
    return std::to_string(hlc >> 16) + "." + std::to_string(hlc & 0xffff);
  };
  Log(Subsystem::kServer)
      .info("node={} clock starts at {} (wall clock {} ms; {} {}); durable bound {}",
            options_.node_id, ToString(first), hlc_->WallMs(),
            start->scanned ? "no bound recorded, highest stored timestamp" : "recorded bound",
            hlc_text(start->floor), hlc_text(hlc_->bound()));
  return Status::Ok();
}

Status Node::InitCluster(const std::vector<PeerSpec>& peers) {
  std::vector<NodeId> ids;
  std::vector<cluster::Member> members;
  std::map<NodeId, std::string> others;
  for (const PeerSpec& p : peers) {
    ids.push_back(p.node_id);
    members.push_back(cluster::Member{p.node_id, p.address});
    if (p.node_id != options_.node_id) others[p.node_id] = p.address;
  }
  Result<cluster::Ring> ring = cluster::Ring::Build(
      ids, cluster::Ring::Options{options_.vnodes, options_.replication_factor});
  if (!ring.ok()) return ring.status();
  ring_ = std::make_unique<cluster::Ring>(std::move(ring.value()));

  detector_clock_ = std::make_unique<SystemClock>();
  cluster::Membership::Options membership_options;
  membership_options.suspect_after_ms = options_.suspect_after_ms;
  membership_options.dead_after_ms = options_.dead_after_ms;
  membership_ = std::make_unique<cluster::Membership>(
      options_.node_id, generation_, std::move(members), *detector_clock_, membership_options);

  if (options_.enable_fault_injection) {
    net::FaultInjector::Options fault_options;
    fault_options.self = options_.node_id;
    fault_options.peers = ids;
    fault_injector_ = std::make_unique<net::FaultInjector>(fault_options, metrics_.get());
  }

  if (!options_.cluster_secret_file.empty()) {
    Result<std::string> secret =
        ReadSecretFile(options_.cluster_secret_file, "--cluster-secret-file");
    if (!secret.ok()) return secret.status();
    net::PeerAuthenticator::Options auth_options;
    auth_options.cluster_name = options_.cluster_name;
    auth_options.self = options_.node_id;
    auth_options.secret = std::move(secret).value();
    auth_options.is_member = [members = std::set<NodeId>(ids.begin(), ids.end())](NodeId id) {
      return members.count(id) != 0;
    };
    authenticator_ = std::make_unique<net::PeerAuthenticator>(std::move(auth_options));
    peer_auth_failures_ = &metrics_->AddCounter(
        "dialkv_peer_auth_failures_total",
        "Peer connections refused by the peer port's authentication, by reason "
        "(unauthenticated: no or a bad proof; permission_denied: another cluster, or a node "
        "not in --peers; unavailable: closed or timed out during the handshake).",
        {"reason"});
  }

  if (PeerTlsOn(options_)) {
    constexpr std::string_view kFlags = "--peer-tls-ca/--peer-tls-cert/--peer-tls-key";
    if (options_.peer_tls_ca_file.empty() || options_.peer_tls_cert_file.empty() ||
        options_.peer_tls_key_file.empty()) {
      return Status::InvalidArgument(std::string(kFlags) +
                                     ": TLS between peers needs all three (the cluster's CA, "
                                     "this node's certificate and its key)");
    }
    const net::TlsContext::Files files{.ca_file = options_.peer_tls_ca_file,
                                       .cert_file = options_.peer_tls_cert_file,
                                       .key_file = options_.peer_tls_key_file};
    Result<std::shared_ptr<net::TlsContext>> server = net::TlsContext::ForServer(files, kFlags);
    if (!server.ok()) return server.status();
    Result<std::shared_ptr<net::TlsContext>> client = net::TlsContext::ForClient(files, kFlags);
    if (!client.ok()) return client.status();
    peer_tls_server_ = std::move(server).value();
    peer_tls_client_ = std::move(client).value();
  }
  net::PeerTransport::Options transport_options;
  transport_options.authenticator = authenticator_.get();
  transport_options.tls = peer_tls_client_;
  transport_options.faults = fault_injector_.get();
  transport_options.self = options_.node_id;
  transport_options.cluster_name = options_.cluster_name;
  transport_options.peers = std::move(others);
  transport_options.max_frame_bytes = options_.max_frame_bytes;
  Result<std::unique_ptr<net::PeerTransport>> transport =
      net::PeerTransport::Create(*io_pool_, *hlc_, transport_options, metrics_.get());
  if (!transport.ok()) return transport.status();
  transport_ = std::move(transport.value());

  // A peer whose gossip reaches us is reachable: reconnect at once rather than after a
  // backoff pause that grew while it was down (a CP quorum may be waiting for it).
  net::PeerTransport* transport_ptr = transport_.get();
  membership_->AddListener(
      [transport_ptr](NodeId node, cluster::MemberState, cluster::MemberState to) {
        if (to == cluster::MemberState::kAlive) transport_ptr->PeerIsBack(node);
      });

  replication::LocalReplica::Options replica_options;
  replica_options.storage_pool = storage_pool_.get();
  replica_options.offload_reads = false;
  local_replica_ = std::make_unique<replication::LocalReplica>(replica_options, *engine_, *hlc_);

  if (options_.hinted_handoff) {
    replication::HintStore::Options hint_options;
    hint_options.max_age = std::chrono::seconds(options_.hint_max_age_s);
    hint_options.metrics = metrics_.get();
    Result<std::unique_ptr<replication::HintStore>> hints =
        replication::HintStore::Open(hint_options, *engine_, *detector_clock_);
    if (!hints.ok()) return hints.status();
    hint_store_ = std::move(hints.value());
  }
  replication::Coordinator::Options coordinator_options;
  coordinator_options.self = options_.node_id;
  coordinator_options.hinted_handoff = options_.hinted_handoff;
  coordinator_options.replica_timeout_ms = options_.replica_timeout_ms;
  coordinator_options.stream_batch_bytes =
      std::min<uint32_t>(1u << 20, options_.max_frame_bytes / 4);
  coordinator_options.speculative_retry_ms = options_.speculative_retry_ms;
  coordinator_options.fast_failures =
      &metrics_
           ->AddCounter("dialkv_cp_fast_failures_total",
                        "CP requests (reads, and either phase of writes) answered UNAVAILABLE "
                        "before sending anything, because the failure detector held so many of "
                        "the key's replicas dead that no quorum was left.")
           .Get();
  coordinator_ = std::make_unique<replication::Coordinator>(coordinator_options, *ring_,
                                                            *membership_, *local_replica_, *hlc_,
                                                            *transport_, hint_store_.get());
  cluster::PeerClockOffsets::Options offsets_options;
  offsets_options.max_clock_skew_ms = options_.max_clock_skew_ms;
  offsets_options.max_sample_age_ms =
      std::max<int64_t>(5000, int64_t{10} * options_.gossip_interval_ms);
  clock_offsets_ = std::make_unique<cluster::PeerClockOffsets>(
      offsets_options, options_.node_id, ids, *hlc_clock_, *detector_clock_, metrics_.get());
  coordinator_->RefuseWritesWhenClockSkewed(clock_offsets_.get());
  coordinator_->RefuseWritesOnDiskAlarm(disk_health_.get());
  if (hint_store_ != nullptr) {
    replication::HintReplayer::Options replay_options;
    replay_options.self = options_.node_id;
    replay_options.call_timeout_ms = options_.replica_timeout_ms;
    hint_replayer_ = std::make_unique<replication::HintReplayer>(replay_options, *hint_store_,
                                                                 *membership_, *transport_);
  }

  random_ = std::make_unique<SeededRandom>(
      (uint64_t{options_.node_id} << 32) ^ generation_ ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  cluster::Gossiper::Options gossip_options;
  gossip_options.interval_ms = options_.gossip_interval_ms;
  storage::Engine* engine_ptr = engine_.get();
  gossiper_ =
      std::make_unique<cluster::Gossiper>(gossip_options, *membership_, *transport_, *random_,
                                          [engine_ptr] { return engine_ptr->LiveKeyCount(); });
  gossiper_->MeasureClocks(clock_offsets_.get());

  replication::PeerService::Options peer_options;
  peer_options.cluster_name = options_.cluster_name;
  peer_options.self = options_.node_id;
  peer_options.max_key_bytes = options_.max_key_bytes;
  peer_options.max_value_bytes = options_.max_value_bytes;
  peer_options.invalid_requests =
      &metrics_
           ->AddCounter("dialkv_peer_requests_invalid_total",
                        "Replica reads and writes refused on the peer port as invalid: empty or "
                        "over-long keys, values over --max-value-bytes, versions without a "
                        "timestamp.")
           .Get();
  cluster::Membership* membership = membership_.get();
  cluster::Gossiper* gossiper = gossiper_.get();
  peer_service_ = std::make_unique<replication::PeerService>(
      peer_options, *local_replica_, *hlc_,
      [membership](NodeId node) { return membership->Find(node) != nullptr; },
      [gossiper](const v1::GossipRequest& request) { return gossiper->HandleGossip(request); });

  // Anti-entropy keeps its round times on the true clock, like failure detection: a clock
  // offset set (and cleared) by fault injection must not move a recorded round into the future,
  // which could let a tombstone be collected before a replica has seen it.
  antientropy::AntiEntropy::Options ae_options;
  ae_options.self = options_.node_id;
  ae_options.interval_ms = options_.ae_interval_ms;
  ae_options.max_keys_per_s = options_.ae_max_keys_per_s;
  ae_options.gc_grace_s = options_.gc_grace_s;
  ae_options.max_key_bytes = options_.max_key_bytes;
  ae_options.max_value_bytes = options_.max_value_bytes;
  ae_options.call_timeout_ms = options_.default_timeout_ms;
  ae_options.max_message_bytes = std::min<uint32_t>(1u << 20, options_.max_frame_bytes / 4);
  ae_options.seed = (uint64_t{options_.node_id} << 32) ^ generation_;
  Result<std::unique_ptr<antientropy::AntiEntropy>> anti_entropy =
      antientropy::AntiEntropy::Create(ae_options, *engine_, *ring_, *membership_, *transport_,
                                       *local_replica_, *detector_clock_, metrics_.get());
  if (!anti_entropy.ok()) return anti_entropy.status();
  anti_entropy_ = std::move(anti_entropy.value());
  peer_service_->SetAntiEntropyHandler(
      [ae = anti_entropy_.get()](NodeId from, v1::Envelope request) {
        return ae->Handle(from, std::move(request));
      });
  return Status::Ok();
}

asio::awaitable<v1::RepairReply> Node::Repair() {
  v1::RepairReply reply;
  reply.set_node_id(options_.node_id);
  for (const antientropy::AntiEntropy::RoundReport& round : co_await anti_entropy_->RunRoundNow()) {
    v1::RepairPeerReport* peer = reply.add_peers();
    peer->set_peer(round.peer);
    net::ToProto(round.status, peer->mutable_status());
    peer->set_complete(round.complete);
    peer->set_ranges_compared(round.ranges_compared);
    peer->set_ranges_out_of_sync(round.ranges_out_of_sync);
    peer->set_keys_pushed(round.keys_pushed);
    peer->set_keys_pulled(round.keys_pulled);
    peer->set_bytes_exchanged(round.bytes_sent + round.bytes_received);
  }
  reply.mutable_status()->set_code(v1::STATUS_OK);
  co_return reply;
}

net::RequestHandler ClientRequestHandler(KvService& kv, AdminService& admin) {
  return [kv = &kv, admin = &admin](v1::Envelope request) {
    return AdminService::Serves(request) ? admin->Handle(std::move(request))
                                         : kv->Handle(std::move(request));
  };
}

net::RequestHandler Node::ClientHandler() {
  return ClientRequestHandler(*kv_service_, *admin_service_);
}

net::RequestHandler Node::PeerHandler() {
  net::RequestHandler handler = [service = peer_service_.get()](v1::Envelope request) {
    return service->Handle(std::move(request));
  };
  if (fault_injector_ == nullptr) return handler;
  return net::WithFaults(fault_injector_.get(), std::move(handler));
}

asio::awaitable<Result<net::RequestHandler>> Node::AuthenticatePeer(net::Stream& stream,
                                                                    net::FrameReader& reader) {
  asio::error_code ec;
  const asio::ip::tcp::endpoint from = stream.socket().remote_endpoint(ec);
  Result<NodeId> peer = co_await authenticator_->Accept(stream, reader);
  if (!peer.ok()) {
    std::string reason(CodeName(peer.status().code()));
    std::transform(reason.begin(), reason.end(), reason.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    peer_auth_failures_->WithLabels({reason}).Inc();
    uint64_t suppressed = 0;
    if (peer_auth_log_limiter_.Allow(&suppressed)) {
      Log(Subsystem::kNet)
          .warn("node={} refused a peer connection from {}: {}{}", options_.node_id,
                ec ? std::string("?") : FormatHostPort(from), peer.status().message(),
                LogLimiter::SuppressedNote(suppressed));
    }
    co_return peer.status();
  }
  co_return net::OnlyFrom(*peer, PeerHandler());
}

v1::ClusterStatusReply Node::ClusterStatus() const {
  v1::ClusterStatusReply reply;
  reply.mutable_status()->set_code(v1::STATUS_OK);
  reply.set_node_id(options_.node_id);
  reply.set_cluster_name(options_.cluster_name);
  reply.set_replication_factor(ring_->replication_factor());
  reply.set_ae_oldest_full_round_ms(anti_entropy_->GetStatus().oldest_full_round_ms);
  reply.set_clock_skewed(clock_offsets_->skewed());
  const storage::DiskAlarm alarm = disk_health_->alarm();
  v1::DiskAlarm* disk = reply.mutable_disk_alarm();
  disk->set_low_space(alarm.low_space);
  disk->set_storage_error(alarm.storage_error);
  disk->set_message(alarm.message);
  disk->set_since_ms(alarm.since_ms);
  disk->set_free_bytes(alarm.free_bytes);
  disk->set_min_free_bytes(alarm.min_free_bytes);
  *reply.mutable_storage() = ToStorageStatus(rocks_->Stats());
  for (const cluster::MemberView& view : membership_->Views()) {
    v1::NodeStatus* node = reply.add_nodes();
    node->set_node_id(view.member.node_id);
    node->set_peer_address(view.member.peer_address);
    node->set_state(std::string(cluster::MemberStateName(view.state)));
    node->set_generation(view.generation);
    node->set_heartbeat(view.heartbeat);
    node->set_last_heard_ms_ago(view.last_heard_ms_ago);
    node->set_live_keys(view.member.node_id == options_.node_id ? engine_->LiveKeyCount()
                                                                : view.live_keys);
    if (std::optional<cluster::PeerClockOffsets::Estimate> offset =
            clock_offsets_->EstimateFor(view.member.node_id)) {
      node->set_clock_offset_known(true);
      node->set_clock_offset_ms(offset->offset_ms);
      node->set_clock_offset_rtt_ms(offset->rtt_ms);
    }
  }
  return reply;
}

net::HttpResponse Node::ServeHttp(const std::string& path) {
  net::HttpResponse response;
  if (path == "/health") {
    // 200 while the node serves: reads go on under an alarm, which is listed.
    response.content_type = "application/json";
    const storage::DiskAlarm alarm = disk_health_->alarm();
    std::string alarms;
    if (alarm.raised()) {
      alarms = "{\"name\":\"disk\",\"cause\":\"" +
               std::string(alarm.low_space ? "low_space" : "storage_error") +
               "\",\"since_ms\":" + std::to_string(alarm.since_ms) + ",\"message\":\"" +
               JsonEscape(alarm.message) + "\"}";
    }
    response.body = "{\"status\":\"" + std::string(alarm.raised() ? "degraded" : "ok") +
                    "\",\"node_id\":" + std::to_string(options_.node_id) + ",\"cluster\":\"" +
                    JsonEscape(options_.cluster_name) + "\",\"alarms\":[" + alarms + "]}\n";
  } else if (path == "/metrics") {
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    storage_metrics_->Refresh();
    response.body = metrics_->Expose();
  } else {
    response.status = 404;
    response.body = "not found; try /health or /metrics\n";
  }
  return response;
}

Status Node::StartResp(const net::ListenAddress& address, metrics::Counter& refused,
                       metrics::Counter& command_timeouts) {
  metrics::Counter& protocol_errors =
      metrics_
          ->AddCounter("dialkv_resp_protocol_errors_total",
                       "RESP connections closed for a protocol error (a malformed command, or one "
                       "over a limit: bulk string, arguments, command size).")
          .Get();
  const size_t nodes = ring_->nodes().size();
  const size_t copies =
      std::clamp<size_t>(ring_->replication_factor(), 1, std::max<size_t>(1, nodes));
  RespService::Options resp_options;
  resp_options.default_mode = options_.resp_default_mode;
  resp_options.node_id = options_.node_id;
  resp_options.cluster_name = options_.cluster_name;
  // This node's live keys stand for its share of the ring: about copies / nodes of them all.
  resp_options.estimate_keys = [engine = engine_.get(), nodes, copies] {
    return engine->LiveKeyCount() * nodes / copies;
  };
  net::RespServer::Options server_options;
  server_options.limits.max_bulk_bytes = options_.max_frame_bytes;
  server_options.limits.max_command_bytes = options_.max_frame_bytes;
  server_options.max_connections = options_.max_connections;
  server_options.command_read_timeout_ms = options_.frame_read_timeout_ms;
  server_options.max_connection_reply_bytes = options_.max_connection_reply_bytes;
  server_options.budget = request_budget_;
  server_options.connections_refused = &refused;
  server_options.command_timeouts = &command_timeouts;
  server_options.protocol_errors = &protocol_errors;
  resp_service_ = std::make_unique<RespService>(resp_options, *client_auth_, *metrics_);
  Result<std::unique_ptr<net::RespServer>> server =
      net::RespServer::Listen(*io_pool_, address, server_options, resp_service_->Factory());
  if (!server.ok()) return server.status();
  resp_server_ = std::move(server).value();
  endpoints_.resp = resp_server_->local_endpoint();
  resp_service_->set_port(endpoints_.resp.port());
  return Status::Ok();
}

Status Node::WritePortsFile() const {
  if (options_.ports_file.empty()) return Status::Ok();
  const std::string json =
      "{\"node_id\":" + std::to_string(options_.node_id) +
      ",\"pid\":" + std::to_string(::getpid()) + ",\"client\":\"" +
      JsonEscape(FormatHostPort(endpoints_.client)) + "\",\"peer\":\"" +
      JsonEscape(FormatHostPort(endpoints_.peer)) + "\",\"http\":\"" +
      JsonEscape(FormatHostPort(endpoints_.http)) + "\"" +
      (resp_server_ != nullptr ? ",\"resp\":\"" + JsonEscape(FormatHostPort(endpoints_.resp)) + "\""
                               : std::string()) +
      "}\n";
  // Written aside and renamed: a reader sees no file or the whole file, never a part.
  const std::string aside = options_.ports_file + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(aside, std::ios::binary | std::ios::trunc);
    out << json;
    out.close();
    if (!out) return Status::IOError("--ports-file: cannot write " + aside);
  }
  std::error_code ec;
  std::filesystem::rename(aside, options_.ports_file, ec);
  if (ec) {
    std::filesystem::remove(aside, ec);
    return Status::IOError("--ports-file: cannot create " + options_.ports_file + ": " +
                           ec.message());
  }
  return Status::Ok();
}

void Node::Stop() {
  if (stopped_) return;
  stopped_ = true;
  const bool started = http_server_ != nullptr;
  if (started) Log(Subsystem::kServer).info("node {} stopping", options_.node_id);
  // 1. No new connections or requests; open client connections close. The ports file goes
  // first: whoever reads it must not find a node that no longer serves.
  if (started && !options_.ports_file.empty()) {
    std::error_code ec;
    std::filesystem::remove(options_.ports_file, ec);
  }
  if (http_server_ != nullptr) http_server_->Stop();
  if (frame_server_ != nullptr) frame_server_->Stop();
  if (resp_server_ != nullptr) resp_server_->Stop();
  // 2. Background loops exit while the io threads still run them.
  if (gossiper_ != nullptr) {
    gossiper_->Stop();
    if (started && !gossiper_->WaitExited(std::chrono::seconds(10))) {
      Log(Subsystem::kServer).error("gossip loop did not exit within 10 s; stopping anyway");
    }
  }
  if (hint_replayer_ != nullptr) hint_replayer_->Stop();
  if (anti_entropy_ != nullptr) anti_entropy_->Stop();
  // 3. Replica calls still running (AP background copies, stragglers) finish by their
  // deadlines; new requests are refused.
  if (coordinator_ != nullptr) coordinator_->Stop();
  // 4. Peers can no longer reach us, nor we them.
  if (peer_server_ != nullptr) peer_server_->Stop();
  if (transport_ != nullptr) transport_->Stop();
  // 5. The io threads finish what they are running and exit.
  if (io_pool_ != nullptr) {
    io_pool_->Stop();
    io_pool_->Join();
  }
  // 6. Engine calls already running finish; queued ones are dropped. Their completions were
  // posted to (or are dropped with) the stopped io_contexts, which still exist.
  if (storage_pool_ != nullptr) {
    storage_pool_->stop();
    storage_pool_->join();
  }
  // 7. Nothing runs now. Gauges read the engine and the frame server: they go first. The
  // io_contexts destroy the suspended coroutines, which reference the services.
  keys_gauge_.Reset();
  connections_gauge_.Reset();
  storage_metrics_.reset();
  http_server_.reset();
  frame_server_.reset();
  resp_server_.reset();
  peer_server_.reset();
  storage_pool_.reset();
  transport_.reset();  // Needs the (stopped) pool alive.
  io_pool_.reset();
  resp_service_.reset();
  client_auth_.reset();
  kv_service_.reset();
  admin_service_.reset();
  peer_service_.reset();
  anti_entropy_.reset();  // Removes itself as the engine's change observer.
  gossiper_.reset();
  random_.reset();
  hint_replayer_.reset();
  coordinator_.reset();
  clock_offsets_.reset();
  hint_store_.reset();
  local_replica_.reset();
  membership_.reset();
  ring_.reset();
  // 8. The clock's bound drops to the last value it handed out (nothing runs now), so a clean
  // restart starts right there, not a window ahead. RocksDB syncs its WAL and releases the
  // data dir's lock.
  if (hlc_ != nullptr && engine_ != nullptr && hlc_->bound() != ~uint64_t{0}) {
    if (Status kept = storage::PersistHlcBound(*engine_, hlc_->Last()); !kept.ok()) {
      Log(Subsystem::kServer)
          .warn("node {} could not record its clock at shutdown: {}", options_.node_id,
                kept.ToString());
    }
  }
  disk_monitor_.reset();
  engine_.reset();
  if (started) Log(Subsystem::kServer).info("node {} stopped", options_.node_id);
}

}  // namespace dialkv::api
