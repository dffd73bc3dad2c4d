#include "tests/testutil/in_memory_cluster.h"

#include <asio/executor_work_guard.hpp>
#include <atomic>
#include <thread>

#include "tests/testutil/status_matchers.h"

namespace dialkv::testutil {

using replication::Coordinator;
using replication::HintReplayer;
using replication::HintStore;
using replication::LocalReplica;
using replication::PeerService;
using replication::WriteOutcome;

InMemoryCluster::InMemoryCluster(Config config) : config_(config) {
  std::vector<NodeId> ids;
  for (NodeId id = 1; id <= config_.nodes; ++id) ids.push_back(id);
  cluster::Ring::Options ring_options;
  ring_options.replication_factor = config_.replication_factor;
  Result<cluster::Ring> ring = cluster::Ring::Build(ids, ring_options);
  if (!ring.ok()) {
    ADD_FAILURE() << ring.status().ToString();
    std::abort();
  }
  ring_.emplace(std::move(*ring));
  for (NodeId id : ids) Build(id);
  for (NodeId id : ids) {
    std::vector<NodeId> others;
    for (NodeId other : ids) {
      if (other != id) others.push_back(other);
    }
    MarkAlive(id, others);
    node(id).replayer->Start(io_.get_executor());
  }
}

void InMemoryCluster::Build(NodeId id) {
  nodes_.push_back(std::make_unique<InMemoryNode>(id));
  InMemoryNode& n = *nodes_.back();
  n.local = std::make_unique<LocalReplica>(LocalReplica::Options(), n.engine, n.hlc);
  Result<std::unique_ptr<HintStore>> hints = HintStore::Open(config_.hints, n.engine, n.clock);
  if (!hints.ok()) {
    ADD_FAILURE() << hints.status().ToString();
    std::abort();
  }
  n.hints = std::move(*hints);
  std::vector<cluster::Member> members;
  for (NodeId other = 1; other <= config_.nodes; ++other) {
    members.push_back(cluster::Member{other, "node-" + std::to_string(other)});
  }
  n.membership = std::make_unique<cluster::Membership>(id, 1, std::move(members), n.clock,
                                                       cluster::Membership::Options());
  n.transport = net_.TransportFor(id);
  PeerService::Options peer_options;
  peer_options.cluster_name = kClusterName;
  peer_options.self = id;
  cluster::Membership* membership = n.membership.get();
  n.peer = std::make_unique<PeerService>(
      peer_options, *n.local, n.hlc,
      [membership](NodeId node) { return membership->Find(node) != nullptr; },
      PeerService::GossipHandler());
  Coordinator::Options coordinator_options;
  coordinator_options.self = id;
  coordinator_options.hinted_handoff = config_.hinted_handoff;
  coordinator_options.replica_timeout_ms = config_.replica_timeout_ms;
  coordinator_options.speculative_retry_ms = config_.speculative_retry_ms;
  n.coordinator =
      std::make_unique<Coordinator>(coordinator_options, *ring_, *n.membership, *n.local, n.hlc,
                                    *n.transport, config_.hinted_handoff ? n.hints.get() : nullptr);
  HintReplayer::Options replayer_options = config_.replayer;
  replayer_options.self = id;
  n.replayer =
      std::make_unique<HintReplayer>(replayer_options, *n.hints, *n.membership, *n.transport);
  net_.Register(id, HandlerOf(id), &n.hlc);
}

FakeNetwork::Handler InMemoryCluster::HandlerOf(NodeId id) {
  PeerService* service = node(id).peer.get();
  return [service](v1::Envelope request) { return service->Handle(std::move(request)); };
}

InMemoryCluster::~InMemoryCluster() {
  try {
    RunUntilIdle();
    StopWhileRunning([this] {
      for (auto& n : nodes_) {
        n->coordinator->Stop();
        n->replayer->Stop();
      }
    });
  } catch (...) {
    // A helper thread that cannot start: the nodes cannot be stopped, and must not be freed.
    ADD_FAILURE() << "stopping the in-memory cluster threw";
    std::abort();
  }
}

std::vector<NodeId> InMemoryCluster::ids() const {
  std::vector<NodeId> out;
  for (const auto& n : nodes_) out.push_back(n->id);
  return out;
}

bool InMemoryCluster::RunUntil(const std::function<bool()>& done) {
  // The guard keeps run_one_for() waiting for work instead of returning at once.
  auto guard = asio::make_work_guard(io_);
  const auto limit = std::chrono::steady_clock::now() + kTestDeadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= limit) return false;
    if (io_.stopped()) io_.restart();
    io_.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

bool InMemoryCluster::RunUntilIdle() {
  return RunUntil([this] {
    for (const auto& n : nodes_) {
      if (n->coordinator->calls_in_flight() > 0) return false;
    }
    return true;
  });
}

Result<WriteOutcome> InMemoryCluster::Write(NodeId coordinator, std::string key, std::string value,
                                            Consistency consistency,
                                            std::chrono::milliseconds timeout) {
  auto op = node(coordinator)
                .coordinator->Write(std::move(key), std::move(value), false, consistency,
                                    std::chrono::steady_clock::now() + timeout);
  return Run(std::move(op));
}

Result<WriteOutcome> InMemoryCluster::Delete(NodeId coordinator, std::string key,
                                             Consistency consistency,
                                             std::chrono::milliseconds timeout) {
  auto op = node(coordinator)
                .coordinator->Write(std::move(key), "", true, consistency,
                                    std::chrono::steady_clock::now() + timeout);
  return Run(std::move(op));
}

Result<Version> InMemoryCluster::Read(NodeId coordinator, std::string key, Consistency consistency,
                                      std::chrono::milliseconds timeout) {
  auto op = node(coordinator)
                .coordinator->Read(std::move(key), consistency,
                                   std::chrono::steady_clock::now() + timeout);
  return Run(std::move(op));
}

Result<Version> InMemoryCluster::Stored(NodeId id, std::string_view key) {
  return node(id).engine.Get(key);
}

std::string InMemoryCluster::StoredValue(NodeId id, std::string_view key) {
  Result<Version> v = Stored(id, key);
  if (!v.ok()) return "<none>";
  return v->tombstone ? "<tombstone>" : v->value;
}

void InMemoryCluster::MarkAlive(NodeId on, const std::vector<NodeId>& peers) {
  google::protobuf::RepeatedPtrField<v1::MemberState> states;
  for (NodeId peer : peers) {
    v1::MemberState* s = states.Add();
    s->set_node_id(peer);
    s->set_generation(1);
    s->set_heartbeat(++heartbeats_[peer]);
  }
  node(on).membership->Merge(states);
}

void InMemoryCluster::MarkDead(NodeId on, NodeId peer) {
  MarkUnheard(on, peer, cluster::Membership::Options().dead_after_ms + 1);
}

void InMemoryCluster::MarkSuspect(NodeId on, NodeId peer) {
  MarkUnheard(on, peer, cluster::Membership::Options().suspect_after_ms + 1);
}

void InMemoryCluster::MarkUnheard(NodeId on, NodeId peer, int64_t ms) {
  // Time passes everywhere (clocks stay in step); only `on` evaluates its failure detector.
  for (auto& n : nodes_) n->clock.Advance(ms);
  std::vector<NodeId> others;
  for (NodeId id : ids()) {
    if (id != on && id != peer) others.push_back(id);
  }
  MarkAlive(on, others);
  node(on).membership->Tick(0);
}

std::string InMemoryCluster::KeyWhere(
    const std::function<bool(std::span<const NodeId>)>& pred) const {
  for (int i = 0; i < 100'000; ++i) {
    std::string key = "key-" + std::to_string(i);
    if (pred(ring_->ReplicasFor(key))) return key;
  }
  ADD_FAILURE() << "no key matches";
  return "key-none";
}

void InMemoryCluster::StopWhileRunning(const std::function<void()>& stop) {
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    stop();
    done.store(true);
  });
  RunUntil([&] { return done.load(); });
  stopper.join();
}

}  // namespace dialkv::testutil
