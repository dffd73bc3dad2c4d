// The hybrid logical clock: taken once per write, observed once per peer message.
#include <benchmark/benchmark.h>

#include "server/common/hlc.h"

namespace dialkv {
namespace {

void BM_HlcNow(benchmark::State& state) {
  static SystemClock clock;
  static HybridLogicalClock hlc(clock, 1, HybridLogicalClock::Options{});
  for (auto _ : state) benchmark::DoNotOptimize(hlc.Now());
}
BENCHMARK(BM_HlcNow)->Threads(1)->Threads(2);

void BM_HlcObserve(benchmark::State& state) {
  SystemClock clock;
  HybridLogicalClock hlc(clock, 1, HybridLogicalClock::Options{});
  const uint64_t remote = hlc.Now().hlc;
  for (auto _ : state) {
    Status s = hlc.Observe(remote);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_HlcObserve);

}  // namespace
}  // namespace dialkv
