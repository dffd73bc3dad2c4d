#pragma once
// The network seam of the peer protocol. Replication and gossip reach other nodes only through
// Transport; production wires PeerTransport (peer_transport.h), tests wire an in-memory fake
// (tests/testutil/fake_transport.h) so a whole cluster can run in one thread.

#include <asio/awaitable.hpp>
#include <chrono>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "proto/dialkv.pb.h"

namespace dialkv::net {

using Deadline = std::chrono::steady_clock::time_point;

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends `request` (an Envelope carrying one peer request body) to `peer` and returns the
  // reply envelope, whatever status its body carries (a ReplicaReadReply saying NOT_FOUND is a
  // successful call). The transport sets the request's id and its PeerHeader (cluster, this
  // node, this node's hlc), and checks and folds in the reply's. Awaitable from any executor;
  // resumes on the caller's. Never waits past `deadline`.
  // Errors (never thrown):
  //   kUnavailable — `peer` is unknown or unreachable, the deadline passed before the request
  //                  could be sent (then it was not delivered), or the connection was lost (the
  //                  request may or may not have been delivered when it was lost after
  //                  sending), or the transport was stopped.
  //   kTimeout     — sent, and no reply before `deadline`; the request may have been delivered.
  //   kPermissionDenied — the peer belongs to another cluster.
  //   A reply whose body is an ErrorReply (the peer could not serve the request, e.g. it
  //   refused our header) comes back as that reply's status.
  // Callers must treat every error as "may have been delivered" unless they know otherwise.
  virtual asio::awaitable<Result<v1::Envelope>> Call(NodeId peer, v1::Envelope request,
                                                     Deadline deadline) = 0;

  // Whether `peer`'s latest reply said it serves PeerBatch requests (a node of an older release
  // does not), so a caller may send it one of its own. Any thread; false for an unknown peer,
  // or before any reply.
  virtual bool ServesBatches(NodeId /*peer*/) const { return false; }
};

}  // namespace dialkv::net
