#pragma once
// Framing and protobuf conversion for the client protocol: a frame is a 4-byte little-endian
// length followed by one serialized dialkv.v1.Envelope.
// Used by both the server and the client library.

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dialkv/status.h"
#include "dialkv/types.h"
#include "proto/dialkv.pb.h"

namespace dialkv::net {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;

// Appends the frame of `envelope` (header + body) to `out`.
void AppendFrame(const v1::Envelope& envelope, std::string* out);

// The body length a frame header announces.
uint32_t DecodeFrameLength(const unsigned char header[kFrameHeaderBytes]);

// Parses a frame body into `envelope`.
// Errors: kInvalidArgument when the bytes are not an Envelope, or when the envelope or its
// body carries fields this build does not know: a node must not silently ignore a field
// (a stricter consistency mode, say) that a newer client relies on.
Status ParseEnvelope(std::string_view body, v1::Envelope* envelope);

// Reads one frame from `socket` into `body`.
// Errors: kUnavailable when the connection closed or failed (message says which);
// kInvalidArgument when the header announces more than `max_frame_bytes` (the body is then
// not read, so the caller must close the connection).
asio::awaitable<Status> ReadFrame(asio::ip::tcp::socket& socket, uint32_t max_frame_bytes,
                                  std::string* body);

// One converter each way between dialkv::Code and the wire enum.
v1::StatusCode ToProto(Code code);
Code FromProto(v1::StatusCode code);
void ToProto(const Status& status, v1::Status* out);
Status FromProto(const v1::Status& status);
void ToProto(const Timestamp& ts, v1::Timestamp* out);
Timestamp FromProto(const v1::Timestamp& ts);

// `request`'s reply envelope (same id, the reply type matching the request: GetReply for a
// GetRequest, FaultsReply for every fault request, ...; an ErrorReply for anything else)
// carrying `status` and nothing more.
v1::Envelope ReplyWithStatus(const v1::Envelope& request, const Status& status);

// The status a reply of the client port carries in its body (a GetReply, PutReply,
// DeleteReply, ClusterStatusReply, FaultsReply, ReadLocalReply, RepairReply, AuthReply or
// ErrorReply); nullopt for any other body, or none: the caller decides what that means.
std::optional<Status> ReplyStatus(const v1::Envelope& reply);

}  // namespace dialkv::net
