#pragma once
// The systems the load generator drives, behind one small interface: a connection that runs
// gets and puts. dialkv goes through its client library (one Client per connection, so every
// connection is a real TCP connection); Redis and etcd through the small protocol clients in
// this folder (RESP; HTTP/1.1 to etcd's v3 JSON gateway).
//
// "cp" and "ap" name the strong and the weak variant of each system:
//   dialkv  cp: linearizable quorum reads and writes  ap: any replica, last writer wins
//   redis   cp: SET then WAIT <replicas>; GET         ap: SET; GET (asynchronous replication)
//   etcd    cp: put; linearizable range               ap: put; serializable range
//
// Threading: a connection lives on the load generator's executor and is used only there; its
// operations may be awaited by several workers at once (the pipeline depth). Close() is called
// there too, after the last operation.

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dialkv/status.h"

namespace dialkv::bench {

enum class Target { kDialkv, kRedis, kEtcd };

struct BackendOptions {
  Target target = Target::kDialkv;
  std::vector<std::string> endpoints;  // host:port of every node (Redis: the primary first).
  std::string mode = "cp";             // "cp" or "ap".
  uint32_t timeout_ms = 1000;          // Per operation.
  // dialkv: each connection's client may fail over to the other endpoints (it starts from
  // endpoint index % count). Without, each connection talks to its one endpoint only.
  bool failover = true;
  // dialkv: each connection's client runs on an I/O thread of its own, and every operation
  // hops to it and back, as for an application calling from threads of its own. Without, the
  // clients run on the load generator's thread (ClientOptions::executor), as the Redis and
  // etcd connections do.
  bool dialkv_client_threads = false;
  uint32_t redis_wait_replicas = 2;  // Redis cp: WAIT for this many replicas.
  std::string token;                 // dialkv: presented on every connection (empty: none).
  std::string tls_ca_file;           // dialkv: CA of the nodes' TLS certificates (empty: no TLS).
};

class BenchConnection {
 public:
  virtual ~BenchConnection() = default;
  // Connects (the clients that connect lazily make one request-free check, or none).
  // Errors: kUnavailable naming the endpoint.
  virtual asio::awaitable<Status> Open() = 0;
  // One operation. Returns its status code (kOk, kNotFound for a get of a missing key, or the
  // error); never throws, never waits past the timeout by much. Get sets `*value` (when not
  // null) to the value read when it returns kOk; only the dialkv backend reports values (the
  // stale-read check of the partition scenario needs them), the others leave it alone.
  virtual asio::awaitable<Code> Get(std::string key, std::string* value) = 0;
  virtual asio::awaitable<Code> Put(std::string key, std::string value) = 0;
  // Ends every pending operation (kUnavailable) and closes the connection.
  virtual void Close() = 0;
};

// Connection number `index` of the load. Errors: kInvalidArgument for a bad option.
Result<std::unique_ptr<BenchConnection>> MakeConnection(const BackendOptions& options,
                                                        const asio::any_io_executor& executor,
                                                        size_t index);

// "dialkv", "redis", "etcd".
std::string_view TargetName(Target target);
// What `mode` means for `options.target`, for the tables: "quorum (ABD)", "SET + WAIT 2", ...
std::string VariantName(const BackendOptions& options);

}  // namespace dialkv::bench
