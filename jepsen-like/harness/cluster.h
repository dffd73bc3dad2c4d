#pragma once
// The cluster under test, as the harness drives it: either N dialkv-server processes it starts
// on 127.0.0.1 (fault injection on, each node's data and log under one directory) or a running
// cluster it attaches to by the client ports of its nodes. Either way it holds one client per
// node whose only endpoint is that node, so every request's coordinator is known, and it
// sends each node its faults (admin.h). Only a started cluster can kill or pause nodes.
//
// Thread-safety: client(), nodes() and replication_factor() may be used from any thread (the
// clients are thread-safe); everything else from the thread that created the cluster, which
// must outlive the processes it starts (ChildProcess).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dialkv/client.h"
#include "jepsen-like/harness/nemesis.h"
#include "jepsen-like/harness/server_child.h"

namespace dialkv::jepsen {

class Cluster {
 public:
  struct LocalOptions {
    int nodes = 3;            // Ids 1..nodes.
    std::string server_path;  // The dialkv-server binary.
    // Node n keeps its data in dir/n<n>/data and its log in dir/n<n>/server.log.
    std::filesystem::path dir;
    uint32_t replication_factor = 3;
    // Flags every node gets after the harness's own (later ones win in CLI11 for a repeated
    // flag), e.g. "--ae-interval-ms=2000".
    std::vector<std::string> server_args;
    std::chrono::milliseconds ready_timeout{20'000};  // Per node start, to listen on every port.
    // The nodes check client tokens (a token secret and a token are made for the cluster).
    // Off: the client ports serve whoever connects (to measure what the checks cost).
    bool client_tokens = true;
    // The client ports speak TLS and the peers run mutual TLS, with a CA and a certificate for
    // 127.0.0.1 made for this cluster in dir/tls (ca.pem, node.pem, node.key); the clients
    // check the nodes' certificates against that CA (tls_ca_file()).
    bool tls = false;
  };

  // The flags the harness gives every node besides identity, addresses and data dir: fault
  // injection on, two io threads (several nodes share the machine), anti-entropy every second
  // so a healed cluster converges within seconds.
  static std::vector<std::string> HarnessServerFlags();

  // Starts every node (on ports reserved for it, see server_child.h, with a cluster secret
  // and a token secret made for this cluster in dir/cluster.secret and dir/token.secret) and
  // waits until it listens on every port. Its clients present a token with every scope, made
  // with that secret and valid for a week (token()).
  // Errors: kInvalidArgument (no server binary, fewer than 1 node); kUnavailable naming the
  // node that exited or did not come up, with the end of its log; kIOError.
  static Result<std::unique_ptr<Cluster>> StartLocal(LocalOptions options,
                                                     uint32_t client_timeout_ms);

  // Attaches to the nodes whose client ports are `endpoints` (every node of the cluster, each
  // started with --enable-fault-injection), presenting `token` (empty: none; nodes that check
  // tokens need one with the admin, kv:read and kv:write scopes). Learns each node's id
  // (GetFaults) and the replication factor and members (ClusterStatus).
  // Errors: kInvalidArgument for a bad endpoint, two endpoints of one node, or members
  // missing from the list; kPermissionDenied naming a node without fault injection;
  // kUnavailable for a node that does not answer.
  // `tls_ca_file`: the CA that signed the nodes' client-port certificates (empty: plain TCP).
  static Result<std::unique_ptr<Cluster>> Attach(const std::vector<std::string>& endpoints,
                                                 uint32_t client_timeout_ms,
                                                 const std::string& token,
                                                 const std::string& tls_ca_file);

  ~Cluster();  // Stop().
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::vector<NodeId>& nodes() const { return ids_; }  // Ascending.
  bool owns_processes() const { return !processes_.empty(); }
  uint32_t replication_factor() const { return replication_factor_; }
  // The client whose only endpoint is `node`. REQUIRES: node is one of nodes().
  Client& client(NodeId node) const { return *clients_.at(node); }
  const std::string& endpoint(NodeId node) const { return endpoints_.at(node); }
  // The token the clients present (empty: none).
  const std::string& token() const { return token_; }
  // The CA file the clients check the nodes' certificates with (empty: no TLS).
  const std::string& tls_ca_file() const { return tls_ca_file_; }
  // The node's log file; empty in attach mode.
  std::filesystem::path log_path(NodeId node) const;

  // Waits until every node that runs and is not paused reports every other such node alive.
  // Errors: kTimeout naming what the last node to settle reported.
  Status WaitSettled(std::chrono::milliseconds timeout);

  // Process control. REQUIRES: owns_processes(). Kill and Pause of a node that is not running
  // are no-ops; Restart waits until it listens again on the same ports (Errors: kUnavailable
  // with the log's end, or naming a port another process held throughout).
  void Kill(NodeId node);
  Status Restart(NodeId node);
  void Pause(NodeId node);
  void Resume(NodeId node);
  // A started node that exited by itself (not killed by the harness): "node 2 exited with code
  // 1"; empty when every node that should run runs.
  std::string CrashedNodes();

  // Sends `node` its complete link faults, clock offset and disk fault (reseeding its injector
  // when `seed` is set). Errors: as Client::SetFaults / SetClockOffset / SetDiskFault.
  Status ApplyFaults(NodeId node, const NodeFaults& faults, std::optional<uint64_t> seed);
  Status SetBugs(NodeId node, const BugSwitches& bugs);
  // Heals every link, resets the clock, ends the disk fault and turns the bugs off
  // (Client::ClearFaults).
  Status ClearFaults(NodeId node);

  // Stops every started node (SIGTERM; SIGKILL after 10 s). Idempotent.
  void Stop();

 private:
  Cluster() = default;

  std::vector<NodeId> ids_;
  std::map<NodeId, std::string> endpoints_;
  std::map<NodeId, std::unique_ptr<Client>> clients_;
  std::map<NodeId, std::unique_ptr<ServerChild>> processes_;  // Empty in attach mode.
  uint32_t replication_factor_ = 0;
  std::string token_;
  std::string tls_ca_file_;
};

// Writes `contents` to `file` (replacing it), readable and writable by its owner only from the
// moment it exists: for secrets and tokens. Errors: kIOError naming the file.
Status WritePrivateFile(const std::filesystem::path& file, const std::string& contents);

}  // namespace dialkv::jepsen
