// The coordinator's plumbing: entry points, one-replica calls, hints, background replication.
// The four request paths are in coordinator_paths.cc.
#include "server/replication/coordinator.h"

#include <algorithm>
#include <asio/this_coro.hpp>
#include <utility>

#include "server/common/check.h"
#include "server/common/hash.h"
#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/listener.h"
#include "server/replication/replica_stream.h"
#include "server/replication/wire.h"

namespace dialkv::replication {
namespace {

// Hints that could not be stored and replicas that were not called are degraded service an
// operator should see, but many requests may hit them at once: rate-limited.
LogLimiter hint_log_limiter(std::chrono::seconds(1));
LogLimiter overload_log_limiter(std::chrono::seconds(1));

}  // namespace

Coordinator::Coordinator(Options options, const cluster::Ring& ring,
                         const cluster::Membership& membership, LocalReplica& local,
                         HybridLogicalClock& hlc, net::Transport& transport, HintStore* hints)
    : options_(options),
      ring_(ring),
      membership_(membership),
      local_(local),
      hlc_(hlc),
      transport_(transport),
      hints_(options.hinted_handoff ? hints : nullptr),
      tracker_(options.max_replica_calls_in_flight),
      streams_(std::make_unique<Streams>(*this)) {}

Coordinator::~Coordinator() { Stop(); }

void Coordinator::Stop() { tracker_.StopAndWait(); }

asio::awaitable<Result<Version>> Coordinator::Read(std::string key, Consistency consistency,
                                                   Deadline deadline) {
  if (tracker_.stopping()) co_return Status::Unavailable("this node is shutting down");
  if (consistency == Consistency::kAp) co_return co_await ReadAp(std::move(key), deadline);
  co_return co_await ReadCp(std::move(key), deadline);
}

asio::awaitable<Result<WriteOutcome>> Coordinator::Write(std::string key, std::string value,
                                                         bool tombstone, Consistency consistency,
                                                         Deadline deadline) {
  if (tracker_.stopping()) {
    co_return Status::Unavailable("this node is shutting down; the write was not applied");
  }
  if (clock_offsets_ != nullptr) {
    if (Status clock = clock_offsets_->CheckWrites(); !clock.ok()) co_return clock;
  }
  // The lock-free test first: CheckWrite would also charge the estimate, and builds its
  // refusal under a lock; the local replica checks the write's real size when it applies it.
  if (disk_ != nullptr && disk_->raised()) {
    if (Status disk = disk_->CheckWrite(0); !disk.ok()) {
      co_return Status::Unavailable(disk.message() + "; the write was not applied");
    }
  }
  Version version;
  version.value = std::move(value);
  version.tombstone = tombstone;
  if (consistency == Consistency::kAp) {
    co_return co_await WriteAp(std::move(key), std::move(version), deadline);
  }
  co_return co_await WriteCp(std::move(key), std::move(version), deadline);
}

void Coordinator::SetBugs(bool skip_read_repair, bool skip_write_timestamp_phase) {
  bug_skip_read_repair_.store(skip_read_repair, std::memory_order_relaxed);
  bug_skip_write_timestamp_phase_.store(skip_write_timestamp_phase, std::memory_order_relaxed);
}

Deadline Coordinator::CallDeadline(Deadline deadline) const {
  return std::min(deadline, std::chrono::steady_clock::now() +
                                std::chrono::milliseconds(options_.replica_timeout_ms));
}

bool Coordinator::RetryAfter(NodeId replica, const Result<v1::Envelope>& reply,
                             Deadline retry_until, Deadline* next) const {
  // Only a missing reply is retried: a refusing or unreachable replica would answer the same.
  // The margin keeps a retry from starting with no time to finish.
  constexpr auto kMinAttempt = std::chrono::milliseconds(5);
  if (reply.code() != Code::kTimeout || tracker_.stopping()) return false;
  if (std::chrono::steady_clock::now() + kMinAttempt >= retry_until) return false;
  if (membership_.StateOf(replica) == cluster::MemberState::kDead) return false;
  *next = CallDeadline(retry_until);
  DIALKV_DCHECK(*next <= retry_until);  // Retries never outlast their bound.
  return true;
}

asio::awaitable<Result<Version>> Coordinator::ReadReplica(NodeId replica, std::string key,
                                                          bool timestamp_only, Deadline deadline,
                                                          Deadline retry_until) {
  Result<Version> read = Status::Internal("not read");
  if (replica == options_.self) {
    read = co_await local_.Read(std::move(key), deadline, timestamp_only);
  } else {
    Result<v1::Envelope> reply = Status::Internal("not called");
    for (Deadline attempt = deadline;;) {
      v1::Envelope request = ReplicaReadEnvelope(key, timestamp_only);
      reply = co_await transport_.Call(replica, std::move(request), attempt);
      if (!RetryAfter(replica, reply, retry_until, &attempt)) break;
    }
    read = ReplicaReadResult(std::move(reply));
  }
  // A version beyond this node's skew guard (written by a node with a wild clock, which this
  // node's replica would refuse) counts as a failed reply: it must not be answered, win a
  // quorum's timestamp, or be repaired onto other replicas.
  if (read.ok()) {
    if (Status skew = hlc_.CheckSkew(read->timestamp.hlc); !skew.ok()) {
      co_return Status::InvalidArgument("node " + std::to_string(replica) + " holds version " +
                                        ToString(read->timestamp) + ": " + skew.message());
    }
  }
  co_return read;
}

asio::awaitable<Result<Coordinator::Delivery>> Coordinator::Deliver(
    NodeId replica, SharedWrite write, Deadline deadline, Deadline retry_until, bool try_replica) {
  if (replica == options_.self) {
    // No hint for this node: its own engine is where hints live.
    std::string key = write->key;
    Version version = write->version;
    Result<storage::ApplyOutcome> applied =
        co_await local_.Apply(std::move(key), std::move(version), deadline);
    if (!applied.ok()) co_return applied.status();
    co_return Delivery::kAcked;
  }
  Status failure = Status::Unavailable("node " + std::to_string(replica) +
                                       " is dead per the failure detector; not tried");
  bool clock_refused = false;
  if (try_replica) {
    Result<v1::Envelope> reply = Status::Internal("not called");
    for (Deadline attempt = deadline;;) {
      v1::Envelope request = ReplicaWriteEnvelope(write->key, write->version);
      reply = co_await transport_.Call(replica, std::move(request), attempt);
      if (!RetryAfter(replica, reply, retry_until, &attempt)) break;
    }
    failure = ReplicaWriteResult(reply);
    if (failure.ok()) co_return Delivery::kAcked;
    clock_refused = RefusedByClockGuard(reply);
  }
  // A refusal by the replica's skew guard is an answer, not an outage: a hint would be refused
  // again and hold up every later hint of that replica. Every other failure is hinted.
  if (!hinting() || clock_refused) co_return failure;
  // The hint gets its own time: the call may have failed right at its deadline.
  const Deadline hint_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.replica_timeout_ms);
  std::string key = write->key;
  Version version = write->version;
  Status hinted = co_await StoreHint(replica, std::move(key), std::move(version), hint_deadline);
  if (hinted.ok()) co_return Delivery::kHinted;
  co_return Status(failure.code(),
                   failure.message() + "; its hint was not stored: " + hinted.ToString());
}

bool Coordinator::HintCertainlyNotStored(const Status& status) {
  return status.code() == Code::kUnavailable || status.code() == Code::kOverloaded;
}

asio::awaitable<Status> Coordinator::StoreHint(NodeId replica, std::string key, Version version,
                                               Deadline deadline) {
  const uint64_t key_hash = KeyHash(key);
  std::string kept_key = key;  // For the count of lost hints, which names the key.
  Status stored =
      co_await local_.AddHint(*hints_, replica, std::move(key), std::move(version), deadline);
  if (!stored.ok()) {
    hints_->CountNotStored(replica, kept_key, stored);
    uint64_t suppressed = 0;
    if (hint_log_limiter.Allow(&suppressed)) {
      Log(Subsystem::kRepl)
          .warn(
              "node={} peer={} key_hash={:016x} hint not stored: {}; the replica waits for "
              "anti-entropy{}",
              options_.self, replica, key_hash, stored.ToString(),
              LogLimiter::SuppressedNote(suppressed));
    }
  } else {
    DIALKV_LOG_DEBUG(Log(Subsystem::kRepl), "node={} peer={} key_hash={:016x} hint stored",
                     options_.self, replica, key_hash);
  }
  co_return stored;
}

std::vector<ReplicaCall<Version>> Coordinator::ReadCalls(std::span<const NodeId> replicas,
                                                         const std::string& key,
                                                         bool timestamp_only, Deadline deadline,
                                                         Deadline retry_until) {
  std::vector<ReplicaCall<Version>> calls;
  calls.reserve(replicas.size());
  for (NodeId replica : replicas) {
    calls.push_back(ReplicaCall<Version>{
        replica, ReadReplica(replica, key, timestamp_only, deadline, retry_until)});
  }
  return calls;
}

std::vector<ReplicaCall<Coordinator::Delivery>> Coordinator::DeliverCalls(
    std::span<const NodeId> tried, std::span<const NodeId> hinted_only, const SharedWrite& write,
    Deadline deadline, Deadline retry_until) {
  std::vector<ReplicaCall<Delivery>> calls;
  calls.reserve(tried.size() + hinted_only.size());
  for (NodeId replica : tried) {
    calls.push_back(
        ReplicaCall<Delivery>{replica, Deliver(replica, write, deadline, retry_until, true)});
  }
  for (NodeId replica : hinted_only) {
    calls.push_back(
        ReplicaCall<Delivery>{replica, Deliver(replica, write, deadline, retry_until, false)});
  }
  return calls;
}

Coordinator::Waves Coordinator::PlanWaves(std::span<const NodeId> replicas, size_t needed,
                                          bool quorum_first) const {
  Waves waves;
  // The order to ask them in (see the declaration): this node, then the ring order after it.
  std::vector<NodeId> order;
  order.reserve(replicas.size());
  if (quorum_first) {
    const auto self = std::find(replicas.begin(), replicas.end(), options_.self);
    const bool local_first = self != replicas.end() && (disk_ == nullptr || !disk_->raised());
    const auto after = self == replicas.end() ? replicas.begin() : self + 1;
    if (local_first) order.push_back(options_.self);
    order.insert(order.end(), after, replicas.end());
    order.insert(order.end(), replicas.begin(), after);
    if (local_first) order.pop_back();  // Itself, met again at the end of the rotation.
  } else {
    order.assign(replicas.begin(), replicas.end());
  }
  std::vector<NodeId> alive;
  for (NodeId replica : order) {
    // Suspects too: the failure detector suspects a cut-off replica after --suspect-after-ms
    // and holds it dead only after --dead-after-ms, and every call to it meanwhile holds a slot
    // for a whole replica timeout.
    (membership_.IsAlive(replica) ? alive : waves.held_back).push_back(replica);
  }
  if (alive.size() < needed) {
    waves.first = std::move(order);
    waves.held_back.clear();
  } else if (quorum_first && options_.speculative_retry_ms > 0) {
    waves.first.assign(alive.begin(), alive.begin() + static_cast<std::ptrdiff_t>(needed));
    waves.speculative.assign(alive.begin() + static_cast<std::ptrdiff_t>(needed), alive.end());
  } else {
    waves.first = std::move(alive);
  }
  // Every replica is in exactly one wave: none is left out (each may be needed for the quorum)
  // and none is called twice (its success would count twice). Replicas are held back only when
  // those held alive can make `needed` without them.
  DIALKV_DCHECK(waves.first.size() + waves.speculative.size() + waves.held_back.size() ==
                replicas.size());
  DIALKV_DCHECK(std::all_of(replicas.begin(), replicas.end(), [&waves](NodeId r) {
    const auto in = [r](const std::vector<NodeId>& wave) {
      return std::count(wave.begin(), wave.end(), r);
    };
    return in(waves.first) + in(waves.speculative) + in(waves.held_back) == 1;
  }));
  DIALKV_DCHECK(waves.held_back.empty() || waves.first.size() + waves.speculative.size() >= needed);
  return waves;
}

asio::awaitable<void> Coordinator::ReplicateInBackground(std::vector<NodeId> replicas,
                                                         SharedWrite write,
                                                         Deadline request_deadline) {
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  const Deadline deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.replica_timeout_ms);
  std::vector<NodeId> not_called;
  for (NodeId replica : replicas) {
    const bool try_replica =
        !hinting() || membership_.StateOf(replica) != cluster::MemberState::kDead;
    if (try_replica && !tracker_.stopping() && streams_->Offer(executor, replica, write)) continue;
    if (!tracker_.TryAcquire()) {
      not_called.push_back(replica);
      continue;
    }
    auto call = Deliver(replica, write, deadline, deadline, try_replica);
    SpawnCall<Delivery>(executor, &tracker_, replica, std::move(call));
  }
  if (not_called.empty()) co_return;
  uint64_t suppressed = 0;
  if (overload_log_limiter.Allow(&suppressed)) {
    Log(Subsystem::kRepl)
        .warn(
            "node={} key_hash={:016x} {} replica calls in flight (max_replica_calls_in_flight); "
            "{} replicas {} without being called{}",
            options_.self, KeyHash(write->key), tracker_.in_flight(), not_called.size(),
            hinting() ? "are hinted" : "wait for anti-entropy",
            LogLimiter::SuppressedNote(suppressed));
  }
  if (!hinting()) co_return;
  for (NodeId replica : not_called) {
    // Awaited by the request: bounded by its deadline, not the background one.
    std::string key = write->key;
    Version version = write->version;
    Status stored = co_await StoreHint(replica, std::move(key), std::move(version),
                                       request_deadline);  // Logged there.
    (void)stored;
  }
}

}  // namespace dialkv::replication
