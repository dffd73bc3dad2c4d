#include "server/api/node.h"

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <charconv>
#include <cstdio>
#include <thread>
#include <utility>

#include "server/api/kv_service.h"
#include "server/api/local_backend.h"
#include "server/common/logging.h"
#include "server/storage/rocksdb_engine.h"

namespace dialkv::api {
namespace {

// Bytes a Put envelope adds around its key and value: ids, tags, lengths, the timeout.
constexpr uint32_t kEnvelopeOverheadBytes = 64;
constexpr size_t kMaxThreads = 1024;
constexpr uint32_t kMinFrameBytes = 4096 + kEnvelopeOverheadBytes;
constexpr uint32_t kMaxFrameBytes = 1u << 30;
constexpr uint32_t kMaxDefaultTimeoutMs = 10 * 60'000;  // KvService::Options::max_timeout_ms.
constexpr int64_t kMaxClockSkewMs = 24 * 3600 * 1000;
constexpr size_t kMaxClusterNameBytes = 255;

Status OutOfRange(std::string_view flag, uint64_t value, uint64_t min, uint64_t max) {
  return Status::InvalidArgument(std::string(flag) + " must be " + std::to_string(min) + " to " +
                                 std::to_string(max) + ", not " + std::to_string(value));
}

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
  if (o.default_timeout_ms < 1 || o.default_timeout_ms > kMaxDefaultTimeoutMs) {
    return OutOfRange("--default-timeout-ms", o.default_timeout_ms, 1, kMaxDefaultTimeoutMs);
  }
  if (o.max_clock_skew_ms < 0 || o.max_clock_skew_ms > kMaxClockSkewMs) {
    return Status::InvalidArgument("--max-clock-skew-ms must be 0 to " +
                                   std::to_string(kMaxClockSkewMs) + ", not " +
                                   std::to_string(o.max_clock_skew_ms));
  }
  DIALKV_RETURN_IF_ERROR(ParseHostPort(o.listen, "--listen"));
  DIALKV_RETURN_IF_ERROR(ParseHostPort(o.http_listen, "--http-listen"));
  return Status::Ok();
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
  Result<asio::ip::tcp::endpoint> client_endpoint = ResolveHostPort(options_.listen, "--listen");
  if (!client_endpoint.ok()) return client_endpoint.status();
  Result<asio::ip::tcp::endpoint> http_endpoint =
      ResolveHostPort(options_.http_listen, "--http-listen");
  if (!http_endpoint.ok()) return http_endpoint.status();

  storage::RocksEngine::Options engine_options;
  engine_options.path = options_.data_dir;
  engine_options.sync = options_.sync;
  engine_options.block_cache_bytes = options_.storage_block_cache_bytes;
  Result<std::unique_ptr<storage::RocksEngine>> engine = storage::RocksEngine::Open(engine_options);
  if (!engine.ok()) return engine.status();
  engine_ = std::move(engine.value());
  DIALKV_RETURN_IF_ERROR(storage::ClaimIdentity(
      *engine_, storage::Identity{options_.node_id, options_.cluster_name}, options_.data_dir));

  const Clock* clock = options_.clock;
  if (clock == nullptr) {
    system_clock_ = std::make_unique<SystemClock>();
    clock = system_clock_.get();
  }
  HybridLogicalClock::Options hlc_options;
  hlc_options.max_clock_skew_ms = options_.max_clock_skew_ms;
  hlc_ = std::make_unique<HybridLogicalClock>(*clock, options_.node_id, hlc_options);
  metrics_ = std::make_unique<metrics::Registry>();
  metrics_->AddGauge("dialkv_node_info", "Always 1; labels name this node.", {"node_id", "cluster"})
      .WithLabels({std::to_string(options_.node_id), options_.cluster_name})
      .Set(1);

  io_pool_ = std::make_unique<net::IoContextPool>(options_.threads);
  // Only fsyncing writes leave the io threads; local_backend.h has the measurements.
  if (options_.sync) {
    storage_pool_ = std::make_unique<asio::thread_pool>(options_.storage_threads);
  }
  LocalBackend::Options backend_options;
  backend_options.storage_pool = storage_pool_.get();
  backend_options.offload_reads = false;
  backend_ = std::make_unique<LocalBackend>(backend_options, *engine_, *hlc_);
  KvService::Options service_options;
  service_options.max_key_bytes = options_.max_key_bytes;
  service_options.max_value_bytes = options_.max_value_bytes;
  service_options.default_timeout_ms = options_.default_timeout_ms;
  kv_service_ = std::make_unique<KvService>(service_options, *backend_, *metrics_);

  net::FrameServer::Options frame_options;
  frame_options.max_frame_bytes = options_.max_frame_bytes;
  Result<std::unique_ptr<net::FrameServer>> frame_server = net::FrameServer::Listen(
      *io_pool_, *client_endpoint, frame_options, kv_service_->AsHandler());
  if (!frame_server.ok()) return frame_server.status();
  frame_server_ = std::move(frame_server.value());
  Result<std::unique_ptr<net::HttpServer>> http_server = net::HttpServer::Listen(
      *io_pool_, *http_endpoint, [this](const std::string& path) { return ServeHttp(path); });
  if (!http_server.ok()) return http_server.status();
  http_server_ = std::move(http_server.value());
  endpoints_.client = frame_server_->local_endpoint();
  endpoints_.http = http_server_->local_endpoint();

  storage::Engine* engine_ptr = engine_.get();
  keys_gauge_ = metrics_->AddGaugeFunc(
      "dialkv_keys_stored", "Keys whose newest version is not a tombstone.",
      [engine_ptr] { return static_cast<double>(engine_ptr->LiveKeyCount()); });
  net::FrameServer* frame_ptr = frame_server_.get();
  connections_gauge_ = metrics_->AddGaugeFunc(
      "dialkv_connections_open", "Client connections currently open.",
      [frame_ptr] { return static_cast<double>(frame_ptr->open_connections()); });

  io_pool_->Start();
  frame_server_->Start();
  http_server_->Start();
  Logger("server")->info(
      "node {} of cluster '{}' serving clients on {}, http on {}; data dir {}; {} io threads; "
      "{}",
      options_.node_id, options_.cluster_name, FormatHostPort(endpoints_.client),
      FormatHostPort(endpoints_.http), options_.data_dir, options_.threads,
      options_.sync ? "sync on: writes fsync on " + std::to_string(options_.storage_threads) +
                          " storage threads"
                    : std::string("sync off: storage calls inline"));
  return Status::Ok();
}

net::HttpResponse Node::ServeHttp(const std::string& path) {
  net::HttpResponse response;
  if (path == "/health") {
    response.content_type = "application/json";
    response.body = "{\"status\":\"ok\",\"node_id\":" + std::to_string(options_.node_id) +
                    ",\"cluster\":\"" + JsonEscape(options_.cluster_name) + "\"}\n";
  } else if (path == "/metrics") {
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics_->Expose();
  } else {
    response.status = 404;
    response.body = "not found; try /health or /metrics\n";
  }
  return response;
}

void Node::Stop() {
  if (stopped_) return;
  stopped_ = true;
  const bool started = http_server_ != nullptr;
  if (started) Logger("server")->info("node {} stopping", options_.node_id);
  // 1. No new connections or requests; open connections close.
  if (http_server_ != nullptr) http_server_->Stop();
  if (frame_server_ != nullptr) frame_server_->Stop();
  // 2. The io threads finish what they are running and exit.
  if (io_pool_ != nullptr) {
    io_pool_->Stop();
    io_pool_->Join();
  }
  // 3. Engine calls already running finish; queued ones are dropped. Their completions were
  // posted to (or are dropped with) the stopped io_contexts, which still exist.
  if (storage_pool_ != nullptr) {
    storage_pool_->stop();
    storage_pool_->join();
  }
  // 4. Nothing runs now. Gauges read the engine and the frame server: they go first. The
  // io_contexts destroy the suspended request coroutines, which reference the service.
  keys_gauge_.Reset();
  connections_gauge_.Reset();
  http_server_.reset();
  frame_server_.reset();
  storage_pool_.reset();
  io_pool_.reset();
  kv_service_.reset();
  backend_.reset();
  // 5. RocksDB syncs its WAL and releases the data dir's lock.
  engine_.reset();
  if (started) Logger("server")->info("node {} stopped", options_.node_id);
}

}  // namespace dialkv::api
