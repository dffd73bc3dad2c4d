// Fuzzes what a node does with the requests of one client connection: a one-node cluster over
// the in-memory engine (the node's own services: KvService and AdminService behind the client
// port's dispatch and its token checks, ClientAuth), fed the frames of the input as the frame
// server hands them over. No socket: the seam is the connection's request handler.
//
// Input: byte 0's lowest bit says whether the node requires tokens (signed with the secret of
// kTokenSecret, checked at kNowS); the rest is a client's byte stream, frames as on the wire
// (4-byte little-endian length, then an Envelope). Frames are read until one is incomplete or
// does not parse (the frame server closes the connection there), at most kMaxRequests.
//
// Checks: every reply that is sent is of the type the protocol gives the request
// (net::ReplyWithStatus) and parses back; with tokens required and no AuthRequest accepted,
// nothing was written.

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz/fuzz_secret.h"
#include "proto/dialkv.pb.h"
#include "server/api/admin_service.h"
#include "server/api/client_auth.h"
#include "server/api/kv_service.h"
#include "server/api/node.h"
#include "server/auth/token.h"
#include "server/cluster/membership.h"
#include "server/cluster/ring.h"
#include "server/common/check.h"
#include "server/common/clock.h"
#include "server/common/hlc.h"
#include "server/common/metrics.h"
#include "server/net/fault_injector.h"
#include "server/net/frame.h"
#include "server/net/frame_reader.h"
#include "server/net/frame_server.h"
#include "server/net/stream.h"
#include "server/net/transport.h"
#include "server/replication/coordinator.h"
#include "server/replication/local_replica.h"
#include "server/storage/memory_engine.h"

namespace dialkv::fuzz {
namespace {

constexpr NodeId kNodeId = 1;
constexpr size_t kMaxRequests = 64;

// A cluster of one node never calls a peer; should it try, the call fails as to a lost peer.
class NoPeers final : public net::Transport {
 public:
  asio::awaitable<Result<v1::Envelope>> Call(NodeId peer, v1::Envelope, net::Deadline) override {
    co_return Status::Unavailable("node " + std::to_string(peer) + " is not in this cluster");
  }
};

asio::awaitable<v1::RepairReply> RepairAlone() {
  v1::RepairReply reply;
  reply.set_node_id(kNodeId);
  reply.mutable_status()->set_code(v1::STATUS_OK);
  co_return reply;
}

replication::Coordinator::Options CoordinatorOptions() {
  replication::Coordinator::Options options;
  options.self = kNodeId;
  options.hinted_handoff = false;
  return options;
}

std::unique_ptr<auth::TokenVerifier> Verifier(bool tokens) {
  if (!tokens) return nullptr;
  return std::make_unique<auth::TokenVerifier>(std::string(kTokenSecret));
}

// A node's client-facing objects, wired as Node wires them, over a MemoryEngine.
struct OneNode {
  explicit OneNode(bool tokens)
      : kv(
            api::KvService::Options{}, coordinator, metrics,
            [] {
              v1::ClusterStatusReply reply;
              reply.set_node_id(kNodeId);
              return reply;
            },
            [] { return RepairAlone(); }),
        admin(api::AdminService::Options{.self = kNodeId}, &faults, &clock, local, coordinator,
              metrics),
        client_auth(Verifier(tokens), api::ClientRequestHandler(kv, admin), metrics,
                    [] { return kNowS; }) {}

  SystemClock clock;
  SystemClock detector_clock;
  HybridLogicalClock hlc{clock, kNodeId, HybridLogicalClock::Options{}};
  storage::MemoryEngine engine;
  metrics::Registry metrics;
  cluster::Ring ring = cluster::Ring::Build({kNodeId}, {}).value();
  cluster::Membership membership{kNodeId,
                                 1,
                                 {cluster::Member{kNodeId, "127.0.0.1:7380"}},
                                 detector_clock,
                                 cluster::Membership::Options{}};
  NoPeers transport;
  replication::LocalReplica local{replication::LocalReplica::Options{}, engine, hlc};
  replication::Coordinator coordinator{
      CoordinatorOptions(), ring, membership, local, hlc, transport, nullptr};
  net::FaultInjector faults{net::FaultInjector::Options{.self = kNodeId, .peers = {}, .seed = 1},
                            &metrics};
  api::KvService kv;
  api::AdminService admin;
  api::ClientAuth client_auth;
};

asio::awaitable<void> OpenConnection(net::ConnectionHandshake handshake, net::Stream* stream,
                                     net::FrameReader* reader,
                                     std::optional<Result<net::RequestHandler>>* out) {
  out->emplace(co_await handshake(*stream, *reader));
}

asio::awaitable<void> Serve(const net::RequestHandler* handler, v1::Envelope request,
                            std::optional<v1::Envelope>* out) {
  out->emplace(co_await (*handler)(std::move(request)));
}

// The requests of `bytes`, read as the frame server reads them.
std::vector<v1::Envelope> Requests(std::string_view bytes) {
  std::vector<v1::Envelope> requests;
  while (requests.size() < kMaxRequests && bytes.size() >= net::kFrameHeaderBytes) {
    const uint32_t length =
        net::DecodeFrameLength(reinterpret_cast<const unsigned char*>(bytes.data()));
    if (length > bytes.size() - net::kFrameHeaderBytes) break;
    v1::Envelope request;
    if (!net::ParseEnvelope(bytes.substr(net::kFrameHeaderBytes, length), &request).ok()) break;
    requests.push_back(std::move(request));
    bytes.remove_prefix(net::kFrameHeaderBytes + length);
  }
  return requests;
}

void Run(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const bool tokens = (data[0] & 1) != 0;
  std::vector<v1::Envelope> requests =
      Requests(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));

  OneNode node(tokens);
  std::vector<std::optional<v1::Envelope>> replies(requests.size());
  {
    asio::io_context io;
    net::Stream stream(io.get_executor());  // Never connected: ClientAuth reads nothing.
    net::FrameReader reader(net::kDefaultMaxFrameBytes);
    std::optional<Result<net::RequestHandler>> handler;
    asio::co_spawn(io, OpenConnection(node.client_auth.Handshake(), &stream, &reader, &handler),
                   asio::detached);
    io.run();
    DIALKV_CHECK(handler.has_value() && handler->ok());
    const net::RequestHandler& serve = handler->value();
    io.restart();
    for (size_t i = 0; i < requests.size(); ++i) {
      asio::co_spawn(io, Serve(&serve, requests[i], &replies[i]), asio::detached);
    }
    io.run();
  }

  bool authenticated = false;
  for (size_t i = 0; i < requests.size(); ++i) {
    DIALKV_CHECK(replies[i].has_value());
    const v1::Envelope& reply = *replies[i];
    if (reply.body_case() == v1::Envelope::BODY_NOT_SET) continue;  // No reply is sent.
    const v1::Envelope expected = net::ReplyWithStatus(requests[i], Status::Ok());
    DIALKV_CHECK(reply.body_case() == expected.body_case());
    v1::Envelope parsed;
    DIALKV_CHECK(net::ParseEnvelope(reply.SerializeAsString(), &parsed).ok());
    if (reply.has_auth_reply() && reply.auth_reply().status().code() == v1::STATUS_OK) {
      authenticated = true;
    }
  }
  if (tokens && !authenticated) DIALKV_CHECK(node.engine.LiveKeyCount() == 0);
}

}  // namespace
}  // namespace dialkv::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dialkv::fuzz::Run(data, size);
  return 0;
}
