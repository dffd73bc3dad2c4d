#include "server/net/peer_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <chrono>
#include <memory>

#include "proto/dialkv.pb.h"
#include "server/common/check.h"
#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/net/frame.h"
#include "server/net/handshake.h"

namespace dialkv::net {
namespace {

constexpr std::string_view kWhat = "peer handshake";
constexpr std::string_view kDomain = "dialkv peer auth v1";

void AppendField(std::string* out, std::string_view field) {
  const auto size = static_cast<uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(size >> shift));
  out->append(field);
}

std::string NodeBytes(NodeId id) {
  std::string bytes;
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(id >> shift));
  return bytes;
}

bool SameProof(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string FreshNonce() {
  std::string nonce(PeerAuthenticator::kNonceBytes, '\0');
  DIALKV_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()),
                          static_cast<int>(nonce.size())) == 1);
  return nonce;
}

// Sends the refusal, best effort, and returns it.
asio::awaitable<Status> Refuse(Stream& stream, Status refusal) {
  v1::Envelope reply;
  ToProto(refusal, reply.mutable_error_reply()->mutable_status());
  // Best effort: the refusal is returned whether or not it could be sent.
  static_cast<void>(co_await WriteEnvelope(stream, reply, kWhat));
  co_return refusal;
}

// What the other side said instead of the expected message.
Status Unexpected(const v1::Envelope& e, std::string_view expected) {
  if (e.has_error_reply()) {
    const Status refused = FromProto(e.error_reply().status());
    return Status(refused.code() == Code::kOk ? Code::kUnauthenticated : refused.code(),
                  "the peer refused the handshake: " + refused.message());
  }
  return Status::Unauthenticated("peer handshake: expected " + std::string(expected) +
                                 "; is the other side a dialkv node with --cluster-secret-file?");
}

}  // namespace

PeerAuthenticator::PeerAuthenticator(Options options) : options_(std::move(options)) {
  DIALKV_CHECK(options_.secret.size() >= kMinSecretFileBytes);
  DIALKV_CHECK(options_.is_member != nullptr);
}

std::string PeerAuthenticator::Proof(std::string_view role, NodeId dialer, NodeId acceptor,
                                     std::string_view dialer_nonce,
                                     std::string_view acceptor_nonce) const {
  std::string message;
  for (std::string_view field : {kDomain, role, std::string_view(options_.cluster_name)}) {
    AppendField(&message, field);
  }
  AppendField(&message, NodeBytes(dialer));
  AppendField(&message, NodeBytes(acceptor));
  AppendField(&message, dialer_nonce);
  AppendField(&message, acceptor_nonce);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_bytes = 0;
  DIALKV_CHECK(HMAC(EVP_sha256(), options_.secret.data(), static_cast<int>(options_.secret.size()),
                    reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
                    &mac_bytes) != nullptr);
  return std::string(reinterpret_cast<const char*>(mac), mac_bytes);
}

asio::awaitable<Status> PeerAuthenticator::Dial(Stream& stream, FrameReader& reader,
                                                NodeId peer) const {
  co_return co_await WithDeadline(DialSteps(stream, reader, peer), options_.timeout_ms,
                                  std::string(kWhat));
}

asio::awaitable<Status> PeerAuthenticator::DialSteps(Stream& stream, FrameReader& reader,
                                                     NodeId peer) const {
  v1::Envelope hello;
  auto* h = hello.mutable_peer_auth_hello();
  h->set_cluster(options_.cluster_name);
  h->set_from_node(options_.self);
  h->set_to_node(peer);
  const std::string nonce = FreshNonce();
  h->set_nonce(nonce);
  if (Status sent = co_await WriteEnvelope(stream, hello, kWhat); !sent.ok()) co_return sent;

  Result<v1::Envelope> answer = co_await ReadEnvelope(stream, reader, kWhat);
  if (!answer.ok()) co_return answer.status();
  if (!answer->has_peer_auth_challenge()) co_return Unexpected(*answer, "a challenge");
  const v1::PeerAuthChallenge& challenge = answer->peer_auth_challenge();
  if (challenge.from_node() != peer) {
    co_return Status::Unauthenticated("peer handshake: dialed node " + std::to_string(peer) +
                                      " but node " + std::to_string(challenge.from_node()) +
                                      " answered; check --peers");
  }
  if (challenge.nonce().size() != kNonceBytes ||
      !SameProof(challenge.proof(),
                 Proof("acceptor", options_.self, peer, nonce, challenge.nonce()))) {
    co_return Status::Unauthenticated(
        "node " + std::to_string(peer) +
        " could not prove it holds the cluster secret; every node needs the same "
        "--cluster-secret-file");
  }

  v1::Envelope proof;
  proof.mutable_peer_auth_proof()->set_proof(
      Proof("dialer", options_.self, peer, nonce, challenge.nonce()));
  if (Status sent = co_await WriteEnvelope(stream, proof, kWhat); !sent.ok()) co_return sent;
  Result<v1::Envelope> confirmed = co_await ReadEnvelope(stream, reader, kWhat);
  if (!confirmed.ok()) co_return confirmed.status();
  if (!confirmed->has_peer_auth_ok()) co_return Unexpected(*confirmed, "a confirmation");
  co_return Status::Ok();
}

asio::awaitable<Result<NodeId>> PeerAuthenticator::Accept(Stream& stream,
                                                          FrameReader& reader) const {
  co_return co_await WithDeadline(AcceptSteps(stream, reader), options_.timeout_ms,
                                  std::string(kWhat));
}

asio::awaitable<Result<NodeId>> PeerAuthenticator::AcceptSteps(Stream& stream,
                                                               FrameReader& reader) const {
  Result<v1::Envelope> first = co_await ReadEnvelope(stream, reader, kWhat);
  if (!first.ok()) co_return first.status();
  if (!first->has_peer_auth_hello()) {
    co_return co_await Refuse(
        stream, Status::Unauthenticated("this peer port requires authentication: start every "
                                        "node with the same --cluster-secret-file"));
  }
  const v1::PeerAuthHello& hello = first->peer_auth_hello();
  const NodeId dialer = hello.from_node();
  if (hello.cluster() != options_.cluster_name) {
    co_return co_await Refuse(
        stream, Status::PermissionDenied("this node is in cluster '" + options_.cluster_name +
                                         "', not '" + hello.cluster() + "'"));
  }
  if (hello.to_node() != options_.self) {
    co_return co_await Refuse(
        stream, Status::PermissionDenied("this is node " + std::to_string(options_.self) +
                                         ", not node " + std::to_string(hello.to_node())));
  }
  if (dialer == options_.self || !options_.is_member(dialer)) {
    co_return co_await Refuse(
        stream, Status::PermissionDenied("node " + std::to_string(dialer) +
                                         " may not connect: it is not another node in --peers"));
  }
  if (hello.nonce().size() != kNonceBytes) {
    co_return co_await Refuse(stream, Status::Unauthenticated("peer handshake: bad nonce"));
  }

  const std::string nonce = FreshNonce();
  v1::Envelope challenge;
  auto* c = challenge.mutable_peer_auth_challenge();
  c->set_from_node(options_.self);
  c->set_nonce(nonce);
  c->set_proof(Proof("acceptor", dialer, options_.self, hello.nonce(), nonce));
  if (Status sent = co_await WriteEnvelope(stream, challenge, kWhat); !sent.ok()) co_return sent;

  Result<v1::Envelope> answer = co_await ReadEnvelope(stream, reader, kWhat);
  if (!answer.ok()) co_return answer.status();
  if (!answer->has_peer_auth_proof() ||
      !SameProof(answer->peer_auth_proof().proof(),
                 Proof("dialer", dialer, options_.self, hello.nonce(), nonce))) {
    co_return co_await Refuse(
        stream, Status::Unauthenticated("node " + std::to_string(dialer) +
                                        " could not prove it holds the cluster secret; every "
                                        "node needs the same --cluster-secret-file"));
  }
  v1::Envelope ok;
  ok.mutable_peer_auth_ok();
  if (Status sent = co_await WriteEnvelope(stream, ok, kWhat); !sent.ok()) co_return sent;
  co_return dialer;
}

namespace {

asio::awaitable<v1::Envelope> RefuseImpostor(NodeId node, v1::Envelope request,
                                             std::shared_ptr<LogLimiter> limiter) {
  const Status refused = Status::PermissionDenied(
      "this connection authenticated as node " + std::to_string(node) +
      "; it cannot carry messages of node " + std::to_string(request.peer().node_id()));
  uint64_t suppressed = 0;
  if (limiter->Allow(&suppressed)) {
    Log(Subsystem::kNet)
        .warn("peer message refused: {}{}", refused.message(),
              LogLimiter::SuppressedNote(suppressed));
  }
  v1::Envelope reply;
  reply.set_id(request.id());
  ToProto(refused, reply.mutable_error_reply()->mutable_status());
  co_return reply;
}

}  // namespace

RequestHandler OnlyFrom(NodeId node, RequestHandler handler) {
  auto limiter = std::make_shared<LogLimiter>(std::chrono::seconds(1));
  return [node, handler = std::move(handler), limiter](v1::Envelope request) {
    if (request.peer().node_id() != node) {
      return RefuseImpostor(node, std::move(request), limiter);
    }
    return handler(std::move(request));
  };
}

}  // namespace dialkv::net
