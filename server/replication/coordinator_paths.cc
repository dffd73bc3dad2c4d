// The four request paths of the coordinator (docs/consistency.md), each built on Gather
// (quorum.h). The plumbing they use is in coordinator.cc.
#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>

#include "server/common/check.h"
#include "server/common/hash.h"
#include "server/common/logging.h"
#include "server/replication/coordinator.h"

namespace dialkv::replication {
namespace {

std::string Quorum(uint32_t quorum, size_t replicas) {
  return "quorum of " + std::to_string(quorum) + " of " + std::to_string(replicas) + " replicas";
}

// When no replica call can be started: shutting down (definite) or over the bound.
Status NoCallSlots(const TaskTracker& tracker, std::string_view outcome) {
  if (tracker.stopping()) {
    return Status::Unavailable("this node is shutting down; " + std::string(outcome));
  }
  return Status::Overloaded(
      "too many replica calls in flight on this node (max_replica_calls_in_flight); " +
      std::string(outcome));
}

std::vector<NodeId> Without(std::span<const NodeId> replicas, NodeId node) {
  std::vector<NodeId> out;
  for (NodeId r : replicas) {
    if (r != node) out.push_back(r);
  }
  return out;
}

Timestamp TimestampOf(const Result<Version>& r) { return r.ok() ? r->timestamp : Timestamp{}; }

// What Ring promises a CP request: `quorum` of the key's `replicas` (all distinct, as many as
// the replication factor) exist, and any two quorums share a replica.
bool QuorumFits(uint32_t quorum, std::span<const NodeId> replicas) {
  std::vector<NodeId> sorted(replicas.begin(), replicas.end());
  std::sort(sorted.begin(), sorted.end());
  return quorum >= 1 && quorum <= replicas.size() && 2 * size_t{quorum} > replicas.size() &&
         std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
}

}  // namespace

// ---- Quorums in waves ----

template <typename T, typename MakeCalls>
asio::awaitable<Result<Gathered<T>>> Coordinator::GatherInWaves(
    std::span<const NodeId> replicas, size_t needed, bool quorum_first,
    bool (*is_success)(const Result<T>&), const MakeCalls& make_calls, Deadline deadline,
    std::string_view outcome) {
  const Waves waves = PlanWaves(replicas, needed, quorum_first);
  // With replicas held back, those held alive get one replica timeout at most: a replica that
  // is retried without answering must not keep the ones held back from being asked.
  const Deadline alive_deadline = waves.held_back.empty() ? deadline : CallDeadline(deadline);
  const Deadline speculate_at =
      std::min(alive_deadline, std::chrono::steady_clock::now() +
                                   std::chrono::milliseconds(options_.speculative_retry_ms));
  struct Wave {
    const std::vector<NodeId>* replicas;
    Deadline next;  // When the next wave starts if this one (with those before) falls short.
  };
  const Wave plan[] = {
      {&waves.first, waves.speculative.empty() ? alive_deadline : speculate_at},
      {&waves.speculative, alive_deadline},
      {&waves.held_back, deadline},
  };
  Gathering<T> gathering(co_await asio::this_coro::executor, &tracker_, is_success);
  for (const Wave& wave : plan) {
    bool last = false;
    if (!wave.replicas->empty()) {
      std::vector<ReplicaCall<T>> calls = wave.replicas == &waves.first
                                              ? make_calls(waves.first, waves.held_back)
                                              : make_calls(*wave.replicas, {});
      if (tracker_.TryAcquire(calls.size())) {
        gathering.Start(std::move(calls));
      } else if (gathering.calls() == 0) {
        co_return NoCallSlots(tracker_, outcome);
      } else {
        last = true;  // The calls running are all there will be.
      }
    }
    co_await gathering.Wait(needed, last ? deadline : wave.next);
    if (last || gathering.successes() >= needed || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
  }
  Gathered<T> got = gathering.Finish();
  // Only `replicas` were called, and each success is a distinct replica's (the waves do not
  // overlap, and a hint-only call of the first wave is never a success).
  DIALKV_DCHECK(RepliesFrom(got, replicas));
  DIALKV_DCHECK(SucceededReplicas(got, is_success) == got.successes);
  got.deadline_passed = std::chrono::steady_clock::now() >= deadline;
  co_return got;
}

asio::awaitable<Result<Gathered<Version>>> Coordinator::ReadQuorum(std::span<const NodeId> replicas,
                                                                   const std::string& key,
                                                                   bool timestamp_only,
                                                                   size_t needed, Deadline deadline,
                                                                   std::string_view outcome) {
  const auto make_calls = [&](std::span<const NodeId> call, std::span<const NodeId> /*held_back*/) {
    return ReadCalls(call, key, timestamp_only, CallDeadline(deadline), deadline);
  };
  co_return co_await GatherInWaves<Version>(replicas, needed, /*quorum_first=*/true, &IsAnswer,
                                            make_calls, deadline, outcome);
}

asio::awaitable<Result<Gathered<Coordinator::Delivery>>> Coordinator::DeliverQuorum(
    std::span<const NodeId> replicas, const SharedWrite& write, size_t needed, Deadline deadline,
    std::string_view outcome) {
  const auto make_calls = [&](std::span<const NodeId> call, std::span<const NodeId> held_back) {
    const std::span<const NodeId> hinted_only = hinting() ? held_back : std::span<const NodeId>();
    return DeliverCalls(call, hinted_only, write, CallDeadline(deadline), deadline);
  };
  co_return co_await GatherInWaves<Delivery>(replicas, needed, /*quorum_first=*/false, &IsAck,
                                             make_calls, deadline, outcome);
}

// ---- AP ----

asio::awaitable<Result<Version>> Coordinator::ReadAp(std::string key, Deadline deadline) {
  const std::span<const NodeId> replicas = ring_.ReplicasFor(key);
  std::string failures;
  // While the disk alarm is up this replica misses every write: the others are asked first,
  // and it answers only when none of them does.
  const bool local_first =
      ring_.IsReplica(options_.self, key) && (disk_ == nullptr || !disk_->raised());
  if (local_first) {
    Result<Version> local = co_await local_.Read(key, deadline);
    if (IsAnswer(local)) co_return local;
    // Alone (RF 1), or out of time: this replica's error is the answer (kIOError says more
    // than kUnavailable about a broken disk).
    if (replicas.size() == 1 || std::chrono::steady_clock::now() >= deadline) {
      co_return local.status();
    }
    failures = "node " + std::to_string(options_.self) + ": " + local.status().ToString();
  }
  // Alive replicas first, all at once: the first answer wins. Only if all of them fail are the
  // others (suspect or dead per the failure detector, which may be wrong) asked. A replica
  // kept for last (the disk alarm) is asked only after the alive ones, which get half of the
  // time left, so that it can still answer in the rest.
  const bool local_last = !local_first && ring_.IsReplica(options_.self, key);
  const Deadline remote_deadline =
      local_last
          ? std::chrono::steady_clock::now() + (deadline - std::chrono::steady_clock::now()) / 2
          : deadline;
  std::vector<NodeId> alive;
  std::vector<NodeId> others;
  for (NodeId r : replicas) {
    if (r == options_.self) continue;
    (membership_.IsAlive(r) ? alive : others).push_back(r);
  }
  if (local_last) others.clear();
  for (const std::vector<NodeId>* wave : {&alive, &others}) {
    if (wave->empty()) continue;
    if (!tracker_.TryAcquire(wave->size())) {
      co_return NoCallSlots(tracker_, "the read was not served");
    }
    auto calls = ReadCalls(*wave, key, false, CallDeadline(remote_deadline), remote_deadline);
    Gathered<Version> got =
        co_await Gather(std::move(calls), 1, &IsAnswer, remote_deadline, &tracker_);
    for (ReplicaReply<Version>& r : got.replies) {
      if (IsAnswer(r.result)) co_return std::move(r.result);
    }
    if (!failures.empty()) failures += "; ";
    failures += DescribeFailures(got, *wave, &IsAnswer);
    if (local_last) break;
    if (got.deadline_passed || std::chrono::steady_clock::now() >= deadline) {
      co_return Status::Timeout("no replica answered before the deadline (" + failures + ")");
    }
  }
  if (local_last) {
    Result<Version> local = co_await local_.Read(key, deadline);
    if (IsAnswer(local)) co_return local;
    if (!failures.empty()) failures += "; ";
    failures += "node " + std::to_string(options_.self) + ": " + local.status().ToString();
  }
  co_return Status::Unavailable("no replica of the key could be read (" + failures + ")");
}

asio::awaitable<Result<WriteOutcome>> Coordinator::WriteAp(std::string key, Version version,
                                                           Deadline deadline) {
  const std::span<const NodeId> replicas = ring_.ReplicasFor(key);
  if (ring_.IsReplica(options_.self, key)) {
    // Applied here first (the timestamp is taken just before), answered at once; the other
    // replicas follow in the background.
    Result<Version> written =
        co_await local_.Write(key, std::move(version.value), version.tombstone, deadline);
    if (!written.ok()) co_return written.status();
    const Timestamp ts = written->timestamp;
    std::vector<NodeId> others = Without(replicas, options_.self);
    if (!others.empty()) {
      auto write =
          std::make_shared<const KeyVersion>(KeyVersion{std::move(key), std::move(*written)});
      co_await ReplicateInBackground(std::move(others), std::move(write), deadline);
    }
    co_return WriteOutcome{ts, false};
  }

  version.timestamp = hlc_.Now();
  const Timestamp ts = version.timestamp;
  if (!tracker_.TryAcquire(replicas.size())) {
    if (!hinting()) co_return NoCallSlots(tracker_, "the write was not applied");
    size_t stored = 0;
    bool maybe_stored = false;
    for (NodeId r : replicas) {
      const Status hint = co_await StoreHint(r, key, version, deadline);
      stored += hint.ok() ? 1 : 0;
      maybe_stored = maybe_stored || !HintCertainlyNotStored(hint);
    }
    if (stored > 0) co_return WriteOutcome{ts, true};
    if (maybe_stored) {
      co_return Status::Unknown(
          "no replica could be called (too many replica calls in flight) and storing a hint "
          "failed in a way that may have recorded it; the write may still be delivered");
    }
    co_return Status::Unavailable(
        "no replica could be called (too many replica calls in flight) and no hint was "
        "stored; the write was not applied");
  }
  // A replica that has not acked by 3/4 of the request's time is hinted, so that the hint is
  // stored before the deadline even when replica_timeout_ms is longer than the request's.
  const auto now = std::chrono::steady_clock::now();
  const Deadline call_deadline = std::min(CallDeadline(deadline), now + (deadline - now) * 3 / 4);
  const auto write = std::make_shared<const KeyVersion>(KeyVersion{key, std::move(version)});
  // With hinted handoff, a replica held dead gets its hint at once instead of a call.
  std::vector<NodeId> tried;
  std::vector<NodeId> hinted_only;
  for (NodeId r : replicas) {
    const bool dead = hinting() && membership_.StateOf(r) == cluster::MemberState::kDead;
    (dead ? hinted_only : tried).push_back(r);
  }
  auto calls = DeliverCalls(tried, hinted_only, write, call_deadline, call_deadline);
  Gathered<Delivery> got = co_await Gather(std::move(calls), 1, &IsAck, deadline, &tracker_);
  if (got.successes > 0) co_return WriteOutcome{ts, false};
  const size_t hinted = static_cast<size_t>(
      std::count_if(got.replies.begin(), got.replies.end(), [](const ReplicaReply<Delivery>& r) {
        return r.result.ok() && *r.result == Delivery::kHinted;
      }));
  const std::string failures = DescribeFailures(got, replicas, &IsAck);
  DIALKV_LOG_DEBUG(Log(Subsystem::kRepl),
                   "node={} key_hash={:016x} ap write {} acked by no replica: {}", options_.self,
                   KeyHash(key), ToString(ts), failures);
  if (hinted > 0) co_return WriteOutcome{ts, true};
  // Never UNAVAILABLE here: a replica may have received the write (one marked dead may have
  // been tried after all, as membership changes under us), and a hint still being stored when
  // the deadline came, or one that failed half-way, may be on disk and be delivered later.
  co_return Status::Unknown(
      std::string("no replica acknowledged the write") +
      (hinting() ? " and no hint was confirmed" : " (hinted handoff is off)") +
      "; it may have been applied (" + failures + ")");
}

// ---- CP ----

Status Coordinator::FailFast(std::span<const NodeId> replicas, size_t needed,
                             std::string_view outcome) {
  const auto held_dead = [this](NodeId r) {
    return r != options_.self && membership_.StateOf(r) == cluster::MemberState::kDead;
  };
  // The common case, one lock per replica: enough replicas are not held dead.
  const auto dead = static_cast<size_t>(std::count_if(replicas.begin(), replicas.end(), held_dead));
  if (replicas.size() - dead >= needed) return Status::Ok();
  // Rare: look closer, leaving out members never heard from (no evidence they are gone).
  std::vector<NodeId> gone;
  for (const cluster::MemberView& view : membership_.Views()) {
    const NodeId r = view.member.node_id;
    if (view.generation != 0 && std::find(replicas.begin(), replicas.end(), r) != replicas.end() &&
        held_dead(r)) {
      gone.push_back(r);
    }
  }
  if (replicas.size() - gone.size() >= needed) return Status::Ok();
  std::string nodes;
  for (NodeId r : gone) nodes += (nodes.empty() ? "" : ", ") + std::to_string(r);
  if (options_.fast_failures != nullptr) options_.fast_failures->Inc();
  fast_failures_.Inc();
  return Status::Unavailable("the failure detector holds " + std::to_string(gone.size()) + " of " +
                             std::to_string(replicas.size()) + " replicas dead (node" +
                             (gone.size() == 1 ? " " : "s ") + nodes + "), so a " +
                             Quorum(static_cast<uint32_t>(needed), replicas.size()) +
                             " cannot be reached; nothing was sent, " + std::string(outcome));
}

asio::awaitable<Result<WriteOutcome>> Coordinator::WriteCp(std::string key, Version version,
                                                           Deadline deadline) {
  const std::span<const NodeId> replicas = ring_.ReplicasFor(key);
  const uint32_t quorum = ring_.quorum();
  DIALKV_DCHECK(replicas.size() == ring_.replication_factor() && QuorumFits(quorum, replicas));

  // Phase 1: the highest timestamp a quorum knows of. Only reads: failing here is definite.
  if (skip_write_timestamp_phase()) {
    // Test-only bug (SetBugs): the local clock alone picks the timestamp.
    version.timestamp = hlc_.Now();
    version.timestamp.node_id = options_.self;
    co_return co_await WriteCpPhase2(std::move(key), std::move(version), deadline);
  }
  if (Status fast = FailFast(replicas, quorum, "the write was not applied"); !fast.ok()) {
    co_return fast;
  }
  Result<Gathered<Version>> gathered = co_await ReadQuorum(
      replicas, key, /*timestamp_only=*/true, quorum, deadline, "the write was not applied");
  if (!gathered.ok()) co_return gathered.status();
  const Gathered<Version>& seen = *gathered;
  if (seen.successes < quorum) {
    co_return Status::Unavailable(
        Quorum(quorum, replicas.size()) + " not reached for the write's timestamp read (" +
        DescribeFailures(seen, replicas, &IsAnswer) + "); the write was not applied");
  }
  DIALKV_DCHECK(SucceededReplicas(seen, &IsAnswer) >= quorum);
  Timestamp highest;
  for (const ReplicaReply<Version>& r : seen.replies) {
    highest = std::max(highest, TimestampOf(r.result));
  }
  if (Status observed = hlc_.Observe(highest.hlc); !observed.ok()) {
    // A timestamp greater than that one would be refused by this node's own guard.
    co_return Status::Unavailable("the key holds version " + ToString(highest) +
                                  ", beyond this node's clock: " + observed.message() +
                                  "; the write was not applied (retry once clocks agree)");
  }
  version.timestamp = hlc_.Now();
  version.timestamp.hlc = std::max(version.timestamp.hlc, highest.hlc + 1);
  version.timestamp.node_id = options_.self;
  // The write's timestamp is above every one the quorum reported, so that it supersedes every
  // write a quorum acknowledged before it began.
  DIALKV_DCHECK(version.timestamp.hlc > highest.hlc);
  DIALKV_DCHECK(std::all_of(seen.replies.begin(), seen.replies.end(),
                            [&version](const ReplicaReply<Version>& r) {
                              return TimestampOf(r.result) < version.timestamp;
                            }));
  co_return co_await WriteCpPhase2(std::move(key), std::move(version), deadline);
}

asio::awaitable<Result<WriteOutcome>> Coordinator::WriteCpPhase2(std::string key, Version version,
                                                                 Deadline deadline) {
  const std::span<const NodeId> replicas = ring_.ReplicasFor(key);
  const uint32_t quorum = ring_.quorum();
  const Timestamp ts = version.timestamp;
  DIALKV_DCHECK(QuorumFits(quorum, replicas));
  DIALKV_DCHECK(ts.node_id == options_.self && ts.hlc != 0);

  // Phase 2: a quorum of acks. Until DeliverQuorum, nothing of the write was sent: the two
  // refusals below are definite. From DeliverQuorum on, the outcome is never kUnavailable.
  // Phase 1 may have lasted up to the deadline, long enough for the failure detector to find
  // replicas dead (even some that answered it): a write sent to them now would likely end
  // kUnknown after a replica timeout.
  if (std::chrono::steady_clock::now() >= deadline) {
    co_return Status::Unavailable(
        "the deadline passed after the timestamp read; the write was not applied");
  }
  if (Status fast = FailFast(replicas, quorum, "the write was not applied"); !fast.ok()) {
    co_return fast;
  }
  const auto write =
      std::make_shared<const KeyVersion>(KeyVersion{std::move(key), std::move(version)});
  Result<Gathered<Delivery>> gathered =
      co_await DeliverQuorum(replicas, write, quorum, deadline, "the write was not applied");
  if (!gathered.ok()) co_return gathered.status();
  const Gathered<Delivery>& acked = *gathered;
  if (acked.successes >= quorum) {
    // Acknowledged: a quorum of distinct replicas of the key holds the version.
    DIALKV_DCHECK(RepliesFrom(acked, replicas) && SucceededReplicas(acked, &IsAck) >= quorum);
    co_return WriteOutcome{ts, false};
  }
  co_return Status::Unknown(Quorum(quorum, replicas.size()) + " not reached for write " +
                            ToString(ts) + " (" + DescribeFailures(acked, replicas, &IsAck) +
                            "); it may have been applied on some replicas and may still spread");
}

asio::awaitable<Result<Version>> Coordinator::ReadCp(std::string key, Deadline deadline) {
  const std::span<const NodeId> replicas = ring_.ReplicasFor(key);
  const uint32_t quorum = ring_.quorum();
  DIALKV_DCHECK(replicas.size() == ring_.replication_factor() && QuorumFits(quorum, replicas));
  if (Status fast = FailFast(replicas, quorum, "the read was not served"); !fast.ok()) {
    co_return fast;
  }
  Result<Gathered<Version>> gathered = co_await ReadQuorum(
      replicas, key, /*timestamp_only=*/false, quorum, deadline, "the read was not served");
  if (!gathered.ok()) co_return gathered.status();
  const Gathered<Version>& got = *gathered;
  if (got.successes < quorum) {
    co_return Status::Unavailable(Quorum(quorum, replicas.size()) + " not reached for the read (" +
                                  DescribeFailures(got, replicas, &IsAnswer) + ")");
  }
  // A read quorum answered: only then is there an answer.
  DIALKV_DCHECK(SucceededReplicas(got, &IsAnswer) >= quorum);
  const Result<Version>* newest = nullptr;
  bool agree = true;
  for (const ReplicaReply<Version>& r : got.replies) {
    if (!IsAnswer(r.result)) continue;
    if (newest != nullptr && TimestampOf(r.result) != TimestampOf(*newest)) agree = false;
    if (newest == nullptr || TimestampOf(r.result) > TimestampOf(*newest)) newest = &r.result;
  }
  DIALKV_DCHECK(newest != nullptr);
  if (agree) co_return *newest;               // The version, or kNotFound from every replica asked.
  if (skip_read_repair()) co_return *newest;  // Test-only bug (SetBugs): no write-back.

  // Read repair: write the newest back to every replica that did not report it, and answer
  // once a quorum holds it, so that no later CP read can return anything older. Those include
  // the replicas the read did not ask (it asks a quorum first), which may hold it already:
  // writing it to them is harmless (a replica keeps the newer version) and their acks count,
  // as each then holds it.
  // Replies disagree, so the newest is above another answer's timestamp: a version, not kNotFound.
  DIALKV_DCHECK(newest->ok());
  Version version = newest->value();
  std::vector<NodeId> lacking;
  size_t holders = 0;
  for (NodeId replica : replicas) {
    bool holds = false;
    for (const ReplicaReply<Version>& r : got.replies) {
      holds |= r.replica == replica && TimestampOf(r.result) == version.timestamp;
    }
    if (holds) {
      ++holders;
    } else {
      lacking.push_back(replica);
    }
  }
  // The replica that answered the newest holds it; every replica either holds it or is repaired.
  DIALKV_DCHECK(holders >= 1 && holders + lacking.size() == replicas.size());
  const size_t needed = holders >= quorum ? 0 : quorum - holders;
  DIALKV_DCHECK(needed <= lacking.size());
  DIALKV_LOG_DEBUG(Log(Subsystem::kRepl),
                   "node={} key_hash={:016x} cp read repairs {} on {} replicas", options_.self,
                   KeyHash(key), ToString(version.timestamp), lacking.size());
  const auto write = std::make_shared<const KeyVersion>(KeyVersion{key, version});
  Result<Gathered<Delivery>> gathered_repairs =
      co_await DeliverQuorum(lacking, write, needed, deadline, "the read was not served");
  if (!gathered_repairs.ok()) {
    if (needed == 0) co_return version;
    co_return gathered_repairs.status();
  }
  const Gathered<Delivery>& repaired = *gathered_repairs;
  if (repaired.successes >= needed) {
    // Answered once a quorum holds it: the holders, and the lacking replicas that acked.
    DIALKV_DCHECK(RepliesFrom(repaired, lacking) &&
                  holders + SucceededReplicas(repaired, &IsAck) >= quorum);
    co_return version;
  }
  co_return Status::Unavailable("the read's repair of " + ToString(version.timestamp) +
                                " did not reach a " + Quorum(quorum, replicas.size()) + " (" +
                                DescribeFailures(repaired, lacking, &IsAck) + ")");
}

}  // namespace dialkv::replication
