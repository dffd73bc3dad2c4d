// Placement on the request path: every get and put looks up its key's replicas on the ring.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "server/cluster/ring.h"

namespace dialkv::cluster {
namespace {

// Args: nodes, vnodes per node.
void BM_ReplicasFor(benchmark::State& state) {
  std::vector<NodeId> nodes;
  for (NodeId n = 1; n <= static_cast<NodeId>(state.range(0)); ++n) nodes.push_back(n);
  Ring::Options options;
  options.vnodes = static_cast<uint32_t>(state.range(1));
  Result<Ring> ring = Ring::Build(nodes, options);
  if (!ring.ok()) {
    state.SkipWithError(ring.status().ToString().c_str());
    return;
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 10'000; ++i) keys.push_back("key:" + std::to_string(100'000'000 + i));
  size_t i = 0;
  for (auto _ : state) {
    auto replicas = ring->ReplicasFor(keys[i++ % keys.size()]);
    benchmark::DoNotOptimize(replicas.data());
  }
}
BENCHMARK(BM_ReplicasFor)->Args({3, 16})->Args({3, 256})->Args({30, 256});

void BM_IsReplica(benchmark::State& state) {
  Result<Ring> ring = Ring::Build({1, 2, 3, 4, 5}, Ring::Options());
  if (!ring.ok()) {
    state.SkipWithError(ring.status().ToString().c_str());
    return;
  }
  const std::string key = "key:100001234";
  for (auto _ : state) benchmark::DoNotOptimize(ring->IsReplica(3, key));
}
BENCHMARK(BM_IsReplica);

}  // namespace
}  // namespace dialkv::cluster
