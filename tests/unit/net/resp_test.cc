#include "server/net/resp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialkv::net::resp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Args = std::vector<std::string>;
using namespace std::string_literals;  // NOLINT(google-build-using-namespace)

struct Parsed {
  ParseResult result = ParseResult::kNeedMore;
  Args args;
  size_t consumed = 0;
  std::string error;
};

Parsed Parse(std::string_view input, const Limits& limits = {}) {
  Parsed p;
  p.result = ParseCommand(input, limits, &p.args, &p.consumed, &p.error);
  return p;
}

std::string Encode(const Args& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Every command in `input`, parsed as a connection does: appending what arrives, consuming what
// was parsed. `chunk`: bytes appended per step. Fails the test on a protocol error.
std::vector<Args> ParseStream(std::string_view input, size_t chunk) {
  std::vector<Args> commands;
  std::string buffer;
  size_t fed = 0;
  while (fed < input.size()) {
    const size_t n = std::min(chunk, input.size() - fed);
    buffer.append(input.substr(fed, n));
    fed += n;
    while (true) {
      Parsed p = Parse(buffer);
      EXPECT_NE(p.result, ParseResult::kError) << p.error;
      if (p.result == ParseResult::kError) return commands;
      buffer.erase(0, p.consumed);
      if (p.result == ParseResult::kCommand) {
        commands.push_back(std::move(p.args));
        continue;
      }
      if (p.consumed == 0 || buffer.empty()) break;
    }
  }
  EXPECT_TRUE(buffer.empty()) << "left over: " << buffer;
  return commands;
}

TEST(RespParserTest, ParsesAnArrayOfBulkStrings) {
  const Parsed p = Parse("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
  ASSERT_EQ(p.result, ParseResult::kCommand);
  EXPECT_THAT(p.args, ElementsAre("GET", "key"));
  EXPECT_EQ(p.consumed, 22u);
}

TEST(RespParserTest, BinaryBulkStringsKeepNulCrAndLf) {
  const Args args = {"SET", std::string("k\0y", 3), "a\r\nb\r\n*1\r\n$1\r\n"};
  const std::string wire = Encode(args);
  const Parsed p = Parse(wire);
  ASSERT_EQ(p.result, ParseResult::kCommand);
  EXPECT_EQ(p.args, args);
  EXPECT_EQ(p.consumed, wire.size());
}

TEST(RespParserTest, EveryTruncationOfACommandNeedsMoreAndConsumesNothing) {
  const std::string wire = Encode({"SET", "key", "value"});
  for (size_t n = 0; n < wire.size(); ++n) {
    const Parsed p = Parse(std::string_view(wire).substr(0, n));
    EXPECT_EQ(p.result, ParseResult::kNeedMore) << "after " << n << " bytes";
    EXPECT_EQ(p.consumed, 0u);
  }
}

TEST(RespParserTest, PipelinedCommandsSplitAtEveryByteBoundaryParseTheSame) {
  const std::vector<Args> sent = {{"SET", "a", std::string("x\r\ny\0", 5)},
                                  {"GET", "a"},
                                  {"PING"},
                                  {"MSET", "k1", "", "k2", "v2"}};
  std::string wire;
  for (const auto& c : sent) wire += Encode(c);
  wire += "ECHO \"hi there\"\r\n";
  std::vector<Args> expected = sent;
  expected.push_back({"ECHO", "hi there"});
  for (size_t chunk = 1; chunk <= wire.size(); ++chunk) {
    EXPECT_EQ(ParseStream(wire, chunk), expected) << "chunk " << chunk;
  }
  // Two pieces, split at every position.
  for (size_t split = 0; split <= wire.size(); ++split) {
    std::vector<Args> got;
    std::string buffer(wire.substr(0, split));
    auto drain = [&] {
      while (true) {
        Parsed p = Parse(buffer);
        ASSERT_NE(p.result, ParseResult::kError) << p.error;
        buffer.erase(0, p.consumed);
        if (p.result == ParseResult::kCommand) {
          got.push_back(p.args);
        } else if (p.consumed == 0 || buffer.empty()) {
          return;
        }
      }
    };
    drain();
    buffer += wire.substr(split);
    drain();
    EXPECT_EQ(got, expected) << "split at " << split;
  }
}

TEST(RespParserTest, NegativeAndHugeBulkLengthsAreProtocolErrors) {
  for (const std::string wire :
       {"*1\r\n$-1\r\n", "*1\r\n$-5\r\n", "*1\r\n$99999999999999999999\r\n", "*1\r\n$abc\r\n",
        "*1\r\n$\r\n"}) {
    const Parsed p = Parse(wire);
    EXPECT_EQ(p.result, ParseResult::kError) << wire;
    EXPECT_THAT(p.error, HasSubstr("invalid bulk length")) << wire;
  }
  Limits small;
  small.max_bulk_bytes = 10;
  EXPECT_EQ(Parse("*1\r\n$10\r\n0123456789\r\n", small).result, ParseResult::kCommand);
  const Parsed over = Parse("*1\r\n$11\r\n", small);  // Refused before the bytes arrive.
  EXPECT_EQ(over.result, ParseResult::kError);
  EXPECT_THAT(over.error, HasSubstr("invalid bulk length"));
}

TEST(RespParserTest, ArrayLengthsOverTheLimitOrMalformedAreProtocolErrors) {
  Limits small;
  small.max_array_length = 3;
  EXPECT_THAT(Parse("*4\r\n", small).error, HasSubstr("invalid multibulk length"));
  EXPECT_THAT(Parse("*x\r\n").error, HasSubstr("invalid multibulk length"));
  EXPECT_THAT(Parse("*99999999999999999999999\r\n").error, HasSubstr("invalid multibulk length"));
  // A header line that never ends is refused once it is longer than any header can be.
  Limits tiny;
  tiny.max_inline_bytes = 16;
  EXPECT_EQ(Parse("*" + std::string(20, '1'), tiny).result, ParseResult::kError);
}

TEST(RespParserTest, CommandsOverTheTotalSizeAreProtocolErrors) {
  Limits small;
  small.max_command_bytes = 40;
  EXPECT_EQ(Parse(Encode({"SET", "k", "v"}), small).result, ParseResult::kCommand);
  const Parsed p = Parse(Encode({"SET", "k", std::string(30, 'v')}), small);
  EXPECT_EQ(p.result, ParseResult::kError);
  EXPECT_THAT(p.error, HasSubstr("command of more than 40 bytes"));
}

TEST(RespParserTest, NestedArraysAndOtherElementTypesAreProtocolErrors) {
  EXPECT_THAT(Parse("*2\r\n*1\r\n$1\r\nx\r\n").error, HasSubstr("expected '$', got '*'"));
  EXPECT_THAT(Parse("*1\r\n:5\r\n").error, HasSubstr("expected '$', got ':'"));
  EXPECT_THAT(Parse("*1\r\n$1\r\nxy\r\n").error, HasSubstr("bulk string not followed by CRLF"));
}

TEST(RespParserTest, EmptyArraysAreSkipped) {
  const Parsed p = Parse("*0\r\n*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(p.result, ParseResult::kNeedMore);
  EXPECT_EQ(p.consumed, 4u);
  EXPECT_THAT(ParseStream("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", 100),
              ElementsAre(ElementsAre("PING")));
}

TEST(RespParserTest, InlineCommandsSplitOnSpacesWithRedisQuoting) {
  EXPECT_THAT(ParseStream("SET  key   value\r\n", 100),
              ElementsAre(ElementsAre("SET", "key", "value")));
  EXPECT_THAT(ParseStream("PING\n", 100), ElementsAre(ElementsAre("PING")));
  EXPECT_THAT(ParseStream("SET \"a b\\n\\x41\" 'c \\' d'\r\n", 100),
              ElementsAre(ElementsAre("SET", "a b\nA", "c ' d")));
  EXPECT_THAT(ParseStream("SET k \"\"\r\n", 100), ElementsAre(ElementsAre("SET", "k", "")));
  // Empty lines are skipped (telnet users press return).
  EXPECT_THAT(ParseStream("\r\n\r\nPING\r\n\n", 100), ElementsAre(ElementsAre("PING")));
}

TEST(RespParserTest, InlineCommandsWithUnbalancedQuotesOrTooLongAreProtocolErrors) {
  EXPECT_THAT(Parse("SET \"abc\r\n").error, HasSubstr("unbalanced quotes"));
  EXPECT_THAT(Parse("SET 'abc\r\n").error, HasSubstr("unbalanced quotes"));
  EXPECT_THAT(Parse("SET \"a\"b\r\n").error, HasSubstr("unbalanced quotes"));
  Limits small;
  small.max_inline_bytes = 8;
  EXPECT_EQ(Parse("PING", small).result, ParseResult::kNeedMore);
  EXPECT_THAT(Parse("PINGPINGPING", small).error, HasSubstr("too big inline request"));
}

TEST(RespWriterTest, EncodesRepliesInBothProtocolVersions) {
  std::string two;
  Writer w2(&two, 2);
  w2.SimpleString("OK");
  w2.Error("ERR bad\r\nthing");
  w2.Integer(-3);
  w2.Bulk(std::string("a\0\r\n", 4));
  w2.Null();
  w2.ArrayHeader(2);
  w2.MapHeader(1);
  EXPECT_EQ(two, "+OK\r\n-ERR bad  thing\r\n:-3\r\n$4\r\na\0\r\n\r\n$-1\r\n*2\r\n*2\r\n"s);
  std::string three;
  Writer w3(&three, 3);
  w3.Null();
  w3.MapHeader(2);
  EXPECT_EQ(three, "_\r\n%2\r\n");
}

}  // namespace
}  // namespace dialkv::net::resp
