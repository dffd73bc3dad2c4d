#include "server/common/status.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "tests/testutil/status_matchers.h"

namespace dialkv {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Status Chain(int x, int* out) {
  DIALKV_RETURN_IF_ERROR(Half(x));
  *out = Half(x).value();
  return Status::Ok();
}

TEST(StatusTest, OkIsDefaultAndPrintsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorPrintsCodeNameAndMessage) {
  Status s = Status::Unavailable("quorum of 2 not reached");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.ToString(), "UNAVAILABLE: quorum of 2 not reached");
}

TEST(StatusTest, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (int c = 0; c < kNumCodes; ++c) names.insert(CodeName(static_cast<Code>(c)));
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumCodes));
  EXPECT_EQ(CodeName(Code::kUnknown), "UNKNOWN");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = Half(4);
  ASSERT_OK(ok);
  EXPECT_EQ(*ok, 2);
  Result<int> bad = Half(3);
  ASSERT_CODE(bad, Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd: 3");
}

TEST(ResultTest, ConstructingFromOkStatusIsAnInternalError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::kInternal);
}

TEST(ResultTest, ReturnIfErrorPropagatesTheFirstError) {
  int out = 0;
  ASSERT_OK(Chain(8, &out));
  EXPECT_EQ(out, 4);
  Status s = Chain(5, &out);
  ASSERT_CODE(s, Code::kInvalidArgument);
  EXPECT_EQ(out, 4);
}

}  // namespace
}  // namespace dialkv
