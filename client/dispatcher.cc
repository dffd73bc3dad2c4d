#include "client/dispatcher.h"

#include <chrono>
#include <limits>
#include <string>
#include <utility>

#include "server/net/frame.h"
#include "server/net/handshake.h"

namespace dialkv::client_internal {
namespace {

using std::chrono::milliseconds;

// What the dispatcher needs to know about each kind of request.
struct RequestKind {
  v1::Envelope::BodyCase request;
  v1::Envelope::BodyCase reply;  // The body of the reply that answers it.
  const char* name;              // For messages: "the get was not sent".
  // It changes state, so once sent it may have been applied even without an answer.
  bool is_write;
  // It is about the node it is sent to: only the first endpoint is tried, never another.
  bool first_endpoint_only;
};

// {request, reply, name, is_write, first_endpoint_only}
constexpr RequestKind kRequestKinds[] = {
    {v1::Envelope::kGetRequest, v1::Envelope::kGetReply, "get", false, false},
    {v1::Envelope::kPutRequest, v1::Envelope::kPutReply, "put", true, false},
    {v1::Envelope::kDeleteRequest, v1::Envelope::kDeleteReply, "delete", true, false},
    {v1::Envelope::kClusterStatusRequest, v1::Envelope::kClusterStatusReply,
     "cluster status request", false, false},
    {v1::Envelope::kSetFaultsRequest, v1::Envelope::kFaultsReply, "set faults request", true, true},
    {v1::Envelope::kClearFaultsRequest, v1::Envelope::kFaultsReply, "clear faults request", true,
     true},
    {v1::Envelope::kGetFaultsRequest, v1::Envelope::kFaultsReply, "get faults request", false,
     true},
    {v1::Envelope::kSetClockOffsetRequest, v1::Envelope::kFaultsReply, "set clock offset request",
     true, true},
    {v1::Envelope::kReadLocalRequest, v1::Envelope::kReadLocalReply, "read local request", false,
     true},
    {v1::Envelope::kRepairRequest, v1::Envelope::kRepairReply, "repair request", false, true},
};

const RequestKind* KindOf(const v1::Envelope& request) {
  for (const RequestKind& kind : kRequestKinds) {
    if (kind.request == request.body_case()) return &kind;
  }
  return nullptr;
}

v1::Consistency ToProto(Consistency consistency) {
  return consistency == Consistency::kAp ? v1::CONSISTENCY_AP : v1::CONSISTENCY_CP;
}

// Writes the fields the dispatcher owns into a get, put or delete request; other requests
// have neither field.
void SetFields(v1::Envelope* request, uint32_t timeout_ms, Consistency consistency) {
  switch (request->body_case()) {
    case v1::Envelope::kGetRequest:
      request->mutable_get_request()->set_timeout_ms(timeout_ms);
      request->mutable_get_request()->set_consistency(ToProto(consistency));
      break;
    case v1::Envelope::kPutRequest:
      request->mutable_put_request()->set_timeout_ms(timeout_ms);
      request->mutable_put_request()->set_consistency(ToProto(consistency));
      break;
    case v1::Envelope::kDeleteRequest:
      request->mutable_delete_request()->set_timeout_ms(timeout_ms);
      request->mutable_delete_request()->set_consistency(ToProto(consistency));
      break;
    default:
      break;
  }
}

// The status a reply carries in its body; OK for a body without one.
Status ReplyStatus(const v1::Envelope& reply) {
  return net::ReplyStatus(reply).value_or(Status::Ok());
}

std::string BodyName(const v1::Envelope& envelope) {
  const auto* oneof = envelope.GetDescriptor()->FindOneofByName("body");
  const auto* field = envelope.GetReflection()->GetOneofFieldDescriptor(envelope, oneof);
  return field == nullptr ? "an empty envelope" : std::string(field->name());
}

// What the node's reply (other than UNAVAILABLE) means for the caller: the reply itself when
// it answers the request with OK; otherwise the status it carries (the request's reply with an
// error, or an ErrorReply: the node could not serve the request at all), or a protocol error.
Result<v1::Envelope> Answer(const RequestKind& kind, v1::Envelope reply) {
  const bool answers = reply.body_case() == kind.reply;
  if (!answers && !reply.has_error_reply()) {
    return Status::Internal(std::string("node answered a ") + kind.name + " with " +
                            BodyName(reply));
  }
  Status status = ReplyStatus(reply);
  if (!status.ok()) return status;
  if (!answers) {
    return Status::Internal(std::string("node sent an error reply with status OK to a ") +
                            kind.name);
  }
  return reply;
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

// The request ends without an answer that says what happened. Unless an earlier attempt of
// this write may have been applied (its connection was lost after it was sent), nothing was
// applied anywhere.
Status GiveUp(const std::string& op, bool maybe_applied, const std::string& message) {
  if (maybe_applied) {
    return Status::Unknown(message + "; the " + op + " may have been applied by an attempt " +
                           "whose connection was lost");
  }
  return Status::Unavailable(message);
}

// The deadline passed before the request could be sent (again). A read times out; a write
// was not applied by this attempt, so it is kUnavailable unless an earlier one may have been.
Status NotSentInTime(const std::string& op, bool is_write, bool maybe_applied, uint32_t timeout_ms,
                     const std::string& failures, const std::string& connecting_to) {
  std::string message = op + " could not be sent within its " + std::to_string(timeout_ms) +
                        " ms deadline (" + (failures.empty() ? "" : failures + ", ") +
                        "still connecting to " + connecting_to + ")";
  if (!is_write) return Status::Timeout(message);
  return GiveUp(op, maybe_applied, maybe_applied ? message : message + "; it was not applied");
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
                       const Options& options)
    : executor_(std::move(executor)), options_(options), token_(options.token) {
  Connection::Options connection_options{options.connect_timeout_ms, options.max_frame_bytes};
  connection_options.tls = options.tls;
  connection_options.handshake = [this](net::Stream& stream, net::FrameReader& reader) {
    return PresentToken(stream, reader);
  };
  for (Endpoint& endpoint : endpoints) {
    connections_.push_back(
        std::make_unique<Connection>(executor_, std::move(endpoint), connection_options));
  }
}

Dispatcher::~Dispatcher() = default;

asio::awaitable<Result<v1::Envelope>> Dispatcher::Execute(v1::Envelope request,
                                                          RequestParams params) {
  const RequestKind* kind = KindOf(request);
  if (kind == nullptr) {
    co_return Status::Internal("the client cannot send a request of type " + BodyName(request));
  }
  const std::string op = kind->name;
  if (shut_down_) co_return Status::Unavailable("client is shut down; the " + op + " was not sent");
  if (inflight_ >= options_.max_inflight_requests) {
    co_return Status::Overloaded(std::to_string(inflight_) +
                                 " requests are in flight, the client's limit; the " + op +
                                 " was not sent");
  }
  // Measured with the largest id and timeout, so no attempt can exceed the limit.
  request.set_id(std::numeric_limits<uint64_t>::max());
  SetFields(&request, std::numeric_limits<uint32_t>::max(), params.consistency);
  if (const size_t bytes = request.ByteSizeLong(); bytes > options_.max_frame_bytes) {
    co_return Status::InvalidArgument(
        op + " request of " + std::to_string(bytes) + " bytes is over the frame limit of " +
        std::to_string(options_.max_frame_bytes) + " bytes; it was not sent");
  }
  const InflightGuard inflight(&inflight_);
  const bool is_write = kind->is_write;
  // Whether the request may be sent again after its connection was lost once it was sent.
  // Reads change nothing. An AP write resent is one more write of the same value, which AP's
  // last-writer-wins allows anyway. A CP write resent could land after a later write and undo
  // it, which a linearizable history forbids: it is reported kUnknown instead.
  const bool resend_after_loss = !is_write || params.consistency == Consistency::kAp;
  bool maybe_applied = false;  // An earlier attempt of this write may have been applied.
  const SteadyClock::time_point deadline = SteadyClock::now() + milliseconds(params.timeout_ms);
  Call call(executor_);
  std::string failures;  // "endpoint (reason), ..." for every endpoint that failed us.
  const size_t first = kind->first_endpoint_only ? 0 : preferred_;
  const size_t endpoints = kind->first_endpoint_only ? 1 : connections_.size();
  // One pass over the endpoints at most: each failure that allows a retry moves to the next.
  for (size_t attempt = 0; attempt < endpoints && !shut_down_; ++attempt) {
    const size_t index = (first + attempt) % connections_.size();
    Connection& connection = *connections_[index];
    call.waiter.set_deadline(deadline);
    const Status connected = co_await connection.Connect(&call.waiter);
    if (connected.code() == Code::kTimeout || SteadyClock::now() >= deadline) {
      co_return NotSentInTime(op, is_write, maybe_applied, params.timeout_ms, failures,
                              connection.name());
    }
    if (connected.code() == Code::kUnauthenticated) {
      // Every node shares the token secret: another endpoint would refuse the token too.
      co_return Status::Unauthenticated(connection.name() +
                                        " refused the token: " + connected.message());
    }
    if (!connected.ok()) {
      AppendFailure(&failures, connection.name(), connected.message());
      continue;
    }
    const uint64_t id = next_id_++;
    request.set_id(id);
    SetFields(&request, RemainingMs(deadline), params.consistency);
    if (const Status sent = connection.Send(id, request, &call); !sent.ok()) {
      AppendFailure(&failures, connection.name(), sent.message());
      continue;  // Nothing was sent.
    }
    // The node answers by `deadline` with a status that says what happened; wait a little
    // longer for it before deciding on our own.
    call.waiter.set_deadline(deadline + milliseconds(options_.reply_grace_ms));
    const bool woken = co_await call.waiter.Wait();
    if (call.reply.has_value()) {
      if (const Status answered = ReplyStatus(*call.reply); answered.code() == Code::kUnavailable) {
        // The node says it did not apply the request (for CP: no quorum reachable from it);
        // another node may be on the other side of a partition.
        AppendFailure(&failures, connection.name(), answered.ToString());
        continue;
      }
      preferred_ = index;
      co_return Answer(*kind, std::move(*call.reply));
    }
    if (!woken) {
      connection.Forget(id);
      const std::string message = op + " sent to " + connection.name() +
                                  " got no reply within its " + std::to_string(params.timeout_ms) +
                                  " ms deadline";
      if (is_write) co_return Status::Unknown(message + "; it may have been applied");
      co_return Status::Timeout(message);
    }
    if (call.not_read) {  // The node read none of it: definitely not applied.
      AppendFailure(&failures, connection.name(), call.lost.message());
      continue;
    }
    if (!resend_after_loss) {
      co_return Status::Unknown("connection to " + connection.name() + " lost after the " + op +
                                " was sent; it may have been applied (" + call.lost.message() +
                                ")");
    }
    maybe_applied = maybe_applied || is_write;
    AppendFailure(&failures, connection.name(),
                  "connection lost after the " + op + " was sent: " + call.lost.message());
  }
  if (shut_down_) {
    co_return GiveUp(op, maybe_applied,
                     "client is shut down" + (failures.empty() ? "" : " (" + failures + ")"));
  }
  if (kind->first_endpoint_only) {
    co_return GiveUp(op, maybe_applied, "the " + op + " was not served: " + failures);
  }
  co_return GiveUp(op, maybe_applied, "no endpoint could serve the " + op + ": " + failures);
}

asio::awaitable<Status> Dispatcher::PresentToken(net::Stream& stream, net::FrameReader& reader) {
  if (token_.empty()) co_return Status::Ok();
  v1::Envelope request;
  request.mutable_auth_request()->set_token(token_);
  constexpr std::string_view kWhat = "token";
  auto steps = [&]() -> asio::awaitable<Status> {
    if (Status sent = co_await net::WriteEnvelope(stream, request, kWhat); !sent.ok())
      co_return sent;
    Result<v1::Envelope> reply = co_await net::ReadEnvelope(stream, reader, kWhat);
    if (!reply.ok()) co_return reply.status();
    if (!reply->has_auth_reply()) {
      const Status status = ReplyStatus(*reply);
      co_return status.ok() ? Status::Unavailable("the node did not answer the token") : status;
    }
    co_return net::FromProto(reply->auth_reply().status());
  };
  co_return co_await net::WithDeadline(steps(), options_.connect_timeout_ms,
                                       "presenting the token");
}

asio::awaitable<Status> Dispatcher::SetToken(std::string token, uint32_t timeout_ms) {
  token_ = std::move(token);
  const SteadyClock::time_point deadline = SteadyClock::now() + milliseconds(timeout_ms);
  Status first_error;
  for (auto& connection : connections_) {
    if (!connection->connected()) continue;  // It presents the new token when it opens.
    v1::Envelope request;
    request.mutable_auth_request()->set_token(token_);
    const uint64_t id = next_id_++;
    request.set_id(id);
    Call call(executor_);
    call.waiter.set_deadline(deadline);
    Status status = connection->Send(id, request, &call);
    if (status.ok()) {
      if (!co_await call.waiter.Wait()) {
        connection->Forget(id);
        status = Status::Timeout("no answer to the new token within " + std::to_string(timeout_ms) +
                                 " ms");
      } else if (call.reply.has_value()) {
        status = ReplyStatus(*call.reply);
      } else {
        status = call.lost;
      }
    }
    if (!status.ok() && first_error.ok()) {
      first_error = Status(status.code(), connection->name() + ": " + status.message());
    }
  }
  co_return first_error;
}

void Dispatcher::Shutdown() {
  shut_down_ = true;
  for (auto& connection : connections_) {
    connection->Close(Status::Unavailable("client is shut down"));
  }
}

bool Dispatcher::idle() const {
  if (inflight_ > 0) return false;
  for (const auto& connection : connections_) {
    if (!connection->idle()) return false;
  }
  return true;
}

}  // namespace dialkv::client_internal
