#pragma once
// The replica protocol as replication speaks it: building ReplicaRead/ReplicaWrite requests and
// reading their replies (proto/dialkv.proto). Shared by the coordinator and the hint replayer;
// the serving side is PeerService.

#include <string_view>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "proto/dialkv.pb.h"

namespace dialkv::replication {

void ToProto(const Version& version, v1::Version* out);
Version FromProto(const v1::Version& version);

v1::Envelope ReplicaReadEnvelope(std::string_view key, bool timestamp_only);
v1::Envelope ReplicaWriteEnvelope(std::string_view key, const Version& version);

// The outcome of a ReplicaRead call, from what Transport::Call returned: the version, or
// kNotFound (the replica holds no version), or the transport's error, or the error the replica
// answered (an ErrorReply's status included). A reply of another type is kInternal.
Result<Version> ReplicaReadResult(Result<v1::Envelope> reply);

// The outcome of a ReplicaWrite call: OK when the replica holds the version or a newer one;
// otherwise the transport's or the replica's error.
Status ReplicaWriteResult(const Result<v1::Envelope>& reply);

// True only when the replica's skew guard refused the version (ReplicaWriteReply.clock_refused):
// the one refusal that sending again cannot fix, so no hint is kept for it. Any other error —
// an outage, a peer that could not parse the request, a storage failure — is not a refusal.
bool RefusedByClockGuard(const Result<v1::Envelope>& reply);

}  // namespace dialkv::replication
