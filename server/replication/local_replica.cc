#include "server/replication/local_replica.h"

#include <algorithm>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "server/common/hash.h"
#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/listener.h"

namespace dialkv::replication {
namespace {

// One retry is enough: after observing the stored timestamp, Now() is greater than it, and
// only a concurrent write of the same key (which then wins fairly) can supersede us again.
constexpr int kMaxWriteAttempts = 2;

// Versions refused by the skew guard come from peers: rate-limited.
LogLimiter skew_log_limiter(std::chrono::seconds(1));

enum Phase : int { kQueued, kRunning, kAbandoned };

// Shared by a waiting request and the storage thread serving it. It holds no I/O object, so
// it may be destroyed on any thread, even after the request's io_context stopped.
template <typename T>
struct Pending {
  // kQueued → kRunning (storage thread, before the deadline) or kAbandoned (the request at its
  // deadline, or the storage thread when it dequeues the call after the deadline).
  std::atomic<int> phase{kQueued};
  std::mutex mu;
  std::optional<T> result;               // Guarded by mu.
  asio::steady_timer* waiter = nullptr;  // Guarded by mu: the request's timer while it waits.
};

template <typename T>
struct Offloaded {
  std::optional<T> result;  // Empty when the deadline came first.
  bool started = false;     // Without a result: whether the call had started (or finished).
};

// The storage thread's side of a Pending call. Start: moves it from kQueued to kRunning unless
// it is late (then kAbandoned) or the request abandoned it; false: do not run it.
template <typename T>
bool Start(Pending<T>& pending, Deadline deadline) {
  const int next = std::chrono::steady_clock::now() < deadline ? kRunning : kAbandoned;
  int expected = kQueued;
  return pending.phase.compare_exchange_strong(expected, next) && next == kRunning;
}

// Hands `result` to the request waiting on `pending`, waking it on its `executor`.
template <typename T>
void Complete(const std::shared_ptr<Pending<T>>& pending, const asio::any_io_executor& executor,
              T result) {
  std::lock_guard<std::mutex> lock(pending->mu);
  pending->result.emplace(std::move(result));
  if (pending->waiter == nullptr) return;  // The request gave up; drop the result.
  // The timer belongs to the request's executor: cancel it there, which wakes the request.
  asio::post(executor, [pending] {
    std::lock_guard<std::mutex> lock(pending->mu);
    if (pending->waiter != nullptr) pending->waiter->cancel();
  });
}

// The request's side: waits on `timer` (set to the deadline, and pending->waiter) until the
// result arrives or the deadline passes; at the deadline, abandons the call unless the storage
// thread got to it first.
template <typename T>
asio::awaitable<Offloaded<T>> AwaitResult(std::shared_ptr<Pending<T>> pending,
                                          asio::steady_timer& timer) {
  Offloaded<T> out;
  bool arrived = false;
  {
    // A result that arrived before this wait began cancelled no wait: do not start one (a
    // caller awaiting several calls in turn gets here after the others' results came in).
    std::lock_guard<std::mutex> lock(pending->mu);
    arrived = pending->result.has_value();
  }
  // Wakes with operation_aborted when the result arrived, or without error at the deadline.
  if (!arrived) co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  std::lock_guard<std::mutex> lock(pending->mu);
  pending->waiter = nullptr;
  if (pending->result.has_value()) {
    out.result = std::move(pending->result);
  } else {
    // `expected` then says whether it started (kRunning) or gave up by itself (kAbandoned).
    int expected = kQueued;
    pending->phase.compare_exchange_strong(expected, kAbandoned);
    out.started = expected == kRunning;
  }
  co_return out;
}

// Runs `fn` on `pool` (inline when null) and waits for its result on the caller's executor,
// at most until `deadline`. A call still queued at the deadline never starts.
// Pass `fn` as a named object (std::move(local)), never as a lambda written in the call:
// GCC 12 copies a closure prvalue argument of a coroutine bitwise, so a std::string it
// captured points into the caller's frame (found by AddressSanitizer).
template <typename T, typename Fn>
asio::awaitable<Offloaded<T>> RunOnStorage(asio::thread_pool* pool, Deadline deadline, Fn fn) {
  Offloaded<T> out;
  if (std::chrono::steady_clock::now() >= deadline) co_return out;  // Late already: not started.
  if (pool == nullptr) {
    out.result.emplace(fn());
    co_return out;
  }
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, deadline);
  auto pending = std::make_shared<Pending<T>>();
  pending->waiter = &timer;
  asio::post(*pool, [pending, executor, deadline, fn = std::move(fn)]() mutable {
    // Dequeued after the deadline: give up here, before the request's timer even fires.
    if (Start(*pending, deadline)) Complete(pending, executor, fn());
  });
  co_return co_await AwaitResult(std::move(pending), timer);
}

Status WithContext(std::string_view what, const Status& status) {
  return Status(status.code(), std::string(what) + ": " + status.message());
}

// A failed ApplyIfNewer, said as what it means: the engine refuses a write it did not start
// (kUnavailable: its disk alarm) and otherwise may have written before failing.
Status StorageWriteFailed(const Status& status) {
  if (status.code() == Code::kUnavailable) {
    return WithContext("storage write refused, not applied", status);
  }
  return WithContext("storage write failed (it may have been applied)", status);
}

// The answer of a write that did not finish by its deadline.
Status LateWrite(bool started) {
  if (started) {
    return Status::Unknown(
        "the deadline passed while the write was in storage; it may have been applied");
  }
  return Status::Unavailable(
      "the deadline passed before the write reached storage; it was not applied");
}

}  // namespace

// The group-commit queue (see the header). Thread-safe: Submit from any thread; Drain runs on
// one pool thread at a time (draining_ says whether one is scheduled or running).
class LocalReplica::GroupCommit {
 public:
  using Outcome = Result<storage::ApplyOutcome>;
  struct Item {
    std::string key;
    Version version;
    Deadline deadline;
    std::shared_ptr<Pending<Outcome>> pending;
    asio::any_io_executor executor;  // The request's, where it is woken.
  };

  GroupCommit(asio::thread_pool& pool, storage::Engine& engine) : pool_(pool), engine_(engine) {}

  uint64_t groups() const { return groups_.load(std::memory_order_relaxed); }
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }

  void Submit(Item item) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(item));
    if (draining_) return;  // The drain running picks it up when it is done with its group.
    draining_ = true;
    asio::post(pool_, [this] { Drain(); });
  }

 private:
  // At most this many writes in one WriteBatch: a group's latency grows with its size, and a
  // queue longer than this is drained in several groups, back to back.
  static constexpr size_t kMaxGroup = 1024;

  void Drain() {
    std::vector<Item> group;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.empty()) {
          draining_ = false;
          return;
        }
        const size_t n = std::min(queue_.size(), kMaxGroup);
        group.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
      }
      // Late writes (queued past their deadline) and abandoned ones are not written: their
      // requests answer (or answered) that they were not applied.
      std::vector<Item*> started;
      std::vector<storage::KeyedVersion> items;
      for (Item& item : group) {
        if (!Start(*item.pending, item.deadline)) continue;
        started.push_back(&item);
        items.push_back(storage::KeyedVersion{item.key, item.version});
      }
      if (!items.empty()) {
        std::vector<Outcome> outcomes = engine_.ApplyBatch(items);
        groups_.fetch_add(1, std::memory_order_relaxed);
        writes_.fetch_add(items.size(), std::memory_order_relaxed);
        for (size_t i = 0; i < started.size(); ++i) {
          Complete(started[i]->pending, started[i]->executor, std::move(outcomes[i]));
        }
      }
      group.clear();
    }
  }

  asio::thread_pool& pool_;
  storage::Engine& engine_;
  std::mutex mu_;
  std::vector<Item> queue_;  // Guarded by mu_.
  bool draining_ = false;    // Guarded by mu_.
  std::atomic<uint64_t> groups_{0};
  std::atomic<uint64_t> writes_{0};
};

LocalReplica::LocalReplica(Options options, storage::Engine& engine, HybridLogicalClock& hlc)
    : options_(options), engine_(engine), hlc_(hlc) {
  if (options_.storage_pool != nullptr) {
    group_commit_ = std::make_unique<GroupCommit>(*options_.storage_pool, engine_);
  }
}

// The storage pool was joined before (see the class comment): no drain is running.
LocalReplica::~LocalReplica() = default;

uint64_t LocalReplica::group_commits() const {
  return group_commit_ == nullptr ? 0 : group_commit_->groups();
}

uint64_t LocalReplica::group_commit_writes() const {
  return group_commit_ == nullptr ? 0 : group_commit_->writes();
}

bool LocalReplica::Late(Deadline deadline) { return std::chrono::steady_clock::now() >= deadline; }

Result<Version> LocalReplica::ReadNow(std::string_view key, bool timestamp_only) {
  if (!timestamp_only) return engine_.Get(key);
  Result<storage::VersionHeader> header = engine_.GetHeader(key);
  if (!header.ok()) return header.status();
  return Version{std::string(), header->timestamp, header->tombstone};
}

asio::awaitable<Result<Version>> LocalReplica::Read(std::string key, Deadline deadline,
                                                    bool timestamp_only) {
  asio::thread_pool* const pool = options_.offload_reads ? options_.storage_pool : nullptr;
  std::optional<Result<Version>> read;
  if (pool == nullptr) {
    // Inline: the same answers as RunOnStorage's, without its coroutine frame per call.
    if (!Late(deadline)) read.emplace(ReadNow(key, timestamp_only));
  } else {
    // Named, not a temporary in the call: GCC 12 bitwise-copies a closure prvalue passed by
    // value to a coroutine, which breaks its std::string members (see RunOnStorage).
    auto fn = [this, key = std::move(key), timestamp_only] { return ReadNow(key, timestamp_only); };
    Offloaded<Result<Version>> out =
        co_await RunOnStorage<Result<Version>>(pool, deadline, std::move(fn));
    read = std::move(out.result);
  }
  if (!read.has_value()) {
    co_return Status::Timeout("the read did not finish before its deadline");
  }
  Result<Version>& version = *read;
  if (!version.ok() && !version.status().IsNotFound()) {
    co_return WithContext("storage read failed", version.status());
  }
  co_return std::move(version);
}

Status LocalReplica::Admit(std::string_view key, const Version& version) {
  // The guard is checked before anything is stored or folded into the HLC: a version from a
  // wild clock would otherwise beat every later write of this key.
  if (Status skew = hlc_.CheckSkew(version.timestamp.hlc); !skew.ok()) {
    uint64_t suppressed = 0;
    if (skew_log_limiter.Allow(&suppressed)) {
      Log(Subsystem::kRepl)
          .warn("node={} from={} key_hash={:016x} refused version {}: {}{}", hlc_.node_id(),
                version.timestamp.node_id, KeyHash(key), ToString(version.timestamp),
                skew.message(), LogLimiter::SuppressedNote(suppressed));
    }
    return Status::InvalidArgument("version " + ToString(version.timestamp) +
                                   " refused: " + skew.message());
  }
  // Within the guard, so this cannot fail unless the wall clock stepped back meanwhile; then
  // the version is still applied (it passed the guard) and the clock catches up at the next
  // message.
  (void)hlc_.Observe(version.timestamp.hlc);
  return Status::Ok();
}

namespace {

// Apply's answer for one storage outcome, or for none (the deadline came first).
Result<storage::ApplyOutcome> Answer(Offloaded<Result<storage::ApplyOutcome>> out) {
  if (!out.result.has_value()) return LateWrite(out.started);
  if (!out.result->ok()) return StorageWriteFailed(out.result->status());
  return std::move(*out.result);
}

}  // namespace

asio::awaitable<Result<storage::ApplyOutcome>> LocalReplica::Apply(std::string key, Version version,
                                                                   Deadline deadline) {
  if (Status admitted = Admit(key, version); !admitted.ok()) co_return admitted;
  Offloaded<Result<storage::ApplyOutcome>> out;
  if (options_.storage_pool == nullptr) {
    // Inline: the same answers as RunOnStorage's, without its coroutine frame per call.
    if (!Late(deadline)) out.result.emplace(engine_.ApplyIfNewer(key, version));
  } else if (!Late(deadline)) {
    const asio::any_io_executor executor = co_await asio::this_coro::executor;
    asio::steady_timer timer(executor, deadline);
    auto pending = std::make_shared<Pending<Result<storage::ApplyOutcome>>>();
    pending->waiter = &timer;
    group_commit_->Submit(
        GroupCommit::Item{std::move(key), std::move(version), deadline, pending, executor});
    out = co_await AwaitResult(std::move(pending), timer);
  }
  co_return Answer(std::move(out));
}

asio::awaitable<std::vector<Result<storage::ApplyOutcome>>> LocalReplica::ApplyAll(
    std::vector<KeyedWrite> items, Deadline deadline) {
  using Outcome = Result<storage::ApplyOutcome>;
  std::vector<Outcome> results(items.size(), Status::Internal("not applied"));
  std::vector<size_t> admitted;  // Indices of the items that passed the clock guard.
  admitted.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (Status ok = Admit(items[i].key, items[i].version); !ok.ok()) {
      results[i] = std::move(ok);
    } else {
      admitted.push_back(i);
    }
  }
  if (admitted.empty()) co_return results;
  if (Late(deadline)) {
    for (const size_t i : admitted) results[i] = LateWrite(/*started=*/false);
    co_return results;
  }
  if (options_.storage_pool == nullptr) {
    std::vector<storage::KeyedVersion> batch;
    batch.reserve(admitted.size());
    for (const size_t i : admitted) batch.push_back({items[i].key, items[i].version});
    std::vector<Outcome> outcomes = engine_.ApplyBatch(batch);
    for (size_t j = 0; j < admitted.size(); ++j) {
      results[admitted[j]] = Answer({.result = std::move(outcomes[j]), .started = true});
    }
    co_return results;
  }
  // Every item is queued before the first wait, so one drain takes them together.
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  std::vector<std::unique_ptr<asio::steady_timer>> timers;
  std::vector<std::shared_ptr<Pending<Outcome>>> pendings;
  timers.reserve(admitted.size());
  pendings.reserve(admitted.size());
  for (const size_t i : admitted) {
    timers.push_back(std::make_unique<asio::steady_timer>(executor, deadline));
    pendings.push_back(std::make_shared<Pending<Outcome>>());
    pendings.back()->waiter = timers.back().get();
    group_commit_->Submit(GroupCommit::Item{std::move(items[i].key), std::move(items[i].version),
                                            deadline, pendings.back(), executor});
  }
  for (size_t j = 0; j < admitted.size(); ++j) {
    results[admitted[j]] = Answer(co_await AwaitResult(std::move(pendings[j]), *timers[j]));
  }
  co_return results;
}

asio::awaitable<Result<Version>> LocalReplica::Write(std::string key, std::string value,
                                                     bool tombstone, Deadline deadline) {
  Offloaded<Result<Version>> out;
  if (options_.storage_pool == nullptr) {
    // Inline: the same answers as RunOnStorage's, without its coroutine frame per call.
    if (!Late(deadline)) out.result.emplace(WriteNow(key, std::move(value), tombstone));
  } else {
    auto write = [this, key = std::move(key), value = std::move(value), tombstone]() mutable {
      return WriteNow(key, std::move(value), tombstone);
    };
    out = co_await RunOnStorage<Result<Version>>(options_.storage_pool, deadline, std::move(write));
  }
  if (out.result.has_value()) co_return std::move(*out.result);
  co_return LateWrite(out.started);
}

asio::awaitable<Status> LocalReplica::AddHint(HintStore& hints, NodeId peer, std::string key,
                                              Version version, Deadline deadline) {
  auto add = [&hints, peer, key = std::move(key), version = std::move(version)] {
    return hints.Add(peer, key, version);
  };
  Offloaded<Status> out =
      co_await RunOnStorage<Status>(options_.storage_pool, deadline, std::move(add));
  if (out.result.has_value()) co_return std::move(*out.result);
  co_return LateWrite(out.started);
}

Result<Version> LocalReplica::WriteNow(std::string_view key, std::string value, bool tombstone) {
  Version version{std::move(value), Timestamp{}, tombstone};
  for (int attempt = 1;; ++attempt) {
    version.timestamp = hlc_.Now();
    Result<storage::ApplyOutcome> applied = engine_.ApplyIfNewer(key, version);
    if (!applied.ok()) {
      return StorageWriteFailed(applied.status());
    }
    if (*applied == storage::ApplyOutcome::kApplied || attempt == kMaxWriteAttempts) {
      return version;
    }
    Result<Version> stored = engine_.Get(key);
    if (!stored.ok()) {
      if (stored.status().IsNotFound()) continue;
      return WithContext("storage read before a retried write failed", stored.status());
    }
    Status observed = hlc_.Observe(stored->timestamp.hlc);
    if (!observed.ok()) {
      uint64_t suppressed = 0;
      if (skew_log_limiter.Allow(&suppressed)) {
        Log(Subsystem::kRepl)
            .warn(
                "node={} key_hash={:016x} holds version {} from beyond the clock-skew guard ({}); "
                "the write {} is ordered before it and will not be visible{}",
                hlc_.node_id(), KeyHash(key), ToString(stored->timestamp), observed.message(),
                ToString(version.timestamp), LogLimiter::SuppressedNote(suppressed));
      }
      return version;
    }
  }
}

}  // namespace dialkv::replication
