#include "bench/load/protocol.h"

#include <gtest/gtest.h>

namespace dialkv::bench {
namespace {

TEST(RespTest, EncodesCommandsAsArraysOfBulkStrings) {
  std::string out;
  AppendRespCommand({"SET", "k", "hello"}, &out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n");
}

TEST(RespTest, ParsesEachReplyType) {
  RespReply r;
  size_t n = 0;
  ASSERT_EQ(ParseResp("+OK\r\n", &r, &n), Parse::kDone);
  EXPECT_EQ(r.type, RespReply::Type::kSimple);
  EXPECT_EQ(r.text, "OK");
  EXPECT_EQ(n, 5u);
  ASSERT_EQ(ParseResp("-ERR no\r\n", &r, &n), Parse::kDone);
  EXPECT_EQ(r.type, RespReply::Type::kError);
  ASSERT_EQ(ParseResp(":2\r\n", &r, &n), Parse::kDone);
  EXPECT_EQ(r.integer, 2);
  ASSERT_EQ(ParseResp("$5\r\nhe\r\no\r\n", &r, &n), Parse::kDone);  // CRLF inside a bulk.
  EXPECT_EQ(r.text, "he\r\no");
  EXPECT_EQ(n, 11u);
  ASSERT_EQ(ParseResp("$-1\r\n", &r, &n), Parse::kDone);
  EXPECT_EQ(r.type, RespReply::Type::kNil);
  ASSERT_EQ(ParseResp("*2\r\n$1\r\na\r\n:7\r\n+next\r\n", &r, &n), Parse::kDone);
  EXPECT_EQ(r.type, RespReply::Type::kArray);
  EXPECT_EQ(n, 15u);  // The array with its elements, not the reply after it.
}

TEST(RespTest, WaitsForWholeReplies) {
  RespReply r;
  size_t n = 0;
  for (std::string_view partial :
       {"", "+OK", "+OK\r", "$5\r\nhel", "$5\r\nhello\r", "*2\r\n:1\r\n"}) {
    EXPECT_EQ(ParseResp(partial, &r, &n), Parse::kIncomplete) << partial;
  }
}

TEST(RespTest, RefusesMalformedReplies) {
  RespReply r;
  size_t n = 0;
  EXPECT_EQ(ParseResp("?x\r\n", &r, &n), Parse::kMalformed);
  EXPECT_EQ(ParseResp(":x\r\n", &r, &n), Parse::kMalformed);
  EXPECT_EQ(ParseResp("$3\r\nabcd\r\n", &r, &n), Parse::kMalformed);
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  EXPECT_EQ(ParseResp(deep, &r, &n), Parse::kMalformed);
}

TEST(HttpTest, EncodesAKeepAlivePost) {
  std::string out;
  AppendHttpPost("127.0.0.1:2379", "/v3/kv/put", "{}", &out);
  EXPECT_EQ(out,
            "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:2379\r\nContent-Type: "
            "application/json\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(HttpTest, ParsesContentLengthResponsesOneAtATime) {
  const std::string two =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length:  5\r\n\r\n{\"a\"}"
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
  HttpResponse r;
  size_t n = 0;
  ASSERT_EQ(ParseHttpResponse(two, &r, &n), Parse::kDone);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\"}");
  ASSERT_EQ(ParseHttpResponse(std::string_view(two).substr(n), &r, &n), Parse::kDone);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "");
}

TEST(HttpTest, ParsesChunkedResponses) {
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\n\r\n";
  HttpResponse r;
  size_t n = 0;
  ASSERT_EQ(ParseHttpResponse(chunked, &r, &n), Parse::kDone);
  EXPECT_EQ(r.body, "abc0123456789");
  EXPECT_EQ(n, chunked.size());
  for (size_t cut = 0; cut < chunked.size(); ++cut) {
    EXPECT_EQ(ParseHttpResponse(std::string_view(chunked).substr(0, cut), &r, &n),
              Parse::kIncomplete)
        << cut;
  }
}

TEST(HttpTest, RefusesWhatIsNotHttp) {
  HttpResponse r;
  size_t n = 0;
  EXPECT_EQ(ParseHttpResponse("+OK\r\n\r\n", &r, &n), Parse::kMalformed);
  EXPECT_EQ(ParseHttpResponse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", &r, &n),
            Parse::kMalformed);
}

TEST(Base64Test, MatchesTheStandardAlphabetAndPadding) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64(std::string("\xff\xfe\x00", 3)), "//4A");
}

}  // namespace
}  // namespace dialkv::bench
