#include "server/net/frame.h"

#include <algorithm>
#include <asio/read.hpp>

#include "server/net/io_common.h"

namespace dialkv::net {
namespace {

static_assert(v1::StatusCode_ARRAYSIZE == kNumCodes, "wire and in-memory codes must match");
static_assert(v1::STATUS_INTERNAL == static_cast<int>(Code::kInternal));
static_assert(v1::STATUS_UNKNOWN == static_cast<int>(Code::kUnknown));

// The first read of a frame body is at most this big; later reads double the buffer.
constexpr size_t kInitialBodyBytes = 64 << 10;

bool HasUnknownFields(const google::protobuf::Message& message) {
  return !message.GetReflection()->GetUnknownFields(message).empty();
}

}  // namespace

void AppendFrame(const v1::Envelope& envelope, std::string* out) {
  const size_t size = envelope.ByteSizeLong();
  const size_t start = out->size();
  out->resize(start + kFrameHeaderBytes + size);
  auto* p = reinterpret_cast<unsigned char*>(out->data() + start);
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) p[i] = static_cast<unsigned char>(size >> (8 * i));
  envelope.SerializeWithCachedSizesToArray(p + kFrameHeaderBytes);
}

uint32_t DecodeFrameLength(const unsigned char header[kFrameHeaderBytes]) {
  return static_cast<uint32_t>(header[0]) | static_cast<uint32_t>(header[1]) << 8 |
         static_cast<uint32_t>(header[2]) << 16 | static_cast<uint32_t>(header[3]) << 24;
}

Status ParseEnvelope(std::string_view body, v1::Envelope* envelope) {
  if (!envelope->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Status::InvalidArgument("frame of " + std::to_string(body.size()) +
                                   " bytes is not a dialkv.v1.Envelope");
  }
  if (HasUnknownFields(*envelope)) {
    return Status::InvalidArgument(
        "envelope carries a field or request type this node does not know; upgrade the node "
        "or use a client of the same protocol version");
  }
  const auto* descriptor = envelope->GetDescriptor();
  const auto* oneof = descriptor->FindOneofByName("body");
  const auto* field = envelope->GetReflection()->GetOneofFieldDescriptor(*envelope, oneof);
  if (field != nullptr &&
      HasUnknownFields(envelope->GetReflection()->GetMessage(*envelope, field))) {
    return Status::InvalidArgument("request " + std::string(field->name()) +
                                   " carries a field this node does not know; upgrade the node "
                                   "or use a client of the same protocol version");
  }
  return Status::Ok();
}

asio::awaitable<Status> ReadFrame(asio::ip::tcp::socket& socket, uint32_t max_frame_bytes,
                                  std::string* body) {
  unsigned char header[kFrameHeaderBytes];
  auto [ec, n] = co_await asio::async_read(socket, asio::buffer(header), kAsTuple);
  if (ec) {
    co_return Status::Unavailable(ec == asio::error::eof ? "connection closed by peer"
                                                         : "read failed: " + ec.message());
  }
  const uint32_t length = DecodeFrameLength(header);
  if (length > max_frame_bytes) {
    co_return Status::InvalidArgument("frame of " + std::to_string(length) +
                                      " bytes is over the limit of " +
                                      std::to_string(max_frame_bytes) + " bytes");
  }
  // The buffer grows as bytes arrive rather than to the announced length at once: a header
  // alone must not make the server allocate max_frame_bytes. Small frames take one read.
  size_t have = 0;
  while (have < length) {  // Each turn reads at least one byte or returns.
    const size_t target = std::min<size_t>(length, std::max(kInitialBodyBytes, 2 * have));
    body->resize(target);
    auto [ec2, n2] = co_await asio::async_read(
        socket, asio::buffer(body->data() + have, target - have), kAsTuple);
    if (ec2) {
      co_return Status::Unavailable(ec2 == asio::error::eof ? "connection closed mid-frame"
                                                            : "read failed: " + ec2.message());
    }
    have = target;
  }
  co_return Status::Ok();
}

v1::StatusCode ToProto(Code code) { return static_cast<v1::StatusCode>(static_cast<int>(code)); }

Code FromProto(v1::StatusCode code) {
  const int c = static_cast<int>(code);
  if (c < 0 || c >= kNumCodes) return Code::kInternal;
  return static_cast<Code>(c);
}

void ToProto(const Status& status, v1::Status* out) {
  out->set_code(ToProto(status.code()));
  out->set_message(status.message());
}

Status FromProto(const v1::Status& status) {
  const Code code = FromProto(status.code());
  if (code == Code::kOk) return Status::Ok();
  if (static_cast<int>(code) != static_cast<int>(status.code())) {
    return Status::Internal("reply carries unknown status code " +
                            std::to_string(static_cast<int>(status.code())) + ": " +
                            status.message());
  }
  return Status(code, status.message());
}

void ToProto(const Timestamp& ts, v1::Timestamp* out) {
  out->set_hlc(ts.hlc);
  out->set_node_id(ts.node_id);
}

Timestamp FromProto(const v1::Timestamp& ts) { return Timestamp{ts.hlc(), ts.node_id()}; }

v1::Envelope ReplyWithStatus(const v1::Envelope& request, const Status& status) {
  v1::Envelope reply;
  reply.set_id(request.id());
  v1::Status* out = nullptr;
  switch (request.body_case()) {
    case v1::Envelope::kGetRequest:
      out = reply.mutable_get_reply()->mutable_status();
      break;
    case v1::Envelope::kPutRequest:
      out = reply.mutable_put_reply()->mutable_status();
      break;
    case v1::Envelope::kDeleteRequest:
      out = reply.mutable_delete_reply()->mutable_status();
      break;
    case v1::Envelope::kClusterStatusRequest:
      out = reply.mutable_cluster_status_reply()->mutable_status();
      break;
    case v1::Envelope::kRepairRequest:
      out = reply.mutable_repair_reply()->mutable_status();
      break;
    case v1::Envelope::kSetFaultsRequest:
    case v1::Envelope::kClearFaultsRequest:
    case v1::Envelope::kGetFaultsRequest:
    case v1::Envelope::kSetClockOffsetRequest:
      out = reply.mutable_faults_reply()->mutable_status();
      break;
    case v1::Envelope::kReadLocalRequest:
      out = reply.mutable_read_local_reply()->mutable_status();
      break;
    case v1::Envelope::kAuthRequest:
      out = reply.mutable_auth_reply()->mutable_status();
      break;
    default:
      out = reply.mutable_error_reply()->mutable_status();
      break;
  }
  ToProto(status, out);
  return reply;
}

std::optional<Status> ReplyStatus(const v1::Envelope& reply) {
  switch (reply.body_case()) {
    case v1::Envelope::kGetReply:
      return FromProto(reply.get_reply().status());
    case v1::Envelope::kPutReply:
      return FromProto(reply.put_reply().status());
    case v1::Envelope::kDeleteReply:
      return FromProto(reply.delete_reply().status());
    case v1::Envelope::kClusterStatusReply:
      return FromProto(reply.cluster_status_reply().status());
    case v1::Envelope::kFaultsReply:
      return FromProto(reply.faults_reply().status());
    case v1::Envelope::kReadLocalReply:
      return FromProto(reply.read_local_reply().status());
    case v1::Envelope::kRepairReply:
      return FromProto(reply.repair_reply().status());
    case v1::Envelope::kAuthReply:
      return FromProto(reply.auth_reply().status());
    case v1::Envelope::kErrorReply:
      return FromProto(reply.error_reply().status());
    default:
      return std::nullopt;
  }
}

}  // namespace dialkv::net
