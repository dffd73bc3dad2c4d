#include "server/api/kv_service.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/cluster/membership.h"
#include "server/cluster/ring.h"
#include "server/common/clock.h"
#include "server/common/hlc.h"
#include "server/common/metrics.h"
#include "server/replication/coordinator.h"
#include "server/replication/local_replica.h"
#include "server/storage/memory_engine.h"
#include "tests/testutil/fake_transport.h"
#include "tests/testutil/gated_engine.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::api {
namespace {

using testutil::GatedEngine;

using replication::Deadline;

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr NodeId kNodeId = 7;
constexpr auto kTestDeadline = std::chrono::seconds(10);  // Bounds every wait in this file.

// Requests in this file are AP unless they say otherwise: on a node that is the key's only
// replica, the AP path is this node's store and nothing else, which is what these tests probe.
v1::Envelope GetRequest(std::string key, uint32_t timeout_ms = 0,
                        v1::Consistency mode = v1::CONSISTENCY_AP) {
  v1::Envelope e;
  e.set_id(11);
  e.mutable_get_request()->set_key(std::move(key));
  e.mutable_get_request()->set_timeout_ms(timeout_ms);
  e.mutable_get_request()->set_consistency(mode);
  return e;
}

v1::Envelope PutRequest(std::string key, std::string value, uint32_t timeout_ms = 0,
                        v1::Consistency mode = v1::CONSISTENCY_AP) {
  v1::Envelope e;
  e.set_id(12);
  e.mutable_put_request()->set_key(std::move(key));
  e.mutable_put_request()->set_value(std::move(value));
  e.mutable_put_request()->set_timeout_ms(timeout_ms);
  e.mutable_put_request()->set_consistency(mode);
  return e;
}

v1::Envelope DeleteRequest(std::string key, uint32_t timeout_ms = 0,
                           v1::Consistency mode = v1::CONSISTENCY_AP) {
  v1::Envelope e;
  e.set_id(13);
  e.mutable_delete_request()->set_key(std::move(key));
  e.mutable_delete_request()->set_timeout_ms(timeout_ms);
  e.mutable_delete_request()->set_consistency(mode);
  return e;
}

// Awaits `op` into `*out`, which outlives the io_context's run.
template <typename T>
asio::awaitable<void> StoreResult(asio::awaitable<T> op, std::optional<T>* out) {
  out->emplace(co_await std::move(op));
}

Timestamp Ts(const v1::Timestamp& ts) { return Timestamp{ts.hlc(), ts.node_id()}; }

// Which engine calls run on a storage pool (replication::LocalReplica::Options).
enum class Offload { kAll, kWrites, kNone };

struct Wiring {
  Offload offload = Offload::kAll;
  size_t storage_threads = 2;  // Unless kNone.
  KvService::Options service;
};

// The repair of a node without peers: nothing to exchange.
asio::awaitable<v1::RepairReply> RepairAlone() {
  v1::RepairReply reply;
  reply.set_node_id(kNodeId);
  co_return reply;
}

// A KvService over the coordinator of a one-node cluster (its LocalReplica on a GatedEngine,
// an HLC on a manual clock, no peers); requests run on an io_context driven by the test thread.
class KvServiceTest : public ::testing::TestWithParam<Offload> {
 protected:
  KvServiceTest() { Build(Wiring{GetParam(), 2, {}}); }
  ~KvServiceTest() override { Teardown(); }

  void Build(Wiring wiring) {
    Teardown();
    if (wiring.offload != Offload::kNone) {
      pool_ = std::make_unique<asio::thread_pool>(wiring.storage_threads);
    }
    replication::LocalReplica::Options replica_options;
    replica_options.storage_pool = pool_.get();
    replica_options.offload_reads = wiring.offload == Offload::kAll;
    local_ = std::make_unique<replication::LocalReplica>(replica_options, engine_, hlc_);
    replication::Coordinator::Options coordinator_options;
    coordinator_options.self = kNodeId;
    coordinator_options.hinted_handoff = false;
    coordinator_ = std::make_unique<replication::Coordinator>(
        coordinator_options, ring_, membership_, *local_, hlc_, *transport_, nullptr);
    registry_ = std::make_unique<metrics::Registry>();
    service_ = std::make_unique<KvService>(
        wiring.service, *coordinator_, *registry_,
        [] {
          v1::ClusterStatusReply reply;
          reply.set_node_id(kNodeId);
          return reply;
        },
        [] { return RepairAlone(); });
  }

  // The storage pool goes first (its running calls finish), while the io_context and the
  // coordinator its calls reference still exist.
  void Teardown() {
    engine_.Open();
    if (pool_ != nullptr) {
      pool_->join();
      pool_.reset();
    }
    service_.reset();
    coordinator_.reset();
    local_.reset();
  }

  // Serves `requests` concurrently and returns their replies, in request order.
  std::vector<v1::Envelope> CallAll(std::vector<v1::Envelope> requests) {
    std::vector<std::optional<v1::Envelope>> replies(requests.size());
    for (size_t i = 0; i < requests.size(); ++i) {
      asio::co_spawn(io_, service_->Handle(std::move(requests[i])),
                     [&replies, i](std::exception_ptr e, v1::Envelope reply) {
                       if (!e) replies[i] = std::move(reply);
                     });
    }
    io_.restart();
    // Every request answers by its deadline, so this returns; run_for bounds a broken one.
    io_.run_for(kTestDeadline);
    std::vector<v1::Envelope> out;
    for (auto& r : replies) {
      EXPECT_TRUE(r.has_value()) << "a request was not answered";
      out.push_back(r.value_or(v1::Envelope()));
    }
    return out;
  }

  v1::Envelope Call(v1::Envelope request) {
    std::vector<v1::Envelope> requests;
    requests.push_back(std::move(request));
    return CallAll(std::move(requests))[0];
  }

  // Waits until every storage call queued so far has run; then the pool is gone.
  void DrainStoragePool() {
    ASSERT_NE(pool_, nullptr);
    pool_->join();  // Returns once the pool has no work left (stop() was not called).
    pool_.reset();
  }

  std::string Metrics() const { return registry_->Expose(); }

  ManualClock clock_{kStartMs};
  HybridLogicalClock hlc_{clock_, kNodeId, HybridLogicalClock::Options{}};
  GatedEngine engine_;
  asio::io_context io_;
  cluster::Ring ring_ = cluster::Ring::Build({kNodeId}, {}).value();
  cluster::Membership membership_{kNodeId,
                                  1,
                                  {cluster::Member{kNodeId, "127.0.0.1:7380"}},
                                  clock_,
                                  cluster::Membership::Options{}};
  testutil::FakeNetwork network_;
  std::unique_ptr<net::Transport> transport_ = network_.TransportFor(kNodeId);
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<replication::LocalReplica> local_;
  std::unique_ptr<replication::Coordinator> coordinator_;
  std::unique_ptr<KvService> service_;
  std::unique_ptr<asio::thread_pool> pool_;
};

std::string OffloadName(const ::testing::TestParamInfo<Offload>& info) {
  switch (info.param) {
    case Offload::kAll:
      return "AllOffloaded";
    case Offload::kWrites:
      return "WritesOffloaded";
    case Offload::kNone:
      return "Inline";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(StorageCalls, KvServiceTest,
                         ::testing::Values(Offload::kAll, Offload::kWrites, Offload::kNone),
                         OffloadName);

TEST_P(KvServiceTest, PutThenGetReturnsTheValueAndItsTimestamp) {
  v1::Envelope put = Call(PutRequest("k", "v1"));
  EXPECT_EQ(put.id(), 12u);
  ASSERT_TRUE(put.has_put_reply());
  EXPECT_EQ(put.put_reply().status().code(), v1::STATUS_OK);
  EXPECT_EQ(put.put_reply().status().message(), "");
  const Timestamp ts = Ts(put.put_reply().timestamp());
  EXPECT_EQ(ts.wall_ms(), static_cast<uint64_t>(kStartMs));
  EXPECT_EQ(ts.node_id, kNodeId);

  v1::Envelope get = Call(GetRequest("k"));
  EXPECT_EQ(get.id(), 11u);
  ASSERT_TRUE(get.has_get_reply());
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_OK);
  EXPECT_EQ(get.get_reply().value(), "v1");
  EXPECT_EQ(Ts(get.get_reply().timestamp()), ts);
}

TEST_P(KvServiceTest, CpRequestsOnAOneNodeClusterRoundTripAndCountUnderModeCp) {
  v1::Envelope put = Call(PutRequest("k", "v", 0, v1::CONSISTENCY_CP));
  ASSERT_EQ(put.put_reply().status().code(), v1::STATUS_OK) << put.DebugString();
  EXPECT_FALSE(put.put_reply().hinted());
  v1::Envelope get = Call(GetRequest("k", 0, v1::CONSISTENCY_CP));
  ASSERT_EQ(get.get_reply().status().code(), v1::STATUS_OK);
  EXPECT_EQ(get.get_reply().value(), "v");
  EXPECT_EQ(Ts(get.get_reply().timestamp()), Ts(put.put_reply().timestamp()));
  // A request that names no mode is CP.
  v1::Envelope unspecified = Call(GetRequest("k", 0, v1::CONSISTENCY_DEFAULT));
  EXPECT_EQ(unspecified.get_reply().value(), "v");
  const std::string m = Metrics();
  EXPECT_NE(m.find("dialkv_requests_total{op=\"put\",mode=\"cp\",status=\"OK\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("dialkv_requests_total{op=\"get\",mode=\"cp\",status=\"OK\"} 2\n"),
            std::string::npos)
      << m;
}

TEST_P(KvServiceTest, ClusterStatusRequestIsAnsweredByTheStatusFunction) {
  v1::Envelope request;
  request.set_id(99);
  request.mutable_cluster_status_request();
  v1::Envelope reply = Call(request);
  EXPECT_EQ(reply.id(), 99u);
  ASSERT_TRUE(reply.has_cluster_status_reply()) << reply.DebugString();
  EXPECT_EQ(reply.cluster_status_reply().node_id(), kNodeId);
}

TEST_P(KvServiceTest, LaterWritesGetGreaterTimestampsWhetherOrNotTheClockMoves) {
  const Timestamp a = Ts(Call(PutRequest("k", "a")).put_reply().timestamp());
  const Timestamp b = Ts(Call(PutRequest("k", "b")).put_reply().timestamp());
  EXPECT_GT(b, a);
  EXPECT_EQ(b.wall_ms(), a.wall_ms());  // The clock stood still: the logical counter moved.
  clock_.Advance(1000);
  const Timestamp c = Ts(Call(DeleteRequest("k")).delete_reply().timestamp());
  EXPECT_EQ(c.wall_ms(), static_cast<uint64_t>(kStartMs + 1000));
  EXPECT_EQ(c.logical(), 0);
}

TEST_P(KvServiceTest, DeleteWritesATombstoneThatReadsAsNotFoundWithItsTimestamp) {
  ASSERT_EQ(Call(PutRequest("k", "v")).put_reply().status().code(), v1::STATUS_OK);
  v1::Envelope del = Call(DeleteRequest("k"));
  EXPECT_EQ(del.id(), 13u);
  ASSERT_TRUE(del.has_delete_reply());
  EXPECT_EQ(del.delete_reply().status().code(), v1::STATUS_OK);
  const Timestamp tombstone = Ts(del.delete_reply().timestamp());

  v1::Envelope get = Call(GetRequest("k"));
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_NOT_FOUND);
  EXPECT_TRUE(get.get_reply().has_timestamp());
  EXPECT_EQ(Ts(get.get_reply().timestamp()), tombstone);
  EXPECT_EQ(get.get_reply().value(), "");

  Result<Version> stored = engine_.inner().Get("k");
  ASSERT_OK(stored);
  EXPECT_TRUE(stored->tombstone);
  EXPECT_EQ(engine_.LiveKeyCount(), 0u);
}

TEST_P(KvServiceTest, KeyNeverWrittenIsNotFoundWithoutTimestamp) {
  v1::Envelope get = Call(GetRequest("absent"));
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_NOT_FOUND);
  EXPECT_FALSE(get.get_reply().has_timestamp());
  // Deleting a key that was never written still writes a tombstone.
  EXPECT_EQ(Call(DeleteRequest("absent")).delete_reply().status().code(), v1::STATUS_OK);
}

TEST_P(KvServiceTest, EmptyValueIsAValueNotADelete) {
  ASSERT_EQ(Call(PutRequest("k", "")).put_reply().status().code(), v1::STATUS_OK);
  v1::Envelope get = Call(GetRequest("k"));
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_OK);
  EXPECT_EQ(get.get_reply().value(), "");
}

TEST_P(KvServiceTest, EmptyKeyIsInvalidForEveryOperation) {
  for (v1::Envelope request : {GetRequest(""), PutRequest("", "v"), DeleteRequest("")}) {
    v1::Envelope reply = Call(request);
    const v1::Status& status = reply.has_get_reply()   ? reply.get_reply().status()
                               : reply.has_put_reply() ? reply.put_reply().status()
                                                       : reply.delete_reply().status();
    EXPECT_EQ(status.code(), v1::STATUS_INVALID_ARGUMENT) << request.ShortDebugString();
    EXPECT_NE(status.message().find("1 to 4096 bytes"), std::string::npos) << status.message();
  }
  EXPECT_TRUE(Call(DeleteRequest("")).has_delete_reply());  // The matching reply type.
}

TEST_P(KvServiceTest, KeyOverTheLimitNamesTheLimitAndTheSize) {
  const std::string longest(4096, 'k');
  EXPECT_EQ(Call(PutRequest(longest, "v")).put_reply().status().code(), v1::STATUS_OK);
  EXPECT_EQ(Call(GetRequest(longest)).get_reply().value(), "v");

  v1::Envelope reply = Call(PutRequest(longest + "k", "v"));
  EXPECT_EQ(reply.put_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(reply.put_reply().status().message(),
            "key of 4097 bytes is over the limit of 4096 bytes");
  EXPECT_FALSE(reply.put_reply().has_timestamp());
  EXPECT_EQ(Call(GetRequest(longest + "k")).get_reply().status().code(),
            v1::STATUS_INVALID_ARGUMENT);
}

TEST_P(KvServiceTest, ValueOverTheLimitNamesTheLimitTheSizeAndTheFlag) {
  Wiring wiring{GetParam(), 2, {}};
  wiring.service.max_value_bytes = 10;
  Build(wiring);
  EXPECT_EQ(Call(PutRequest("k", std::string(10, 'v'))).put_reply().status().code(), v1::STATUS_OK);
  v1::Envelope reply = Call(PutRequest("k", std::string(11, 'v')));
  EXPECT_EQ(reply.put_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(reply.put_reply().status().message(),
            "value of 11 bytes is over the limit of 10 bytes (--max-value-bytes)");
  EXPECT_EQ(Call(GetRequest("k")).get_reply().value(), std::string(10, 'v'));
}

TEST_P(KvServiceTest, ReplyTypesAndEmptyEnvelopesGetAnErrorReply) {
  v1::Envelope reply_body;
  reply_body.set_id(5);
  reply_body.mutable_put_reply()->mutable_status()->set_code(v1::STATUS_OK);
  v1::Envelope reply = Call(reply_body);
  EXPECT_EQ(reply.id(), 5u);
  ASSERT_TRUE(reply.has_error_reply());
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_NE(reply.error_reply().status().message().find("put_reply"), std::string::npos)
      << reply.error_reply().status().message();

  v1::Envelope empty;
  empty.set_id(6);
  reply = Call(empty);
  EXPECT_EQ(reply.id(), 6u);
  ASSERT_TRUE(reply.has_error_reply());
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_NE(reply.error_reply().status().message().find("carries nothing"), std::string::npos)
      << reply.error_reply().status().message();
}

TEST_P(KvServiceTest, RequestsAreCountedByOpAndStatusWithLatencies) {
  Call(PutRequest("a", "1"));
  Call(PutRequest("b", "2"));
  Call(GetRequest("a"));
  Call(GetRequest("absent"));
  Call(DeleteRequest(""));
  Call(v1::Envelope());
  const std::string m = Metrics();
  EXPECT_NE(m.find("dialkv_requests_total{op=\"put\",mode=\"ap\",status=\"OK\"} 2\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("dialkv_requests_total{op=\"get\",mode=\"ap\",status=\"OK\"} 1\n"),
            std::string::npos);
  EXPECT_NE(m.find("dialkv_requests_total{op=\"get\",mode=\"ap\",status=\"NOT_FOUND\"} 1\n"),
            std::string::npos);
  EXPECT_NE(
      m.find("dialkv_requests_total{op=\"delete\",mode=\"ap\",status=\"INVALID_ARGUMENT\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      m.find("dialkv_requests_total{op=\"invalid\",mode=\"cp\",status=\"INVALID_ARGUMENT\"} 1\n"),
      std::string::npos);
  EXPECT_NE(m.find("dialkv_request_duration_seconds_count{op=\"put\",mode=\"ap\"} 2\n"),
            std::string::npos);
  EXPECT_NE(
      m.find("dialkv_request_duration_seconds_bucket{op=\"get\",mode=\"ap\",le=\"+Inf\"} 2\n"),
      std::string::npos);
}

TEST_P(KvServiceTest, StorageErrorsKeepTheirCodeWithContext) {
  engine_.FailWith(Status::IOError("disk on fire"));
  v1::Envelope get = Call(GetRequest("k"));
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_IO_ERROR);
  EXPECT_EQ(get.get_reply().status().message(), "storage read failed: disk on fire");
  v1::Envelope put = Call(PutRequest("k", "v"));
  EXPECT_EQ(put.put_reply().status().code(), v1::STATUS_IO_ERROR);
  EXPECT_EQ(put.put_reply().status().message(),
            "storage write failed (it may have been applied): disk on fire");
  EXPECT_FALSE(put.put_reply().has_timestamp());
  engine_.FailWith(Status::Corruption("bad block"));
  EXPECT_EQ(Call(DeleteRequest("k")).delete_reply().status().code(), v1::STATUS_CORRUPTION);
  EXPECT_NE(Metrics().find("dialkv_requests_total{op=\"get\",mode=\"ap\",status=\"IO_ERROR\"} 1\n"),
            std::string::npos);
}

TEST_P(KvServiceTest, WriteBehindANewerStoredVersionRetriesAboveIt) {
  // A version from another node whose clock is 300 ms ahead (within the skew guard).
  const Version remote{"remote", Timestamp{static_cast<uint64_t>(kStartMs + 300) << 16, 9}, false};
  ASSERT_OK(engine_.inner().ApplyIfNewer("k", remote));
  v1::Envelope put = Call(PutRequest("k", "local"));
  ASSERT_EQ(put.put_reply().status().code(), v1::STATUS_OK);
  EXPECT_GT(Ts(put.put_reply().timestamp()), remote.timestamp);
  EXPECT_EQ(Call(GetRequest("k")).get_reply().value(), "local");
}

TEST_P(KvServiceTest, WriteBehindAVersionBeyondTheSkewGuardIsOrderedBeforeIt) {
  const Version wild{"wild", Timestamp{static_cast<uint64_t>(kStartMs + 3'600'000) << 16, 9},
                     false};
  ASSERT_OK(engine_.inner().ApplyIfNewer("k", wild));
  v1::Envelope put = Call(PutRequest("k", "local"));
  ASSERT_EQ(put.put_reply().status().code(), v1::STATUS_OK);
  EXPECT_LT(Ts(put.put_reply().timestamp()), wild.timestamp);
  EXPECT_EQ(Call(GetRequest("k")).get_reply().value(), "wild");
  EXPECT_LT(hlc_.Last(), wild.timestamp.hlc);  // The clock was not dragged along.
}

// A call that would run inline is not started once its deadline has passed.
TEST_P(KvServiceTest, CallsWhoseDeadlineAlreadyPassedAreNotStarted) {
  const Deadline past = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  std::optional<Result<Version>> written;
  std::optional<Result<Version>> read;
  auto write_op = local_->Write("k", "v", false, past);
  auto read_op = local_->Read("k", past);
  asio::co_spawn(io_, StoreResult(std::move(write_op), &written), asio::detached);
  asio::co_spawn(io_, StoreResult(std::move(read_op), &read), asio::detached);
  io_.run_for(kTestDeadline);
  ASSERT_TRUE(written.has_value() && read.has_value());
  ASSERT_CODE(*written, Code::kUnavailable);
  ASSERT_CODE(*read, Code::kTimeout);
  if (pool_ != nullptr) DrainStoragePool();
  ASSERT_CODE(engine_.inner().Get("k"), Code::kNotFound);
}

// Deadlines need a storage thread that can be blocked while the io thread keeps going.
class KvServiceDeadlineTest : public KvServiceTest {};
INSTANTIATE_TEST_SUITE_P(StorageCalls, KvServiceDeadlineTest, ::testing::Values(Offload::kAll),
                         OffloadName);

TEST_P(KvServiceDeadlineTest, ReadStuckInStorageAnswersTimeoutAtItsDeadline) {
  ASSERT_EQ(Call(PutRequest("k", "v")).put_reply().status().code(), v1::STATUS_OK);
  engine_.Close();
  const auto start = std::chrono::steady_clock::now();
  v1::Envelope get = Call(GetRequest("k", 100));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_TIMEOUT);
  EXPECT_EQ(get.get_reply().status().message(),
            "the read did not finish before its deadline (timeout 100 ms)");
  EXPECT_GE(elapsed, std::chrono::milliseconds(100));
  EXPECT_LT(elapsed, kTestDeadline / 2);
  engine_.Open();
  EXPECT_EQ(Call(GetRequest("k")).get_reply().value(), "v");  // The node keeps serving.
}

TEST_P(KvServiceDeadlineTest, WritesPastTheirDeadlineAnswerUnknownIfStartedElseUnavailable) {
  Wiring wiring{
      Offload::kAll, 1, {}};  // One storage thread: the second write queues behind the first.
  Build(wiring);
  engine_.Close();
  std::vector<v1::Envelope> requests;
  requests.push_back(PutRequest("started", "v", 100));
  requests.push_back(DeleteRequest("queued", 100));
  std::vector<v1::Envelope> replies = CallAll(std::move(requests));
  EXPECT_EQ(replies[0].put_reply().status().code(), v1::STATUS_UNKNOWN);
  EXPECT_EQ(replies[0].put_reply().status().message(),
            "the deadline passed while the write was in storage; it may have been applied "
            "(timeout 100 ms)");
  EXPECT_FALSE(replies[0].put_reply().has_timestamp());
  EXPECT_EQ(replies[1].delete_reply().status().code(), v1::STATUS_UNAVAILABLE);
  EXPECT_EQ(replies[1].delete_reply().status().message(),
            "the deadline passed before the write reached storage; it was not applied "
            "(timeout 100 ms)");

  engine_.Open();
  DrainStoragePool();
  // The started write completed in the background; the queued one never ran.
  EXPECT_OK(engine_.inner().Get("started"));
  ASSERT_CODE(engine_.inner().Get("queued"), Code::kNotFound);
  const std::string m = Metrics();
  EXPECT_NE(m.find("dialkv_requests_total{op=\"put\",mode=\"ap\",status=\"UNKNOWN\"} 1\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("dialkv_requests_total{op=\"delete\",mode=\"ap\",status=\"UNAVAILABLE\"} 1\n"),
            std::string::npos);
}

TEST_P(KvServiceDeadlineTest, ZeroTimeoutUsesTheServerDefault) {
  Wiring wiring{Offload::kAll, 2, {}};
  wiring.service.default_timeout_ms = 50;
  Build(wiring);
  engine_.Close();
  v1::Envelope get = Call(GetRequest("k", 0));
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_TIMEOUT);
  EXPECT_NE(get.get_reply().status().message().find("(timeout 50 ms)"), std::string::npos)
      << get.get_reply().status().message();
}

TEST_P(KvServiceDeadlineTest, ClientTimeoutsAreCappedAtTheServerMaximum) {
  Wiring wiring{Offload::kAll, 2, {}};
  wiring.service.max_timeout_ms = 50;
  Build(wiring);
  engine_.Close();
  v1::Envelope get = Call(GetRequest("k", 4'000'000'000u));
  EXPECT_EQ(get.get_reply().status().code(), v1::STATUS_TIMEOUT);
  EXPECT_NE(get.get_reply().status().message().find("(timeout 50 ms)"), std::string::npos)
      << get.get_reply().status().message();
}

}  // namespace
}  // namespace dialkv::api
