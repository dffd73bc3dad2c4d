#include "dialkv/client.h"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <exception>
#include <future>
#include <thread>
#include <utility>

#include "client/dispatcher.h"
#include "server/common/logging.h"
#include "server/common/status.h"
#include "server/net/endpoint.h"
#include "server/net/frame.h"

namespace dialkv {
namespace {

using client_internal::Dispatcher;
using client_internal::RequestParams;
using net::Endpoint;

constexpr size_t kMaxEndpoints = 256;
constexpr uint32_t kMaxTimeoutMs = 24 * 3600 * 1000;  // A day: beyond it, a deadline is a bug.
constexpr uint32_t kMinFrameBytes = 1024;             // Below it, hardly a request fits.

// The value a request coroutine hands back through co_spawn, which needs a default value.
template <typename T>
using Outcome = std::optional<Result<T>>;

template <typename T>
Result<T> Unwrap(Outcome<T> outcome) {
  if (!outcome.has_value()) return Status::Internal("request finished without a result");
  return std::move(*outcome);
}

Status CheckRange(std::string_view name, uint64_t value, uint64_t min, uint64_t max) {
  if (value >= min && value <= max) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + " must be in " + std::to_string(min) + ".." +
                                 std::to_string(max) + ", got " + std::to_string(value));
}

Status CheckConsistency(std::string_view name, Consistency consistency) {
  if (consistency == Consistency::kCp || consistency == Consistency::kAp) return Status::Ok();
  return Status::InvalidArgument(std::string(name) + " must be Consistency::kCp or kAp, got " +
                                 std::to_string(static_cast<int>(consistency)));
}

Result<std::vector<Endpoint>> ValidateOptions(const ClientOptions& options) {
  if (options.endpoints.empty()) {
    return Status::InvalidArgument("no endpoints given; list host:port of at least one node");
  }
  if (options.endpoints.size() > kMaxEndpoints) {
    return Status::InvalidArgument(std::to_string(options.endpoints.size()) +
                                   " endpoints given; at most " + std::to_string(kMaxEndpoints));
  }
  DIALKV_RETURN_IF_ERROR(CheckRange("timeout_ms", options.timeout_ms, 1, kMaxTimeoutMs));
  DIALKV_RETURN_IF_ERROR(
      CheckRange("connect_timeout_ms", options.connect_timeout_ms, 1, kMaxTimeoutMs));
  DIALKV_RETURN_IF_ERROR(CheckRange("reply_grace_ms", options.reply_grace_ms, 0, kMaxTimeoutMs));
  DIALKV_RETURN_IF_ERROR(
      CheckRange("max_frame_bytes", options.max_frame_bytes, kMinFrameBytes, UINT32_MAX));
  DIALKV_RETURN_IF_ERROR(
      CheckRange("max_inflight_requests", options.max_inflight_requests, 1, UINT32_MAX));
  DIALKV_RETURN_IF_ERROR(CheckConsistency("default_consistency", options.default_consistency));
  std::vector<Endpoint> endpoints;
  for (const std::string& text : options.endpoints) {
    Result<Endpoint> endpoint = net::ParseEndpoint(text);
    if (!endpoint.ok()) return endpoint.status();
    endpoints.push_back(std::move(endpoint).value());
  }
  return endpoints;
}

std::string BodyName(const v1::Envelope& envelope) {
  const auto* oneof = envelope.GetDescriptor()->FindOneofByName("body");
  const auto* field = envelope.GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return field == nullptr ? "an empty envelope" : std::string(field->name());
}

// A reply that is not an answer to the request it came for: an ErrorReply (the node could
// not serve the request at all) or a protocol error.
Status NotTheReply(const std::string& op, const v1::Envelope& reply) {
  if (reply.has_error_reply()) {
    Status status = net::FromProto(reply.error_reply().status());
    if (!status.ok()) return status;
    return Status::Internal("node sent an error reply with status OK to a " + op);
  }
  return Status::Internal("node answered a " + op + " with " + BodyName(reply));
}

Result<GetResult> ToGetResult(Result<v1::Envelope> reply) {
  if (!reply.ok()) return reply.status();
  v1::Envelope& envelope = reply.value();
  if (!envelope.has_get_reply()) return NotTheReply("get", envelope);
  v1::GetReply* get = envelope.mutable_get_reply();
  DIALKV_RETURN_IF_ERROR(net::FromProto(get->status()));
  return GetResult{std::move(*get->mutable_value()), net::FromProto(get->timestamp())};
}

template <typename Reply>
Result<WriteResult> ToWriteResult(const Reply& reply) {
  DIALKV_RETURN_IF_ERROR(net::FromProto(reply.status()));
  return WriteResult{net::FromProto(reply.timestamp()), reply.hinted()};
}

Result<WriteResult> ToPutResult(Result<v1::Envelope> reply) {
  if (!reply.ok()) return reply.status();
  if (!reply->has_put_reply()) return NotTheReply("put", *reply);
  return ToWriteResult(reply->put_reply());
}

Result<WriteResult> ToDeleteResult(Result<v1::Envelope> reply) {
  if (!reply.ok()) return reply.status();
  if (!reply->has_delete_reply()) return NotTheReply("delete", *reply);
  return ToWriteResult(reply->delete_reply());
}

NodeInfo ToNodeInfo(v1::NodeStatus* node) {
  NodeInfo info;
  info.node_id = node->node_id();
  info.peer_address = std::move(*node->mutable_peer_address());
  info.state = std::move(*node->mutable_state());
  info.generation = node->generation();
  info.heartbeat = node->heartbeat();
  info.last_heard_ms_ago = node->last_heard_ms_ago();
  info.live_keys = node->live_keys();
  return info;
}

Result<ClusterStatus> ToClusterStatus(Result<v1::Envelope> reply) {
  if (!reply.ok()) return reply.status();
  if (!reply->has_cluster_status_reply()) return NotTheReply("cluster status request", *reply);
  v1::ClusterStatusReply* answer = reply->mutable_cluster_status_reply();
  DIALKV_RETURN_IF_ERROR(net::FromProto(answer->status()));
  ClusterStatus status;
  status.node_id = answer->node_id();
  status.cluster_name = std::move(*answer->mutable_cluster_name());
  status.replication_factor = answer->replication_factor();
  status.nodes.reserve(static_cast<size_t>(answer->nodes_size()));
  for (v1::NodeStatus& node : *answer->mutable_nodes()) status.nodes.push_back(ToNodeInfo(&node));
  return status;
}

// Runs `op` to completion, turning an exception (a bug, or out of memory) into kInternal so
// no exception leaves the I/O thread's request coroutines.
template <typename T>
asio::awaitable<Outcome<T>> Guarded(asio::awaitable<Outcome<T>> op) {
  std::exception_ptr error;
  try {
    co_return co_await std::move(op);
  } catch (...) {
    error = std::current_exception();
  }
  co_return Result<T>(Status::Internal("request failed: " + DescribeException(error)));
}

}  // namespace

// Everything the I/O thread touches lives here; only io (to post) and the immutable options
// are used from callers' threads.
struct Client::Impl {
  Impl(ClientOptions client_options, std::vector<Endpoint> endpoints)
      : options(std::move(client_options)),
        work(asio::make_work_guard(io)),
        dispatcher(io.get_executor(), std::move(endpoints),
                   Dispatcher::Options{options.connect_timeout_ms, options.reply_grace_ms,
                                       options.max_frame_bytes, options.max_inflight_requests}) {}

  // The I/O thread's body: runs until the client is destroyed and every request finished.
  void Run() {
    for (;;) {
      try {
        io.run();
        return;
      } catch (...) {
        Logger("client")->error("I/O thread handler threw: {}",
                                DescribeException(std::current_exception()));
      }
    }
  }

  Result<RequestParams> Params(const RequestOptions& request) const {
    const uint32_t timeout_ms = request.timeout_ms.value_or(options.timeout_ms);
    DIALKV_RETURN_IF_ERROR(CheckRange("timeout_ms", timeout_ms, 1, kMaxTimeoutMs));
    const Consistency consistency = request.consistency.value_or(options.default_consistency);
    DIALKV_RETURN_IF_ERROR(CheckConsistency("consistency", consistency));
    return RequestParams{timeout_ms, consistency};
  }

  // The request coroutines, run on the I/O thread. They take their inputs by value.
  asio::awaitable<Outcome<GetResult>> Get(std::string key, RequestParams params) {
    v1::Envelope request;
    request.mutable_get_request()->set_key(std::move(key));
    co_return ToGetResult(co_await dispatcher.Execute(std::move(request), params));
  }
  asio::awaitable<Outcome<WriteResult>> Put(std::string key, std::string value,
                                            RequestParams params) {
    v1::Envelope request;
    request.mutable_put_request()->set_key(std::move(key));
    request.mutable_put_request()->set_value(std::move(value));
    co_return ToPutResult(co_await dispatcher.Execute(std::move(request), params));
  }
  asio::awaitable<Outcome<WriteResult>> Delete(std::string key, RequestParams params) {
    v1::Envelope request;
    request.mutable_delete_request()->set_key(std::move(key));
    co_return ToDeleteResult(co_await dispatcher.Execute(std::move(request), params));
  }
  asio::awaitable<Outcome<dialkv::ClusterStatus>> ClusterStatus(RequestParams params) {
    v1::Envelope request;
    request.mutable_cluster_status_request();
    co_return ToClusterStatus(co_await dispatcher.Execute(std::move(request), params));
  }

  // Runs `op` on the I/O thread and blocks the calling thread for its result.
  template <typename T>
  Result<T> RunSync(asio::awaitable<Outcome<T>> op) {
    std::promise<Result<T>> promise;
    std::future<Result<T>> future = promise.get_future();
    asio::co_spawn(io, Guarded(std::move(op)),
                   [promise = std::move(promise)](std::exception_ptr e, Outcome<T> out) mutable {
                     promise.set_value(e ? Result<T>(Status::Internal(DescribeException(e)))
                                         : Unwrap(std::move(out)));
                   });
    try {
      return future.get();
    } catch (const std::exception& e) {
      return Status::Internal(std::string("request abandoned: ") + e.what());
    }
  }

  // Runs `op` on the I/O thread; the awaiting coroutine resumes on its own executor.
  template <typename T>
  asio::awaitable<Result<T>> RunAsync(asio::awaitable<Outcome<T>> op) {
    // An empty cancellation slot: this asio emits a caller's cancellation on the caller's
    // thread, which would race with the request's state on the I/O thread.
    Outcome<T> out = co_await asio::co_spawn(
        io, Guarded(std::move(op)),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    co_return Unwrap(std::move(out));
  }

  const ClientOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;  // Reset at destruction.
  Dispatcher dispatcher;  // Used on the I/O thread only; outlives it.
  std::thread thread;
};

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  Result<std::vector<Endpoint>> endpoints = ValidateOptions(options);
  if (!endpoints.ok()) return endpoints.status();
  try {
    auto impl = std::make_unique<Impl>(std::move(options), std::move(endpoints).value());
    impl->thread = std::thread([raw = impl.get()] { raw->Run(); });
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot start the client: ") + e.what());
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  // Shut down on the I/O thread, then let it finish every request still running: run()
  // returns once no work is left, so no coroutine outlives the dispatcher.
  asio::post(impl_->io, [impl = impl_.get()] { impl->dispatcher.Shutdown(); });
  impl_->work.reset();
  impl_->thread.join();
}

Result<GetResult> Client::Get(std::string_view key, const RequestOptions& options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) return params.status();
  return impl_->RunSync(impl_->Get(std::string(key), *params));
}

Result<WriteResult> Client::Put(std::string_view key, std::string_view value,
                                const RequestOptions& options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) return params.status();
  return impl_->RunSync(impl_->Put(std::string(key), std::string(value), *params));
}

Result<WriteResult> Client::Delete(std::string_view key, const RequestOptions& options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) return params.status();
  return impl_->RunSync(impl_->Delete(std::string(key), *params));
}

Result<ClusterStatus> Client::ClusterStatus(const RequestOptions& options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) return params.status();
  return impl_->RunSync(impl_->ClusterStatus(*params));
}

asio::awaitable<Result<GetResult>> Client::AsyncGet(std::string key, RequestOptions options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) co_return params.status();
  co_return co_await impl_->RunAsync(impl_->Get(std::move(key), *params));
}

asio::awaitable<Result<WriteResult>> Client::AsyncPut(std::string key, std::string value,
                                                      RequestOptions options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) co_return params.status();
  co_return co_await impl_->RunAsync(impl_->Put(std::move(key), std::move(value), *params));
}

asio::awaitable<Result<WriteResult>> Client::AsyncDelete(std::string key, RequestOptions options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) co_return params.status();
  co_return co_await impl_->RunAsync(impl_->Delete(std::move(key), *params));
}

asio::awaitable<Result<ClusterStatus>> Client::AsyncClusterStatus(RequestOptions options) {
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) co_return params.status();
  co_return co_await impl_->RunAsync(impl_->ClusterStatus(*params));
}

}  // namespace dialkv
