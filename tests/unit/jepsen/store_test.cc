// The store layout of runs without --out (jepsen-like/harness/store.h).
#include "jepsen-like/harness/store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"

namespace dialkv::jepsen {
namespace {

namespace fs = std::filesystem;

constexpr std::time_t kNow = 1'796'673'845;  // 2026-12-07T20:04:05Z.

TEST(StoreTest, RunDirectoryIsNamedByUtcTime) {
  EXPECT_EQ(StoreTimestamp(kNow), "20261207T200405Z");
}

TEST(StoreTest, RunsOfTheSameSecondGetSuffixesAndLatestFollowsTheNewest) {
  testutil::TempDir dir;
  const fs::path store = dir.path() / "store";
  Result<fs::path> first = CreateStoreRunDir(store, "register", kNow);
  ASSERT_OK(first);
  Result<fs::path> second = CreateStoreRunDir(store, "register", kNow);
  ASSERT_OK(second);
  EXPECT_EQ(*first, store / "register" / "20261207T200405Z");
  EXPECT_EQ(*second, store / "register" / "20261207T200405Z-2");
  EXPECT_TRUE(fs::is_directory(*first));
  EXPECT_TRUE(fs::is_directory(*second));
  // Relative links: the store still works once moved or mounted elsewhere.
  EXPECT_EQ(fs::read_symlink(store / "register" / "latest"), "20261207T200405Z-2");
  EXPECT_EQ(fs::read_symlink(store / "latest"), fs::path("register") / "20261207T200405Z-2");
  EXPECT_TRUE(fs::equivalent(store / "latest", *second));

  Result<fs::path> other = CreateStoreRunDir(store, "lww", kNow + 1);
  ASSERT_OK(other);
  EXPECT_TRUE(fs::equivalent(store / "latest", *other));
  EXPECT_TRUE(fs::equivalent(store / "register" / "latest", *second));  // Per workload.
  EXPECT_FALSE(fs::exists(store / "latest.tmp"));
}

TEST(StoreTest, RefusesNamesThatAreNotAWorkloadAndALatestThatIsNotALink) {
  testutil::TempDir dir;
  for (const char* bad : {"", "a/b", "..", "latest"}) {
    EXPECT_EQ(CreateStoreRunDir(dir.path(), bad, kNow).code(), Code::kInvalidArgument) << bad;
  }
  fs::create_directories(dir.path() / "register" / "latest");
  EXPECT_EQ(CreateStoreRunDir(dir.path(), "register", kNow).code(), Code::kIOError);
}

}  // namespace
}  // namespace dialkv::jepsen
