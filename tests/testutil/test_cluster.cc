#include "tests/testutil/test_cluster.h"

#include <gtest/gtest.h>

#include <thread>

namespace dialkv::testutil {

std::string TestCluster::peers_flag() const {
  std::string peers;
  for (size_t i = 0; i < peer_ports_.size(); ++i) {
    if (!peers.empty()) peers += ",";
    peers += std::to_string(i + 1) + "@127.0.0.1:" + std::to_string(peer_ports_[i]);
  }
  return "--peers=" + peers;
}

Result<std::unique_ptr<TestCluster>> TestCluster::Start(Options options) {
  std::unique_ptr<TestCluster> cluster(new TestCluster(std::move(options)));
  const int n = cluster->options_.nodes;
  // Every node's ports are reserved before any starts, so each is told every peer's port.
  for (int i = 0; i < n; ++i) {
    ServerProcess::Options o;
    o.node_id = static_cast<uint32_t>(i + 1);
    o.cluster_name = "test";
    o.data_dir = cluster->dir_.Sub("node" + std::to_string(i + 1));
    o.log_path = cluster->dir_.Sub("node" + std::to_string(i + 1) + ".log");
    auto node = ServerProcess::Reserve(o);
    if (!node.ok()) return node.status();
    cluster->peer_ports_.push_back((*node)->peer_port());
    cluster->nodes_.push_back(std::move(node.value()));
  }
  const std::string peers = cluster->peers_flag();
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> args = {
        peers,
        "--replication-factor=" + std::to_string(cluster->options_.replication_factor),
        "--gossip-interval-ms=100",
    };
    args.insert(args.end(), cluster->options_.extra_args.begin(),
                cluster->options_.extra_args.end());
    cluster->nodes_[i]->set_extra_args(std::move(args));
    DIALKV_RETURN_IF_ERROR(cluster->nodes_[i]->Restart());
  }
  for (int i = 0; i < n; ++i) {
    Status settled = cluster->WaitForAlivePeers(static_cast<NodeId>(i + 1), n - 1);
    if (!settled.ok()) return settled;
  }
  return cluster;
}

std::unique_ptr<Client> TestCluster::ClientFor(NodeId id, Consistency mode,
                                               uint32_t timeout_ms) const {
  ClientOptions o;
  o.endpoints = {nodes_[id - 1]->client_address()};
  o.timeout_ms = timeout_ms;
  o.default_consistency = mode;
  o.token = options_.token;
  o.tls_ca_file = options_.tls_ca_file;
  auto client = Client::Create(o);
  return client.ok() ? std::move(client.value()) : nullptr;
}

Status TestCluster::WaitForAlivePeers(NodeId id, int expected_alive,
                                      std::chrono::milliseconds timeout) {
  auto client = ClientFor(id, Consistency::kCp, 1000);
  if (client == nullptr) return Status::Internal("cannot create a client");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last = "no answer";
  while (std::chrono::steady_clock::now() < deadline) {
    Result<ClusterStatus> status = client->ClusterStatus();
    if (status.ok()) {
      int alive = 0;
      last.clear();
      for (const NodeInfo& info : status->nodes) {
        if (info.node_id != id && info.state == "alive") ++alive;
        last += std::to_string(info.node_id) + "=" + info.state + " ";
      }
      if (alive == expected_alive) return Status::Ok();
    } else {
      last = status.status().ToString();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // Polling, with a deadline.
  }
  return Status::Timeout("node " + std::to_string(id) + " did not see " +
                         std::to_string(expected_alive) + " peers alive: " + last);
}

std::unique_ptr<TestCluster> TestCluster::StartOrFail(Options options) {
  Result<std::unique_ptr<TestCluster>> cluster = Start(std::move(options));
  if (!cluster.ok()) {
    ADD_FAILURE() << cluster.status().ToString();
    return nullptr;
  }
  return std::move(cluster).value();
}

}  // namespace dialkv::testutil
