// The three backends of backend.h.
#include <asio/co_spawn.hpp>

#include "bench/load/backend.h"
#include "bench/load/ordered_connection.h"
#include "dialkv/client.h"

namespace dialkv::bench {
namespace {

// ---- dialkv: its client library, one Client (real connections) each, on the generator's
// executor or on an I/O thread of its own (BackendOptions::dialkv_client_threads) ----
class DialkvConnection final : public BenchConnection {
 public:
  DialkvConnection(std::unique_ptr<Client> client, Consistency consistency, uint32_t timeout_ms)
      : client_(std::move(client)),
        options_{.timeout_ms = timeout_ms, .consistency = consistency} {}

  asio::awaitable<Status> Open() override {
    // The client connects on first use: a cluster status call opens the first connection
    // outside the measurement.
    if (client_ == nullptr) co_return Status::Unavailable("connection closed");
    RequestOptions options = options_;
    Result<ClusterStatus> status = co_await client_->AsyncClusterStatus(options);
    co_return status.status();
  }

  asio::awaitable<Code> Get(std::string key, std::string* value) override {
    if (client_ == nullptr) co_return Code::kUnavailable;
    RequestOptions options = options_;
    Result<GetResult> got = co_await client_->AsyncGet(std::move(key), options);
    if (got.ok() && value != nullptr) *value = std::move(got->value);
    co_return got.code();
  }

  asio::awaitable<Code> Put(std::string key, std::string value) override {
    if (client_ == nullptr) co_return Code::kUnavailable;
    RequestOptions options = options_;
    Result<WriteResult> put = co_await client_->AsyncPut(std::move(key), std::move(value), options);
    co_return put.code();
  }

  // Destroying the client closes its connections, so a client on the generator's executor
  // no longer keeps it busy. Every operation has finished (see backend.h).
  void Close() override { client_.reset(); }

 private:
  std::unique_ptr<Client> client_;
  const RequestOptions options_;
};

// ---- Redis: RESP over one socket ----
class RedisConnection final : public OrderedConnection {
 public:
  RedisConnection(const asio::any_io_executor& executor, std::string endpoint, uint32_t timeout_ms,
                  uint32_t wait_replicas)
      : OrderedConnection(executor, std::move(endpoint), timeout_ms),
        wait_replicas_(wait_replicas),
        wait_replicas_text_(std::to_string(wait_replicas)),
        timeout_text_(std::to_string(timeout_ms)) {}

  asio::awaitable<Code> Get(std::string key, std::string* /*value*/) override {
    std::string request;
    AppendRespCommand({"GET", key}, &request);
    co_return co_await RoundTrip(std::move(request), kGetReply);
  }

  asio::awaitable<Code> Put(std::string key, std::string value) override {
    std::string request;
    AppendRespCommand({"SET", key, value}, &request);
    if (wait_replicas_ == 0) co_return co_await RoundTrip(std::move(request), kSetReply);
    // WAIT blocks this connection until the replicas acknowledged every earlier write on it.
    AppendRespCommand({"WAIT", wait_replicas_text_, timeout_text_}, &request);
    co_return co_await RoundTrip(std::move(request), kSetReply, kWaitReply);
  }

 protected:
  Parse ParseReply(std::string_view in, int expect, size_t* consumed, Code* code) override {
    RespReply reply;
    const Parse p = ParseResp(in, &reply, consumed);
    if (p != Parse::kDone) return p;
    using T = RespReply::Type;
    if (reply.type == T::kError) {
      *code = reply.text.starts_with("OOM") || reply.text.starts_with("BUSY") ? Code::kOverloaded
                                                                              : Code::kInternal;
    } else if (expect == kGetReply) {
      *code = reply.type == T::kBulk  ? Code::kOk
              : reply.type == T::kNil ? Code::kNotFound
                                      : Code::kInternal;
    } else if (expect == kSetReply) {
      *code = reply.type == T::kSimple ? Code::kOk : Code::kInternal;
    } else {  // WAIT: how many replicas acknowledged; fewer than asked is not a durable write.
      *code = reply.type != T::kInteger                               ? Code::kInternal
              : reply.integer >= static_cast<int64_t>(wait_replicas_) ? Code::kOk
                                                                      : Code::kUnknown;
    }
    return Parse::kDone;
  }

 private:
  static constexpr int kGetReply = 0, kSetReply = 1, kWaitReply = 2;
  const uint32_t wait_replicas_;
  const std::string wait_replicas_text_, timeout_text_;
};

// ---- etcd: its v3 JSON gateway over HTTP/1.1 keep-alive ----
class EtcdConnection final : public OrderedConnection {
 public:
  EtcdConnection(const asio::any_io_executor& executor, std::string endpoint, uint32_t timeout_ms,
                 bool linearizable)
      : OrderedConnection(executor, std::move(endpoint), timeout_ms),
        serializable_(linearizable ? "false" : "true") {}

  asio::awaitable<Code> Get(std::string key, std::string* /*value*/) override {
    const std::string body =
        "{\"key\":\"" + Base64(key) + "\",\"serializable\":" + serializable_ + "}";
    std::string request;
    AppendHttpPost(endpoint(), "/v3/kv/range", body, &request);
    co_return co_await RoundTrip(std::move(request), kRangeReply);
  }

  asio::awaitable<Code> Put(std::string key, std::string value) override {
    const std::string body =
        "{\"key\":\"" + Base64(key) + "\",\"value\":\"" + Base64(value) + "\"}";
    std::string request;
    AppendHttpPost(endpoint(), "/v3/kv/put", body, &request);
    co_return co_await RoundTrip(std::move(request), kPutReply);
  }

 protected:
  Parse ParseReply(std::string_view in, int expect, size_t* consumed, Code* code) override {
    const Parse p = ParseHttpResponse(in, &response_, consumed);
    if (p != Parse::kDone) return p;
    switch (response_.status) {
      case 200:
        // A range that found nothing has no "kvs" field.
        *code = expect == kRangeReply && response_.body.find("\"kvs\"") == std::string::npos
                    ? Code::kNotFound
                    : Code::kOk;
        break;
      case 503:
        *code = Code::kUnavailable;
        break;
      case 408:
      case 504:
        *code = Code::kTimeout;
        break;
      case 429:
        *code = Code::kOverloaded;
        break;
      default:
        *code = Code::kInternal;
    }
    return Parse::kDone;
  }

 private:
  static constexpr int kPutReply = 0, kRangeReply = 1;
  const std::string serializable_;
  HttpResponse response_;  // Used by the reader only.
};

}  // namespace

std::string_view TargetName(Target target) {
  switch (target) {
    case Target::kDialkv:
      return "dialkv";
    case Target::kRedis:
      return "redis";
    case Target::kEtcd:
      return "etcd";
  }
  return "?";
}

std::string VariantName(const BackendOptions& options) {
  const bool cp = options.mode == "cp";
  switch (options.target) {
    case Target::kDialkv:
      return cp ? "quorum reads and writes" : "any replica, LWW";
    case Target::kRedis:
      return cp ? "SET + WAIT " + std::to_string(options.redis_wait_replicas) + "; GET primary"
                : "SET, async replication; GET primary";
    case Target::kEtcd:
      return cp ? "put; linearizable range" : "put; serializable range";
  }
  return "?";
}

Result<std::unique_ptr<BenchConnection>> MakeConnection(const BackendOptions& options,
                                                        const asio::any_io_executor& executor,
                                                        size_t index) {
  if (options.endpoints.empty()) return Status::InvalidArgument("--endpoints is empty");
  if (options.mode != "cp" && options.mode != "ap") {
    return Status::InvalidArgument("mode must be cp or ap, not " + options.mode);
  }
  const size_t n = options.endpoints.size();
  const std::string& mine = options.endpoints[index % n];
  switch (options.target) {
    case Target::kDialkv: {
      ClientOptions client;
      client.timeout_ms = options.timeout_ms;
      client.token = options.token;
      client.tls_ca_file = options.tls_ca_file;
      if (!options.dialkv_client_threads) client.executor = executor;
      client.endpoints.push_back(mine);
      if (options.failover) {
        for (size_t i = 1; i < n; ++i)
          client.endpoints.push_back(options.endpoints[(index + i) % n]);
      }
      Result<std::unique_ptr<Client>> created = Client::Create(std::move(client));
      if (!created.ok()) return created.status();
      return std::unique_ptr<BenchConnection>(new DialkvConnection(
          std::move(created).value(), options.mode == "cp" ? Consistency::kCp : Consistency::kAp,
          options.timeout_ms));
    }
    case Target::kRedis:
      // Every connection goes to the primary (the first endpoint): replicas refuse writes, and
      // reading them would be a third mode.
      return std::unique_ptr<BenchConnection>(
          new RedisConnection(executor, options.endpoints.front(), options.timeout_ms,
                              options.mode == "cp" ? options.redis_wait_replicas : 0));
    case Target::kEtcd:
      return std::unique_ptr<BenchConnection>(
          new EtcdConnection(executor, mine, options.timeout_ms, options.mode == "cp"));
  }
  return Status::InvalidArgument("unknown target");
}

}  // namespace dialkv::bench
