#include "server/replication/peer_service.h"

#include <google/protobuf/descriptor.h>

#include <utility>
#include <vector>

#include "server/common/hash.h"
#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/frame.h"
#include "server/net/listener.h"
#include "server/net/peer_header.h"
#include "server/replication/wire.h"

namespace dialkv::replication {
namespace {

// Caused by other processes: rate-limited.
LogLimiter refused_log_limiter(std::chrono::seconds(1));
LogLimiter clock_log_limiter(std::chrono::seconds(1));

void SetError(const Status& status, v1::Envelope* reply) {
  net::ToProto(status, reply->mutable_error_reply()->mutable_status());
}

// The version a replica write carries, its value moved out of the request, not copied.
Version TakeVersion(v1::Version* version) {
  return Version{std::move(*version->mutable_value()), net::FromProto(version->timestamp()),
                 version->tombstone()};
}

// "get_request": the name of the envelope's body field, for error messages.
std::string BodyName(const v1::Envelope& envelope) {
  const google::protobuf::FieldDescriptor* field =
      v1::Envelope::descriptor()->FindFieldByNumber(static_cast<int>(envelope.body_case()));
  return field != nullptr ? field->name() : "an unknown body";
}

}  // namespace

PeerService::PeerService(Options options, LocalReplica& local, HybridLogicalClock& hlc,
                         std::function<bool(NodeId)> is_member, GossipHandler gossip)
    : options_(std::move(options)),
      local_(local),
      hlc_(hlc),
      is_member_(std::move(is_member)),
      gossip_(std::move(gossip)) {}

Deadline PeerService::OpDeadline() const {
  return std::chrono::steady_clock::now() +
         std::chrono::milliseconds(options_.replica_op_timeout_ms);
}

asio::awaitable<v1::Envelope> PeerService::Handle(v1::Envelope request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  const NodeId from = request.peer().node_id();
  if (Status header = net::CheckPeerHeader(request, options_.cluster_name, is_member_);
      !header.ok()) {
    uint64_t suppressed = 0;
    if (refused_log_limiter.Allow(&suppressed)) {
      Log(Subsystem::kRepl)
          .warn("node={} refused a peer message claiming node {}: {}{}", options_.self, from,
                header.ToString(), LogLimiter::SuppressedNote(suppressed));
    }
    if (request.has_peer_batch_request()) {
      // Every item's caller waits for its own answer.
      v1::PeerBatch* items = reply.mutable_peer_batch_reply();
      for (const v1::Envelope& item : request.peer_batch_request().items()) {
        v1::Envelope* answer = items->add_items();
        answer->set_id(item.id());
        SetError(header, answer);
      }
    } else {
      SetError(header, &reply);
    }
  } else {
    if (Status folded = hlc_.Observe(request.peer().hlc()); !folded.ok()) {
      // Served all the same: the versions it carries face the guard on their own.
      uint64_t suppressed = 0;
      if (clock_log_limiter.Allow(&suppressed)) {
        Log(Subsystem::kRepl)
            .warn("node={} from={} message hlc not folded into this node's clock: {}{}",
                  options_.self, from, folded.message(), LogLimiter::SuppressedNote(suppressed));
      }
    }
    switch (request.body_case()) {
      case v1::Envelope::kReplicaReadRequest:
        co_await ServeRead(from, std::move(*request.mutable_replica_read_request()),
                           reply.mutable_replica_read_reply());
        break;
      case v1::Envelope::kReplicaWriteRequest:
        co_await ServeWrite(from, std::move(*request.mutable_replica_write_request()),
                            reply.mutable_replica_write_reply());
        break;
      case v1::Envelope::kPeerBatchRequest:
        co_await ServeBatch(from, std::move(*request.mutable_peer_batch_request()),
                            reply.mutable_peer_batch_reply());
        break;
      case v1::Envelope::kGossipRequest:
        if (gossip_) {
          *reply.mutable_gossip_reply() = gossip_(request.gossip_request());
        } else {
          SetError(Status::Unavailable("gossip is not served by this node"), &reply);
        }
        break;
      case v1::Envelope::kAeDigestsRequest:
      case v1::Envelope::kAeBucketsRequest:
      case v1::Envelope::kAeKeysRequest:
      case v1::Envelope::kAePushRequest:
      case v1::Envelope::kAePullRequest:
        if (anti_entropy_) {
          v1::Envelope served = co_await anti_entropy_(from, std::move(request));
          served.set_id(reply.id());
          reply = std::move(served);
        } else {
          SetError(Status::Unavailable("anti-entropy is not served by this node"), &reply);
        }
        break;
      case v1::Envelope::BODY_NOT_SET:
        SetError(Status::InvalidArgument("the peer message carries no request"), &reply);
        break;
      default:
        SetError(Status::InvalidArgument(BodyName(request) +
                                         " is not served on the peer port (client requests go "
                                         "to the client port; replies are not requests)"),
                 &reply);
        break;
    }
  }
  net::StampPeerHeader(&reply, options_.cluster_name, options_.self, hlc_);
  reply.mutable_peer()->set_serves_batches(true);
  co_return reply;
}

asio::awaitable<void> PeerService::ServeBatch(NodeId from, v1::PeerBatch batch,
                                              v1::PeerBatch* reply) {
  std::vector<LocalReplica::KeyedWrite> writes;
  std::vector<v1::ReplicaWriteReply*> write_replies;  // Point into `reply`'s items, which stay.
  for (v1::Envelope& item : *batch.mutable_items()) {
    v1::Envelope* answer = reply->add_items();
    answer->set_id(item.id());
    switch (item.body_case()) {
      case v1::Envelope::kReplicaReadRequest:
        co_await ServeRead(from, std::move(*item.mutable_replica_read_request()),
                           answer->mutable_replica_read_reply());
        break;
      case v1::Envelope::kReplicaWriteRequest: {
        v1::ReplicaWriteRequest& request = *item.mutable_replica_write_request();
        if (Status invalid = CheckWrite(request); !invalid.ok()) {
          net::ToProto(invalid, answer->mutable_replica_write_reply()->mutable_status());
          break;
        }
        writes.push_back(
            {std::move(*request.mutable_key()), TakeVersion(request.mutable_version())});
        write_replies.push_back(answer->mutable_replica_write_reply());
        break;
      }
      case v1::Envelope::kGossipRequest:
        if (gossip_) {
          *answer->mutable_gossip_reply() = gossip_(item.gossip_request());
        } else {
          SetError(Status::Unavailable("gossip is not served by this node"), answer);
        }
        break;
      default:
        SetError(Status::InvalidArgument(BodyName(item) +
                                         " is not served in a peer batch (replica reads and "
                                         "writes and gossip are)"),
                 answer);
        break;
    }
  }
  if (writes.empty()) co_return;
  // Keys only for the debug lines of failed writes, which a Release build compiles out.
  std::vector<std::string> keys;
  if (kDebugLogCompiledIn) {
    for (const LocalReplica::KeyedWrite& write : writes) keys.push_back(write.key);
  }
  std::vector<Result<storage::ApplyOutcome>> applied =
      co_await local_.ApplyAll(std::move(writes), OpDeadline());
  for (size_t i = 0; i < applied.size(); ++i) {
    AnswerWrite(from, keys.empty() ? std::string_view() : std::string_view(keys[i]), applied[i],
                write_replies[i]);
  }
}

Status PeerService::CheckKey(std::string_view what, const std::string& key) const {
  Status invalid;
  if (key.empty()) {
    invalid = Status::InvalidArgument(std::string(what) + " of an empty key");
  } else if (key.size() > options_.max_key_bytes) {
    invalid = Status::InvalidArgument(std::string(what) + " of a " + std::to_string(key.size()) +
                                      "-byte key, over the limit of " +
                                      std::to_string(options_.max_key_bytes) + " bytes");
  }
  if (!invalid.ok() && options_.invalid_requests != nullptr) options_.invalid_requests->Inc();
  return invalid;
}

// `from` is only in debug lines, which a Release build compiles out.
asio::awaitable<void> PeerService::ServeRead([[maybe_unused]] NodeId from,
                                             v1::ReplicaReadRequest request,
                                             v1::ReplicaReadReply* reply) {
  if (Status invalid = CheckKey("replica read", request.key()); !invalid.ok()) {
    net::ToProto(invalid, reply->mutable_status());
    co_return;
  }
  const bool timestamp_only = request.timestamp_only();
  Result<Version> read =
      co_await local_.Read(std::move(*request.mutable_key()), OpDeadline(), timestamp_only);
  if (!read.ok()) {
    if (!read.status().IsNotFound()) {
      DIALKV_LOG_DEBUG(Log(Subsystem::kRepl), "node={} from={} replica read failed: {}",
                       options_.self, from, read.status().ToString());
    }
    net::ToProto(read.status(), reply->mutable_status());
    co_return;
  }
  if (timestamp_only) read->value.clear();
  ToProto(*read, reply->mutable_version());
  reply->mutable_status()->set_code(v1::STATUS_OK);
}

Status PeerService::CheckWrite(const v1::ReplicaWriteRequest& request) const {
  Status invalid = CheckKey("replica write", request.key());  // Counted there.
  if (!invalid.ok()) return invalid;
  const v1::Version& version = request.version();
  if (version.value().size() > options_.max_value_bytes) {
    invalid =
        Status::InvalidArgument("replica write of a " + std::to_string(version.value().size()) +
                                "-byte value, over this node's --max-value-bytes " +
                                std::to_string(options_.max_value_bytes));
  } else if (net::FromProto(version.timestamp()).IsZero()) {
    invalid = Status::InvalidArgument("replica write without a timestamp");
  } else if (version.tombstone() && !version.value().empty()) {
    invalid = Status::InvalidArgument("replica write of a tombstone that carries a value");
  }
  if (!invalid.ok() && options_.invalid_requests != nullptr) options_.invalid_requests->Inc();
  return invalid;
}

// `from` and `key` are only in debug lines, which a Release build compiles out.
void PeerService::AnswerWrite([[maybe_unused]] NodeId from, [[maybe_unused]] std::string_view key,
                              const Result<storage::ApplyOutcome>& applied,
                              v1::ReplicaWriteReply* reply) const {
  if (!applied.ok()) {
    DIALKV_LOG_DEBUG(Log(Subsystem::kRepl),
                     "node={} from={} key_hash={:016x} replica write failed: {}", options_.self,
                     from, KeyHash(key), applied.status().ToString());
    net::ToProto(applied.status(), reply->mutable_status());
    // LocalReplica::Apply answers kInvalidArgument only for its skew guard.
    reply->set_clock_refused(applied.code() == Code::kInvalidArgument);
    return;
  }
  // Applied or superseded: either way this replica now holds that version or a newer one.
  reply->mutable_status()->set_code(v1::STATUS_OK);
}

asio::awaitable<void> PeerService::ServeWrite(NodeId from, v1::ReplicaWriteRequest request,
                                              v1::ReplicaWriteReply* reply) {
  if (Status invalid = CheckWrite(request); !invalid.ok()) {
    net::ToProto(invalid, reply->mutable_status());
    co_return;
  }
  Version version = TakeVersion(request.mutable_version());
  // Only for the debug line (the key is moved into Apply): not copied where it is compiled out.
  const std::string key = kDebugLogCompiledIn ? request.key() : std::string();
  Result<storage::ApplyOutcome> applied =
      co_await local_.Apply(std::move(*request.mutable_key()), std::move(version), OpDeadline());
  AnswerWrite(from, key, applied, reply);
}

}  // namespace dialkv::replication
