#include "server/replication/wire.h"

#include <string>
#include <utility>

#include "server/net/frame.h"

namespace dialkv::replication {
namespace {

// The status of an ErrorReply, or kInternal naming the unexpected body.
Status UnexpectedReply(const v1::Envelope& reply, std::string_view expected) {
  if (reply.has_error_reply()) {
    Status s = net::FromProto(reply.error_reply().status());
    if (!s.ok()) return s;
  }
  return Status::Internal("the peer answered a " + std::string(expected) +
                          " with an unexpected message (body case " +
                          std::to_string(static_cast<int>(reply.body_case())) + ")");
}

}  // namespace

void ToProto(const Version& version, v1::Version* out) {
  out->set_value(version.value);
  net::ToProto(version.timestamp, out->mutable_timestamp());
  out->set_tombstone(version.tombstone);
}

Version FromProto(const v1::Version& version) {
  return Version{version.value(), net::FromProto(version.timestamp()), version.tombstone()};
}

v1::Envelope ReplicaReadEnvelope(std::string_view key, bool timestamp_only) {
  v1::Envelope envelope;
  v1::ReplicaReadRequest* request = envelope.mutable_replica_read_request();
  request->set_key(std::string(key));
  request->set_timestamp_only(timestamp_only);
  return envelope;
}

v1::Envelope ReplicaWriteEnvelope(std::string_view key, const Version& version) {
  v1::Envelope envelope;
  v1::ReplicaWriteRequest* request = envelope.mutable_replica_write_request();
  request->set_key(std::string(key));
  ToProto(version, request->mutable_version());
  return envelope;
}

Result<Version> ReplicaReadResult(Result<v1::Envelope> reply) {
  if (!reply.ok()) return reply.status();
  v1::Envelope& envelope = *reply;
  if (!envelope.has_replica_read_reply()) return UnexpectedReply(envelope, "replica read");
  v1::ReplicaReadReply* read = envelope.mutable_replica_read_reply();
  Status status = net::FromProto(read->status());
  if (!status.ok()) return status;
  Version version;
  version.value = std::move(*read->mutable_version()->mutable_value());
  version.timestamp = net::FromProto(read->version().timestamp());
  version.tombstone = read->version().tombstone();
  return version;
}

Status ReplicaWriteResult(const Result<v1::Envelope>& reply) {
  if (!reply.ok()) return reply.status();
  if (!reply->has_replica_write_reply()) return UnexpectedReply(*reply, "replica write");
  return net::FromProto(reply->replica_write_reply().status());
}

bool RefusedByClockGuard(const Result<v1::Envelope>& reply) {
  return reply.ok() && reply->has_replica_write_reply() &&
         reply->replica_write_reply().clock_refused() &&
         reply->replica_write_reply().status().code() != v1::STATUS_OK;
}

}  // namespace dialkv::replication
