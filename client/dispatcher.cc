#include "client/dispatcher.h"

#include <chrono>
#include <limits>
#include <string>
#include <utility>

#include "server/net/frame.h"

namespace dialkv::client_internal {
namespace {

using std::chrono::milliseconds;

bool IsWrite(const v1::Envelope& request) {
  return request.body_case() == v1::Envelope::kPutRequest ||
         request.body_case() == v1::Envelope::kDeleteRequest;
}

std::string OpName(const v1::Envelope& request) {
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest:
      return "get";
    case v1::Envelope::kPutRequest:
      return "put";
    case v1::Envelope::kDeleteRequest:
      return "delete";
    default:
      return "request";
  }
}

void SetTimeout(v1::Envelope* request, uint32_t timeout_ms) {
  switch (request->body_case()) {
    case v1::Envelope::kGetRequest:
      request->mutable_get_request()->set_timeout_ms(timeout_ms);
      break;
    case v1::Envelope::kPutRequest:
      request->mutable_put_request()->set_timeout_ms(timeout_ms);
      break;
    case v1::Envelope::kDeleteRequest:
      request->mutable_delete_request()->set_timeout_ms(timeout_ms);
      break;
    default:
      break;
  }
}

// Whole milliseconds left until `deadline`, rounded up, at least 1 (0 on the wire would mean
// "the node's default").
uint32_t RemainingMs(SteadyClock::time_point deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - SteadyClock::now()).count();
  return left < 1 ? 1u : static_cast<uint32_t>(left);
}

void AppendFailure(std::string* failures, const std::string& endpoint, const std::string& why) {
  if (!failures->empty()) *failures += ", ";
  *failures += endpoint + " (" + why + ")";
}

// The deadline passed before the request was sent anywhere. A write was then certainly not
// applied, so it is kUnavailable, not kUnknown.
Status NotSentInTime(const std::string& op, bool is_write, uint32_t timeout_ms,
                     const std::string& failures, const std::string& connecting_to) {
  std::string message = op + " could not be sent within its " + std::to_string(timeout_ms) +
                        " ms deadline (" + (failures.empty() ? "" : failures + ", ") +
                        "still connecting to " + connecting_to + ")";
  if (is_write) return Status::Unavailable(message + "; it was not applied");
  return Status::Timeout(message);
}

// Counts a request in flight for as long as it lives.
class InflightGuard {
 public:
  explicit InflightGuard(uint32_t* count) : count_(count) { ++*count_; }
  ~InflightGuard() { --*count_; }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;

 private:
  uint32_t* count_;
};

}  // namespace

Dispatcher::Dispatcher(asio::any_io_executor executor, std::vector<Endpoint> endpoints,
                       Options options)
    : executor_(std::move(executor)), options_(options) {
  const Connection::Options connection_options{options.connect_timeout_ms, options.max_frame_bytes};
  for (Endpoint& endpoint : endpoints) {
    connections_.push_back(
        std::make_unique<Connection>(executor_, std::move(endpoint), connection_options));
  }
}

Dispatcher::~Dispatcher() = default;

asio::awaitable<Result<v1::Envelope>> Dispatcher::Execute(v1::Envelope request,
                                                          RequestParams params) {
  const std::string op = OpName(request);
  if (shut_down_) co_return Status::Unavailable("client is shut down; the " + op + " was not sent");
  if (inflight_ >= options_.max_inflight_requests) {
    co_return Status::Overloaded(std::to_string(inflight_) +
                                 " requests are in flight, the client's limit; the " + op +
                                 " was not sent");
  }
  // Measured with the largest id and timeout, so no attempt can exceed the limit.
  request.set_id(std::numeric_limits<uint64_t>::max());
  SetTimeout(&request, std::numeric_limits<uint32_t>::max());
  if (const size_t bytes = request.ByteSizeLong(); bytes > options_.max_frame_bytes) {
    co_return Status::InvalidArgument(
        op + " request of " + std::to_string(bytes) + " bytes is over the frame limit of " +
        std::to_string(options_.max_frame_bytes) + " bytes; it was not sent");
  }
  const InflightGuard inflight(&inflight_);
  const bool is_write = IsWrite(request);
  const SteadyClock::time_point deadline = SteadyClock::now() + milliseconds(params.timeout_ms);
  Call call(executor_);
  std::string failures;  // "endpoint (reason), ..." for every endpoint that failed us.
  std::string frame;
  const size_t first = preferred_;
  for (size_t attempt = 0; attempt < connections_.size(); ++attempt) {
    if (shut_down_) co_return Status::Unavailable("client is shut down");
    const size_t index = (first + attempt) % connections_.size();
    Connection& connection = *connections_[index];
    call.waiter.set_deadline(deadline);
    const Status connected = co_await connection.Connect(&call.waiter);
    if (connected.code() == Code::kTimeout || SteadyClock::now() >= deadline) {
      co_return NotSentInTime(op, is_write, params.timeout_ms, failures, connection.name());
    }
    if (!connected.ok()) {
      AppendFailure(&failures, connection.name(), connected.message());
      continue;
    }
    const uint64_t id = next_id_++;
    request.set_id(id);
    SetTimeout(&request, RemainingMs(deadline));
    frame.clear();
    net::AppendFrame(request, &frame);
    if (const Status sent = connection.Send(id, frame, &call); !sent.ok()) {
      AppendFailure(&failures, connection.name(), sent.message());
      continue;  // Nothing was sent.
    }
    // The node answers by `deadline` with a status that says what happened; wait a little
    // longer for it before deciding on our own.
    call.waiter.set_deadline(deadline + milliseconds(options_.reply_grace_ms));
    const bool woken = co_await call.waiter.Wait();
    if (call.reply.has_value()) {
      preferred_ = index;
      co_return std::move(*call.reply);
    }
    if (!woken) {
      connection.Forget(id);
      const std::string message = op + " sent to " + connection.name() +
                                  " got no reply within its " + std::to_string(params.timeout_ms) +
                                  " ms deadline";
      if (is_write) co_return Status::Unknown(message + "; it may have been applied");
      co_return Status::Timeout(message);
    }
    if (is_write) {
      co_return Status::Unknown("connection to " + connection.name() + " lost after the " + op +
                                " was sent; it may have been applied (" + call.lost.message() +
                                ")");
    }
    AppendFailure(&failures, connection.name(),
                  "connection lost after the request was sent: " + call.lost.message());
  }
  if (shut_down_) co_return Status::Unavailable("client is shut down");
  co_return Status::Unavailable("no endpoint reachable: " + failures);
}

void Dispatcher::Shutdown() {
  shut_down_ = true;
  for (auto& connection : connections_) {
    connection->Close(Status::Unavailable("client is shut down"));
  }
}

}  // namespace dialkv::client_internal
