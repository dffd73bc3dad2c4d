#include "dialkv/client.h"

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/dispatch.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <thread>
#include <typeinfo>
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
// How often a client destroyed on the caller's executor checks whether it may be freed.
constexpr std::chrono::milliseconds kIdlePollInterval{1};

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

// `executor`'s io_context executor, or null when it holds another kind. This asio's
// any_io_executor::target<T>() does not check the type itself.
const asio::io_context::executor_type* IoContextExecutor(const asio::any_io_executor& executor) {
  if (!executor || executor.target_type() != typeid(asio::io_context::executor_type)) {
    return nullptr;
  }
  return executor.target<asio::io_context::executor_type>();
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
  if (options.executor && IoContextExecutor(options.executor) == nullptr) {
    // Only then can a sync call tell that it is made on the executor's own thread.
    return Status::InvalidArgument(
        "executor must be an io_context's own executor (io_context::get_executor())");
  }
  std::vector<Endpoint> endpoints;
  for (const std::string& text : options.endpoints) {
    Result<Endpoint> endpoint = net::ParseEndpoint(text);
    if (!endpoint.ok()) return endpoint.status();
    endpoints.push_back(std::move(endpoint).value());
  }
  return endpoints;
}

// Decoders of the node's OK reply to each request (Dispatcher::Execute checked the body).
GetResult ToGetResult(v1::Envelope* reply) {
  v1::GetReply* get = reply->mutable_get_reply();
  return GetResult{std::move(*get->mutable_value()), net::FromProto(get->timestamp())};
}

template <typename Reply>
WriteResult ToWriteResult(const Reply& reply) {
  return WriteResult{net::FromProto(reply.timestamp()), reply.hinted()};
}

WriteResult ToPutResult(v1::Envelope* reply) { return ToWriteResult(reply->put_reply()); }

WriteResult ToDeleteResult(v1::Envelope* reply) { return ToWriteResult(reply->delete_reply()); }

NodeInfo ToNodeInfo(v1::NodeStatus* node) {
  NodeInfo info;
  info.node_id = node->node_id();
  info.peer_address = std::move(*node->mutable_peer_address());
  info.state = std::move(*node->mutable_state());
  info.generation = node->generation();
  info.heartbeat = node->heartbeat();
  info.last_heard_ms_ago = node->last_heard_ms_ago();
  info.live_keys = node->live_keys();
  info.clock_offset_known = node->clock_offset_known();
  info.clock_offset_ms = node->clock_offset_ms();
  info.clock_offset_rtt_ms = node->clock_offset_rtt_ms();
  return info;
}

ClusterStatus ToClusterStatus(v1::Envelope* reply) {
  v1::ClusterStatusReply* answer = reply->mutable_cluster_status_reply();
  ClusterStatus status;
  status.node_id = answer->node_id();
  status.cluster_name = std::move(*answer->mutable_cluster_name());
  status.replication_factor = answer->replication_factor();
  status.nodes.reserve(static_cast<size_t>(answer->nodes_size()));
  for (v1::NodeStatus& node : *answer->mutable_nodes()) status.nodes.push_back(ToNodeInfo(&node));
  status.ae_oldest_full_round_ms = answer->ae_oldest_full_round_ms();
  status.clock_skewed = answer->clock_skewed();
  v1::DiskAlarm* disk = answer->mutable_disk_alarm();
  status.disk_alarm.low_space = disk->low_space();
  status.disk_alarm.storage_error = disk->storage_error();
  status.disk_alarm.message = std::move(*disk->mutable_message());
  status.disk_alarm.since_ms = disk->since_ms();
  status.disk_alarm.free_bytes = disk->free_bytes();
  status.disk_alarm.min_free_bytes = disk->min_free_bytes();
  const v1::StorageStatus& storage = answer->storage();
  status.storage = {storage.data_dir_bytes(),         storage.sst_bytes(),
                    storage.live_data_bytes(),        storage.wal_bytes(),
                    storage.memtable_bytes(),         storage.pending_compaction_bytes(),
                    storage.write_stalls(),           storage.write_stall_ms(),
                    storage.longest_write_stall_ms(), storage.recovery_ms()};
  return status;
}

RepairReport ToRepairReport(v1::Envelope* reply) {
  const v1::RepairReply& answer = reply->repair_reply();
  RepairReport report;
  report.node_id = answer.node_id();
  for (const v1::RepairPeerReport& p : answer.peers()) {
    report.exchanges.push_back(RepairExchange{
        p.peer(), net::FromProto(p.status()), p.complete(), p.ranges_compared(),
        p.ranges_out_of_sync(), p.keys_pushed(), p.keys_pulled(), p.bytes_exchanged()});
  }
  return report;
}

FaultState ToFaultState(v1::Envelope* reply) {
  const v1::FaultState& proto = reply->faults_reply().state();
  FaultState state;
  state.node_id = proto.node_id();
  state.seed = proto.seed();
  state.clock_offset_ms = proto.clock_offset_ms();
  state.skip_read_repair = proto.skip_read_repair();
  state.skip_write_timestamp_phase = proto.skip_write_timestamp_phase();
  switch (proto.disk()) {
    case v1::DISK_FAULT_FULL:
      state.disk = DiskFault::kFull;
      break;
    case v1::DISK_FAULT_IO_ERROR:
      state.disk = DiskFault::kIoError;
      break;
    default:
      state.disk = DiskFault::kNone;
      break;
  }
  state.links.reserve(static_cast<size_t>(proto.links_size()));
  for (const v1::LinkFaults& link : proto.links()) {
    state.links.push_back(LinkFaults{link.peer(), link.drop_out(), link.drop_in(), link.block_out(),
                                     link.block_in(), link.delay_ms(), link.jitter_ms()});
  }
  return state;
}

LocalVersion ToLocalVersion(v1::Envelope* reply) {
  v1::ReadLocalReply* answer = reply->mutable_read_local_reply();
  v1::Version* version = answer->mutable_version();
  return LocalVersion{answer->node_id(), std::move(*version->mutable_value()),
                      net::FromProto(version->timestamp()), version->tombstone()};
}

template <typename T>
using Decoder = T (*)(v1::Envelope* reply);

// The requests, one builder each, shared by the sync and the coroutine calls.
v1::Envelope GetRequest(std::string key) {
  v1::Envelope request;
  request.mutable_get_request()->set_key(std::move(key));
  return request;
}

v1::Envelope PutRequest(std::string key, std::string value) {
  v1::Envelope request;
  request.mutable_put_request()->set_key(std::move(key));
  request.mutable_put_request()->set_value(std::move(value));
  return request;
}

v1::Envelope DeleteRequest(std::string key) {
  v1::Envelope request;
  request.mutable_delete_request()->set_key(std::move(key));
  return request;
}

v1::Envelope ClusterStatusRequest() {
  v1::Envelope request;
  request.mutable_cluster_status_request();
  return request;
}

v1::Envelope RepairRequest() {
  v1::Envelope request;
  request.mutable_repair_request();
  return request;
}

void ToProto(const LinkFaultsPatch& patch, v1::LinkFaultsPatch* out) {
  out->set_peer(patch.peer);
  if (patch.drop_out.has_value()) out->set_drop_out(*patch.drop_out);
  if (patch.drop_in.has_value()) out->set_drop_in(*patch.drop_in);
  if (patch.block_out.has_value()) out->set_block_out(*patch.block_out);
  if (patch.block_in.has_value()) out->set_block_in(*patch.block_in);
  if (patch.delay_ms.has_value()) out->set_delay_ms(*patch.delay_ms);
  if (patch.jitter_ms.has_value()) out->set_jitter_ms(*patch.jitter_ms);
}

v1::Envelope SetFaultsRequest(const std::vector<LinkFaultsPatch>& patches,
                              std::optional<uint64_t> seed) {
  v1::Envelope request;
  v1::SetFaultsRequest* set = request.mutable_set_faults_request();
  for (const LinkFaultsPatch& patch : patches) ToProto(patch, set->add_links());
  if (seed.has_value()) set->set_seed(*seed);
  return request;
}

v1::Envelope ClearFaultsRequest() {
  v1::Envelope request;
  request.mutable_clear_faults_request();
  return request;
}

v1::Envelope GetFaultsRequest() {
  v1::Envelope request;
  request.mutable_get_faults_request();
  return request;
}

v1::Envelope SetClockOffsetRequest(int64_t offset_ms) {
  v1::Envelope request;
  request.mutable_set_clock_offset_request()->set_offset_ms(offset_ms);
  return request;
}

v1::Envelope ReadLocalRequest(std::string key) {
  v1::Envelope request;
  request.mutable_read_local_request()->set_key(std::move(key));
  return request;
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

// Everything the I/O thread (or the caller's executor) touches lives here; only the executor
// (to spawn on), `calls` and the immutable options are used from callers' threads.
struct Client::Impl {
  Impl(ClientOptions client_options, std::vector<Endpoint> endpoints,
       std::shared_ptr<net::TlsContext> tls)
      : options(std::move(client_options)),
        own_io(options.executor ? nullptr : std::make_unique<asio::io_context>()),
        executor(own_io ? own_io->get_executor() : options.executor),
        dispatcher(executor, std::move(endpoints),
                   Dispatcher::Options{options.connect_timeout_ms, options.reply_grace_ms,
                                       options.max_frame_bytes, options.max_inflight_requests,
                                       options.token, std::move(tls)}) {
    if (own_io) work.emplace(asio::make_work_guard(*own_io));
  }

  // The I/O thread's body: runs until the client is destroyed and every request finished.
  void Run() {
    for (;;) {
      try {
        own_io->run();
        return;
      } catch (...) {
        Log(Subsystem::kClient)
            .error("I/O thread handler threw: {}", DescribeException(std::current_exception()));
      }
    }
  }

  // Whether the calling thread is the one that runs `executor` (when it can tell).
  bool OnExecutorThread() const {
    const auto* io = IoContextExecutor(executor);
    return io != nullptr && io->running_in_this_thread();
  }

  // With the caller's executor: frees `impl` there once no call and no connection coroutine
  // of it is left (after Shutdown()). Polls: it runs once, at destruction. If the executor
  // stops for good first, `impl` is leaked rather than freed under a coroutine still
  // suspended on it.
  static asio::awaitable<void> FreeWhenIdle(Impl* impl) {
    asio::steady_timer timer(impl->executor);
    while (impl->calls.load() > 0 || !impl->dispatcher.idle()) {
      timer.expires_after(kIdlePollInterval);
      co_await timer.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    delete impl;
  }

  Result<RequestParams> Params(const RequestOptions& request) const {
    const uint32_t timeout_ms = request.timeout_ms.value_or(options.timeout_ms);
    DIALKV_RETURN_IF_ERROR(CheckRange("timeout_ms", timeout_ms, 1, kMaxTimeoutMs));
    const Consistency consistency = request.consistency.value_or(options.default_consistency);
    DIALKV_RETURN_IF_ERROR(CheckConsistency("consistency", consistency));
    return RequestParams{timeout_ms, consistency};
  }

  // Sends `request` and decodes the node's OK reply. Runs on the I/O thread; takes its inputs
  // by value.
  template <typename T>
  asio::awaitable<Outcome<T>> Execute(v1::Envelope request, RequestParams params,
                                      Decoder<T> decode) {
    Result<v1::Envelope> reply = co_await dispatcher.Execute(std::move(request), params);
    if (!reply.ok()) co_return Result<T>(reply.status());
    co_return Result<T>(decode(&reply.value()));
  }

  // Runs `request` with `options` and blocks the calling thread for its result.
  template <typename T>
  Result<T> Sync(v1::Envelope request, const RequestOptions& options, Decoder<T> decode) {
    if (OnExecutorThread()) {
      return Status::InvalidArgument(
          "a blocking call on the thread that runs the client's executor would wait for "
          "itself; co_await the Async form of the call there");
    }
    Result<RequestParams> params = Params(options);
    if (!params.ok()) return params.status();
    return RunSync(Execute(std::move(request), *params, decode));
  }

  // Runs `request` with `options`; the awaiting coroutine resumes on its own executor.
  template <typename T>
  asio::awaitable<Result<T>> Async(v1::Envelope request, RequestOptions options,
                                   Decoder<T> decode) {
    Result<RequestParams> params = Params(options);
    if (!params.ok()) co_return params.status();
    co_return co_await RunAsync(Execute(std::move(request), *params, decode));
  }

  // Runs `op` on the I/O thread and blocks the calling thread for its result.
  template <typename T>
  Result<T> RunSync(asio::awaitable<Outcome<T>> op) {
    std::promise<Result<T>> promise;
    std::future<Result<T>> future = promise.get_future();
    ++calls;
    asio::co_spawn(
        executor, Guarded(std::move(op)),
        [this, promise = std::move(promise)](const std::exception_ptr& e, Outcome<T> out) mutable {
          --calls;  // Nothing of the call runs any more; the client may be freed after this.
          promise.set_value(e ? Result<T>(Status::Internal(DescribeException(e)))
                              : Unwrap(std::move(out)));
        });
    try {
      return future.get();
    } catch (const std::exception& e) {
      return Status::Internal(std::string("request abandoned: ") + e.what());
    }
  }

  // Runs `op` on the I/O thread (with no hop when the caller already runs on the client's
  // executor); the awaiting coroutine resumes on its own executor.
  template <typename T>
  asio::awaitable<Result<T>> RunAsync(asio::awaitable<Outcome<T>> op) {
    // Counted only on the caller's executor, where destruction waits for the count (the state
    // may be freed as soon as it drops). With the client's own thread, destruction completes
    // this call and frees the state before the caller resumes here: touch nothing of it then.
    std::atomic<uint64_t>* const in_progress = own_io ? nullptr : &calls;
    if (in_progress != nullptr) ++*in_progress;
    // An empty cancellation slot: this asio emits a caller's cancellation on the caller's
    // thread, which would race with the request's state on the I/O thread.
    Outcome<T> out = co_await asio::co_spawn(
        executor, Guarded(std::move(op)),
        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    if (in_progress != nullptr) --*in_progress;
    co_return Unwrap(std::move(out));
  }

  const ClientOptions options;
  const std::unique_ptr<asio::io_context> own_io;  // Null when running on options.executor.
  const asio::any_io_executor executor;            // own_io's or options.executor.
  // Keeps own_io running until destruction.
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  // Sync and Async calls started and not finished. Any thread.
  std::atomic<uint64_t> calls{0};
  Dispatcher dispatcher;  // Used on the executor only; outlives every coroutine using it.
  std::thread thread;     // With own_io only.
};

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  Result<std::vector<Endpoint>> endpoints = ValidateOptions(options);
  if (!endpoints.ok()) return endpoints.status();
  std::shared_ptr<net::TlsContext> tls;
  if (!options.tls_ca_file.empty()) {
    Result<std::shared_ptr<net::TlsContext>> context =
        net::TlsContext::ForClient({.ca_file = options.tls_ca_file}, "tls_ca_file");
    if (!context.ok()) return context.status();
    tls = std::move(context).value();
  }
  try {
    auto impl =
        std::make_unique<Impl>(std::move(options), std::move(endpoints).value(), std::move(tls));
    if (impl->own_io) impl->thread = std::thread([raw = impl.get()] { raw->Run(); });
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot start the client: ") + e.what());
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (!impl_->own_io) {
    // On the caller's executor (at once when this is its thread): shut down, then free the
    // state there once every coroutine using it is done.
    Impl* impl = impl_.release();
    asio::dispatch(impl->executor, [impl] {
      impl->dispatcher.Shutdown();
      asio::co_spawn(impl->executor, Impl::FreeWhenIdle(impl), asio::detached);
    });
    return;
  }
  // Shut down on the I/O thread, then let it finish every request still running: run()
  // returns once no work is left, so no coroutine outlives the dispatcher.
  asio::post(*impl_->own_io, [impl = impl_.get()] { impl->dispatcher.Shutdown(); });
  impl_->work.reset();
  impl_->thread.join();
}

Status Client::SetToken(std::string token, const RequestOptions& options) {
  if (impl_->OnExecutorThread()) {
    return Status::InvalidArgument(
        "SetToken blocks until the nodes answer; call it off the client's executor thread");
  }
  Result<RequestParams> params = impl_->Params(options);
  if (!params.ok()) return params.status();
  auto present = [](Impl* impl, std::string token,
                    uint32_t timeout_ms) -> asio::awaitable<Outcome<bool>> {
    const Status status = co_await impl->dispatcher.SetToken(std::move(token), timeout_ms);
    co_return status.ok() ? Result<bool>(true) : Result<bool>(status);
  };
  Result<bool> done = impl_->RunSync(present(impl_.get(), std::move(token), params->timeout_ms));
  return done.ok() ? Status::Ok() : done.status();
}

Result<GetResult> Client::Get(std::string_view key, const RequestOptions& options) {
  return impl_->Sync(GetRequest(std::string(key)), options, &ToGetResult);
}

Result<WriteResult> Client::Put(std::string_view key, std::string_view value,
                                const RequestOptions& options) {
  return impl_->Sync(PutRequest(std::string(key), std::string(value)), options, &ToPutResult);
}

Result<WriteResult> Client::Delete(std::string_view key, const RequestOptions& options) {
  return impl_->Sync(DeleteRequest(std::string(key)), options, &ToDeleteResult);
}

Result<ClusterStatus> Client::ClusterStatus(const RequestOptions& options) {
  return impl_->Sync(ClusterStatusRequest(), options, &ToClusterStatus);
}

asio::awaitable<Result<GetResult>> Client::AsyncGet(std::string key, RequestOptions options) {
  return impl_->Async(GetRequest(std::move(key)), options, &ToGetResult);
}

asio::awaitable<Result<WriteResult>> Client::AsyncPut(std::string key, std::string value,
                                                      RequestOptions options) {
  return impl_->Async(PutRequest(std::move(key), std::move(value)), options, &ToPutResult);
}

asio::awaitable<Result<WriteResult>> Client::AsyncDelete(std::string key, RequestOptions options) {
  return impl_->Async(DeleteRequest(std::move(key)), options, &ToDeleteResult);
}

asio::awaitable<Result<ClusterStatus>> Client::AsyncClusterStatus(RequestOptions options) {
  return impl_->Async(ClusterStatusRequest(), options, &ToClusterStatus);
}

Result<FaultState> Client::SetBugSwitches(const BugSwitches& switches,
                                          const RequestOptions& options) {
  v1::Envelope request;
  v1::BugSwitches* bugs = request.mutable_set_faults_request()->mutable_bugs();
  if (switches.skip_read_repair.has_value()) bugs->set_skip_read_repair(*switches.skip_read_repair);
  if (switches.skip_write_timestamp_phase.has_value()) {
    bugs->set_skip_write_timestamp_phase(*switches.skip_write_timestamp_phase);
  }
  return impl_->Sync(std::move(request), options, &ToFaultState);
}

Result<FaultState> Client::SetDiskFault(DiskFault fault, const RequestOptions& options) {
  v1::Envelope request;
  v1::DiskFault disk = v1::DISK_FAULT_NONE;
  if (fault == DiskFault::kFull) disk = v1::DISK_FAULT_FULL;
  if (fault == DiskFault::kIoError) disk = v1::DISK_FAULT_IO_ERROR;
  request.mutable_set_faults_request()->set_disk(disk);
  return impl_->Sync(std::move(request), options, &ToFaultState);
}

Result<FaultState> Client::SetFaults(const std::vector<LinkFaultsPatch>& patches,
                                     std::optional<uint64_t> seed, const RequestOptions& options) {
  return impl_->Sync(SetFaultsRequest(patches, seed), options, &ToFaultState);
}

Result<FaultState> Client::ClearFaults(const RequestOptions& options) {
  return impl_->Sync(ClearFaultsRequest(), options, &ToFaultState);
}

Result<FaultState> Client::GetFaults(const RequestOptions& options) {
  return impl_->Sync(GetFaultsRequest(), options, &ToFaultState);
}

Result<FaultState> Client::SetClockOffset(int64_t offset_ms, const RequestOptions& options) {
  return impl_->Sync(SetClockOffsetRequest(offset_ms), options, &ToFaultState);
}

Result<RepairReport> Client::Repair(const RequestOptions& options) {
  return impl_->Sync(RepairRequest(), options, &ToRepairReport);
}

Result<LocalVersion> Client::ReadLocal(std::string_view key, const RequestOptions& options) {
  return impl_->Sync(ReadLocalRequest(std::string(key)), options, &ToLocalVersion);
}

asio::awaitable<Result<FaultState>> Client::AsyncSetFaults(
    const std::vector<LinkFaultsPatch>& patches, std::optional<uint64_t> seed,
    RequestOptions options) {
  return impl_->Async(SetFaultsRequest(patches, seed), options, &ToFaultState);
}

asio::awaitable<Result<FaultState>> Client::AsyncClearFaults(RequestOptions options) {
  return impl_->Async(ClearFaultsRequest(), options, &ToFaultState);
}

asio::awaitable<Result<FaultState>> Client::AsyncGetFaults(RequestOptions options) {
  return impl_->Async(GetFaultsRequest(), options, &ToFaultState);
}

asio::awaitable<Result<FaultState>> Client::AsyncSetClockOffset(int64_t offset_ms,
                                                                RequestOptions options) {
  return impl_->Async(SetClockOffsetRequest(offset_ms), options, &ToFaultState);
}

asio::awaitable<Result<LocalVersion>> Client::AsyncReadLocal(std::string key,
                                                             RequestOptions options) {
  return impl_->Async(ReadLocalRequest(std::move(key)), options, &ToLocalVersion);
}

}  // namespace dialkv
