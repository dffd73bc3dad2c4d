#pragma once
// N real dialkv-server processes on loopback forming one cluster (--peers lists all of them),
// each with its own data dir and log under one temp dir. Every node's ports are reserved up
// front (held, not picked and released) so every node can be told every peer's address; a
// stopped node restarts on the same ports.

#include <memory>
#include <string>
#include <vector>

#include "dialkv/client.h"
#include "tests/testutil/server_process.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv::testutil {

class TestCluster {
 public:
  struct Options {
    int nodes = 3;
    int replication_factor = 3;
    std::vector<std::string> extra_args;  // Given to every node.
    // Presented by ClientFor's clients and the start-up checks (nodes that check tokens need
    // one with kv:read, and the tests' own scopes). Empty: none.
    std::string token = {};
    // The CA file ClientFor's clients check the nodes' certificates with (nodes started with
    // --tls-cert). Empty: plain TCP.
    std::string tls_ca_file = {};
  };

  // Starts every node and waits until each has seen every other alive (via gossip), so a
  // test starts from a settled cluster. Errors: kUnavailable with the failing node's log.
  static Result<std::unique_ptr<TestCluster>> Start(Options options);
  // Start, for a test: a failure is reported to GoogleTest (with the node's log) and gives null.
  static std::unique_ptr<TestCluster> StartOrFail(Options options);

  // Node ids are 1..N.
  ServerProcess& node(NodeId id) { return *nodes_[id - 1]; }
  int size() const { return static_cast<int>(nodes_.size()); }
  uint16_t peer_port(NodeId id) const { return peer_ports_[id - 1]; }
  std::string peers_flag() const;

  // A client whose only endpoint is node `id` (so the node is the request's coordinator).
  std::unique_ptr<Client> ClientFor(NodeId id, Consistency mode = Consistency::kCp,
                                    uint32_t timeout_ms = 5000) const;

  // Waits until node `id` reports `expected_alive` other members alive (status via the
  // client port). Errors: kTimeout with the last status seen.
  Status WaitForAlivePeers(NodeId id, int expected_alive,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  explicit TestCluster(Options options) : options_(std::move(options)) {}

  Options options_;
  TempDir dir_;
  std::vector<uint16_t> peer_ports_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

}  // namespace dialkv::testutil
