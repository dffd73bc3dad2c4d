#include "server/replication/peer_service.h"

#include <gtest/gtest.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/common/clock.h"
#include "server/net/peer_header.h"
#include "server/replication/wire.h"
#include "tests/testutil/gated_engine.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::replication {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr NodeId kSelf = 1;
constexpr char kCluster[] = "prod";

uint64_t Hlc(int64_t ms) { return static_cast<uint64_t>(ms) << 16; }

asio::awaitable<void> StoreReply(asio::awaitable<v1::Envelope> op,
                                 std::optional<v1::Envelope>* out) {
  out->emplace(co_await std::move(op));
}

class PeerServiceTest : public ::testing::Test {
 protected:
  PeerServiceTest() {
    PeerService::Options options;
    options.cluster_name = kCluster;
    options.self = kSelf;
    service_ = std::make_unique<PeerService>(
        options, local_, hlc_, [](NodeId node) { return node >= 1 && node <= 3; },
        [this](const v1::GossipRequest& request) {
          gossip_seen_ = request.members_size();
          v1::GossipReply reply;
          reply.add_members()->set_node_id(kSelf);
          return reply;
        });
  }

  // `request` as node `from` of cluster `cluster` at `from_hlc` would send it.
  v1::Envelope Call(v1::Envelope request, NodeId from = 2, std::string cluster = kCluster,
                    uint64_t from_hlc = Hlc(kStartMs)) {
    request.set_id(77);
    request.mutable_peer()->set_cluster_name(cluster);
    request.mutable_peer()->set_node_id(from);
    request.mutable_peer()->set_hlc(from_hlc);
    std::optional<v1::Envelope> reply;
    asio::co_spawn(io_, StoreReply(service_->Handle(std::move(request)), &reply), asio::detached);
    io_.restart();
    io_.run_for(std::chrono::seconds(10));
    EXPECT_TRUE(reply.has_value());
    if (reply.has_value()) {
      EXPECT_EQ(reply->id(), 77u);
      EXPECT_EQ(reply->peer().cluster_name(), kCluster);
      EXPECT_EQ(reply->peer().node_id(), kSelf);
      EXPECT_GT(reply->peer().hlc(), 0u);
      EXPECT_TRUE(reply->peer().serves_batches()) << "every reply says batches are served";
    }
    return reply.value_or(v1::Envelope());
  }

  ManualClock clock_{kStartMs};
  HybridLogicalClock hlc_{clock_, kSelf, HybridLogicalClock::Options()};
  testutil::GatedEngine engine_;  // Counts storage writes (ApplyBatch).
  LocalReplica local_{LocalReplica::Options(), engine_, hlc_};
  std::unique_ptr<PeerService> service_;
  int gossip_seen_ = -1;
  asio::io_context io_;
};

TEST_F(PeerServiceTest, ServesReplicaWritesAndReadsAndStampsItsHeader) {
  const Version v{"value", Timestamp{Hlc(kStartMs), 2}, false};
  v1::Envelope written = Call(ReplicaWriteEnvelope("k", v));
  ASSERT_TRUE(written.has_replica_write_reply());
  EXPECT_EQ(written.replica_write_reply().status().code(), v1::STATUS_OK);
  // An older version is acknowledged too: the replica holds a newer one.
  const Version older{"older", Timestamp{Hlc(kStartMs - 1), 3}, false};
  EXPECT_EQ(Call(ReplicaWriteEnvelope("k", older)).replica_write_reply().status().code(),
            v1::STATUS_OK);
  EXPECT_EQ(*engine_.Get("k"), v);

  v1::Envelope read = Call(ReplicaReadEnvelope("k", false));
  ASSERT_OK(ReplicaReadResult(read));
  EXPECT_EQ(*ReplicaReadResult(read), v);
  v1::Envelope ts_only = Call(ReplicaReadEnvelope("k", true));
  ASSERT_OK(ReplicaReadResult(ts_only));
  EXPECT_EQ(ReplicaReadResult(ts_only)->value, "") << "timestamp_only leaves the value empty";
  EXPECT_EQ(ReplicaReadResult(ts_only)->timestamp, v.timestamp);
  ASSERT_CODE(ReplicaReadResult(Call(ReplicaReadEnvelope("absent", true))), Code::kNotFound);
}

TEST_F(PeerServiceTest, RefusesAVersionBeyondTheSkewGuard) {
  const Version wild{"wild", Timestamp{Hlc(kStartMs + 3'600'000), 2}, false};
  v1::Envelope reply = Call(ReplicaWriteEnvelope("k", wild));
  EXPECT_EQ(reply.replica_write_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  ASSERT_CODE(engine_.Get("k"), Code::kNotFound);
}

TEST_F(PeerServiceTest, FoldsTheSendersHlcButNotOneBeyondTheGuard) {
  Call(ReplicaReadEnvelope("k", true), 2, kCluster, Hlc(kStartMs + 400));
  EXPECT_GE(hlc_.Last(), Hlc(kStartMs + 400));
  Call(ReplicaReadEnvelope("k", true), 2, kCluster, Hlc(kStartMs + 3'600'000));
  EXPECT_LT(hlc_.Last(), Hlc(kStartMs + 1000));
}

TEST_F(PeerServiceTest, RefusesAnotherClusterAndUnknownNodesWithAnErrorReply) {
  v1::Envelope other = Call(ReplicaReadEnvelope("k", true), 2, "staging");
  ASSERT_TRUE(other.has_error_reply());
  EXPECT_EQ(other.error_reply().status().code(), v1::STATUS_PERMISSION_DENIED);
  v1::Envelope stranger = Call(ReplicaReadEnvelope("k", true), 9);
  ASSERT_TRUE(stranger.has_error_reply());
  EXPECT_EQ(stranger.error_reply().status().code(), v1::STATUS_PERMISSION_DENIED);
  EXPECT_LT(hlc_.Last(), Hlc(kStartMs) + 10) << "a refused message's clock is not folded";
}

TEST_F(PeerServiceTest, RefusesClientPortRequestsAndRepliesWithAnErrorReply) {
  v1::Envelope get;
  get.mutable_get_request()->set_key("k");
  v1::Envelope reply = Call(get);
  ASSERT_TRUE(reply.has_error_reply());
  EXPECT_EQ(reply.error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_NE(reply.error_reply().status().message().find("get_request"), std::string::npos);
  v1::Envelope ack;
  ack.mutable_replica_write_reply();
  EXPECT_EQ(Call(ack).error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(Call(v1::Envelope()).error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
}

TEST_F(PeerServiceTest, RefusesMalformedReplicaWrites) {
  Version no_ts{"v", Timestamp{}, false};
  EXPECT_EQ(Call(ReplicaWriteEnvelope("k", no_ts)).replica_write_reply().status().code(),
            v1::STATUS_INVALID_ARGUMENT);
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  EXPECT_EQ(Call(ReplicaWriteEnvelope("", v)).replica_write_reply().status().code(),
            v1::STATUS_INVALID_ARGUMENT);
  const Version bad_tombstone{"v", Timestamp{Hlc(kStartMs), 2}, true};
  EXPECT_EQ(Call(ReplicaWriteEnvelope("k", bad_tombstone)).replica_write_reply().status().code(),
            v1::STATUS_INVALID_ARGUMENT);
  ASSERT_CODE(engine_.Get("k"), Code::kNotFound);
}

TEST_F(PeerServiceTest, GossipGoesToTheInjectedHandler) {
  v1::Envelope gossip;
  gossip.mutable_gossip_request()->add_members()->set_node_id(2);
  v1::Envelope reply = Call(gossip);
  ASSERT_TRUE(reply.has_gossip_reply());
  EXPECT_EQ(gossip_seen_, 1);
  EXPECT_EQ(reply.gossip_reply().members(0).node_id(), kSelf);
}

v1::Envelope Item(uint64_t id, v1::Envelope body) {
  body.set_id(id);
  return body;
}

v1::Envelope Batch(std::vector<v1::Envelope> items) {
  v1::Envelope batch;
  for (v1::Envelope& item : items)
    *batch.mutable_peer_batch_request()->add_items() = std::move(item);
  return batch;
}

// The items of a batch reply by id.
std::map<uint64_t, v1::Envelope> ItemsOf(const v1::Envelope& reply) {
  std::map<uint64_t, v1::Envelope> items;
  for (const v1::Envelope& item : reply.peer_batch_reply().items()) items.emplace(item.id(), item);
  return items;
}

TEST_F(PeerServiceTest, ServesABatchWithAReplyPerItemAndItsWritesInOneStorageWrite) {
  const Version stored{"stored", Timestamp{Hlc(kStartMs), 3}, false};
  ASSERT_OK(engine_.inner().ApplyIfNewer("r", stored));
  const Version a{"a", Timestamp{Hlc(kStartMs + 1), 2}, false};
  const Version b{"b", Timestamp{Hlc(kStartMs + 2), 2}, false};
  const Version timeless{"t", Timestamp{}, false};
  v1::GossipRequest gossip;
  gossip.add_members()->set_node_id(2);
  v1::Envelope gossip_request;
  *gossip_request.mutable_gossip_request() = gossip;
  std::vector<v1::Envelope> items;
  items.push_back(Item(11, ReplicaWriteEnvelope("a", a)));
  items.push_back(Item(12, ReplicaReadEnvelope("r", false)));
  items.push_back(Item(13, ReplicaWriteEnvelope("b", b)));
  items.push_back(Item(14, ReplicaWriteEnvelope("t", timeless)));  // Refused on its own.
  items.push_back(Item(15, std::move(gossip_request)));
  v1::Envelope digests;
  digests.mutable_ae_digests_request();
  items.push_back(Item(16, std::move(digests)));  // Anti-entropy goes alone, not in batches.
  const v1::Envelope reply = Call(Batch(std::move(items)));
  ASSERT_TRUE(reply.has_peer_batch_reply());
  std::map<uint64_t, v1::Envelope> answers = ItemsOf(reply);
  ASSERT_EQ(answers.size(), 6u);
  EXPECT_EQ(answers[11].replica_write_reply().status().code(), v1::STATUS_OK);
  ASSERT_OK(ReplicaReadResult(answers[12]));
  EXPECT_EQ(*ReplicaReadResult(answers[12]), stored);
  EXPECT_EQ(answers[13].replica_write_reply().status().code(), v1::STATUS_OK);
  EXPECT_EQ(answers[14].replica_write_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_EQ(answers[15].gossip_reply().members_size(), 1);
  EXPECT_EQ(gossip_seen_, 1);
  ASSERT_TRUE(answers[16].has_error_reply());
  EXPECT_EQ(answers[16].error_reply().status().code(), v1::STATUS_INVALID_ARGUMENT);
  EXPECT_FALSE(answers[11].has_peer()) << "the batch's header stands for its items";
  EXPECT_EQ(engine_.batch_sizes(), (std::vector<size_t>{2})) << "both valid writes, one write";
  EXPECT_EQ(*engine_.Get("a"), a);
  EXPECT_EQ(*engine_.Get("b"), b);
  ASSERT_CODE(engine_.Get("t"), Code::kNotFound);
}

// Each caller of a refused batch learns the refusal from its own item.
TEST_F(PeerServiceTest, RefusesEveryItemOfABatchFromAnotherCluster) {
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  std::vector<v1::Envelope> items;
  items.push_back(Item(21, ReplicaWriteEnvelope("k", v)));
  items.push_back(Item(22, ReplicaReadEnvelope("k", true)));
  const v1::Envelope reply = Call(Batch(std::move(items)), 2, "staging");
  std::map<uint64_t, v1::Envelope> answers = ItemsOf(reply);
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& [id, answer] : answers) {
    ASSERT_TRUE(answer.has_error_reply()) << id;
    EXPECT_EQ(answer.error_reply().status().code(), v1::STATUS_PERMISSION_DENIED);
  }
  ASSERT_CODE(engine_.Get("k"), Code::kNotFound);
}

// A batch's write that storage failed fails on its own item; so does every write of that
// storage write, each saying it may have been applied.
TEST_F(PeerServiceTest, AFailedStorageWriteFailsEveryWriteItemOfTheBatch) {
  engine_.FailWith(Status::IOError("the disk went away"));
  const Version v{"v", Timestamp{Hlc(kStartMs), 2}, false};
  std::vector<v1::Envelope> items;
  for (uint64_t id = 1; id <= 3; ++id) {
    items.push_back(Item(id, ReplicaWriteEnvelope("k" + std::to_string(id), v)));
  }
  std::map<uint64_t, v1::Envelope> answers = ItemsOf(Call(Batch(std::move(items))));
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& [id, answer] : answers) {
    EXPECT_EQ(answer.replica_write_reply().status().code(), v1::STATUS_IO_ERROR) << id;
    EXPECT_FALSE(answer.replica_write_reply().clock_refused());
  }
}

}  // namespace
}  // namespace dialkv::replication
