#include "server/storage/hlc_bound.h"

#include <gtest/gtest.h>

#include "server/storage/memory_engine.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::storage {
namespace {

Version At(uint64_t hlc) { return Version{"v", Timestamp{hlc, 2}, false}; }

TEST(HlcBoundTest, WithoutARecordedBoundStartsAboveTheHighestStoredTimestamp) {
  MemoryEngine engine;
  ASSERT_OK(engine.ApplyIfNewer("a", At(500)).status());
  ASSERT_OK(engine.ApplyIfNewer("b", At(9000)).status());
  ASSERT_OK(engine.ApplyIfNewer("c", At(700)).status());
  Result<HlcStart> start = LoadHlcStart(engine);
  ASSERT_OK(start.status());
  EXPECT_TRUE(start->scanned);
  EXPECT_EQ(start->persisted_bound, 0u);
  EXPECT_EQ(start->floor, 9000u);
}

TEST(HlcBoundTest, ARecordedBoundIsReadBackWithoutAScan) {
  MemoryEngine engine;
  ASSERT_OK(engine.ApplyIfNewer("a", At(500)).status());
  ASSERT_OK(PersistHlcBound(engine, 123456789));
  Result<HlcStart> start = LoadHlcStart(engine);
  ASSERT_OK(start.status());
  EXPECT_FALSE(start->scanned);
  EXPECT_EQ(start->persisted_bound, 123456789u);
  EXPECT_EQ(start->floor, 123456789u);
}

TEST(HlcBoundTest, AnUnreadableBoundIsCorruption) {
  MemoryEngine engine;
  ASSERT_OK(engine.PutMeta("hlc_bound", "12x"));
  EXPECT_EQ(LoadHlcStart(engine).status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace dialkv::storage
