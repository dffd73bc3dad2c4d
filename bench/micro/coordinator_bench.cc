// The coordinator's fast paths with the network and storage taken out: a 3-node cluster of
// in-memory engines over the in-process fake transport (tests/testutil/in_memory_cluster.h),
// all on one thread. What remains is the coordinator's own work per request: ring lookup, the
// quorum gathering coroutines, envelopes built and parsed per replica call, HLC and LWW apply.
// Compare with the end-to-end figures of dialkv-bench to see what the sockets cost.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tests/testutil/in_memory_cluster.h"

namespace dialkv::replication::testing {
namespace {

using testutil::InMemoryCluster;

// Keys node 1 replicates, so node 1 coordinates as a replica (the common case with RF = N).
std::vector<std::string> Keys(InMemoryCluster& cluster) {
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 1000 && i < 100'000; ++i) {
    std::string key = "key:" + std::to_string(i);
    if (cluster.ring().IsReplica(1, key)) keys.push_back(std::move(key));
  }
  return keys;
}

void BM_CoordinatorWrite(benchmark::State& state) {
  const Consistency mode = state.range(0) == 0 ? Consistency::kCp : Consistency::kAp;
  InMemoryCluster cluster(InMemoryCluster::Config{});
  const std::vector<std::string> keys = Keys(cluster);
  const std::string value(100, 'v');
  size_t i = 0;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    Result<WriteOutcome> w = cluster.Write(1, keys[i++ % keys.size()], value, mode);
    if (!w.ok()) {
      state.SkipWithError(w.status().ToString().c_str());
      break;
    }
  }
  cluster.RunUntilIdle();  // AP's background replica writes.
  state.SetLabel(mode == Consistency::kCp ? "cp" : "ap");
}
BENCHMARK(BM_CoordinatorWrite)->Arg(0)->Arg(1);

void BM_CoordinatorRead(benchmark::State& state) {
  const Consistency mode = state.range(0) == 0 ? Consistency::kCp : Consistency::kAp;
  InMemoryCluster cluster(InMemoryCluster::Config{});
  const std::vector<std::string> keys = Keys(cluster);
  for (const std::string& key : keys) {
    if (!cluster.Write(1, key, std::string(100, 'v'), Consistency::kCp).ok()) {
      state.SkipWithError("prefill failed");
      return;
    }
  }
  size_t i = 0;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    Result<Version> r = cluster.Read(1, keys[i++ % keys.size()], mode);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  state.SetLabel(mode == Consistency::kCp ? "cp" : "ap");
}
BENCHMARK(BM_CoordinatorRead)->Arg(0)->Arg(1);

}  // namespace
}  // namespace dialkv::replication::testing
