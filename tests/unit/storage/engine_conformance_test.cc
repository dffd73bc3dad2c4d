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

  // Every (key, version) a scan of [start, end) visits.
  std::vector<std::pair<std::string, Version>> ScanAll(std::string_view start,
                                                       std::string_view end) {
    std::vector<std::pair<std::string, Version>> out;
    Status s = engine().Scan(start, end, [&](std::string_view key, const Version& v) {
      out.emplace_back(std::string(key), v);
      return true;
    });
    EXPECT_OK(s);
    return out;
  }

  std::vector<std::string> ScanKeys(std::string_view start, std::string_view end) {
    std::vector<std::string> keys;
    for (auto& [key, version] : ScanAll(start, end)) keys.push_back(key);
    return keys;
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

using KV = std::pair<std::string, Version>;
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
  for (const auto& [key, version] : ScanAll("", "")) scanned_live += version.tombstone ? 0 : 1;
  EXPECT_EQ(scanned_live, expected_live);
}

// --- Scan ----------------------------------------------------------------------------------

TEST_P(EngineConformanceTest, ScanVisitsKeysInByteOrderWithinHalfOpenRange) {
  for (const char* key : {"d", "b", "a", "c", "e"}) {
    Apply(key, Live(key, 1), ApplyOutcome::kApplied);
  }
  Apply("\xff-high", Live("h", 1), ApplyOutcome::kApplied);  // Bytes compare unsigned.
  EXPECT_EQ(ScanKeys("b", "d"), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(ScanKeys("bb", "d"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(ScanKeys("", "c"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ScanKeys("e", "\xff"), (std::vector<std::string>{"e"}));
  EXPECT_EQ(ScanAll("c", "d"), (std::vector<KV>{{"c", Live("c", 1)}}));
}

TEST_P(EngineConformanceTest, ScanWithEmptyEndRunsToTheLastKey) {
  for (const char* key : {"a", "b", "c", "\xff\xff"}) {
    Apply(key, Live("v", 1), ApplyOutcome::kApplied);
  }
  EXPECT_EQ(ScanKeys("b", ""), (std::vector<std::string>{"b", "c", "\xff\xff"}));
  EXPECT_EQ(ScanKeys("", ""), (std::vector<std::string>{"a", "b", "c", "\xff\xff"}));
}

TEST_P(EngineConformanceTest, ScanOfEmptyOrInvertedRangeVisitsNothing) {
  for (const char* key : {"a", "b", "c"}) Apply(key, Live("v", 1), ApplyOutcome::kApplied);
  EXPECT_TRUE(ScanKeys("b", "b").empty());
  EXPECT_TRUE(ScanKeys("c", "a").empty());
  EXPECT_TRUE(ScanKeys("d", "").empty());
}

TEST_P(EngineConformanceTest, ScanStopsWhenTheVisitorReturnsFalse) {
  for (const char* key : {"a", "b", "c", "d"}) Apply(key, Live("v", 1), ApplyOutcome::kApplied);
  std::vector<std::string> seen;
  ASSERT_OK(engine().Scan("", "", [&](std::string_view key, const Version&) {
    seen.emplace_back(key);
    return seen.size() < 2;
  }));
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

TEST_P(EngineConformanceTest, ScanVisitsTombstones) {
  Apply("a", Live("v", 1), ApplyOutcome::kApplied);
  Apply("b", Tombstone(2), ApplyOutcome::kApplied);
  EXPECT_EQ(ScanAll("", ""), (std::vector<KV>{{"a", Live("v", 1)}, {"b", Tombstone(2)}}));
}

TEST_P(EngineConformanceTest, ScanSeesTheSnapshotTakenWhenItStarts) {
  for (const char* key : {"a", "b", "c"}) Apply(key, Live("old", 1), ApplyOutcome::kApplied);
  std::vector<KV> seen;
  ASSERT_OK(engine().Scan("", "", [&](std::string_view key, const Version& v) {
    if (seen.empty()) {
      // Writes made during the scan, by the visitor itself: none of them may show up.
      EXPECT_OK(engine().ApplyIfNewer("c", Live("new", 2)));
      EXPECT_OK(engine().ApplyIfNewer("bb", Live("new", 2)));
      EXPECT_OK(engine().ApplyIfNewer("z", Live("new", 2)));
    }
    seen.emplace_back(std::string(key), v);
    return true;
  }));
  EXPECT_EQ(seen,
            (std::vector<KV>{{"a", Live("old", 1)}, {"b", Live("old", 1)}, {"c", Live("old", 1)}}));
  EXPECT_EQ(ScanKeys("", ""), (std::vector<std::string>{"a", "b", "bb", "c", "z"}));
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
  EXPECT_EQ(ScanKeys("", ""), (std::vector<std::string>{"live"}));
  EXPECT_EQ(ScanHashes(engine(), 0, std::numeric_limits<uint64_t>::max()).size(), 1u);
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
  EXPECT_TRUE(ScanAll("", "").empty());
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
