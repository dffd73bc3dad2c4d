// LWW apply and point reads on each storage engine: the per-key cost every replicated write
// and every local read pays.
//
// The RocksDB engine runs in a fresh temp dir with sync off, so these numbers measure the
// engine (stripe lock, memtable, WAL append into the page cache, bloom filter), not the
// device. With Options::sync every write waits for an fsync and a benchmark would measure the
// disk instead; use dialkv-bench against a real data dir for that.
//
// Each benchmark runs for kMinTimeSeconds (0.2 s; it overrides --benchmark_min_time), plus the
// setup of a fresh engine; raise it for steadier numbers.

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "server/common/logging.h"
#include "server/storage/engine.h"
#include "server/storage/memory_engine.h"
#include "server/storage/rocksdb_engine.h"

namespace dialkv::storage {
namespace {

constexpr double kMinTimeSeconds = 0.2;
constexpr uint64_t kPreloadedKeys = 10'000;  // Working set of the overwrite and Get benchmarks.

// kRocksNoHeaderCache: RocksDB without the header cache (RocksEngine::Options::header_cache_slots
// = 0), so every apply reads the stored version first.
enum class EngineKind { kMemory, kRocks, kRocksNoHeaderCache };

// A directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/dialkv-bench-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }  // Empty if creation failed.

 private:
  std::string path_;
};

// Null (and the benchmark marked as failed) if the engine cannot be opened.
std::unique_ptr<Engine> MakeEngine(EngineKind kind, const ScratchDir& dir,
                                   benchmark::State& state) {
  if (kind == EngineKind::kMemory) return std::make_unique<MemoryEngine>();
  static const bool quiet = SetLogLevels("warn");  // No "opened data dir" line per run.
  (void)quiet;
  if (dir.path().empty()) {
    state.SkipWithError("cannot create a temp dir");
    return nullptr;
  }
  const size_t cache_slots =
      kind == EngineKind::kRocksNoHeaderCache ? 0 : RocksEngine::Options().header_cache_slots;
  Result<std::unique_ptr<RocksEngine>> opened = RocksEngine::Open(
      {.path = dir.path() + "/db", .sync = false, .header_cache_slots = cache_slots});
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return nullptr;
  }
  return std::move(opened).value();
}

// Fixed-width keys ("key-000000000042"), so byte order matches numeric order.
std::string KeyOf(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key-%012llu", static_cast<unsigned long long>(i));
  return buf;
}

Version VersionAt(uint64_t hlc, const std::string& value) {
  return Version{value, Timestamp{hlc, 1}, false};
}

bool Preload(Engine& engine, const std::string& value, benchmark::State& state) {
  for (uint64_t i = 0; i < kPreloadedKeys; ++i) {
    if (!engine.ApplyIfNewer(KeyOf(i), VersionAt(1, value)).ok()) {
      state.SkipWithError("preload failed");
      return false;
    }
  }
  return true;
}

// A permutation-like walk over the preloaded keys, so reads do not just stream in key order.
uint64_t Scatter(uint64_t i) { return (i * 7919) % kPreloadedKeys; }

void ReportThroughput(benchmark::State& state, size_t value_bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(value_bytes));
}

// Every apply inserts a key the engine has never seen: a miss, then a write.
void BM_ApplyFreshKeys(benchmark::State& state, EngineKind kind) {
  ScratchDir dir;
  std::unique_ptr<Engine> engine = MakeEngine(kind, dir, state);
  if (engine == nullptr) return;
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  uint64_t i = 0;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    Result<ApplyOutcome> r = engine->ApplyIfNewer(KeyOf(i), VersionAt(i + 1, value));
    ++i;
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  ReportThroughput(state, value.size());
}

// Every apply replaces the stored version of an existing key with a newer one: a hit, a
// compare, then a write.
void BM_ApplyOverwrite(benchmark::State& state, EngineKind kind) {
  ScratchDir dir;
  std::unique_ptr<Engine> engine = MakeEngine(kind, dir, state);
  if (engine == nullptr) return;
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  if (!Preload(*engine, value, state)) return;
  uint64_t i = 0;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    // hlc 2.. : always newer than the preloaded version and than the key's previous overwrite.
    Result<ApplyOutcome> r = engine->ApplyIfNewer(KeyOf(Scatter(i)), VersionAt(i + 2, value));
    ++i;
    if (!r.ok() || r.value() != ApplyOutcome::kApplied) {
      state.SkipWithError("overwrite was not applied");
      break;
    }
  }
  ReportThroughput(state, value.size());
}

// ApplyBatch of state.range(1) versions of keys the engine has never seen: with RocksDB one
// write (one WAL append) for the whole batch instead of one per key. Items are counted one
// by one, so items_per_second compares directly with BM_ApplyFreshKeys.
void BM_ApplyBatchFreshKeys(benchmark::State& state, EngineKind kind) {
  ScratchDir dir;
  std::unique_ptr<Engine> engine = MakeEngine(kind, dir, state);
  if (engine == nullptr) return;
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  const auto batch_size = static_cast<size_t>(state.range(1));
  std::vector<std::string> keys(batch_size);
  std::vector<Version> versions(batch_size, VersionAt(1, value));
  std::vector<KeyedVersion> items;
  items.reserve(batch_size);
  uint64_t i = 0;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    state.PauseTiming();
    items.clear();
    for (size_t j = 0; j < batch_size; ++j, ++i) {
      keys[j] = KeyOf(i);
      items.push_back({keys[j], versions[j]});
    }
    state.ResumeTiming();
    for (const Result<ApplyOutcome>& r : engine->ApplyBatch(items)) {
      if (!r.ok()) {
        state.SkipWithError(r.status().ToString().c_str());
        return;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch_size));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch_size * value.size()));
}

// A point read of an existing key.
void BM_Get(benchmark::State& state, EngineKind kind) {
  ScratchDir dir;
  std::unique_ptr<Engine> engine = MakeEngine(kind, dir, state);
  if (engine == nullptr) return;
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  if (!Preload(*engine, value, state)) return;
  uint64_t i = 0;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    Result<Version> r = engine->Get(KeyOf(Scatter(i++)));
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  ReportThroughput(state, value.size());
}

// Arg: value size in bytes.
BENCHMARK_CAPTURE(BM_ApplyFreshKeys, memory, EngineKind::kMemory)
    ->Arg(100)
    ->MinTime(kMinTimeSeconds);
BENCHMARK_CAPTURE(BM_ApplyFreshKeys, rocksdb, EngineKind::kRocks)
    ->Arg(100)
    ->Arg(4096)
    ->MinTime(kMinTimeSeconds);
BENCHMARK_CAPTURE(BM_ApplyOverwrite, memory, EngineKind::kMemory)
    ->Arg(100)
    ->MinTime(kMinTimeSeconds);
BENCHMARK_CAPTURE(BM_ApplyOverwrite, rocksdb, EngineKind::kRocks)
    ->Arg(100)
    ->MinTime(kMinTimeSeconds);
BENCHMARK_CAPTURE(BM_ApplyOverwrite, rocksdb_no_header_cache, EngineKind::kRocksNoHeaderCache)
    ->Arg(100)
    ->MinTime(kMinTimeSeconds);
// Args: value size in bytes, batch size.
BENCHMARK_CAPTURE(BM_ApplyBatchFreshKeys, rocksdb, EngineKind::kRocks)
    ->Args({100, 16})
    ->Args({100, 64})
    ->MinTime(kMinTimeSeconds);
BENCHMARK_CAPTURE(BM_Get, memory, EngineKind::kMemory)->Arg(100)->MinTime(kMinTimeSeconds);
BENCHMARK_CAPTURE(BM_Get, rocksdb, EngineKind::kRocks)->Arg(100)->MinTime(kMinTimeSeconds);

}  // namespace
}  // namespace dialkv::storage
