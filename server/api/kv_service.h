#pragma once
// The client-facing key-value service: serves GetRequest, PutRequest, DeleteRequest and
// ClusterStatusRequest envelopes from the client port (net::FrameServer calls Handle for each).
//
// What it does, per request:
//   1. checks the envelope carries a request (a reply type or no body → ErrorReply
//      INVALID_ARGUMENT, and the connection stays open);
//   2. validates the key (1..max_key_bytes) and value (0..max_value_bytes): a violation is
//      answered INVALID_ARGUMENT in the matching reply type, the limit and the actual size in
//      the message;
//   3. turns timeout_ms into a deadline (0 = Options::default_timeout_ms; capped at
//      max_timeout_ms) and the request's consistency into a mode (CONSISTENCY_DEFAULT = CP,
//      the safe reading of a request that does not say), and hands the request to the
//      replication::Coordinator, which picks the replicas, chooses the timestamp and keeps the
//      deadline. Deadline outcomes: TIMEOUT for a read, UNKNOWN for a write that may have been
//      applied, UNAVAILABLE for one that definitely was not;
//   4. answers: Put/Delete → OK with the version's timestamp (and hinted, for an AP write that
//      no replica acknowledged); Get → OK with value and timestamp, or NOT_FOUND (with the
//      tombstone's timestamp when the key was deleted); storage errors keep their code
//      (IO_ERROR, CORRUPTION) with context, and are logged once per second at most;
//   5. counts it: dialkv_requests_total{op,mode,status},
//      dialkv_request_duration_seconds{op,mode}.
// ClusterStatusRequest and RepairRequest are answered by the functions given at construction.
//
// What it does not do: choose replicas (the coordinator's job), touch sockets, or decide
// where storage calls run (replication/local_replica.h).
//
// Thread-safe: Handle may run concurrently on any number of io threads. Every Handle
// coroutine references this object: it must outlive them (destroy it after the io_contexts
// that run them).

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "proto/dialkv.pb.h"
#include "server/common/log_limiter.h"
#include "server/common/logging.h"
#include "server/common/metrics.h"
#include "server/net/frame_server.h"
#include "server/replication/coordinator.h"

namespace spdlog {
class logger;
}  // namespace spdlog

namespace dialkv::api {

class KvService {
 public:
  struct Options {
    uint32_t max_key_bytes = 4096;        // Keys are 1..4096 bytes.
    uint32_t max_value_bytes = 4u << 20;  // --max-value-bytes.
    uint32_t default_timeout_ms = 5000;   // --default-timeout-ms: for timeout_ms = 0.
    uint32_t max_timeout_ms = 60'000;     // --max-timeout-ms: longer ones are shortened.
  };

  // This node's view of the cluster, for ClusterStatusRequest. Called on an io thread.
  using ClusterStatusFn = std::function<v1::ClusterStatusReply()>;
  // Runs an anti-entropy round now, for RepairRequest. Called on an io thread.
  using RepairFn = std::function<asio::awaitable<v1::RepairReply>()>;

  KvService(Options options, replication::Coordinator& coordinator,  // Not owned.
            metrics::Registry& metrics,  // Not owned; must outlive this.
            ClusterStatusFn cluster_status, RepairFn repair);

  // Serves one request envelope; the reply carries the request's id. Never throws.
  asio::awaitable<v1::Envelope> Handle(v1::Envelope request);

  // Handle, bound to this object, as net::FrameServer takes it.
  net::RequestHandler AsHandler();

  const Options& options() const { return options_; }

 private:
  enum Op : uint8_t { kGet, kPut, kDelete, kStatus, kRepair, kInvalid, kNumOps };
  // Metrics index of a mode: 0 = cp, 1 = ap.
  static constexpr int kNumModes = 2;

  uint32_t EffectiveTimeoutMs(uint32_t timeout_ms) const;
  // EffectiveTimeoutMs, for a request's deadline: counts the timeouts it caps.
  uint32_t DeadlineMs(uint32_t timeout_ms);
  // Adds the timeout to the message of a deadline outcome (TIMEOUT, UNKNOWN, UNAVAILABLE).
  Status WithTimeout(Status status, uint32_t timeout_ms) const;
  Status ValidateKey(const std::string& key) const;
  // `timestamp` and `hinted` point into the reply envelope of Handle's frame, which awaits
  // this call.
  asio::awaitable<Status> Write(Op op, std::string key, std::string value, Consistency mode,
                                std::chrono::steady_clock::time_point start, uint32_t timeout_ms,
                                v1::Timestamp* timestamp, bool* hinted);
  // Counts and logs a request (by the hash of its key: keys may be sensitive).
  void Finish(Op op, Consistency mode, const Status& status,
              std::chrono::steady_clock::time_point start, uint64_t key_hash);

  const Options options_;
  replication::Coordinator& coordinator_;
  ClusterStatusFn cluster_status_;
  RepairFn repair_;
  spdlog::logger& log_;  // Log(Subsystem::kApi).
  metrics::Counter* timeouts_capped_;
  // Series looked up once, so counting a request takes no lock.
  metrics::Counter* requests_[kNumOps][kNumModes][kNumCodes] = {};
  metrics::Histogram* duration_[kNumOps][kNumModes] = {};
  LogLimiter fault_log_{std::chrono::seconds(1)};     // Storage errors: an operator must act.
  LogLimiter deadline_log_{std::chrono::seconds(1)};  // Missed deadlines: degraded.
};

}  // namespace dialkv::api
