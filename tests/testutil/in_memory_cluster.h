#pragma once
// A whole cluster in one process and one io_context, for tests of replication and of what is
// built on it: per node a MemoryEngine, an HLC on its own ManualClock, LocalReplica, HintStore,
// Membership, PeerService, Coordinator and HintReplayer, all talking over one FakeNetwork.
// Everything runs on the test thread; every wait is bounded by kTestDeadline. (The cluster of
// real server processes is TestCluster, in test_cluster.h.)

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "server/cluster/membership.h"
#include "server/cluster/ring.h"
#include "server/common/clock.h"
#include "server/common/hlc.h"
#include "server/replication/coordinator.h"
#include "server/replication/hint_replayer.h"
#include "server/replication/hint_store.h"
#include "server/replication/local_replica.h"
#include "server/replication/peer_service.h"
#include "server/storage/memory_engine.h"
#include "tests/testutil/fake_transport.h"

namespace dialkv::testutil {

inline constexpr int64_t kStartMs = 1'700'000'000'000;
inline constexpr auto kTestDeadline = std::chrono::seconds(20);  // Bounds every wait.
inline constexpr char kClusterName[] = "test";

// A timestamp at `ms` (wall clock) with logical counter `logical`.
inline uint64_t Hlc(int64_t ms, uint16_t logical = 0) {
  return (static_cast<uint64_t>(ms) << 16) | logical;
}

// Awaits `op` into `*out`, which outlives the io_context's run.
template <typename T>
asio::awaitable<void> StoreResult(asio::awaitable<T> op, std::optional<T>* out) {
  out->emplace(co_await std::move(op));
}

struct InMemoryNode {
  explicit InMemoryNode(NodeId node_id)
      : id(node_id), clock(kStartMs), hlc(clock, node_id, HybridLogicalClock::Options()) {}

  const NodeId id;
  ManualClock clock;
  HybridLogicalClock hlc;
  storage::MemoryEngine engine;
  std::unique_ptr<replication::LocalReplica> local;
  std::unique_ptr<replication::HintStore> hints;
  std::unique_ptr<cluster::Membership> membership;
  std::unique_ptr<net::Transport> transport;
  std::unique_ptr<replication::PeerService> peer;
  std::unique_ptr<replication::Coordinator> coordinator;
  std::unique_ptr<replication::HintReplayer> replayer;
};

class InMemoryCluster {
 public:
  struct Config {
    size_t nodes = 3;  // Ids 1..nodes.
    uint32_t replication_factor = 3;
    bool hinted_handoff = true;
    uint32_t replica_timeout_ms = 200;
    uint32_t speculative_retry_ms = replication::Coordinator::Options().speculative_retry_ms;
    replication::HintStore::Options hints = {};
    replication::HintReplayer::Options replayer = {};
  };

  explicit InMemoryCluster(Config config);
  ~InMemoryCluster();  // Drains and stops every coordinator and replayer.
  InMemoryCluster(const InMemoryCluster&) = delete;
  InMemoryCluster& operator=(const InMemoryCluster&) = delete;

  asio::io_context& io() { return io_; }
  FakeNetwork& net() { return net_; }
  const cluster::Ring& ring() const { return *ring_; }
  InMemoryNode& node(NodeId id) { return *nodes_.at(id - 1); }
  std::vector<NodeId> ids() const;

  // Runs `op` on the io_context until it completes (bounded) and returns its result.
  template <typename T>
  T Run(asio::awaitable<T> op) {
    std::optional<T> out;
    asio::co_spawn(io_, StoreResult(std::move(op), &out), asio::detached);
    RunUntil([&] { return out.has_value(); });
    if (!out.has_value()) {
      ADD_FAILURE() << "operation did not complete within the test deadline";
      std::abort();
    }
    return std::move(*out);
  }
  // Runs the io_context until `done()` (true) or kTestDeadline (false).
  bool RunUntil(const std::function<bool()>& done);
  // Runs until no coordinator has a replica call in flight.
  bool RunUntilIdle();

  Result<replication::WriteOutcome> Write(
      NodeId coordinator, std::string key, std::string value, Consistency consistency,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Result<replication::WriteOutcome> Delete(
      NodeId coordinator, std::string key, Consistency consistency,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  Result<Version> Read(NodeId coordinator, std::string key, Consistency consistency,
                       std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // What `node`'s engine holds for `key` (kNotFound: nothing).
  Result<Version> Stored(NodeId node, std::string_view key);
  // The value `node` holds for `key`, or "<none>".
  std::string StoredValue(NodeId node, std::string_view key);

  // Makes `on`'s membership hear from `peers` now (they turn alive; listeners fire).
  void MarkAlive(NodeId on, const std::vector<NodeId>& peers);
  // Makes `on`'s membership consider `peer` dead: every node's clock advances past the failure
  // detector's dead_after_ms and `on` hears from the other members again (the other nodes'
  // views are not re-evaluated).
  void MarkDead(NodeId on, NodeId peer);
  // The same with time advanced past suspect_after_ms only: `on` suspects `peer`.
  void MarkSuspect(NodeId on, NodeId peer);

  // The first key "key-<i>" whose replicas satisfy `pred` (bounded search).
  std::string KeyWhere(const std::function<bool(std::span<const NodeId>)>& pred) const;

  // Calls `stop` on a helper thread while this thread runs the io_context (Stop() methods
  // block until work on the io_context has finished).
  void StopWhileRunning(const std::function<void()>& stop);

  // Node `id`'s FakeNetwork handler: its PeerService.
  FakeNetwork::Handler HandlerOf(NodeId id);

 private:
  void Build(NodeId id);
  // Advances every clock by `ms`, then `on` hears from every member but `peer`.
  void MarkUnheard(NodeId on, NodeId peer, int64_t ms);

  const Config config_;
  asio::io_context io_;
  FakeNetwork net_{kClusterName};
  std::optional<cluster::Ring> ring_;
  std::vector<std::unique_ptr<InMemoryNode>> nodes_;  // nodes_[i] has id i + 1.
  std::map<NodeId, uint64_t> heartbeats_;             // Gossiped by MarkAlive.
};

}  // namespace dialkv::testutil
