#pragma once
// The one primitive behind every replicated request (CP and AP, reads and writes): call a set
// of replicas at once and return as soon as enough of them succeeded, as soon as that became
// impossible, or at the deadline — whichever comes first. Calls still running then go on by
// themselves (a write keeps spreading, a failed delivery still stores its hint); their results
// are dropped.
//
// Every call runs as its own coroutine on the caller's executor, holding one slot of a
// TaskTracker that it releases when it finishes, so the owner's Stop() can wait for calls that
// outlived their request.
//
// REQUIRES: the caller's executor runs one handler at a time (an io_context run by one thread,
// or a strand), and the calls resume on it (Transport::Call and LocalReplica do).

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
  asio::co_spawn(executor, std::move(run), [state, replica, tracker](std::exception_ptr error) {
    if (error) {
      // Our code does not throw; this is an allocation failure or a bug below us.
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        Logger("repl")->error("peer={} replica call threw: {}", replica, e.what());
      } catch (...) {
        Logger("repl")->error("peer={} replica call threw a non-standard exception", replica);
      }
      if (state != nullptr) {
        state->Add(replica, Status::Internal("the replica call failed with an exception"));
      }
    }
    tracker->Release();
  });
}

// Starts every call at once and returns when `needed` of them succeeded (per `is_success`),
// when so many failed that `needed` cannot be reached, when all have answered, or at
// `deadline`. needed == 0 starts the calls and returns at once.
// REQUIRES: `tracker` holds one slot per call for this gathering (TryAcquire(calls.size())).
template <typename T>
asio::awaitable<Gathered<T>> Gather(std::vector<ReplicaCall<T>> calls, size_t needed,
                                    bool (*is_success)(const Result<T>&), Deadline deadline,
                                    TaskTracker* tracker) {
  const asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<internal::GatherState<T>>();
  Gathered<T> out;
  out.calls = calls.size();
  for (ReplicaCall<T>& c : calls) {
    SpawnCall<T>(executor, tracker, c.replica, std::move(c.call), state);
  }

  asio::steady_timer timer(executor);
  state->waiter = &timer;
  for (;;) {
    size_t successes = 0;
    for (const ReplicaReply<T>& r : state->replies) successes += is_success(r.result) ? 1 : 0;
    const size_t failures = state->replies.size() - successes;
    out.successes = successes;
    if (successes >= needed || out.calls - failures < needed ||
        state->replies.size() == out.calls) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      out.deadline_passed = true;
      break;
    }
    // Woken early (operation_aborted) by each reply, else at the deadline.
    timer.expires_at(deadline);
    co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  state->waiter = nullptr;
  out.replies.swap(state->replies);  // Later replies land in the state and are dropped.
  co_return out;
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
