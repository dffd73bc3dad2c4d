#include "server/replication/hint_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/common/clock.h"
#include "server/common/metrics.h"
#include "server/storage/memory_engine.h"
#include "tests/testutil/status_matchers.h"

namespace dialkv::replication {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;

Version V(std::string value, uint64_t hlc) {
  return Version{std::move(value), Timestamp{hlc, 1}, false};
}

std::unique_ptr<HintStore> OpenStore(storage::Engine& engine, const Clock& clock,
                                     HintStore::Options options = {}) {
  Result<std::unique_ptr<HintStore>> store = HintStore::Open(options, engine, clock);
  EXPECT_OK(store);
  return store.ok() ? std::move(*store) : nullptr;
}

std::vector<std::string> Keys(const std::vector<HintStore::Hint>& hints) {
  std::vector<std::string> out;
  for (const auto& h : hints) out.push_back(h.key);
  return out;
}

TEST(HintStoreTest, PeekReturnsAPeersHintsInTheOrderTheyWereAdded) {
  storage::MemoryEngine engine;
  ManualClock clock(kStartMs);
  auto store = OpenStore(engine, clock);
  ASSERT_OK(store->Add(2, "b", V("1", 10)));
  ASSERT_OK(store->Add(3, "x", V("2", 11)));
  ASSERT_OK(store->Add(2, "a", V("3", 12)));
  ASSERT_OK(store->Add(2, "b", V("4", 13)));
  Result<std::vector<HintStore::Hint>> hints = store->Peek(2, 10);
  ASSERT_OK(hints);
  EXPECT_EQ(Keys(*hints), (std::vector<std::string>{"b", "a", "b"}));
  EXPECT_EQ((*hints)[2].version, V("4", 13));
  EXPECT_EQ((*hints)[0].created_ms, kStartMs);
  EXPECT_LT((*hints)[0].sequence, (*hints)[1].sequence);
  EXPECT_EQ(store->PeersWithHints(), (std::vector<NodeId>{2, 3}));
  EXPECT_EQ(store->StatsFor(2).hints, 3u);
  ASSERT_OK(store->Peek(2, 2));
  EXPECT_EQ(store->Peek(2, 2)->size(), 2u);
}

TEST(HintStoreTest, AddOverTheBudgetIsRefusedAndRecordsNothing) {
  storage::MemoryEngine engine;
  ManualClock clock(kStartMs);
  HintStore::Options options;
  options.max_bytes_per_peer = 100;
  auto store = OpenStore(engine, clock, options);
  ASSERT_OK(store->Add(2, "k", V(std::string(40, 'x'), 10)));
  const HintStore::PeerStats before = store->StatsFor(2);
  Status over = store->Add(2, "k", V(std::string(60, 'x'), 11));
  ASSERT_CODE(over, Code::kOverloaded);
  EXPECT_NE(over.message().find("budget of 100 bytes"), std::string::npos) << over.message();
  EXPECT_EQ(store->StatsFor(2).bytes, before.bytes);
  EXPECT_EQ(store->Peek(2, 10)->size(), 1u);
  ASSERT_OK(store->Add(3, "k", V(std::string(60, 'x'), 11)));  // Budgets are per peer.
  // Removing frees the budget.
  ASSERT_OK(store->Remove(2, (*store->Peek(2, 1))[0]));
  EXPECT_EQ(store->StatsFor(2).bytes, 0u);
  ASSERT_OK(store->Add(2, "k", V(std::string(60, 'x'), 11)));
}

TEST(HintStoreTest, OpenRecoversTheNextSequenceAndEveryPeersCounts) {
  storage::MemoryEngine engine;
  ManualClock clock(kStartMs);
  {
    auto store = OpenStore(engine, clock);
    ASSERT_OK(store->Add(2, "a", V("1", 10)));
    ASSERT_OK(store->Add(3, "b", V("2", 11)));
    ASSERT_OK(store->Add(2, "c", V("3", 12)));
    ASSERT_OK(store->Remove(2, (*store->Peek(2, 1))[0]));
  }
  auto reopened = OpenStore(engine, clock);
  EXPECT_EQ(reopened->PeersWithHints(), (std::vector<NodeId>{2, 3}));
  EXPECT_EQ(reopened->StatsFor(2).hints, 1u);
  EXPECT_EQ(reopened->StatsFor(3).hints, 1u);
  ASSERT_OK(reopened->Add(2, "d", V("4", 13)));
  Result<std::vector<HintStore::Hint>> hints = reopened->Peek(2, 10);
  ASSERT_OK(hints);
  EXPECT_EQ(Keys(*hints), (std::vector<std::string>{"c", "d"})) << "new hints sort last";
  EXPECT_EQ(reopened->StatsFor(2).bytes, (*hints)[0].bytes + (*hints)[1].bytes);
}

TEST(HintStoreTest, ACorruptHintIsDroppedNotReturned) {
  storage::MemoryEngine engine;
  ManualClock clock(kStartMs);
  auto store = OpenStore(engine, clock);
  ASSERT_OK(store->Add(2, "a", V("1", 10)));
  ASSERT_OK(engine.PutHint(2, 1000, "garbage"));
  auto reopened = OpenStore(engine, clock);
  EXPECT_EQ(reopened->StatsFor(2).hints, 2u);
  Result<std::vector<HintStore::Hint>> hints = reopened->Peek(2, 10);
  ASSERT_OK(hints);
  EXPECT_EQ(Keys(*hints), (std::vector<std::string>{"a"}));
  EXPECT_EQ(reopened->StatsFor(2).hints, 1u);
  int left = 0;
  ASSERT_OK(engine.ScanHints(2, [&](uint64_t, std::string_view) { return ++left > 0; }));
  EXPECT_EQ(left, 1);
}

TEST(HintStoreTest, ExpiredMeansOlderThanMaxAgeOnTheStoresClock) {
  storage::MemoryEngine engine;
  ManualClock clock(kStartMs);
  HintStore::Options options;
  options.max_age = std::chrono::minutes(1);
  auto store = OpenStore(engine, clock, options);
  ASSERT_OK(store->Add(2, "a", V("1", static_cast<uint64_t>(kStartMs) << 16)));
  const HintStore::Hint hint = (*store->Peek(2, 1))[0];
  clock.Advance(60'000);
  EXPECT_FALSE(store->Expired(hint));
  clock.Advance(1);
  EXPECT_TRUE(store->Expired(hint));
}

// A read repair hints versions written long before: such a hint ages from its version's time,
// so it cannot outlive the version by more than max_age (and bring back, after --gc-grace-s, a
// value whose tombstone was collected).
TEST(HintStoreTest, HintOfAnOldVersionAgesFromTheVersionsTime) {
  storage::MemoryEngine engine;
  ManualClock clock(kStartMs);
  HintStore::Options options;
  options.max_age = std::chrono::minutes(1);
  auto store = OpenStore(engine, clock, options);
  const int64_t written_ms = kStartMs - 50'000;  // 50 s before the hint.
  ASSERT_OK(store->Add(2, "old", V("1", static_cast<uint64_t>(written_ms) << 16)));
  const HintStore::Hint hint = (*store->Peek(2, 1))[0];
  clock.Advance(10'000);
  EXPECT_FALSE(store->Expired(hint));
  clock.Advance(1);
  EXPECT_TRUE(store->Expired(hint)) << "60 s after its version was written";
}

TEST(HintStoreTest, EveryLostHintIsCountedByReason) {
  storage::MemoryEngine engine;
  ManualClock clock(kStartMs);
  metrics::Registry registry;
  auto store = OpenStore(
      engine, clock,
      {.max_bytes_per_peer = 200, .max_age = std::chrono::minutes(1), .metrics = &registry});
  ASSERT_OK(store->Add(2, "a", V("1", 10)));
  ASSERT_OK(store->Add(2, "b", V("2", 11)));
  const Status full = store->Add(2, "big", V(std::string(300, 'x'), 12));
  ASSERT_EQ(full.code(), Code::kOverloaded);
  store->CountNotStored(2, "big", full);
  store->CountNotStored(2, "c", Status::IOError("disk gone"));
  Result<std::vector<HintStore::Hint>> hints = store->Peek(2, 10);
  ASSERT_OK(hints);
  ASSERT_EQ(hints->size(), 2u);
  ASSERT_OK(store->Drop(2, (*hints)[0], HintStore::DropReason::kExpired));
  EXPECT_EQ(store->StatsFor(2).hints, 1u);
  const std::string exposed = registry.Expose();
  for (const char* line : {"dialkv_hints_dropped_total{reason=\"expired\"} 1",
                           "dialkv_hints_dropped_total{reason=\"store_full\"} 1",
                           "dialkv_hints_dropped_total{reason=\"store_failed\"} 1",
                           "dialkv_hints_dropped_total{reason=\"corrupt\"} 0"}) {
    EXPECT_NE(exposed.find(line), std::string::npos) << line << " in\n" << exposed;
  }
}

}  // namespace
}  // namespace dialkv::replication
