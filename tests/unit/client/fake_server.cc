#include "tests/unit/client/fake_server.h"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <future>
#include <optional>
#include <vector>

#include "server/net/frame.h"
#include "tests/testutil/held_port.h"

namespace dialkv::client_test {
namespace {

constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

void SetStatus(Code code, const std::string& message, v1::Status* out) {
  net::ToProto(Status(code, message), out);
}

v1::Consistency ConsistencyOf(const v1::Envelope& request) {
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest:
      return request.get_request().consistency();
    case v1::Envelope::kPutRequest:
      return request.put_request().consistency();
    case v1::Envelope::kDeleteRequest:
      return request.delete_request().consistency();
    default:
      return v1::CONSISTENCY_DEFAULT;
  }
}

uint32_t TimeoutOf(const v1::Envelope& request) {
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest:
      return request.get_request().timeout_ms();
    case v1::Envelope::kPutRequest:
      return request.put_request().timeout_ms();
    case v1::Envelope::kDeleteRequest:
      return request.delete_request().timeout_ms();
    default:
      return 0;
  }
}

}  // namespace

FakeServer::FakeServer(Code code) : FakeServer(Behavior::kReplyCode, 1, code, nullptr) {}

FakeServer::FakeServer(Behavior behavior, size_t batch)
    : FakeServer(behavior, batch, Code::kOk, nullptr) {}

FakeServer::FakeServer(NodeId node_id, std::vector<NodeId> members)
    : FakeServer(Behavior::kAnswer, 1, Code::kOk,
                 std::make_unique<FakeFaults>(node_id, std::move(members))) {}

FakeServer::FakeServer(Behavior behavior, size_t batch, Code code,
                       std::unique_ptr<FakeFaults> faults)
    : behavior_(behavior),
      batch_(batch),
      reply_code_(code),
      acceptor_(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      faults_(std::move(faults)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, Accept(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

FakeServer::~FakeServer() {
  io_.stop();
  thread_.join();
}

void FakeServer::CloseConnections() {
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    for (auto& weak : sockets_) {
      if (auto socket = weak.lock()) {
        asio::error_code ignored;
        socket->close(ignored);
      }
    }
    done.set_value();
  });
  done.get_future().wait();
}

v1::FaultState FakeServer::fault_state() {
  std::promise<v1::FaultState> state;
  asio::post(io_, [this, &state] { state.set_value(faults_->state()); });
  return state.get_future().get();
}

v1::Envelope FakeServer::Answer(const v1::Envelope& request) {
  v1::Envelope reply;
  reply.set_id(request.id());
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest: {
      const std::string& key = request.get_request().key();
      if (key == "overloaded") {
        SetStatus(Code::kOverloaded, "node is overloaded; retry later",
                  reply.mutable_error_reply()->mutable_status());
        break;
      }
      v1::GetReply* get = reply.mutable_get_reply();
      if (key == "missing") {
        SetStatus(Code::kNotFound, "key not found", get->mutable_status());
      } else if (key == "bad") {
        SetStatus(Code::kInvalidArgument, "key is bad", get->mutable_status());
      } else {
        get->set_value("value-of-" + key);
        net::ToProto(Timestamp{kGetHlc, kGetNode}, get->mutable_timestamp());
      }
      break;
    }
    case v1::Envelope::kPutRequest: {
      v1::PutReply* put = reply.mutable_put_reply();
      if (request.put_request().key() == "bad") {
        SetStatus(Code::kInvalidArgument, "key is bad", put->mutable_status());
      } else {
        net::ToProto(Timestamp{kPutHlc, kPutNode}, put->mutable_timestamp());
        put->set_hinted(request.put_request().key() == "hinted");
      }
      break;
    }
    case v1::Envelope::kDeleteRequest: {
      v1::DeleteReply* del = reply.mutable_delete_reply();
      net::ToProto(Timestamp{kDeleteHlc, kDeleteNode}, del->mutable_timestamp());
      del->set_hinted(request.delete_request().key() == "hinted");
      break;
    }
    case v1::Envelope::kClusterStatusRequest: {
      v1::ClusterStatusReply* status = reply.mutable_cluster_status_reply();
      status->set_node_id(kStatusNode);
      status->set_cluster_name("test-cluster");
      status->set_replication_factor(kStatusReplicationFactor);
      for (v1::NodeStatus& node : CannedNodes()) *status->add_nodes() = std::move(node);
      v1::StorageStatus* storage = status->mutable_storage();
      storage->set_data_dir_bytes(uint64_t{109} << 19);  // 54.5 MiB.
      storage->set_sst_bytes(40 << 20);
      storage->set_live_data_bytes(36 << 20);
      storage->set_wal_bytes(3 << 20);
      storage->set_memtable_bytes(12 << 20);
      storage->set_pending_compaction_bytes(512);
      storage->set_write_stalls(2);
      storage->set_write_stall_ms(70);
      storage->set_longest_write_stall_ms(45);
      storage->set_recovery_ms(310);
      break;
    }
    default:
      SetStatus(Code::kInvalidArgument, "not a request",
                reply.mutable_error_reply()->mutable_status());
      break;
  }
  return reply;
}

std::vector<v1::NodeStatus> FakeServer::CannedNodes() {
  struct Row {
    uint32_t id;
    const char* address;
    const char* state;
    uint64_t generation, heartbeat;
    int64_t last_heard_ms_ago;
    uint64_t live_keys;
    std::optional<int64_t> clock_offset_ms;
  };
  const Row rows[] = {
      {kStatusNode, "10.0.0.7:7380", "self", 3, 1001, 0, 12345, std::nullopt},
      {8, "node-8.example:7380", "alive", 1, 2002, 250, 12000, 12},
      {9, "[::1]:7390", "dead", 5, 3003, -1, 0, std::nullopt},
      {10, "10.0.0.10:7380", "suspect", 2, 4004, 65432, 7, -40},
  };
  std::vector<v1::NodeStatus> nodes;
  for (const Row& row : rows) {
    v1::NodeStatus node;
    node.set_node_id(row.id);
    node.set_peer_address(row.address);
    node.set_state(row.state);
    node.set_generation(row.generation);
    node.set_heartbeat(row.heartbeat);
    node.set_last_heard_ms_ago(row.last_heard_ms_ago);
    node.set_live_keys(row.live_keys);
    if (row.clock_offset_ms.has_value()) {
      node.set_clock_offset_known(true);
      node.set_clock_offset_ms(*row.clock_offset_ms);
      node.set_clock_offset_rtt_ms(1);
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

v1::Envelope FakeServer::ReplyWithCode(const v1::Envelope& request) const {
  return net::ReplyWithStatus(
      request, Status(reply_code_, std::string(CodeName(reply_code_)) + " from " + endpoint()));
}

void FakeServer::Record(const v1::Envelope& request) {
  ++requests_;
  if (request.has_put_request()) ++puts_;
  last_timeout_ms_ = TimeoutOf(request);
  if (request.has_get_request() || request.has_put_request() || request.has_delete_request()) {
    last_consistency_ = ConsistencyOf(request);
  }
}

asio::awaitable<void> FakeServer::Accept() {
  for (;;) {
    auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
    auto [ec] = co_await acceptor_.async_accept(*socket, kAsTuple);
    if (ec) co_return;
    ++connections_;
    sockets_.push_back(socket);
    asio::co_spawn(io_, Serve(socket), asio::detached);
  }
}

asio::awaitable<void> FakeServer::Serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
  std::string body;
  std::string out;
  std::vector<v1::Envelope> held;
  for (;;) {
    if (!(co_await net::ReadFrame(*socket, net::kDefaultMaxFrameBytes, &body)).ok()) co_return;
    v1::Envelope request;
    if (!net::ParseEnvelope(body, &request).ok()) co_return;
    Record(request);
    out.clear();
    switch (behavior_) {
      case Behavior::kAnswer:
        if (faults_ != nullptr && FakeFaults::Serves(request)) {
          net::AppendFrame(faults_->Answer(request), &out);
        } else {
          net::AppendFrame(Answer(request), &out);
        }
        break;
      case Behavior::kReverseBatches:
        held.push_back(std::move(request));
        if (held.size() > max_pending_) max_pending_ = held.size();
        if (held.size() >= batch_) {
          for (auto it = held.rbegin(); it != held.rend(); ++it)
            net::AppendFrame(Answer(*it), &out);
          held.clear();
        }
        break;
      case Behavior::kDropConnection: {
        asio::error_code ignored;
        socket->close(ignored);
        co_return;
      }
      case Behavior::kSilent:
        break;
      case Behavior::kReplyCode:
        net::AppendFrame(ReplyWithCode(request), &out);
        break;
    }
    if (out.empty()) continue;
    auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(out), kAsTuple);
    if (ec) co_return;
  }
}

uint16_t ClosedPort() {
  // Held until the test process exits, so no other process can listen there meanwhile.
  static auto* held = new std::vector<jepsen::ReservedPort>();
  held->push_back(testutil::HeldPort());
  return held->back().port();
}

}  // namespace dialkv::client_test
