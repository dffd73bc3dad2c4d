#pragma once
// One dialkv-server: owns and wires the engine, the clock, the services and the ports.
//
// Start() brings a node up in this order, and any failure undoes what was done:
//   1. checks the options (ValidateOptions), --peers included;
//   2. resolves --listen, --peer-listen and --http-listen;
//   3. opens RocksDB in data_dir (exclusive lock) and claims it for (node_id, cluster_name):
//      a data dir of another node or cluster is refused; takes the next generation; starts
//      the HLC above the bound it recorded (storage/hlc_bound.h);
//   4. builds the ring and membership from --peers, the peer transport, the local replica,
//      the hint store and replayer, the coordinator, the gossiper and the services;
//   5. binds the peer, client and HTTP ports (port 0: the OS picks; see endpoints());
//   6. starts the io threads, begins accepting, starts gossip and hint replay.
// Stop() drains in the reverse order (see Stop()). main.cc only parses flags into Options,
// calls Start, waits for a signal and calls Stop.
//
// HTTP: GET /health → 200 {"status":"ok","node_id":N,"cluster":"NAME"};
//       GET /metrics → the metrics registry in the Prometheus text format.
//
// Thread-compatible: Start, Stop and the destructor from one owning thread; the accessors
// from any thread.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/thread_pool.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/common/clock.h"
#include "server/common/hlc.h"
#include "server/common/log_limiter.h"
#include "server/common/metrics.h"
#include "server/common/status.h"
#include "server/net/frame_server.h"
#include "server/net/http_server.h"
#include "server/net/io_pool.h"
#include "server/net/listen_address.h"
#include "server/net/peer_auth.h"
#include "server/net/stream.h"
#include "server/storage/disk_faults.h"
#include "server/storage/disk_health.h"
#include "server/storage/disk_monitor.h"
#include "server/storage/engine.h"
#include "server/storage/rocks_tuning.h"

namespace dialkv {
class SeededRandom;
namespace storage {
class RocksEngine;
}  // namespace storage
namespace antientropy {
class AntiEntropy;
}  // namespace antientropy
namespace cluster {
class Gossiper;
class Membership;
class PeerClockOffsets;
class Ring;
}  // namespace cluster
namespace net {
class FaultInjector;
class RespServer;
class PeerTransport;
}  // namespace net
namespace replication {
class Coordinator;
class HintReplayer;
class HintStore;
class LocalReplica;
class PeerService;
}  // namespace replication
}  // namespace dialkv

namespace dialkv::api {

class AdminService;
class ClientAuth;
class KvService;
class RespService;
class StorageMetrics;

// One --peers entry: "ID@HOST:PORT" (the node's peer port).
struct PeerSpec {
  NodeId node_id = 0;
  std::string address;
};

// The client port's dispatch, before any token check: admin requests (AdminService::Serves)
// go to `admin`, every other envelope to `kv`. Both are not owned and must outlive the handler.
net::RequestHandler ClientRequestHandler(KvService& kv, AdminService& admin);

// Parses --peers: "1@10.0.0.1:7380,2@10.0.0.2:7380". Errors: kInvalidArgument naming the bad
// entry (not ID@HOST:PORT, an id listed twice, an address listed twice).
Result<std::vector<PeerSpec>> ParsePeers(std::string_view text);

class Node {
 public:
  struct Options {
    NodeId node_id = 0;
    std::string cluster_name = "dialkv";
    // Each listen address is HOST:PORT (port 0: any free port) or fd@N, a TCP socket bound by
    // whoever started the process and inherited as descriptor N (see net/listen_address.h).
    std::string listen = "127.0.0.1:7379";       // Client port.
    std::string http_listen = "127.0.0.1:7381";  // /health and /metrics.
    std::string peer_listen = "127.0.0.1:7380";  // Peer port: replication and gossip.
    // The Redis-protocol port (api/resp_service.h), or "off". Off here so that a node embedded
    // in a test listens only where it is told; dialkv-server's flag defaults to
    // 127.0.0.1:7382.
    std::string resp_listen = "off";
    // The consistency mode of a RESP connection until it sends DIALKV.MODE.
    Consistency resp_default_mode = Consistency::kCp;
    // Non-empty: once every port listens, the bound addresses are written here as one JSON
    // object {"node_id":N,"pid":P,"client":"H:P","peer":"H:P","http":"H:P","resp":"H:P"}
    // ("resp" only while the RESP port is on), atomically
    // (written aside, then renamed), so a script or test can wait for the file and read the
    // ports chosen for port 0. Stop() removes it.
    std::string ports_file;
    // Non-empty: the file holding the cluster's shared secret (at least 32 bytes). Every peer
    // connection then authenticates both ways before anything else is read (net/peer_auth.h).
    // Every node of the cluster must be given the same secret.
    std::string cluster_secret_file;
    // Non-empty: the file holding the secret client tokens are signed with (at least 32 bytes).
    // Every client connection must then present a token (api/client_auth.h) whose scopes allow
    // what it asks. Every node of the cluster must be given the same secret.
    std::string auth_token_secret_file;
    // How far past a token's exp (and before its nbf) it is still honoured: clock differences
    // between the token's maker and the node.
    uint32_t token_leeway_s = 30;
    // Non-empty (both): the client port speaks TLS only, presenting this certificate chain
    // and key (PEM). Clients check it against their CA file.
    std::string tls_cert_file;
    std::string tls_key_file;
    // Non-empty (all three): mutual TLS between peers. Every peer connection, both ways,
    // presents peer_tls_cert_file and must be shown a certificate that chains to
    // peer_tls_ca_file; the dialling side also checks that it names the peer's host as given
    // in `peers`. Every node of the cluster must use TLS on peers, or none.
    std::string peer_tls_ca_file;
    std::string peer_tls_cert_file;
    std::string peer_tls_key_file;
    // A node whose client or peer port listens on an address other hosts can reach refuses to
    // start without a token secret and peer protection (a cluster secret, or TLS between
    // peers), unless this is set (a network the operator trusts).
    bool insecure = false;
    // Every node of the cluster, this one included, by its peer address: "1@host:7380,...".
    // Empty: a cluster of this node alone (at peer_listen).
    std::string peers;
    uint32_t replication_factor = 3;     // Copies of each key; capped at the number of nodes.
    uint32_t vnodes = 16;                // Ring tokens per node.
    bool hinted_handoff = true;          // Off: replicas that miss a write wait for repair.
    uint32_t hint_max_age_s = 3 * 3600;  // Older hints are dropped rather than replayed.
    uint32_t gossip_interval_ms = 200;   // Heartbeat rounds.
    uint32_t suspect_after_ms = 1000;    // Failure detector: unheard this long → suspect.
    uint32_t dead_after_ms = 3000;       // ... and this long → dead (hinted without trying).
    uint32_t replica_timeout_ms = 1000;  // One replica call before it counts as failed.
    // CP reads and a CP write's timestamp read ask a quorum first, the other replicas after
    // this long (or once one of the quorum failed). 0: all at once. 0..60000.
    uint32_t speculative_retry_ms = 10;
    // Serve the fault-injection requests (admin_service.h) and judge every peer message with
    // a FaultInjector. Off: those requests are refused and peer messages pass untouched.
    bool enable_fault_injection = false;
    // Anti-entropy (antientropy/anti_entropy.h): a round with one live peer every this long.
    uint32_t ae_interval_ms = 5000;
    uint32_t ae_max_keys_per_s = 10'000;  // Versions repaired per second at most (0: no limit).
    // A tombstone is purged once older than this and after a complete round with every other
    // replica of its range. Must be over hint_max_age_s when hinted handoff is on.
    uint32_t gc_grace_s = 86'400;
    std::string data_dir;  // Required. Created if missing.
    // io threads, each running one io_context. Default: the machine's cores.
    size_t threads = DefaultThreads();
    // With sync, the threads that run writes (replication/local_replica.h says why only then). More
    // concurrent writers make bigger fsync groups; past a few, they only queue on the disk.
    size_t storage_threads = 4;
    bool sync = false;  // fsync every write before acknowledging it.
    // Free space the data dir's file system keeps: below it the node refuses writes (the disk
    // alarm, storage/disk_health.h) until space is back. 0: no watermark.
    uint64_t min_free_disk_bytes = uint64_t{256} << 20;
    // How often the free space is measured and, after a failed write, resuming is tried.
    uint32_t disk_check_interval_ms = 1000;
    uint32_t max_key_bytes = 4096;         // Not a flag: part of the data model.
    uint32_t max_value_bytes = 4u << 20;   // Must fit in a frame with the largest key.
    uint32_t max_frame_bytes = 16u << 20;  // Bigger frames close their connection.
    // Connections open at once per port (client, peer); more are refused with OVERLOADED.
    uint32_t max_connections = 10'000;
    // A frame still incomplete this long after its first byte closes its connection.
    uint32_t frame_read_timeout_ms = 30'000;
    uint32_t default_timeout_ms = 5000;  // For requests with timeout_ms = 0.
    uint32_t max_timeout_ms = 60'000;    // Longer request timeouts are shortened to this.
    // Budgets (net/request_budget.h, net/frame_server.h): reply bytes one connection may have
    // unwritten before it stops reading; client requests being served at once; request and
    // reply bytes held node-wide (0: no limit, each).
    uint64_t max_connection_reply_bytes = uint64_t{8} << 20;
    uint32_t max_inflight_requests = 16'384;
    uint64_t max_inflight_bytes = uint64_t{256} << 20;
    int64_t max_clock_skew_ms = 500;  // The HLC's guard against clocks far ahead.
    size_t storage_block_cache_bytes = size_t{64} << 20;  // RocksDB block cache.
    storage::RocksTuning storage_tuning;                  // WAL retention, memtables, compaction.
    // The wall clock for the HLC. Null: the system clock. Not owned; must outlive the node.
    const Clock* clock = nullptr;
  };

  // The addresses actually bound (with the OS-chosen ports when 0 was asked for).
  struct Endpoints {
    asio::ip::tcp::endpoint client;
    asio::ip::tcp::endpoint http;
    asio::ip::tcp::endpoint peer;
    asio::ip::tcp::endpoint resp;  // Port 0 when the RESP port is off.
  };

  static size_t DefaultThreads();

  // The first problem with `options` that no retry can fix (a value out of range, an
  // address that is not HOST:PORT), as one message naming the flag. Resolves nothing and
  // touches no file: main() uses it to tell bad usage (exit 2) from a failed start (exit 1).
  // Errors: kInvalidArgument.
  static Status ValidateOptions(const Options& options);

  // Starts a node; it serves until Stop() or destruction.
  // Errors:
  //   kInvalidArgument  bad options (as ValidateOptions); a host that does not resolve; a data
  //                     dir claimed by another node or cluster (the message names both);
  //   kUnavailable      a port cannot be bound (in use: the message names the address), or
  //                     the data dir is locked by another running node;
  //   kIOError, kCorruption  the data dir cannot be used (the message says why).
  static Result<std::unique_ptr<Node>> Start(Options options);

  ~Node();  // Stop().
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Drains the node, in this order:
  //   1. stop accepting on the client and HTTP ports and close every client connection
  //      (handlers still running finish, their replies are dropped);
  //   2. stop gossip and hint replay and wait for them to exit;
  //   3. stop the coordinator: it refuses new requests and waits for its replica calls (AP
  //      background copies, stragglers) to finish, each bounded by its deadline;
  //   4. stop the peer port and the peer transport;
  //   5. stop the io_contexts and join their threads;
  //   6. with sync, stop the storage pool and join it: engine calls already running finish,
  //      queued ones never start (their clients got no reply: a write is indeterminate to them
  //      anyway);
  //   7. destroy the servers and the io_contexts (and with them the suspended coroutines),
  //      then the services, the coordinator and the cluster state;
  //   8. record the HLC's last value as its bound (a clean restart starts right above it),
  //      then close the engine (RocksDB syncs its WAL: every acknowledged write is kept).
  // Blocks until done. Idempotent.
  void Stop();

  const Endpoints& endpoints() const { return endpoints_; }
  const Options& options() const { return options_; }
  metrics::Registry& metrics() { return *metrics_; }

 private:
  explicit Node(Options options);
  Status Init();
  Status InitCluster(const std::vector<PeerSpec>& peers);
  // Starts the HLC above every value it handed out before this run (storage/hlc_bound.h) and
  // makes it renew its durable bound ahead of use.
  Status StartClockAboveThePast();
  Status WritePortsFile() const;
  // Binds the RESP port and makes its service (RespServer, RespService).
  Status StartResp(const net::ListenAddress& address, metrics::Counter& refused,
                   metrics::Counter& command_timeouts);
  net::HttpResponse ServeHttp(const std::string& path);
  v1::ClusterStatusReply ClusterStatus() const;
  // Runs an anti-entropy round with every live peer now (RepairRequest).
  asio::awaitable<v1::RepairReply> Repair();
  // The client port's handler: admin requests to the AdminService, the rest to the KvService.
  net::RequestHandler ClientHandler();
  // The peer port's handler: the PeerService, behind the fault injector when there is one.
  net::RequestHandler PeerHandler();
  // The peer port's handshake with --cluster-secret-file: the handler for a connection that
  // authenticated (it refuses messages of any other node), or why it was refused (counted
  // and logged here). `socket` and `reader` are the connection's, alive across the call.
  asio::awaitable<Result<net::RequestHandler>> AuthenticatePeer(net::Stream& stream,
                                                                net::FrameReader& reader);

  const Options options_;
  Endpoints endpoints_;
  // Declared in dependency order: destroyed (and stopped by Stop()) in reverse.
  std::shared_ptr<storage::DiskHealth> disk_health_;
  std::shared_ptr<storage::DiskFaults> disk_faults_;  // Null without fault injection.
  std::unique_ptr<storage::Engine> engine_;
  std::unique_ptr<storage::DiskMonitor> disk_monitor_;  // Resumes engine_; goes before it.
  storage::RocksEngine* rocks_ = nullptr;               // engine_, for its statistics.
  std::unique_ptr<SystemClock> system_clock_;           // When options_.clock is null.
  const Clock* hlc_clock_ = nullptr;                    // options_.clock or system_clock_.
  std::unique_ptr<HybridLogicalClock> hlc_;
  std::unique_ptr<SystemClock> detector_clock_;  // Never skewed: drives failure detection.
  std::unique_ptr<metrics::Registry> metrics_;
  std::unique_ptr<net::IoContextPool> io_pool_;
  std::unique_ptr<asio::thread_pool> storage_pool_;
  uint64_t generation_ = 0;
  std::unique_ptr<cluster::Ring> ring_;
  std::unique_ptr<cluster::Membership> membership_;
  std::unique_ptr<cluster::PeerClockOffsets> clock_offsets_;
  std::unique_ptr<net::FaultInjector> fault_injector_;  // Null without fault injection.
  std::unique_ptr<net::PeerAuthenticator> authenticator_;
  std::shared_ptr<net::TlsContext> peer_tls_server_;  // Set with --peer-tls-*.
  std::shared_ptr<net::TlsContext> peer_tls_client_;  // Set with --peer-tls-* too.
  std::unique_ptr<ClientAuth> client_auth_;           // Checks tokens, or lets everything through.
  metrics::CounterFamily* peer_auth_failures_ = nullptr;  // Set with authenticator_.
  LogLimiter peer_auth_log_limiter_{std::chrono::seconds(1)};
  std::unique_ptr<net::PeerTransport> transport_;
  std::unique_ptr<replication::LocalReplica> local_replica_;
  std::unique_ptr<replication::HintStore> hint_store_;  // Null with hinted handoff off.
  std::unique_ptr<replication::Coordinator> coordinator_;
  std::unique_ptr<replication::HintReplayer> hint_replayer_;  // Null with hinted handoff off.
  std::unique_ptr<SeededRandom> random_;
  std::unique_ptr<cluster::Gossiper> gossiper_;
  std::unique_ptr<replication::PeerService> peer_service_;
  std::unique_ptr<antientropy::AntiEntropy> anti_entropy_;
  std::unique_ptr<KvService> kv_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::shared_ptr<net::RequestBudget> request_budget_;  // Shared by both ports' connections.
  std::unique_ptr<net::FrameServer> peer_server_;
  std::unique_ptr<net::FrameServer> frame_server_;
  std::unique_ptr<net::HttpServer> http_server_;
  std::unique_ptr<RespService> resp_service_;        // Null with the RESP port off.
  std::unique_ptr<net::RespServer> resp_server_;     // Null with the RESP port off.
  std::unique_ptr<StorageMetrics> storage_metrics_;  // Reads rocks_ at each /metrics.
  metrics::GaugeFuncHandle keys_gauge_;
  metrics::GaugeFuncHandle connections_gauge_;
  std::vector<metrics::GaugeFuncHandle> node_gauges_;
  bool stopped_ = false;
};

struct HostPort {
  std::string host;  // An IP address or a name; IPv6 without its brackets.
  uint16_t port = 0;
};

// Parses "HOST:PORT" ("127.0.0.1:7379", "[::1]:7379", "localhost:7379"; PORT 0..65535).
// Errors: kInvalidArgument naming `flag` and the text.
Result<HostPort> ParseHostPort(std::string_view text, std::string_view flag);

// ParseHostPort, then resolves a host that is not an IP address (blocking; the first address
// wins). Errors: kInvalidArgument naming `flag`, the text and the resolver's reason.
Result<asio::ip::tcp::endpoint> ResolveHostPort(std::string_view text, std::string_view flag);

// A listen flag's value: "fd@N" (an inherited socket, checked) or HOST:PORT (resolved).
// Errors: kInvalidArgument naming `flag`, as InheritedSocket and ResolveHostPort.
Result<net::ListenAddress> ResolveListenAddress(std::string_view text, std::string_view flag);

// Any --peer-tls-* flag was given (Init() then requires all three).
bool PeerTlsOn(const Node::Options& o);

// Protected mode: a node whose client, RESP or peer port listens on an address other than loopback
// (a wildcard address included) needs the token secret and peer protection (the cluster secret
// or TLS between peers) unless o.insecure. Errors:
// kInvalidArgument naming the open port and the missing flags.
// `resp`: the RESP port's address, when it is on.
Status CheckProtectedMode(const Node::Options& o, const asio::ip::tcp::endpoint& client,
                          const asio::ip::tcp::endpoint& peer,
                          const asio::ip::tcp::endpoint* resp = nullptr);

// Whether a listen flag's value turns its port off ("off").
bool IsListenOff(std::string_view text);

// "127.0.0.1:7379", "[::1]:7379": the inverse of ParseHostPort for a resolved endpoint.
std::string FormatHostPort(const asio::ip::tcp::endpoint& endpoint);

}  // namespace dialkv::api
