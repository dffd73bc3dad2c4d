#include "server/net/frame.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil/status_matchers.h"

namespace dialkv::net {
namespace {

using ::testing::HasSubstr;

TEST(FrameTest, AppendFrameThenParseEnvelopeRoundTrips) {
  v1::Envelope envelope;
  envelope.set_id(42);
  envelope.mutable_put_request()->set_key("k");
  envelope.mutable_put_request()->set_value(std::string("v\0alue", 6));
  envelope.mutable_put_request()->set_timeout_ms(250);

  std::string out = "xy";  // AppendFrame appends.
  AppendFrame(envelope, &out);
  ASSERT_EQ(out.substr(0, 2), "xy");
  const auto* header = reinterpret_cast<const unsigned char*>(out.data() + 2);
  const uint32_t length = DecodeFrameLength(header);
  ASSERT_EQ(length, out.size() - 2 - kFrameHeaderBytes);

  v1::Envelope parsed;
  ASSERT_OK(ParseEnvelope(std::string_view(out).substr(2 + kFrameHeaderBytes), &parsed));
  EXPECT_EQ(parsed.id(), 42u);
  ASSERT_TRUE(parsed.has_put_request());
  EXPECT_EQ(parsed.put_request().key(), "k");
  EXPECT_EQ(parsed.put_request().value(), std::string("v\0alue", 6));
  EXPECT_EQ(parsed.put_request().timeout_ms(), 250u);
}

TEST(FrameTest, FrameLengthIsLittleEndian) {
  const unsigned char header[kFrameHeaderBytes] = {0x04, 0x03, 0x02, 0x01};
  EXPECT_EQ(DecodeFrameLength(header), 0x01020304u);

  v1::Envelope envelope;
  envelope.mutable_get_request()->set_key(std::string(300, 'k'));
  std::string out;
  AppendFrame(envelope, &out);
  const size_t body = out.size() - kFrameHeaderBytes;
  EXPECT_EQ(static_cast<unsigned char>(out[0]), body & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(out[1]), (body >> 8) & 0xff);
  EXPECT_EQ(out[2], 0);
  EXPECT_EQ(out[3], 0);
}

TEST(FrameTest, EmptyBodyIsAnEnvelopeWithoutRequest) {
  v1::Envelope parsed;
  ASSERT_OK(ParseEnvelope("", &parsed));
  EXPECT_EQ(parsed.id(), 0u);
  EXPECT_EQ(parsed.body_case(), v1::Envelope::BODY_NOT_SET);
}

TEST(FrameTest, ParseEnvelopeRejectsGarbage) {
  const std::string garbage[] = {
      std::string("\x0f", 1),             // Wire type 7 does not exist.
      std::string("\x00\x01", 2),         // Field number 0 is invalid.
      std::string("\x08", 1),             // Varint cut short.
      std::string("\x52\x05\x0a", 3),     // get_request announces 5 bytes, has 1.
      std::string(11, '\xff'),            // Varint longer than 10 bytes.
      std::string("GET / HTTP/1.1\r\n"),  // Another protocol.
  };
  for (const std::string& bytes : garbage) {
    v1::Envelope parsed;
    const Status status = ParseEnvelope(bytes, &parsed);
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.ToString();
    EXPECT_THAT(status.message(), HasSubstr("is not a dialkv.v1.Envelope"));
  }
}

TEST(FrameTest, ParseEnvelopeRejectsUnknownEnvelopeField) {
  v1::Envelope envelope;
  envelope.set_id(5);
  // Field 99, varint 1: a field (or request type) of a newer protocol.
  const std::string bytes = envelope.SerializeAsString() + std::string("\x98\x06\x01", 3);
  v1::Envelope parsed;
  const Status status = ParseEnvelope(bytes, &parsed);
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("does not know"));
}

TEST(FrameTest, ParseEnvelopeRejectsUnknownFieldInsideRequest) {
  v1::GetRequest request;
  request.set_key("k");
  // Field 9, varint 1, inside the GetRequest.
  const std::string inner = request.SerializeAsString() + std::string("\x48\x01", 2);
  v1::Envelope envelope;
  envelope.set_id(6);
  // Field 10 (get_request), length-delimited.
  const std::string bytes = envelope.SerializeAsString() + std::string("\x52", 1) +
                            static_cast<char>(inner.size()) + inner;
  v1::Envelope parsed;
  const Status status = ParseEnvelope(bytes, &parsed);
  EXPECT_EQ(status.code(), Code::kInvalidArgument) << status.ToString();
  EXPECT_THAT(status.message(), HasSubstr("get_request"));
}

TEST(FrameTest, StatusRoundTripsThroughTheWire) {
  v1::Status wire;
  ToProto(Status::Unavailable("quorum of 2 not reached"), &wire);
  EXPECT_EQ(wire.code(), v1::STATUS_UNAVAILABLE);
  EXPECT_EQ(FromProto(wire), Status::Unavailable("quorum of 2 not reached"));
  ToProto(Status::Ok(), &wire);
  EXPECT_OK(FromProto(wire));
}

TEST(FrameTest, ReplyStatusReadsEveryClientReplyAndNothingElse) {
  const Status timeout = Status::Timeout("no quorum within 250 ms");
  std::vector<v1::Envelope> requests(9);
  requests[0].mutable_get_request();
  requests[1].mutable_put_request();
  requests[2].mutable_delete_request();
  requests[3].mutable_cluster_status_request();
  requests[4].mutable_set_faults_request();
  requests[5].mutable_read_local_request();
  requests[6].mutable_repair_request();
  requests[7].mutable_auth_request();
  requests[8].mutable_gossip_request();  // Not a client request: answered with an ErrorReply.
  for (const v1::Envelope& request : requests) {
    const v1::Envelope reply = ReplyWithStatus(request, timeout);
    EXPECT_EQ(ReplyStatus(reply).value_or(Status::Ok()), timeout) << reply.ShortDebugString();
  }

  v1::Envelope ok;
  ok.mutable_get_reply();
  EXPECT_EQ(ReplyStatus(ok).value_or(timeout), Status::Ok());

  v1::Envelope gossip;
  ToProto(timeout, gossip.mutable_gossip_reply()->mutable_status());
  EXPECT_FALSE(ReplyStatus(gossip).has_value());
  EXPECT_FALSE(ReplyStatus(requests[0]).has_value());
  EXPECT_FALSE(ReplyStatus(v1::Envelope()).has_value());
}

}  // namespace
}  // namespace dialkv::net
