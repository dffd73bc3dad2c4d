// LocalReplica: the clock guard on incoming versions, LWW, the write retry, and the
// storage-pool deadline rules (carried over from the single-node backend).
#include "server/replication/local_replica.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>
#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/common/clock.h"
#include "server/storage/memory_engine.h"
#include "tests/testutil/gated_engine.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::replication {
namespace {

using testutil::GatedEngine;

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr NodeId kSelf = 1;
constexpr auto kTestDeadline = std::chrono::seconds(10);  // Bounds every wait in this file.

uint64_t Hlc(int64_t ms) { return static_cast<uint64_t>(ms) << 16; }

template <typename T>
asio::awaitable<void> StoreResult(asio::awaitable<T> op, std::optional<T>* out) {
  out->emplace(co_await std::move(op));
}

class LocalReplicaTest : public ::testing::Test {
 protected:
  explicit LocalReplicaTest(size_t storage_threads = 0) {
    if (storage_threads > 0) pool_ = std::make_unique<asio::thread_pool>(storage_threads);
    LocalReplica::Options options;
    options.storage_pool = pool_.get();
    local_ = std::make_unique<LocalReplica>(options, engine_, hlc_);
  }
  ~LocalReplicaTest() override {
    engine_.Open();
    if (pool_ != nullptr) pool_->join();
  }

  // Runs every op concurrently on the io_context until all completed (bounded).
  template <typename T>
  std::vector<T> RunAll(std::vector<asio::awaitable<T>> ops) {
    std::vector<std::optional<T>> results(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      asio::co_spawn(io_, StoreResult(std::move(ops[i]), &results[i]), asio::detached);
    }
    io_.restart();
    io_.run_for(kTestDeadline);
    std::vector<T> out;
    for (auto& r : results) {
      if (!r.has_value()) {
        ADD_FAILURE() << "an operation did not complete";
        std::abort();
      }
      out.push_back(std::move(*r));
    }
    return out;
  }
  template <typename T>
  T Run(asio::awaitable<T> op) {
    std::vector<asio::awaitable<T>> ops;
    ops.push_back(std::move(op));
    return std::move(RunAll(std::move(ops))[0]);
  }

  // Starts `op` on the io_context; RunUntil runs it.
  template <typename T>
  void Start(asio::awaitable<T> op, std::optional<T>* out) {
    asio::co_spawn(io_, StoreResult(std::move(op), out), asio::detached);
  }
  // Runs the io_context until `done` holds (bounded by kTestDeadline).
  void RunUntil(const std::function<bool()>& done) {
    const Deadline end = std::chrono::steady_clock::now() + kTestDeadline;
    while (!done() && std::chrono::steady_clock::now() < end) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(2));
    }
    ASSERT_TRUE(done()) << "not done within the test's deadline";
  }

  Deadline In(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }
  Deadline Later() { return In(std::chrono::seconds(5)); }

  ManualClock clock_{kStartMs};
  HybridLogicalClock hlc_{clock_, kSelf, HybridLogicalClock::Options()};
  GatedEngine engine_;
  std::unique_ptr<asio::thread_pool> pool_;
  std::unique_ptr<LocalReplica> local_;
  asio::io_context io_;
};

TEST_F(LocalReplicaTest, ApplyKeepsTheNewerVersionAndSaysWhenSuperseded) {
  const Version newer{"new", Timestamp{Hlc(kStartMs), 2}, false};
  const Version older{"old", Timestamp{Hlc(kStartMs - 10), 3}, false};
  ASSERT_EQ(*Run(local_->Apply("k", newer, Later())), storage::ApplyOutcome::kApplied);
  ASSERT_EQ(*Run(local_->Apply("k", older, Later())), storage::ApplyOutcome::kSuperseded);
  ASSERT_EQ(*Run(local_->Apply("k", newer, Later())), storage::ApplyOutcome::kSuperseded);
  EXPECT_EQ(*Run(local_->Read("k", Later())), newer);
  ASSERT_CODE(Run(local_->Read("absent", Later())), Code::kNotFound);
}

TEST_F(LocalReplicaTest, TimestampOnlyReadsLeaveTheValueOut) {
  // Keys are named strings moved in: GCC 12 copies a temporary coroutine argument bitwise.
  std::string k = "k";
  const Version live{"value", Timestamp{Hlc(kStartMs), 2}, false};
  ASSERT_OK(Run(local_->Apply(std::move(k), live, Later())));
  k = "k";
  Result<Version> read = Run(local_->Read(std::move(k), Later(), /*timestamp_only=*/true));
  ASSERT_OK(read);
  EXPECT_EQ(*read, (Version{"", live.timestamp, false}));
  const Version gone{"", Timestamp{Hlc(kStartMs) + 1, 2}, true};
  k = "k";
  ASSERT_OK(Run(local_->Apply(std::move(k), gone, Later())));
  k = "k";
  EXPECT_EQ(*Run(local_->Read(std::move(k), Later(), true)), gone);
  k = "absent";
  ASSERT_CODE(Run(local_->Read(std::move(k), Later(), true)), Code::kNotFound);
  const Deadline past = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  k = "k";
  ASSERT_CODE(Run(local_->Read(std::move(k), past, true)), Code::kTimeout);
}

TEST_F(LocalReplicaTest, RefusesAVersionBeyondTheSkewGuardAndKeepsItsClock) {
  const Version wild{"wild", Timestamp{Hlc(kStartMs + 501), 2}, false};
  Result<storage::ApplyOutcome> applied = Run(local_->Apply("k", wild, Later()));
  ASSERT_CODE(applied, Code::kInvalidArgument);
  EXPECT_NE(applied.status().message().find("501 ms ahead"), std::string::npos)
      << applied.status().message();
  ASSERT_CODE(engine_.inner().Get("k"), Code::kNotFound);
  EXPECT_LT(hlc_.Last(), wild.timestamp.hlc);
  // At the edge of the guard it is accepted.
  const Version edge{"edge", Timestamp{Hlc(kStartMs + 500), 2}, false};
  ASSERT_OK(Run(local_->Apply("k", edge, Later())));
}

TEST_F(LocalReplicaTest, AnAppliedVersionAdvancesTheClockSoTheNextWriteOrdersAfterIt) {
  const Version ahead{"ahead", Timestamp{Hlc(kStartMs + 300), 2}, false};
  ASSERT_OK(Run(local_->Apply("k", ahead, Later())));
  EXPECT_GT(hlc_.Now(), ahead.timestamp);
}

TEST_F(LocalReplicaTest, WriteBehindANewerStoredVersionRetriesAboveIt) {
  // Stored directly, as if this node's clock went back across a restart.
  const Version stored{"stored", Timestamp{Hlc(kStartMs + 300), 9}, false};
  ASSERT_OK(engine_.inner().ApplyIfNewer("k", stored));
  Result<Version> written = Run(local_->Write("k", "local", false, Later()));
  ASSERT_OK(written);
  EXPECT_GT(written->timestamp, stored.timestamp);
  EXPECT_EQ(written->value, "local");
  EXPECT_EQ(Run(local_->Read("k", Later()))->value, "local");
}

TEST_F(LocalReplicaTest, WriteBehindAVersionBeyondTheSkewGuardIsOrderedBeforeIt) {
  const Version wild{"wild", Timestamp{Hlc(kStartMs + 3'600'000), 9}, false};
  ASSERT_OK(engine_.inner().ApplyIfNewer("k", wild));
  Result<Version> written = Run(local_->Write("k", "local", false, Later()));
  ASSERT_OK(written);
  EXPECT_LT(written->timestamp, wild.timestamp);
  EXPECT_EQ(Run(local_->Read("k", Later()))->value, "wild");
  EXPECT_LT(hlc_.Last(), wild.timestamp.hlc);
}

TEST_F(LocalReplicaTest, CallsWhoseDeadlineAlreadyPassedAreNotStarted) {
  const Deadline past = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  ASSERT_CODE(Run(local_->Write("k", "v", false, past)), Code::kUnavailable);
  // Named: GCC 12 miscopies a braced aggregate written as a coroutine argument.
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  ASSERT_CODE(Run(local_->Apply("k", v, past)), Code::kUnavailable);
  ASSERT_CODE(Run(local_->Read("k", past)), Code::kTimeout);
  ASSERT_CODE(engine_.inner().Get("k"), Code::kNotFound);
}

using Outcomes = std::vector<Result<storage::ApplyOutcome>>;

std::vector<LocalReplica::KeyedWrite> Writes(
    std::initializer_list<std::pair<std::string, Version>> items) {
  std::vector<LocalReplica::KeyedWrite> writes;
  for (const auto& [key, version] : items) writes.push_back({key, version});
  return writes;
}

// A peer's batch of replica writes goes to storage as one write; each item gets Apply's answer,
// a later item of a key compares against the earlier one, and the clock guard refuses an item
// on its own.
TEST_F(LocalReplicaTest, ApplyAllWritesABatchInOneStorageWriteWithAnAnswerPerItem) {
  const Version v1{"v1", Timestamp{Hlc(kStartMs), 2}, false};
  const Version v2{"v2", Timestamp{Hlc(kStartMs + 1), 3}, false};
  const Version wild{"wild", Timestamp{Hlc(kStartMs + 3'600'000), 2}, false};
  ASSERT_OK(engine_.inner().ApplyIfNewer("old", v2));
  std::vector<LocalReplica::KeyedWrite> writes =
      Writes({{"a", v1}, {"b", v1}, {"a", v2}, {"wild", wild}, {"a", v1}, {"old", v1}});
  const Outcomes outcomes = Run(local_->ApplyAll(std::move(writes), Later()));
  ASSERT_EQ(outcomes.size(), 6u);
  EXPECT_EQ(*outcomes[0], storage::ApplyOutcome::kApplied);
  EXPECT_EQ(*outcomes[1], storage::ApplyOutcome::kApplied);
  EXPECT_EQ(*outcomes[2], storage::ApplyOutcome::kApplied);
  ASSERT_CODE(outcomes[3], Code::kInvalidArgument);
  EXPECT_EQ(*outcomes[4], storage::ApplyOutcome::kSuperseded) << "v2 came before it in the batch";
  EXPECT_EQ(*outcomes[5], storage::ApplyOutcome::kSuperseded) << "the stored version is newer";
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{5})) << "the refused item left out";
  EXPECT_EQ(*engine_.inner().Get("a"), v2);
  EXPECT_EQ(*engine_.inner().Get("old"), v2);
  ASSERT_CODE(engine_.inner().Get("wild"), Code::kNotFound);
  EXPECT_GT(hlc_.Now(), v2.timestamp) << "the applied versions were folded into the clock";
}

// A failed storage write fails every item it carried, each saying it may have been applied (the
// coordinator then answers UNKNOWN for a CP write, or hints the version); one that never
// started, its deadline passed, says it was not applied.
TEST_F(LocalReplicaTest, ApplyAllFailsEveryItemOfAFailedWriteAndStartsNoneAfterItsDeadline) {
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  engine_.FailWith(Status::IOError("the disk went away"));
  std::vector<LocalReplica::KeyedWrite> writes = Writes({{"a", v}, {"b", v}, {"c", v}});
  for (const auto& outcome : Run(local_->ApplyAll(std::move(writes), Later()))) {
    ASSERT_CODE(outcome, Code::kIOError);
    EXPECT_EQ(outcome.status().message(),
              "storage write failed (it may have been applied): the disk went away");
  }
  engine_.FailWith(Status::Ok());
  const Deadline past = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  std::vector<LocalReplica::KeyedWrite> late = Writes({{"a", v}, {"b", v}});
  for (const auto& outcome : Run(local_->ApplyAll(std::move(late), past))) {
    ASSERT_CODE(outcome, Code::kUnavailable);
    EXPECT_EQ(outcome.status().message(),
              "the deadline passed before the write reached storage; it was not applied");
  }
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{3}));
  ASSERT_CODE(engine_.inner().Get("a"), Code::kNotFound);
}

// Deadlines need a storage thread that can be blocked while the io thread keeps going.
class LocalReplicaPoolTest : public LocalReplicaTest {
 protected:
  LocalReplicaPoolTest() : LocalReplicaTest(1) {}
};

TEST_F(LocalReplicaPoolTest, ReadStuckInStorageAnswersTimeoutAtItsDeadline) {
  ASSERT_OK(Run(local_->Write("k", "v", false, Later())));
  engine_.Close();
  const auto start = std::chrono::steady_clock::now();
  Result<Version> read = Run(local_->Read("k", In(std::chrono::milliseconds(100))));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_CODE(read, Code::kTimeout);
  EXPECT_EQ(read.status().message(), "the read did not finish before its deadline");
  EXPECT_GE(elapsed, std::chrono::milliseconds(100));
  EXPECT_LT(elapsed, kTestDeadline / 2);
  engine_.Open();
  EXPECT_EQ(Run(local_->Read("k", Later()))->value, "v");
}

using ApplyResult = std::optional<Result<storage::ApplyOutcome>>;

TEST_F(LocalReplicaPoolTest, WritesPastTheirDeadlineAnswerUnknownIfStartedElseUnavailable) {
  engine_.Close();
  // The second write queues behind the group being written (the first, held at the gate).
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  ApplyResult started, queued;
  Start(local_->Apply("started", v, In(std::chrono::milliseconds(100))), &started);
  RunUntil([&] { return engine_.waiting() == 1; });
  Start(local_->Apply("queued", v, In(std::chrono::milliseconds(100))), &queued);
  RunUntil([&] { return started.has_value() && queued.has_value(); });
  ASSERT_CODE(*started, Code::kUnknown);
  EXPECT_EQ(started->status().message(),
            "the deadline passed while the write was in storage; it may have been applied");
  ASSERT_CODE(*queued, Code::kUnavailable);
  EXPECT_EQ(queued->status().message(),
            "the deadline passed before the write reached storage; it was not applied");
  engine_.Open();
  pool_->join();
  EXPECT_OK(engine_.inner().Get("started"));
  ASSERT_CODE(engine_.inner().Get("queued"), Code::kNotFound);
}

// Group commit: what queues while a group is being written goes to storage together, in one
// engine batch (one WAL write, one fsync with --sync).
TEST_F(LocalReplicaPoolTest, WritesQueuedDuringAGroupAreWrittenInOneBatch) {
  engine_.Close();
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  std::vector<ApplyResult> results(11);
  Start(local_->Apply("k0", v, Later()), &results[0]);
  RunUntil([&] { return engine_.waiting() == 1; });
  for (size_t i = 1; i < results.size(); ++i) {
    Start(local_->Apply("k" + std::to_string(i), v, Later()), &results[i]);
  }
  io_.restart();
  io_.poll();  // Every write is queued now, behind the first group.
  engine_.Open();
  RunUntil([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  });
  for (const ApplyResult& r : results) {
    ASSERT_OK(*r);
    EXPECT_EQ(**r, storage::ApplyOutcome::kApplied);
  }
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{1, 10}));
  EXPECT_EQ(engine_.inner().LiveKeyCount(), 11u);
}

// A group whose engine write fails fails every write in it, each saying it may have been
// applied (the coordinator then answers UNKNOWN for a CP write, or hints the version).
TEST_F(LocalReplicaPoolTest, AGroupWhoseWriteFailsFailsEveryWriteInIt) {
  engine_.Close();
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  std::vector<ApplyResult> results(5);
  Start(local_->Apply("a", v, Later()), &results[0]);
  RunUntil([&] { return engine_.waiting() == 1; });
  for (size_t i = 1; i < results.size(); ++i) {
    Start(local_->Apply("b" + std::to_string(i), v, Later()), &results[i]);
  }
  io_.restart();
  io_.poll();
  engine_.FailWith(Status::IOError("the disk went away"));
  engine_.Open();
  RunUntil([&] {
    return std::all_of(results.begin(), results.end(), [](const auto& r) { return r.has_value(); });
  });
  for (const ApplyResult& r : results) {
    ASSERT_CODE(*r, Code::kIOError);
    EXPECT_EQ(r->status().message(),
              "storage write failed (it may have been applied): the disk went away");
  }
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{1, 4}));
}

// A write whose deadline passes while it waits for the group before it is never written, and
// says so; the writes queued with it that are still on time are written.
TEST_F(LocalReplicaPoolTest, WritesWhoseDeadlinePassedWhileQueuedAreNotWritten) {
  engine_.Close();
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  ApplyResult first, late1, late2, on_time;
  Start(local_->Apply("first", v, Later()), &first);
  RunUntil([&] { return engine_.waiting() == 1; });
  Start(local_->Apply("late1", v, In(std::chrono::milliseconds(30))), &late1);
  Start(local_->Apply("late2", v, In(std::chrono::milliseconds(30))), &late2);
  Start(local_->Apply("on-time", v, Later()), &on_time);
  RunUntil([&] { return late1.has_value() && late2.has_value(); });
  engine_.Open();
  RunUntil([&] { return first.has_value() && on_time.has_value(); });
  for (const ApplyResult* late : {&late1, &late2}) {
    ASSERT_CODE(**late, Code::kUnavailable);
    EXPECT_EQ((*late)->status().message(),
              "the deadline passed before the write reached storage; it was not applied");
  }
  ASSERT_OK(*first);
  ASSERT_OK(*on_time);
  pool_->join();
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{1, 1}));  // The late ones left out.
  ASSERT_CODE(engine_.inner().Get("late1"), Code::kNotFound);
  ASSERT_CODE(engine_.inner().Get("late2"), Code::kNotFound);
  EXPECT_OK(engine_.inner().Get("on-time"));
}

// On the storage pool, a batch's items join the group-commit queue together and go to storage
// in one group.
TEST_F(LocalReplicaPoolTest, ApplyAllQueuesEveryItemIntoOneGroup) {
  engine_.Close();
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  ApplyResult first;
  Start(local_->Apply("first", v, Later()), &first);
  RunUntil([&] { return engine_.waiting() == 1; });
  std::vector<LocalReplica::KeyedWrite> writes;
  for (int i = 0; i < 8; ++i) writes.push_back({"k" + std::to_string(i), v});
  std::optional<Outcomes> outcomes;
  Start(local_->ApplyAll(std::move(writes), Later()), &outcomes);
  io_.restart();
  io_.poll();
  engine_.Open();
  RunUntil([&] { return first.has_value() && outcomes.has_value(); });
  ASSERT_OK(*first);
  ASSERT_EQ(outcomes->size(), 8u);
  for (const auto& outcome : *outcomes) EXPECT_EQ(*outcome, storage::ApplyOutcome::kApplied);
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{1, 8}));
}

TEST_F(LocalReplicaPoolTest, HintsAreStoredOnThePoolUnderTheSameDeadlineRules) {
  ManualClock clock(kStartMs);
  Result<std::unique_ptr<HintStore>> hints = HintStore::Open({}, engine_, clock);
  ASSERT_OK(hints);
  const Version v{"v", Timestamp{Hlc(kStartMs), 1}, false};
  ASSERT_OK(Run(local_->AddHint(**hints, 2, "k", v, Later())));
  EXPECT_EQ((*hints)->StatsFor(2).hints, 1u);
  engine_.Close();
  ASSERT_CODE(Run(local_->AddHint(**hints, 2, "k", v, In(std::chrono::milliseconds(50)))),
              Code::kUnknown);
  engine_.Open();
  pool_->join();
}

}  // namespace
}  // namespace dialkv::replication
