// The Engine contract (server/storage/engine.h), checked against every engine: a behaviour
// that passes here on the memory engine holds on RocksDB too, so tests elsewhere may use the
// memory engine without lying.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "server/common/hash.h"
#include "server/storage/engine.h"
#include "server/storage/memory_engine.h"
#include "server/storage/rocksdb_engine.h"
#include "tests/testutil/status_matchers.h"
#include "tests/testutil/temp_dir.h"
#include "tests/unit/storage/storage_test_util.h"

namespace dialkv::storage {
namespace {

using testutil::Live;
using testutil::Tombstone;

enum class EngineKind { kMemory, kRocks };

// Records (key, before, after) of every change it is told of; the memory engine reports
// changes of a batch under one lock, the RocksDB engine under the keys' stripe locks, so
// only the order within one key is promised.
class RecordingObserverForBatch final : public ChangeObserver {
 public:
  void OnChange(std::string_view key, uint64_t, const VersionHeader* before,
                const VersionHeader* after) override {
    changes.emplace_back(std::string(key),
                         before ? std::optional<VersionHeader>(*before) : std::nullopt,
                         after ? std::optional<VersionHeader>(*after) : std::nullopt);
  }
  std::vector<std::tuple<std::string, std::optional<VersionHeader>, std::optional<VersionHeader>>>
      changes;
};

std::string Describe(const std::optional<VersionHeader>& h) {
  if (!h.has_value()) return "none";
  return (h->tombstone ? "tombstone@" : "live@") + ToString(h->timestamp);
}

class EngineConformanceTest : public ::testing::TestWithParam<EngineKind> {
 protected:
  void SetUp() override {
    if (GetParam() == EngineKind::kMemory) {
      engine_ = std::make_unique<MemoryEngine>();
      return;
    }
    Result<std::unique_ptr<RocksEngine>> opened = RocksEngine::Open({.path = dir_.Sub("db")});
    ASSERT_OK(opened);
    engine_ = std::move(opened).value();
  }

  Engine& engine() { return *engine_; }

  // Applies and asserts the outcome, so a test reads as a list of events.
  void Apply(std::string_view key, const Version& v, ApplyOutcome expected) {
    Result<ApplyOutcome> outcome = engine().ApplyIfNewer(key, v);
    ASSERT_OK(outcome);
    EXPECT_EQ(outcome.value(), expected) << "applying " << ::testing::PrintToString(v);
  }

  // Get, and GetHeader for the header alone.
  void ExpectStored(std::string_view key, const Version& expected) {
    Result<Version> got = engine().Get(key);
    ASSERT_OK(got);
    EXPECT_EQ(got.value(), expected);
    Result<VersionHeader> header = engine().GetHeader(key);
    ASSERT_OK(header);
    EXPECT_EQ(header.value(), (VersionHeader{expected.timestamp, expected.tombstone}));
  }

  // Every (key, header) a ScanByHash of all hashes visits, in its order.
  std::vector<std::pair<std::string, VersionHeader>> ScanAll() {
    std::vector<std::pair<std::string, VersionHeader>> out;
    EXPECT_OK(engine().ScanByHash(0, std::numeric_limits<uint64_t>::max(),
                                  [&](uint64_t, std::string_view key, const VersionHeader& h) {
                                    out.emplace_back(std::string(key), h);
                                    return true;
                                  }));
    return out;
  }

  // The keys ScanAll visits, sorted.
  std::vector<std::string> AllKeys() {
    std::vector<std::string> keys;
    for (auto& [key, header] : ScanAll()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  // ApplyBatch, asserting that it returned one result per item.
  std::vector<Result<ApplyOutcome>> ApplyBatch(const std::vector<KeyedVersion>& items) {
    std::vector<Result<ApplyOutcome>> outcomes = engine().ApplyBatch(items);
    EXPECT_EQ(outcomes.size(), items.size());
    return outcomes;
  }

  std::vector<std::pair<uint64_t, std::string>> Hints(NodeId peer) {
    std::vector<std::pair<uint64_t, std::string>> out;
    EXPECT_OK(engine().ScanHints(peer, [&](uint64_t sequence, std::string_view payload) {
      out.emplace_back(sequence, std::string(payload));
      return true;
    }));
    return out;
  }

  testutil::TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

using KH = std::pair<std::string, VersionHeader>;
using Hint = std::pair<uint64_t, std::string>;

// --- Get and ApplyIfNewer ------------------------------------------------------------------

TEST_P(EngineConformanceTest, GetOfMissingKeyIsNotFound) {
  ASSERT_CODE(engine().Get("absent"), Code::kNotFound);
  ASSERT_CODE(engine().GetHeader("absent"), Code::kNotFound);
  EXPECT_EQ(engine().LiveKeyCount(), 0u);
}

TEST_P(EngineConformanceTest, AppliedVersionReadsBackExactly) {
  const std::string binary("v\0\xff\x01", 4);
  Apply("k", Live(binary, 7, 3), ApplyOutcome::kApplied);
  Apply("empty", Live("", 9, 1), ApplyOutcome::kApplied);
  ExpectStored("k", Live(binary, 7, 3));
  ExpectStored("empty", Live("", 9, 1));
  EXPECT_EQ(engine().LiveKeyCount(), 2u);
}

TEST_P(EngineConformanceTest, NewerTimestampReplacesStoredVersion) {
  Apply("k", Live("old", 10), ApplyOutcome::kApplied);
  Apply("k", Live("new", 11), ApplyOutcome::kApplied);
  ExpectStored("k", Live("new", 11));
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
}

TEST_P(EngineConformanceTest, OlderTimestampIsSupersededAndChangesNothing) {
  Apply("k", Live("new", 11), ApplyOutcome::kApplied);
  Apply("k", Live("old", 10), ApplyOutcome::kSuperseded);
  Apply("k", Tombstone(10), ApplyOutcome::kSuperseded);
  ExpectStored("k", Live("new", 11));
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
}

TEST_P(EngineConformanceTest, EqualTimestampIsSupersededAndKeepsFirstVersion) {
  Apply("k", Live("first", 10, 2), ApplyOutcome::kApplied);
  Apply("k", Live("second", 10, 2), ApplyOutcome::kSuperseded);
  Apply("k", Tombstone(10, 2), ApplyOutcome::kSuperseded);
  ExpectStored("k", Live("first", 10, 2));
}

TEST_P(EngineConformanceTest, NodeIdBreaksHlcTies) {
  Apply("k", Live("from-2", 10, 2), ApplyOutcome::kApplied);
  Apply("k", Live("from-1", 10, 1), ApplyOutcome::kSuperseded);
  Apply("k", Live("from-3", 10, 3), ApplyOutcome::kApplied);
  ExpectStored("k", Live("from-3", 10, 3));
  // The hlc still dominates the node id.
  Apply("k", Live("later-from-1", 11, 1), ApplyOutcome::kApplied);
  ExpectStored("k", Live("later-from-1", 11, 1));
}

TEST_P(EngineConformanceTest, ReapplyingTheSameVersionIsANoOp) {
  Apply("k", Live("v", 5), ApplyOutcome::kApplied);
  Apply("k", Live("v", 5), ApplyOutcome::kSuperseded);
  Apply("d", Tombstone(5), ApplyOutcome::kApplied);
  Apply("d", Tombstone(5), ApplyOutcome::kSuperseded);
  ExpectStored("k", Live("v", 5));
  ExpectStored("d", Tombstone(5));
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
}

// --- Tombstones ----------------------------------------------------------------------------

TEST_P(EngineConformanceTest, TombstoneReadsBackAsTombstoneVersion) {
  Apply("k", Live("v", 5), ApplyOutcome::kApplied);
  Apply("k", Tombstone(6), ApplyOutcome::kApplied);
  ExpectStored("k", Tombstone(6));
  EXPECT_EQ(engine().LiveKeyCount(), 0u);
}

TEST_P(EngineConformanceTest, NewerLiveWriteResurrectsTombstonedKey) {
  Apply("k", Tombstone(6), ApplyOutcome::kApplied);
  Apply("k", Live("back", 7), ApplyOutcome::kApplied);
  ExpectStored("k", Live("back", 7));
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
}

TEST_P(EngineConformanceTest, OlderLiveWriteAfterTombstoneStaysDeleted) {
  Apply("k", Live("v", 5), ApplyOutcome::kApplied);
  Apply("k", Tombstone(8), ApplyOutcome::kApplied);
  Apply("k", Live("late-arrival", 7), ApplyOutcome::kSuperseded);
  Apply("k", Live("same-hlc-lower-node", 8, 0), ApplyOutcome::kSuperseded);
  ExpectStored("k", Tombstone(8));
  EXPECT_EQ(engine().LiveKeyCount(), 0u);
}

TEST_P(EngineConformanceTest, LiveKeyCountFollowsEveryTransition) {
  Apply("a", Tombstone(1), ApplyOutcome::kApplied);  // absent -> tombstone
  EXPECT_EQ(engine().LiveKeyCount(), 0u);
  Apply("a", Live("x", 2), ApplyOutcome::kApplied);  // tombstone -> live
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
  Apply("a", Live("y", 3), ApplyOutcome::kApplied);  // live -> live
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
  Apply("b", Live("z", 1), ApplyOutcome::kApplied);  // absent -> live
  EXPECT_EQ(engine().LiveKeyCount(), 2u);
  Apply("a", Tombstone(4), ApplyOutcome::kApplied);  // live -> tombstone
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
  Apply("a", Tombstone(5), ApplyOutcome::kApplied);  // tombstone -> tombstone
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
  Apply("b", Tombstone(0), ApplyOutcome::kSuperseded);  // superseded: no change
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
}

// --- Concurrency ---------------------------------------------------------------------------

// Every thread applies every version of every key, each thread in its own shuffled order, so
// threads race on the same keys with timestamps rising and falling. LWW must leave the maximum,
// apply each distinct version at most once, and count live keys exactly.
TEST_P(EngineConformanceTest, ConcurrentAppliesInShuffledOrderLeaveTheMaximum) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 6;
  constexpr uint64_t kHlcs = 40;
  constexpr NodeId kNodes = 3;
  struct Item {
    int key;
    Version version;
    size_t id;  // Index into applied_count.
  };
  auto key_name = [](int k) { return "key-" + std::to_string(k); };
  auto version_of = [](int k, uint64_t hlc, NodeId node) {
    // Tombstones interleave with live versions, so liveness flips many times per key.
    if ((hlc + node + static_cast<uint64_t>(k)) % 2 == 0) return Tombstone(hlc, node);
    return Live("k" + std::to_string(k) + "@" + std::to_string(hlc) + "." + std::to_string(node),
                hlc, node);
  };
  std::vector<Item> items;
  for (int k = 0; k < kKeys; ++k) {
    for (uint64_t hlc = 1; hlc <= kHlcs; ++hlc) {
      for (NodeId node = 1; node <= kNodes; ++node) {
        items.push_back({k, version_of(k, hlc, node), items.size()});
      }
    }
  }
  std::vector<std::atomic<int>> applied_count(items.size());
  std::atomic<int> errors{0};

  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Item> order = items;
      std::shuffle(order.begin(), order.end(), std::mt19937(1234 + t));
      for (const Item& item : order) {
        Result<ApplyOutcome> r = engine().ApplyIfNewer(key_name(item.key), item.version);
        if (!r.ok()) {
          errors.fetch_add(1);
        } else if (r.value() == ApplyOutcome::kApplied) {
          applied_count[item.id].fetch_add(1);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();

  ASSERT_EQ(errors.load(), 0);
  for (const Item& item : items) {
    EXPECT_LE(applied_count[item.id].load(), 1)
        << key_name(item.key) << " " << ::testing::PrintToString(item.version);
  }
  uint64_t expected_live = 0;
  for (int k = 0; k < kKeys; ++k) {
    const Version max = version_of(k, kHlcs, kNodes);
    ExpectStored(key_name(k), max);
    if (!max.tombstone) ++expected_live;
  }
  ASSERT_GT(expected_live, 0u);
  ASSERT_LT(expected_live, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(engine().LiveKeyCount(), expected_live);
  uint64_t scanned_live = 0;
  for (const auto& [key, header] : ScanAll()) scanned_live += header.tombstone ? 0 : 1;
  EXPECT_EQ(scanned_live, expected_live);
}

// The same race through ApplyBatch: every thread applies every version in its own shuffled
// order, in batches whose keys overlap other threads' batches in every order (so a batch that
// locked its stripes in item order would deadlock), some with a key twice.
TEST_P(EngineConformanceTest, ConcurrentBatchesInShuffledOrderLeaveTheMaximum) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 40;
  constexpr uint64_t kHlcs = 12;
  auto key_name = [](int k) { return "key-" + std::to_string(k); };
  auto version_of = [](int k, uint64_t hlc) {
    if ((hlc + static_cast<uint64_t>(k)) % 3 == 0) return Tombstone(hlc);
    return Live("k" + std::to_string(k) + "@" + std::to_string(hlc), hlc);
  };
  std::vector<std::pair<std::string, Version>> items;
  for (int k = 0; k < kKeys; ++k) {
    for (uint64_t hlc = 1; hlc <= kHlcs; ++hlc) items.emplace_back(key_name(k), version_of(k, hlc));
  }
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::pair<std::string, Version>> order = items;
      std::mt19937 rng(99 + t);
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t first = 0; first < order.size();) {
        const size_t n = std::min<size_t>(1 + rng() % 24, order.size() - first);
        std::vector<KeyedVersion> batch;
        for (size_t i = first; i < first + n; ++i)
          batch.push_back({order[i].first, order[i].second});
        for (const Result<ApplyOutcome>& r : engine().ApplyBatch(batch)) {
          if (!r.ok()) errors.fetch_add(1);
        }
        first += n;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  ASSERT_EQ(errors.load(), 0);
  uint64_t expected_live = 0;
  for (int k = 0; k < kKeys; ++k) {
    const Version max = version_of(k, kHlcs);
    ExpectStored(key_name(k), max);
    if (!max.tombstone) ++expected_live;
  }
  EXPECT_EQ(engine().LiveKeyCount(), expected_live);
}

// --- ApplyBatch ----------------------------------------------------------------------------

TEST_P(EngineConformanceTest, ApplyBatchGivesEveryItemTheOutcomeOfApplyIfNewer) {
  Apply("stored", Live("v", 10), ApplyOutcome::kApplied);
  Apply("dead", Tombstone(10), ApplyOutcome::kApplied);
  Apply("tie", Live("first", 10, 2), ApplyOutcome::kApplied);
  const Version fresh = Live("fresh", 1);
  const Version newer = Live("newer", 11);
  const Version older = Live("older", 9);
  const Version resurrect = Live("back", 11);
  const Version tie = Live("second", 10, 2);
  const std::vector<Result<ApplyOutcome>> outcomes =
      ApplyBatch({{"fresh", fresh}, {"stored", older}, {"dead", resurrect}, {"tie", tie}});
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].value(), ApplyOutcome::kApplied);
  EXPECT_EQ(outcomes[1].value(), ApplyOutcome::kSuperseded);
  EXPECT_EQ(outcomes[2].value(), ApplyOutcome::kApplied);
  EXPECT_EQ(outcomes[3].value(), ApplyOutcome::kSuperseded);
  ExpectStored("fresh", fresh);
  ExpectStored("stored", Live("v", 10));
  ExpectStored("dead", resurrect);
  ExpectStored("tie", Live("first", 10, 2));
  EXPECT_EQ(engine().LiveKeyCount(), 4u);
  const std::vector<Result<ApplyOutcome>> again = ApplyBatch({{"stored", newer}, {"fresh", fresh}});
  EXPECT_EQ(again[0].value(), ApplyOutcome::kApplied);
  EXPECT_EQ(again[1].value(), ApplyOutcome::kSuperseded);  // Applying twice is a no-op.
  ExpectStored("stored", newer);
  EXPECT_TRUE(ApplyBatch({}).empty());
}

TEST_P(EngineConformanceTest, ApplyBatchAppliesItemsOfOneKeyInOrder) {
  RecordingObserverForBatch observer;
  ASSERT_TRUE(engine().SetChangeObserver(&observer));
  const Version k5 = Live("5", 5);
  const Version k3 = Live("3", 3);
  const Version k7 = Live("7", 7);
  const Version t6 = Tombstone(6);
  const Version j1 = Tombstone(1);
  const Version j2 = Live("j", 2);
  const Version j2again = Live("j-same-ts", 2);
  const std::vector<Result<ApplyOutcome>> outcomes = ApplyBatch(
      {{"k", k5}, {"j", j1}, {"k", k3}, {"k", k7}, {"j", j2}, {"k", t6}, {"j", j2again}});
  std::vector<ApplyOutcome> got;
  for (const Result<ApplyOutcome>& r : outcomes) {
    ASSERT_OK(r);
    got.push_back(r.value());
  }
  using enum ApplyOutcome;
  EXPECT_EQ(got, (std::vector<ApplyOutcome>{kApplied, kApplied, kSuperseded, kApplied, kApplied,
                                            kSuperseded, kSuperseded}));
  ExpectStored("k", k7);
  ExpectStored("j", j2);
  EXPECT_EQ(engine().LiveKeyCount(), 2u);
  engine().SetChangeObserver(nullptr);
  // Each applied item is a change of its own, replacing what the item before it stored.
  const VersionHeader h5{k5.timestamp, false};
  const VersionHeader h7{k7.timestamp, false};
  const VersionHeader hj1{j1.timestamp, true};
  const VersionHeader hj2{j2.timestamp, false};
  std::vector<std::string> k_changes;
  std::vector<std::string> j_changes;
  for (const auto& [key, before, after] : observer.changes) {
    (key == "k" ? k_changes : j_changes).push_back(Describe(before) + "->" + Describe(after));
  }
  EXPECT_EQ(k_changes, (std::vector<std::string>{"none->" + Describe(h5),
                                                 Describe(h5) + "->" + Describe(h7)}));
  EXPECT_EQ(j_changes, (std::vector<std::string>{"none->" + Describe(hj1),
                                                 Describe(hj1) + "->" + Describe(hj2)}));
}

// --- Hash order, snapshots ---------------------------------------------------------------

TEST_P(EngineConformanceTest, ScanByHashSeesTheSnapshotTakenWhenItStarts) {
  for (const char* key : {"a", "b", "c"}) Apply(key, Live("old", 1), ApplyOutcome::kApplied);
  std::vector<KH> seen;
  ASSERT_OK(engine().ScanByHash(0, std::numeric_limits<uint64_t>::max(),
                                [&](uint64_t, std::string_view key, const VersionHeader& header) {
                                  if (seen.empty()) {
                                    // Writes made during the scan, by the visitor itself: none of
                                    // them may show up.
                                    for (const char* k : {"a", "b", "c", "bb", "z"}) {
                                      EXPECT_OK(engine().ApplyIfNewer(k, Live("new", 2)));
                                    }
                                  }
                                  seen.emplace_back(std::string(key), header);
                                  return true;
                                }));
  std::sort(seen.begin(), seen.end(), [](const KH& x, const KH& y) { return x.first < y.first; });
  const VersionHeader old{Timestamp{1, 1}, false};
  EXPECT_EQ(seen, (std::vector<KH>{{"a", old}, {"b", old}, {"c", old}}));
  EXPECT_EQ(AllKeys(), (std::vector<std::string>{"a", "b", "bb", "c", "z"}));
}

TEST_P(EngineConformanceTest, ScanByHashOfOneHashVisitsExactlyItsKeys) {
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) {
    keys.push_back("k" + std::to_string(i));
    Apply(keys.back(), Live("v", 1), ApplyOutcome::kApplied);
  }
  Apply("", Live("empty key", 1), ApplyOutcome::kApplied);  // The shortest key there is.
  keys.emplace_back("");
  for (const std::string& key : keys) {
    const uint64_t h = KeyHash(key);
    std::vector<std::string> seen;
    ASSERT_OK(
        engine().ScanByHash(h, h, [&](uint64_t got, std::string_view k, const VersionHeader&) {
          EXPECT_EQ(got, h);
          seen.emplace_back(k);
          return true;
        }));
    EXPECT_EQ(seen, std::vector<std::string>{key});
  }
}

// --- Hash order, tombstone purge, change observer ----------------------------------------

// Every (hash, key, header) ScanByHash visits in [first, last].
std::vector<std::tuple<uint64_t, std::string, VersionHeader>> ScanHashes(Engine& engine,
                                                                         uint64_t first,
                                                                         uint64_t last) {
  std::vector<std::tuple<uint64_t, std::string, VersionHeader>> out;
  EXPECT_OK(
      engine.ScanByHash(first, last, [&](uint64_t h, std::string_view key, const VersionHeader& v) {
        out.emplace_back(h, std::string(key), v);
        return true;
      }));
  return out;
}

TEST_P(EngineConformanceTest, ScanByHashVisitsEveryKeyInHashOrderWithItsHeader) {
  std::vector<std::tuple<uint64_t, std::string, VersionHeader>> expected;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const Version v = i % 5 == 0 ? Tombstone(10 + i, 2) : Live(std::string(100, 'x'), 10 + i);
    Apply(key, v, ApplyOutcome::kApplied);
    expected.emplace_back(KeyHash(key), key, VersionHeader{v.timestamp, v.tombstone});
  }
  std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  EXPECT_EQ(ScanHashes(engine(), 0, std::numeric_limits<uint64_t>::max()), expected);
  // Inclusive bounds: exactly the entries whose hash lies within.
  const uint64_t first = std::get<0>(expected[50]);
  const uint64_t last = std::get<0>(expected[120]);
  EXPECT_EQ(ScanHashes(engine(), first, last),
            (std::vector<std::tuple<uint64_t, std::string, VersionHeader>>(
                expected.begin() + 50, expected.begin() + 121)));
  EXPECT_TRUE(ScanHashes(engine(), last, first).empty());
}

TEST_P(EngineConformanceTest, ScanByHashFollowsReplacementsAndStopsWhenAsked) {
  Apply("a", Live("v", 1), ApplyOutcome::kApplied);
  Apply("b", Live("v", 1), ApplyOutcome::kApplied);
  Apply("a", Tombstone(5), ApplyOutcome::kApplied);
  auto all = ScanHashes(engine(), 0, std::numeric_limits<uint64_t>::max());
  ASSERT_EQ(all.size(), 2u);
  for (const auto& [h, key, header] : all) {
    if (key == "a") {
      EXPECT_EQ(header, (VersionHeader{Timestamp{5, 1}, true}));
    }
  }
  int visited = 0;
  ASSERT_OK(engine().ScanByHash(
      0, std::numeric_limits<uint64_t>::max(),
      [&](uint64_t, std::string_view, const VersionHeader&) { return ++visited < 1; }));
  EXPECT_EQ(visited, 1);
}

TEST_P(EngineConformanceTest, PurgeTombstoneRemovesOnlyThatVeryTombstone) {
  Apply("live", Live("v", 3), ApplyOutcome::kApplied);
  Apply("dead", Tombstone(3), ApplyOutcome::kApplied);
  EXPECT_EQ(engine().PurgeTombstone("live", Timestamp{3, 1}).value(), false);
  EXPECT_EQ(engine().PurgeTombstone("dead", Timestamp{2, 1}).value(), false);  // Stale ts.
  EXPECT_EQ(engine().PurgeTombstone("dead", Timestamp{3, 2}).value(), false);  // Other node.
  EXPECT_EQ(engine().PurgeTombstone("missing", Timestamp{3, 1}).value(), false);
  EXPECT_EQ(engine().PurgeTombstone("dead", Timestamp{3, 1}).value(), true);
  ASSERT_CODE(engine().Get("dead"), Code::kNotFound);
  ASSERT_CODE(engine().GetHeader("dead"), Code::kNotFound);
  // Gone means gone for LWW too: any version of the key applies again, even an older one.
  Apply("dead", Live("back", 1), ApplyOutcome::kApplied);
  ExpectStored("dead", Live("back", 1));
  EXPECT_EQ(engine().PurgeTombstone("dead", Timestamp{3, 1}).value(), false);
  Apply("dead", Tombstone(3), ApplyOutcome::kApplied);
  EXPECT_EQ(engine().PurgeTombstone("dead", Timestamp{3, 1}).value(), true);
  EXPECT_EQ(AllKeys(), (std::vector<std::string>{"live"}));
  EXPECT_EQ(engine().LiveKeyCount(), 1u);
  EXPECT_EQ(engine().PurgeTombstone("dead", Timestamp{3, 1}).value(), false);  // Gone already.
  // Collected: any later version applies, an older one too (nothing is stored to beat it).
  Apply("dead", Live("again", 1), ApplyOutcome::kApplied);
}

TEST_P(EngineConformanceTest, PurgeNeverDeletesAWriteNewerThanTheTombstone) {
  Apply("k", Tombstone(3), ApplyOutcome::kApplied);
  Apply("k", Live("newer", 4), ApplyOutcome::kApplied);
  EXPECT_EQ(engine().PurgeTombstone("k", Timestamp{3, 1}).value(), false);
  ExpectStored("k", Live("newer", 4));
  Apply("k", Tombstone(5), ApplyOutcome::kApplied);
  EXPECT_EQ(engine().PurgeTombstone("k", Timestamp{3, 1}).value(), false);
  ExpectStored("k", Tombstone(5));
}

// Records every change it is told of.
class RecordingObserver final : public ChangeObserver {
 public:
  struct Change {
    std::string key;
    uint64_t key_hash;
    std::optional<VersionHeader> before;
    std::optional<VersionHeader> after;
    friend bool operator==(const Change&, const Change&) = default;
  };
  void OnChange(std::string_view key, uint64_t key_hash, const VersionHeader* before,
                const VersionHeader* after) override {
    changes.push_back(Change{std::string(key), key_hash,
                             before ? std::optional<VersionHeader>(*before) : std::nullopt,
                             after ? std::optional<VersionHeader>(*after) : std::nullopt});
  }
  std::vector<Change> changes;
};

TEST_P(EngineConformanceTest, ChangeObserverIsToldEveryTransitionWithTheReplacedVersion) {
  RecordingObserver observer;
  ASSERT_TRUE(engine().SetChangeObserver(&observer));
  const VersionHeader v1{Timestamp{1, 1}, false};
  const VersionHeader t2{Timestamp{2, 1}, true};
  Apply("k", Live("a", 1), ApplyOutcome::kApplied);
  Apply("k", Live("old", 0), ApplyOutcome::kSuperseded);  // Not a change: not reported.
  Apply("k", Tombstone(2), ApplyOutcome::kApplied);
  ASSERT_EQ(engine().PurgeTombstone("k", Timestamp{1, 1}).value(), false);  // Not reported.
  ASSERT_EQ(engine().PurgeTombstone("k", Timestamp{2, 1}).value(), true);
  engine().SetChangeObserver(nullptr);
  Apply("k", Live("unseen", 9), ApplyOutcome::kApplied);
  const uint64_t h = KeyHash("k");
  EXPECT_EQ(observer.changes, (std::vector<RecordingObserver::Change>{
                                  {"k", h, std::nullopt, v1},
                                  {"k", h, v1, t2},
                                  {"k", h, t2, std::nullopt},
                              }));
}

// --- Hints ---------------------------------------------------------------------------------

TEST_P(EngineConformanceTest, HintsOfAPeerScanInSequenceOrder) {
  // Numeric order differs from little-endian byte order for these sequences.
  const uint64_t big = uint64_t{1} << 40;
  for (uint64_t seq : {uint64_t{256}, uint64_t{1}, big, uint64_t{2}}) {
    ASSERT_OK(engine().PutHint(7, seq, "p" + std::to_string(seq)));
  }
  EXPECT_EQ(Hints(7), (std::vector<Hint>{
                          {1, "p1"}, {2, "p2"}, {256, "p256"}, {big, "p" + std::to_string(big)}}));
}

TEST_P(EngineConformanceTest, HintsOfDifferentPeersAreIsolated) {
  const NodeId max_peer = std::numeric_limits<NodeId>::max();
  for (NodeId peer : {NodeId{1}, NodeId{2}, NodeId{256}, max_peer}) {
    ASSERT_OK(engine().PutHint(peer, 1, "to-" + std::to_string(peer)));
  }
  ASSERT_OK(engine().PutHint(0, 5, ""));
  EXPECT_EQ(Hints(1), (std::vector<Hint>{{1, "to-1"}}));
  EXPECT_EQ(Hints(2), (std::vector<Hint>{{1, "to-2"}}));
  EXPECT_EQ(Hints(256), (std::vector<Hint>{{1, "to-256"}}));
  EXPECT_EQ(Hints(max_peer), (std::vector<Hint>{{1, "to-" + std::to_string(max_peer)}}));
  EXPECT_EQ(Hints(0), (std::vector<Hint>{{5, ""}}));
  EXPECT_TRUE(Hints(3).empty());
}

TEST_P(EngineConformanceTest, DeletedHintIsNotScannedAgain) {
  for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_OK(engine().PutHint(4, seq, "p"));
  ASSERT_OK(engine().DeleteHint(4, 2));
  EXPECT_EQ(Hints(4), (std::vector<Hint>{{1, "p"}, {3, "p"}}));
  ASSERT_OK(engine().DeleteHint(4, 2));  // Deleting twice is fine.
  ASSERT_OK(engine().DeleteHint(9, 1));  // So is deleting what never existed.
  EXPECT_EQ(Hints(4).size(), 2u);
}

TEST_P(EngineConformanceTest, HintScanStopsWhenTheVisitorReturnsFalse) {
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_OK(engine().PutHint(4, seq, "p"));
  std::vector<uint64_t> seen;
  ASSERT_OK(engine().ScanHints(4, [&](uint64_t sequence, std::string_view) {
    seen.push_back(sequence);
    return sequence < 3;
  }));
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3}));
}

TEST_P(EngineConformanceTest, PutHintWithAnExistingSequenceReplacesThePayload) {
  ASSERT_OK(engine().PutHint(4, 1, "first"));
  ASSERT_OK(engine().PutHint(4, 1, "second"));
  EXPECT_EQ(Hints(4), (std::vector<Hint>{{1, "second"}}));
}

// --- Meta and identity ---------------------------------------------------------------------

TEST_P(EngineConformanceTest, MissingMetaIsNotFound) {
  ASSERT_CODE(engine().GetMeta("nothing"), Code::kNotFound);
}

TEST_P(EngineConformanceTest, MetaPutThenGetReturnsTheLatestValue) {
  ASSERT_OK(engine().PutMeta("name", "one"));
  ASSERT_OK(engine().PutMeta("other", std::string("\0bin", 4)));
  ASSERT_OK(engine().PutMeta("name", "two"));
  Result<std::string> name = engine().GetMeta("name");
  ASSERT_OK(name);
  EXPECT_EQ(name.value(), "two");
  Result<std::string> other = engine().GetMeta("other");
  ASSERT_OK(other);
  EXPECT_EQ(other.value(), std::string("\0bin", 4));
}

TEST_P(EngineConformanceTest, MetaDoesNotLeakIntoDataOrHints) {
  ASSERT_OK(engine().PutMeta("k", "m"));
  ASSERT_OK(engine().PutHint(1, 1, "h"));
  ASSERT_CODE(engine().Get("k"), Code::kNotFound);
  EXPECT_TRUE(ScanAll().empty());
  EXPECT_EQ(engine().LiveKeyCount(), 0u);
}

TEST_P(EngineConformanceTest, ClaimIdentityRecordsTheIdentityOfAFreshEngine) {
  ASSERT_OK(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "prod"}, "/data/3"));
  Result<std::string> node = engine().GetMeta("node_id");
  ASSERT_OK(node);
  EXPECT_EQ(node.value(), "3");
  Result<std::string> cluster = engine().GetMeta("cluster_name");
  ASSERT_OK(cluster);
  EXPECT_EQ(cluster.value(), "prod");
}

TEST_P(EngineConformanceTest, ClaimIdentityAcceptsTheSameIdentityAgain) {
  ASSERT_OK(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "prod"}, "/data/3"));
  ASSERT_OK(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "prod"}, "/data/3"));
}

TEST_P(EngineConformanceTest, ClaimIdentityRefusesAnotherNodeIdNamingBoth) {
  ASSERT_OK(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "prod"}, "/data/3"));
  Status s = ClaimIdentity(engine(), {.node_id = 4, .cluster_name = "prod"}, "/data/3");
  ASSERT_CODE(s, Code::kInvalidArgument);
  EXPECT_NE(s.message().find("/data/3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("node 3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("node 4"), std::string::npos) << s.message();
}

TEST_P(EngineConformanceTest, ClaimIdentityRefusesAnotherClusterNamingBoth) {
  ASSERT_OK(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "prod"}, "/data/3"));
  Status s = ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "staging"}, "/data/3");
  ASSERT_CODE(s, Code::kInvalidArgument);
  EXPECT_NE(s.message().find("'prod'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'staging'"), std::string::npos) << s.message();
}

TEST_P(EngineConformanceTest, ClaimIdentityFinishesAClaimThatStoppedHalfWay) {
  // A first start that crashed between the two meta writes left only the node id.
  ASSERT_OK(engine().PutMeta("node_id", "3"));
  ASSERT_OK(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "prod"}, "/data/3"));
  ASSERT_CODE(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "other"}, "/data/3"),
              Code::kInvalidArgument);
}

TEST_P(EngineConformanceTest, ClaimIdentityReportsAnUnreadableNodeIdAsCorruption) {
  ASSERT_OK(engine().PutMeta("node_id", "three"));
  ASSERT_CODE(ClaimIdentity(engine(), {.node_id = 3, .cluster_name = "prod"}, "/data/3"),
              Code::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineConformanceTest,
                         ::testing::Values(EngineKind::kMemory, EngineKind::kRocks),
                         [](const ::testing::TestParamInfo<EngineKind>& info) {
                           return info.param == EngineKind::kMemory ? "Memory" : "Rocks";
                         });

}  // namespace
}  // namespace dialkv::storage
