#pragma once
// Mutual authentication of peer connections with a secret every node of the cluster shares
// (--cluster-secret-file). Whoever can reach a peer port without the secret can neither store,
// read or delete a key nor touch anyone's membership: no other message of the connection is
// read before the handshake succeeds, and afterwards every message must name the node that
// authenticated (PeerService refuses the rest).
//
// The handshake (proto/dialkv.proto, PeerAuth*), dialer D to acceptor A:
//   D -> A  hello      {cluster, D, A, nonce_d}
//   A -> D  challenge  {A, nonce_a, proof_a}
//   D -> A  proof      {proof_d}
//   A -> D  ok
// proof_x = HMAC-SHA256(secret, "dialkv peer auth v1", role of x, cluster, D, A, nonce_d,
// nonce_a), each field length-prefixed. The role keeps one side's proof from serving as the
// other's (no reflection); the acceptor's fresh nonce makes a recorded transcript worthless
// (no replay); binding both ids means a proof for one pair of nodes is no proof for another.
// The acceptor refuses a dialer that is not in its --peers or claims the acceptor's own id;
// the dialer refuses an acceptor that is not the node it dialed. Proofs are compared in
// constant time. A refusal is answered with an ErrorReply saying what to fix (the secrets
// differ; the node is not a member), never with anything derived from the secret.
//
// Thread-safe: const after construction.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "server/common/secret_file.h"
#include "server/net/frame_reader.h"
#include "server/net/frame_server.h"
#include "server/net/stream.h"

namespace dialkv::net {

class PeerAuthenticator {
 public:
  static constexpr size_t kNonceBytes = 32;

  struct Options {
    std::string cluster_name;
    NodeId self = 0;
    std::string secret;                     // At least kMinSecretFileBytes (common/secret_file.h).
    std::function<bool(NodeId)> is_member;  // Whether a node id is in this node's --peers.
    uint32_t timeout_ms = 5000;             // For the whole handshake, each side.
  };

  // REQUIRES: options.secret.size() >= kMinSecretFileBytes (common/secret_file.h) and
  // options.is_member set.
  explicit PeerAuthenticator(Options options);

  // The dialing side, on a socket just connected to `peer`'s peer port. Reads with `reader`,
  // which the connection goes on using. Errors: kUnauthenticated (the peer did not prove it
  // holds the secret, or refused our proof: the message says which and what to check);
  // kUnavailable (the connection failed or the handshake timed out).
  asio::awaitable<Status> Dial(Stream& stream, FrameReader& reader, NodeId peer) const;

  // The accepting side, on a socket just accepted on the peer port. Returns the node that
  // proved itself. Errors: kUnauthenticated (no handshake, a bad proof, a replayed one),
  // kPermissionDenied (another cluster, an id not in --peers, this node's own id),
  // kUnavailable (the connection failed or the handshake timed out). On an error the caller
  // closes the connection.
  asio::awaitable<Result<NodeId>> Accept(Stream& stream, FrameReader& reader) const;

  // The proof of `role` ("dialer" or "acceptor") for one handshake (exposed for tests).
  std::string Proof(std::string_view role, NodeId dialer, NodeId acceptor,
                    std::string_view dialer_nonce, std::string_view acceptor_nonce) const;

 private:
  asio::awaitable<Status> DialSteps(Stream& stream, FrameReader& reader, NodeId peer) const;
  asio::awaitable<Result<NodeId>> AcceptSteps(Stream& stream, FrameReader& reader) const;

  const Options options_;
};

// The peer port's handler for a connection that authenticated as `node`: a message whose peer
// header names another node is refused (PERMISSION_DENIED, logged, rate-limited) and never
// reaches `handler`.
RequestHandler OnlyFrom(NodeId node, RequestHandler handler);

}  // namespace dialkv::net
