#pragma once
// A stand-in dialkv node for client tests: a real TCP listener on 127.0.0.1 (a free port)
// speaking the frame protocol, with one scripted behaviour and canned answers. It runs its
// own I/O thread; its counters may be read from any thread.

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dialkv/status.h"
#include "proto/dialkv.pb.h"
#include "tests/unit/client/fake_faults.h"

namespace dialkv::client_test {

// Canned data the fake answers with.
inline constexpr uint64_t kGetHlc = (uint64_t{1700000000000} << 16) | 5;
inline constexpr uint32_t kGetNode = 2;
inline constexpr uint64_t kPutHlc = (uint64_t{1700000000001} << 16) | 1;
inline constexpr uint32_t kPutNode = 3;
inline constexpr uint64_t kDeleteHlc = (uint64_t{1700000000002} << 16) | 9;
inline constexpr uint32_t kDeleteNode = 4;
// The canned cluster status: node kStatusNode of "test-cluster", replication factor 3.
inline constexpr uint32_t kStatusNode = 7;
inline constexpr uint32_t kStatusReplicationFactor = 3;

class FakeServer {
 public:
  enum class Behavior {
    kAnswer,          // Answers each request at once (see Answer()).
    kReverseBatches,  // Holds requests until `batch` are pending, then answers them newest first.
    kDropConnection,  // Closes the connection on receiving a request, without answering.
    kSilent,          // Reads requests and never answers.
    kReplyCode,       // Answers each request with its reply carrying one status code.
  };

  explicit FakeServer(Behavior behavior, size_t batch = 1);
  // kReplyCode: answers every request with `code` (the request's reply carrying it, message
  // "<CODE> from <endpoint>").
  explicit FakeServer(Code code);
  // kAnswer, and also serves the fault-injection and ReadLocal requests as node `node_id` of a
  // cluster of `members` started with --enable-fault-injection would (FakeFaults).
  FakeServer(NodeId node_id, std::vector<NodeId> members);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  // "127.0.0.1:<port>".
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  uint64_t connections() const { return connections_.load(); }
  uint64_t requests() const { return requests_.load(); }
  uint64_t puts() const { return puts_.load(); }
  uint32_t last_timeout_ms() const { return last_timeout_ms_.load(); }
  uint64_t max_pending() const { return max_pending_.load(); }
  // The consistency the last get, put or delete carried (CONSISTENCY_DEFAULT before any).
  v1::Consistency last_consistency() const { return last_consistency_.load(); }

  // Closes every open connection (the listener stays open); returns once they are closed.
  void CloseConnections();

  // The fault state of a fake built with a node id. REQUIRES: built with a node id.
  v1::FaultState fault_state();

  // The canned reply to `request`: get "missing" -> NOT_FOUND, key "bad" -> INVALID_ARGUMENT,
  // get "overloaded" -> an ErrorReply (OVERLOADED); any other get -> "value-of-<key>" at
  // {kGetHlc, kGetNode}; put -> {kPutHlc, kPutNode}; delete -> {kDeleteHlc, kDeleteNode};
  // a put or delete of key "hinted" is answered with hinted set; cluster status -> the
  // status of CannedNodes().
  static v1::Envelope Answer(const v1::Envelope& request);

  // The members the canned cluster status lists, every field set and distinct.
  static std::vector<v1::NodeStatus> CannedNodes();

 private:
  FakeServer(Behavior behavior, size_t batch, Code code, std::unique_ptr<FakeFaults> faults);
  asio::awaitable<void> Accept();
  asio::awaitable<void> Serve(std::shared_ptr<asio::ip::tcp::socket> socket);
  void Record(const v1::Envelope& request);
  v1::Envelope ReplyWithCode(const v1::Envelope& request) const;

  const Behavior behavior_;
  const size_t batch_;
  const Code reply_code_ = Code::kOk;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> puts_{0};
  std::atomic<uint32_t> last_timeout_ms_{0};
  std::atomic<uint64_t> max_pending_{0};
  std::atomic<v1::Consistency> last_consistency_{v1::CONSISTENCY_DEFAULT};
  std::vector<std::weak_ptr<asio::ip::tcp::socket>> sockets_;  // I/O thread only.
  const std::unique_ptr<FakeFaults> faults_;                   // Used on the I/O thread only.
  std::thread thread_;
};

// A port on 127.0.0.1 that nothing listens on while the test runs: connecting to it is refused.
uint16_t ClosedPort();

}  // namespace dialkv::client_test
