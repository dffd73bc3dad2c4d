// Parsing of `dialkv fault` arguments (client/cli/fault_args.h): good and bad inputs.
#include "client/cli/fault_args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialkv::cli {
namespace {

using Ids = std::vector<NodeId>;

TEST(FaultArgsTest, NodeListsParseInOrderWithSpacesAroundIds) {
  EXPECT_EQ(ParseNodeList("3").value(), Ids({3}));
  EXPECT_EQ(ParseNodeList("1,2,3").value(), Ids({1, 2, 3}));
  EXPECT_EQ(ParseNodeList(" 2 , 1 ").value(), Ids({2, 1}));
  EXPECT_EQ(ParseNodeList("4294967295").value(), Ids({4294967295u}));
}

TEST(FaultArgsTest, BadNodeListsAreInvalidArguments) {
  for (const char* bad : {"", " ", ",", "1,", ",1", "1,,2", "a", "1a", "-1", "+1", "1.5", "1 2",
                          "4294967296", "99999999999999999999999", "1,2,1"}) {
    EXPECT_EQ(ParseNodeList(bad).code(), Code::kInvalidArgument) << '"' << bad << '"';
  }
  EXPECT_NE(ParseNodeList("1,2,1").status().message().find("node 1 is listed twice"),
            std::string::npos);
}

TEST(FaultArgsTest, PartitionGroupsAcceptTheSlashWithOrWithoutSpaces) {
  const std::vector<std::vector<std::string>> spellings = {
      {"1,2", "/", "3"}, {"1,2/3"}, {"1,2", "/3"}, {"1,2/", "3"}, {"1,", "2", "/", "3"}};
  for (const auto& words : spellings) {
    Result<PartitionGroups> groups = ParsePartitionGroups(words);
    ASSERT_TRUE(groups.ok()) << groups.status().ToString();
    EXPECT_EQ(groups->a, Ids({1, 2}));
    EXPECT_EQ(groups->b, Ids({3}));
  }
}

TEST(FaultArgsTest, BadPartitionGroupsAreInvalidArguments) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"1,2"},
      {"1", "2"},
      {"/"},
      {"/", "3"},
      {"1", "/"},
      {"1/2/3"},
      {"1", "/", "2", "/", "3"},
      {"1", "2", "/", "3"},
      {"x", "/", "3"},
      {"1,2/2,3"},
      {"1/1"},
  };
  for (const auto& words : bad) {
    std::string joined;
    for (const auto& w : words) joined += "[" + w + "]";
    EXPECT_EQ(ParsePartitionGroups(words).code(), Code::kInvalidArgument) << joined;
  }
  EXPECT_NE(ParsePartitionGroups({"1,2/2,3"}).status().message().find("node 2 is in both groups"),
            std::string::npos);
  EXPECT_NE(ParsePartitionGroups({"/3"}).status().message().find("first group"), std::string::npos);
}

TEST(FaultArgsTest, ProbabilitiesAreFractionsOrPercentages) {
  EXPECT_DOUBLE_EQ(ParseProbability("0").value(), 0);
  EXPECT_DOUBLE_EQ(ParseProbability("1").value(), 1);
  EXPECT_DOUBLE_EQ(ParseProbability("0.3").value(), 0.3);
  EXPECT_DOUBLE_EQ(ParseProbability("1.0").value(), 1);
  EXPECT_DOUBLE_EQ(ParseProbability("30%").value(), 0.3);
  EXPECT_DOUBLE_EQ(ParseProbability("12.5%").value(), 0.125);
  EXPECT_DOUBLE_EQ(ParseProbability("100%").value(), 1);
  EXPECT_DOUBLE_EQ(ParseProbability("0%").value(), 0);
}

TEST(FaultArgsTest, BadProbabilitiesAreInvalidArguments) {
  for (const char* bad : {"", "%", "1.5", "-0.1", "101%", "+0.5", ".5", "5.", "0.3x", "30 %",
                          " 0.3", "nan", "inf", "1e-1", "0x1", "30%%", "0,3"}) {
    EXPECT_EQ(ParseProbability(bad).code(), Code::kInvalidArgument) << '"' << bad << '"';
  }
}

TEST(FaultArgsTest, DurationsAreWholeMillisecondsOrSeconds) {
  EXPECT_EQ(ParseDurationMs("0", 60000).value(), 0u);
  EXPECT_EQ(ParseDurationMs("0ms", 60000).value(), 0u);
  EXPECT_EQ(ParseDurationMs("50ms", 60000).value(), 50u);
  EXPECT_EQ(ParseDurationMs("1s", 60000).value(), 1000u);
  EXPECT_EQ(ParseDurationMs("60s", 60000).value(), 60000u);
  EXPECT_EQ(ParseDurationMs("60000ms", 60000).value(), 60000u);
}

TEST(FaultArgsTest, BadDurationsAreInvalidArguments) {
  for (const char* bad : {"", "50", "ms", "s", "1.5s", "-1s", "+1s", "1m", "1h", "5 ms", "1sec",
                          "1S", "0x10ms", "99999999999999999999999ms"}) {
    EXPECT_EQ(ParseDurationMs(bad, 60000).code(), Code::kInvalidArgument) << '"' << bad << '"';
  }
  Result<uint32_t> over = ParseDurationMs("61s", 60000);
  EXPECT_EQ(over.code(), Code::kInvalidArgument);
  EXPECT_NE(over.status().message().find("60000 ms"), std::string::npos)
      << over.status().ToString();
  EXPECT_EQ(ParseDurationMs("60001ms", 60000).code(), Code::kInvalidArgument);
}

TEST(FaultArgsTest, OffsetsAreSignedDurations) {
  EXPECT_EQ(ParseOffsetMs("0", kMaxClockOffsetMs).value(), 0);
  EXPECT_EQ(ParseOffsetMs("+2s", kMaxClockOffsetMs).value(), 2000);
  EXPECT_EQ(ParseOffsetMs("2s", kMaxClockOffsetMs).value(), 2000);
  EXPECT_EQ(ParseOffsetMs("-500ms", kMaxClockOffsetMs).value(), -500);
  EXPECT_EQ(ParseOffsetMs("-0", kMaxClockOffsetMs).value(), 0);
  EXPECT_EQ(ParseOffsetMs("-3600s", kMaxClockOffsetMs).value(), -3'600'000);
  EXPECT_EQ(ParseOffsetMs("+3600000ms", kMaxClockOffsetMs).value(), 3'600'000);
}

TEST(FaultArgsTest, BadOffsetsAreInvalidArguments) {
  for (const char* bad : {"", "+", "-", "+-1s", "--1s", "2", "-2", "+2m", "2 s", "1.5s"}) {
    EXPECT_EQ(ParseOffsetMs(bad, kMaxClockOffsetMs).code(), Code::kInvalidArgument)
        << '"' << bad << '"';
  }
  Result<int64_t> beyond = ParseOffsetMs("-3601s", kMaxClockOffsetMs);
  EXPECT_EQ(beyond.code(), Code::kInvalidArgument);
  EXPECT_NE(beyond.status().message().find("either way"), std::string::npos)
      << beyond.status().ToString();
}

}  // namespace
}  // namespace dialkv::cli
