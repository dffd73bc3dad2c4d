#pragma once
// The one primitive behind every replicated request (CP and AP, reads and writes): call a set
// of replicas at once and return as soon as enough of them succeeded, as soon as that became
// impossible, or at the deadline — whichever comes first. Calls still running then go on by
// themselves (a write keeps spreading, a failed delivery still stores its hint); their results
// are dropped. A Gathering is the same with calls added while it runs (a request that asks a
// quorum first and the other replicas later): every call's reply counts, whichever wave
// started it.
//
// Every call runs as its own coroutine on the caller's executor, holding one slot of a
// TaskTracker that it releases when it finishes, so the owner's Stop() can wait for calls that
// outlived their request.
//
// REQUIRES: the caller's executor runs one handler at a time (an io_context run by one thread,
// or a strand), and the calls resume on it (Transport::Call and LocalReplica do).

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "server/common/check.h"
#include "server/common/logging.h"
#include "server/replication/task_tracker.h"

namespace dialkv::replication {

using Deadline = std::chrono::steady_clock::time_point;

// One replica's answer.
template <typename T>
struct ReplicaReply {
  NodeId replica = 0;
  Result<T> result;
};

// A call to make: the replica and the coroutine that calls it, not started yet.
template <typename T>
struct ReplicaCall {
  NodeId replica = 0;
  asio::awaitable<Result<T>> call;
};

// What a gathering saw by the time it returned.
template <typename T>
struct Gathered {
  std::vector<ReplicaReply<T>> replies;  // In the order they arrived.
  size_t calls = 0;                      // How many calls were started.
  size_t successes = 0;                  // Replies that passed the success test.
  bool deadline_passed = false;          // It returned at the deadline, calls outstanding.
};

namespace internal {

template <typename T>
struct GatherState {
  std::vector<ReplicaReply<T>> replies;  // Arrival order; the gatherer takes them when it ends.
  asio::steady_timer* waiter = nullptr;  // The gatherer's timer while it waits, else null.

  void Add(NodeId replica, Result<T> result) {
    replies.push_back(ReplicaReply<T>{replica, std::move(result)});
    if (waiter != nullptr) waiter->cancel();  // Wakes the gatherer.
  }
};

template <typename T>
asio::awaitable<void> RunCall(std::shared_ptr<GatherState<T>> state, NodeId replica,
                              asio::awaitable<Result<T>> call) {
  Result<T> result = co_await std::move(call);
  if (state != nullptr) state->Add(replica, std::move(result));
}

}  // namespace internal

// Starts `call` on `executor` as a coroutine of its own. `tracker` has a slot reserved for it,
// which is released when the call finishes. Its result goes to `state` (null: dropped).
template <typename T>
void SpawnCall(const asio::any_io_executor& executor, TaskTracker* tracker, NodeId replica,
               asio::awaitable<Result<T>> call,
               std::shared_ptr<internal::GatherState<T>> state = nullptr) {
  auto run = internal::RunCall<T>(state, replica, std::move(call));
  asio::co_spawn(
      executor, std::move(run), [state, replica, tracker](const std::exception_ptr& error) {
        if (error) {
          // Our code does not throw; this is an allocation failure or a bug below us.
          try {
            std::rethrow_exception(error);
          } catch (const std::exception& e) {
            Log(Subsystem::kRepl).error("peer={} replica call threw: {}", replica, e.what());
          } catch (...) {
            Log(Subsystem::kRepl)
                .error("peer={} replica call threw a non-standard exception", replica);
          }
          if (state != nullptr) {
            state->Add(replica, Status::Internal("the replica call failed with an exception"));
          }
        }
        tracker->Release();
      });
}

// Calls gathered toward one request: started in one or more waves, all their replies collected
// in one place until Finish(). Used on the caller's executor only.
template <typename T>
class Gathering {
 public:
  // Calls are started on `executor`, each holding one slot of `tracker` (not owned).
  Gathering(asio::any_io_executor executor, TaskTracker* tracker,
            bool (*is_success)(const Result<T>&))
      : executor_(std::move(executor)),
        tracker_(tracker),
        is_success_(is_success),
        state_(std::make_shared<internal::GatherState<T>>()) {}
  Gathering(const Gathering&) = delete;
  Gathering& operator=(const Gathering&) = delete;

  // Starts every call of `calls` at once.
  // REQUIRES: `tracker` holds one slot per call for this gathering (TryAcquire(calls.size())).
  void Start(std::vector<ReplicaCall<T>> calls) {
    DIALKV_DCHECK(tracker_->in_flight() >= calls.size());
    calls_ += calls.size();
    for (ReplicaCall<T>& c : calls) {
      SpawnCall<T>(executor_, tracker_, c.replica, std::move(c.call), state_);
    }
  }

  // Returns when `needed` of the calls started so far succeeded (per `is_success`), when so many
  // failed that `needed` cannot be reached with them, when all have answered, or at `until`
  // (at once if one of these holds already). Calls keep running after it returns; a later
  // Wait still sees their replies.
  asio::awaitable<void> Wait(size_t needed, Deadline until) {
    asio::steady_timer timer(executor_);
    state_->waiter = &timer;
    until_passed_ = false;
    for (;;) {
      for (; counted_ < state_->replies.size(); ++counted_) {
        successes_ += is_success_(state_->replies[counted_].result) ? 1 : 0;
      }
      // One reply per call started, never more.
      DIALKV_DCHECK(successes_ <= state_->replies.size() && state_->replies.size() <= calls_);
      const size_t failures = state_->replies.size() - successes_;
      if (successes_ >= needed || calls_ - failures < needed || state_->replies.size() == calls_) {
        break;
      }
      if (std::chrono::steady_clock::now() >= until) {
        until_passed_ = true;
        break;
      }
      // Woken early (operation_aborted) by each reply, else at `until`.
      timer.expires_at(until);
      co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    state_->waiter = nullptr;
  }

  size_t calls() const { return calls_; }
  // Successes among the replies the last Wait saw.
  size_t successes() const { return successes_; }

  // What was gathered; deadline_passed: the last Wait returned at its `until` with calls
  // outstanding. Replies that arrive later land in the shared state and are dropped.
  Gathered<T> Finish() {
    Gathered<T> out;
    out.replies.swap(state_->replies);
    out.calls = calls_;
    out.successes = 0;
    for (const ReplicaReply<T>& r : out.replies) out.successes += is_success_(r.result) ? 1 : 0;
    DIALKV_DCHECK(out.replies.size() <= out.calls);
    out.deadline_passed = until_passed_;
    counted_ = 0;
    successes_ = 0;
    return out;
  }

 private:
  const asio::any_io_executor executor_;
  TaskTracker* const tracker_;
  bool (*const is_success_)(const Result<T>&);
  const std::shared_ptr<internal::GatherState<T>> state_;
  size_t calls_ = 0;
  size_t counted_ = 0;    // Replies already counted into successes_.
  size_t successes_ = 0;  // Among the first counted_ replies.
  bool until_passed_ = false;
};

// Starts every call at once and returns when `needed` of them succeeded (per `is_success`),
// when so many failed that `needed` cannot be reached, when all have answered, or at
// `deadline`. needed == 0 starts the calls and returns at once.
// REQUIRES: `tracker` holds one slot per call for this gathering (TryAcquire(calls.size())).
template <typename T>
asio::awaitable<Gathered<T>> Gather(std::vector<ReplicaCall<T>> calls, size_t needed,
                                    bool (*is_success)(const Result<T>&), Deadline deadline,
                                    TaskTracker* tracker) {
  Gathering<T> gathering(co_await asio::this_coro::executor, tracker, is_success);
  gathering.Start(std::move(calls));
  co_await gathering.Wait(needed, deadline);
  co_return gathering.Finish();
}

// How many distinct replicas have a reply in `gathered` that passed `is_success`: a quorum is
// one of replicas, not of replies. For invariant checks (DIALKV_DCHECK).
template <typename T>
size_t SucceededReplicas(const Gathered<T>& gathered, bool (*is_success)(const Result<T>&)) {
  std::vector<NodeId> succeeded;
  for (const ReplicaReply<T>& r : gathered.replies) {
    if (is_success(r.result) &&
        std::find(succeeded.begin(), succeeded.end(), r.replica) == succeeded.end()) {
      succeeded.push_back(r.replica);
    }
  }
  return succeeded.size();
}

// Whether every reply in `gathered` came from one of `replicas`. For invariant checks.
template <typename T>
bool RepliesFrom(const Gathered<T>& gathered, std::span<const NodeId> replicas) {
  return std::all_of(
      gathered.replies.begin(), gathered.replies.end(), [replicas](const ReplicaReply<T>& r) {
        return std::find(replicas.begin(), replicas.end(), r.replica) != replicas.end();
      });
}

// "node 2: UNAVAILABLE: ...; node 3: TIMEOUT: ..." for the replies that failed `is_success`,
// then "node 4: no reply" for each of `replicas` that did not answer; for error messages.
template <typename T>
std::string DescribeFailures(const Gathered<T>& gathered, std::span<const NodeId> replicas,
                             bool (*is_success)(const Result<T>&)) {
  std::string out;
  auto append = [&out](NodeId replica, std::string_view what) {
    if (!out.empty()) out += "; ";
    out += "node " + std::to_string(replica) + ": ";
    out += what;
  };
  for (const ReplicaReply<T>& r : gathered.replies) {
    if (is_success(r.result)) continue;
    // An answer that is OK but not a success is a delivery that was hinted, not acknowledged.
    append(r.replica, r.result.ok() ? std::string("not acknowledged in time; hinted")
                                    : r.result.status().ToString());
  }
  for (NodeId replica : replicas) {
    bool answered = false;
    for (const ReplicaReply<T>& r : gathered.replies) answered |= r.replica == replica;
    if (!answered) append(replica, "no reply yet");
  }
  return out;
}

}  // namespace dialkv::replication
