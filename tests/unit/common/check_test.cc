#include "server/common/check.h"

#include <gtest/gtest.h>

namespace dialkv {
namespace {

TEST(CheckTest, CheckAbortsNamingTheCondition) {
  const int replicas = 3;
  EXPECT_DEATH(DIALKV_CHECK(replicas == 2), "replicas == 2");
  DIALKV_CHECK(replicas == 3);
}

// DIALKV_DCHECKS=ON builds (the sanitized test build) check even with NDEBUG; OFF builds, and
// AUTO builds with NDEBUG, never evaluate the condition.
TEST(CheckTest, DcheckFollowsTheBuildOption) {
  int evaluated = 0;
  const auto fails = [&evaluated] {
    ++evaluated;
    return false;
  };
#if DIALKV_DCHECK_IS_ON
  EXPECT_DEATH(DIALKV_DCHECK(fails()), "fails\\(\\)");
  DIALKV_DCHECK(evaluated == 0);  // The death test evaluated it in a child process only.
#else
  DIALKV_DCHECK(fails());
  EXPECT_EQ(evaluated, 0);
#endif
}

}  // namespace
}  // namespace dialkv
