#include "server/common/command_line.h"

#include <gtest/gtest.h>

namespace dialkv {
namespace {

TEST(CommandLineTest, TokensAreRedactedInBothFlagFormsAndOtherArgumentsKept) {
  const char* argv[] = {"dialkv-bench", "--token",        "eyJ.secret.sig",
                        "--endpoints",  "127.0.0.1:7379", "--token=eyJ.other.sig",
                        "--label",      "two words"};
  EXPECT_EQ(RecordedCommandLine(8, argv),
            "dialkv-bench --token '<redacted>' --endpoints 127.0.0.1:7379 "
            "'--token=<redacted>' --label 'two words'");
}

TEST(CommandLineTest, QuotingRoundTripsThroughAShell) {
  EXPECT_EQ(QuoteArg("plain"), "plain");
  EXPECT_EQ(QuoteArg(""), "''");
  EXPECT_EQ(QuoteArg("it's"), "'it'\\''s'");
}

}  // namespace
}  // namespace dialkv
