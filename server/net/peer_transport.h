#pragma once
// The production Transport (transport.h): peer requests over TCP to the other nodes' peer
// ports, in the frame protocol of the client port (frame.h), with a PeerHeader on every
// message (peer_header.h).
//
// One persistent connection per peer, opened at the first call and shared by every call to
// that peer (many requests in flight, replies matched by id). Each peer's connection lives on
// one io_context of the pool, fixed at construction; Call() may be awaited from any executor:
// it hops to the peer's io_context and resumes on the caller's. A lost connection is reopened
// by the next call. Failed connection attempts are spaced out by an exponential backoff
// (backoff_initial_ms, doubling up to backoff_max_ms); during a pause, calls to that peer fail
// at once with kUnavailable, so a dead peer costs one attempt per pause, not a connect timeout
// per call. Every wait of a call ends at its deadline.
//
// Batching (docs/architecture.md, "Batches"): once the peer's replies on the open connection
// say it serves batches, the requests with small replies (replica writes, timestamp reads,
// gossip) queued for it in one pass of its io_context go out as one PeerBatch frame, with one
// header; each call still gets its own reply, error and deadline. A request whose deadline
// passed while it waited for the flush is not sent (kUnavailable), and a batch lost with its
// connection fails each of its calls as a lost single request does (may have been delivered).
//
// The transport stamps each request's header (this node's cluster, id and hlc) and checks
// each reply's: a reply from another cluster, or from a node other than the one --peers names
// at that address, is refused; the reply's hlc is folded into this node's clock unless it is
// beyond the skew guard (then it is logged, rate-limited, on the "net" logger, and the reply
// is still returned). It does not serve the peer port: the peer service does, with
// CheckPeerHeader.
//
// Fault injection: with Options::faults, every outbound request and every inbound reply is
// judged by the FaultInjector (fault_injector.h) in one place, the RoundTrip of a peer's link
// (peer_transport.cc), each request of a batch on its own, before it joins the batch. A request or
// reply it loses makes the call wait for its deadline and fail with kTimeout, exactly like a
// message lost by the network; a delayed request is held before it is sent (past the deadline, it
// is not sent: kTimeout too).
//
// Metrics (when a registry is given), labelled by peer id:
//   dialkv_peer_calls_total{peer,outcome}          outcome: "ok" or the error ("unavailable",
//                                                  "timeout", "permission_denied", ...)
//   dialkv_peer_connect_attempts_total{peer}       connection attempts started
//   dialkv_peer_connect_failures_total{peer}       attempts that failed
//   dialkv_peer_batches_total{peer}                batch frames sent
//   dialkv_peer_batched_requests_total{peer}       requests they carried
//
// Thread-safe: Call() and Stop() may be called from any thread. Lifetime: call Stop(), then
// stop and join the pool, then destroy the transport, then the pool (docs/architecture.md,
// "Shutdown order"); the connections' coroutines use the transport until the pool's threads
// have exited.

#include <asio/awaitable.hpp>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "proto/dialkv.pb.h"
#include "server/common/hlc.h"
#include "server/common/metrics.h"
#include "server/net/fault_injector.h"
#include "server/net/frame.h"
#include "server/net/io_pool.h"
#include "server/net/peer_auth.h"
#include "server/net/stream.h"
#include "server/net/transport.h"

namespace dialkv::net {

class PeerTransport final : public Transport {
 public:
  struct Options {
    NodeId self = 0;           // This node's id, stamped on every request.
    std::string cluster_name;  // Stamped on every request; replies must carry the same.
    // Every other node: id -> "host:port" (or "[ipv6]:port") of its peer port, as in --peers.
    // REQUIRES: self is not a key.
    std::map<NodeId, std::string> peers;
    // One connection attempt gives up after this long (a call's deadline may end its wait
    // sooner; the attempt then goes on for later calls). Loopback and LAN connects take well
    // under a millisecond; a higher value only delays noticing a black-holed peer.
    uint32_t connect_timeout_ms = 500;
    // After a failed attempt, calls to that peer fail fast for backoff_initial_ms; each further
    // consecutive failure doubles the pause, up to backoff_max_ms. A successful attempt resets
    // it. Lower: a restarted peer is reached sooner; higher: fewer futile attempts while it is
    // down. 0 for backoff_initial_ms disables the backoff (every call may attempt).
    uint32_t backoff_initial_ms = 50;
    uint32_t backoff_max_ms = 2000;
    // A peer connection whose sent bytes stay unacknowledged this long is closed and opened
    // anew, resolving the peer's host again (Connection::Options::unacked_timeout_ms): a peer
    // that came back at another address is reached again within this time. Heartbeats keep
    // bytes in flight, so a silent peer is noticed even while idle. Never triggered by
    // fault injection, which drops messages above TCP. Its cost: a peer alive but not reading
    // for this long (its window stays closed) also loses the connection and the calls on it,
    // which then end as for any lost connection (UNKNOWN or a hint, never UNAVAILABLE).
    // 0: the kernel default (minutes).
    uint32_t unacked_timeout_ms = 5000;
    // Calls to one peer awaiting their replies at once; a call beyond is refused before it is
    // sent (kOverloaded). A peer cut off by a black-holing partition leaves every call to it
    // waiting for its deadline; this keeps those from taking every replica-call slot of the
    // coordinator (Coordinator::Options::max_replica_calls_in_flight, 10,000), which would
    // refuse requests the other peers could serve. 0: unbounded.
    uint32_t max_calls_per_peer = 4000;
    // Requests over this are refused before sending (kInvalidArgument); replies over it close
    // the connection. Must not exceed the peers' --max-frame-bytes.
    uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
    // Judges every request and reply when set (--enable-fault-injection). Not owned; must
    // outlive the transport.
    FaultInjector* faults = nullptr;
    // When set (--cluster-secret-file), every connection authenticates before its first call
    // (peer_auth.h); a failed handshake fails the attempt like a refused connection. Not
    // owned; must outlive the transport.
    const PeerAuthenticator* authenticator = nullptr;
    // When set (--peer-tls-ca/-cert/-key), every connection runs mutual TLS first: the peer's
    // certificate must chain to the cluster's CA and name the host dialled.
    std::shared_ptr<TlsContext> tls = nullptr;
  };

  // Validates `options` and sets up (without connecting) one connection per peer.
  // `pool` and `hlc` are not owned and must outlive the transport; so must `metrics`, which
  // may be null (then nothing is counted).
  // Errors: kInvalidArgument naming the option to fix (an empty cluster name, self among the
  // peers, a peer address that is not host:port, a zero timeout or frame limit, or
  // backoff_initial_ms > backoff_max_ms).
  static Result<std::unique_ptr<PeerTransport>> Create(IoContextPool& pool, HybridLogicalClock& hlc,
                                                       Options options,
                                                       metrics::Registry* metrics = nullptr);

  // REQUIRES: the pool's threads have been joined (or never started), and the pool is alive.
  ~PeerTransport() override;
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // See Transport::Call. Sets the request's id and PeerHeader.
  // Errors (never thrown):
  //   kUnavailable — `peer` is not in Options::peers; it cannot be connected to (now, or,
  //                  during a backoff pause, recently: the message says the last error and
  //                  when the next attempt is); the deadline passed before the request could
  //                  be sent (not delivered); the connection was lost after sending (may have
  //                  been delivered); or Stop() was called.
  //   kTimeout     — sent, and no reply before `deadline` (may have been delivered).
  //   kPermissionDenied — the reply came from another cluster, or from a node other than
  //                  `peer` (--peers names the wrong address).
  //   kInvalidArgument — the request is over max_frame_bytes (not sent).
  //   A reply whose body is an ErrorReply (the peer could not serve the request) returns that
  //   reply's status, its message prefixed with the peer.
  //   kInternal    — the reply carries no PeerHeader (the address is not a peer port).
  asio::awaitable<Result<v1::Envelope>> Call(NodeId peer, v1::Envelope request,
                                             Deadline deadline) override;

  // See Transport::ServesBatches.
  bool ServesBatches(NodeId peer) const override;

  // Tells the transport that `peer` is reachable again (its gossip reached this node), so the
  // next call to it connects at once instead of waiting out a backoff pause that grew while it
  // was down. Thread-safe; returns without waiting. Unknown peers are ignored.
  void PeerIsBack(NodeId peer);

  // Closes every connection: calls in flight fail with kUnavailable (their requests may have
  // been delivered), and every later call fails with kUnavailable. Returns without waiting
  // (the closes run on the connections' io_contexts, which must still be running for pending
  // calls to be failed). Thread-safe and idempotent.
  void Stop();

 private:
  class Link;

  PeerTransport(HybridLogicalClock& hlc, Options options);

  HybridLogicalClock& hlc_;
  const Options options_;
  std::map<NodeId, std::unique_ptr<Link>> links_;  // Immutable after Create().
  std::atomic<bool> stopped_{false};
};

}  // namespace dialkv::net
