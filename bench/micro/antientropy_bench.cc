// Anti-entropy cost: bytes exchanged by one exchange between two replicas holding 10,000 or
// 100,000 keys, in sync or with 1% of the keys differing, and the cost of folding one change
// into the digests (what every write pays).
//
// Two nodes of a 3-node ring (16 vnodes each, replication factor 3, so they share all 48
// ranges; 64 buckets per range) run in one thread; the transport hands each request straight
// to the peer's AntiEntropy::Handle. bytes/round counts the serialized request and reply
// envelopes of the exchange without the transport's frame length, request id and peer header
// (about 30 bytes per message on the real wire). For the 1% case every iteration first makes
// 1% of the keys newer on one node (untimed), so each round repairs that many keys.
//
// Run: build-ae/bench/micro/antientropy_bench

#include <benchmark/benchmark.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/antientropy/anti_entropy.h"
#include "server/common/clock.h"
#include "server/common/hash.h"
#include "server/common/hlc.h"
#include "server/common/logging.h"
#include "server/storage/memory_engine.h"

namespace dialkv::antientropy {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;

// Calls the peer's anti-entropy handler directly, on the caller's executor.
class DirectTransport final : public net::Transport {
 public:
  explicit DirectTransport(NodeId self) : self_(self) {}
  void Connect(NodeId peer, AntiEntropy* ae) { peers_[peer] = ae; }
  asio::awaitable<Result<v1::Envelope>> Call(NodeId peer, v1::Envelope request,
                                             net::Deadline) override {
    auto it = peers_.find(peer);
    if (it == peers_.end()) co_return Status::Unavailable("unknown peer");
    v1::Envelope reply = co_await it->second->Handle(self_, std::move(request));
    co_return reply;
  }

 private:
  const NodeId self_;
  std::map<NodeId, AntiEntropy*> peers_;
};

struct BenchNode {
  explicit BenchNode(NodeId node_id, const cluster::Ring& ring)
      : id(node_id),
        clock(kStartMs),
        hlc(clock, node_id, HybridLogicalClock::Options()),
        local(replication::LocalReplica::Options{nullptr, false}, engine, hlc),
        membership(node_id, 1,
                   {cluster::Member{1, "n1"}, cluster::Member{2, "n2"}, cluster::Member{3, "n3"}},
                   clock, cluster::Membership::Options()),
        transport(node_id) {
    AntiEntropy::Options options;
    options.self = node_id;
    options.interval_ms = 0;
    options.max_keys_per_s = 0;
    options.storage_thread = false;
    ae = std::move(
        AntiEntropy::Create(options, engine, ring, membership, transport, local, clock, nullptr)
            .value());
  }
  NodeId id;
  ManualClock clock;
  HybridLogicalClock hlc;
  storage::MemoryEngine engine;
  replication::LocalReplica local;
  cluster::Membership membership;
  DirectTransport transport;
  std::unique_ptr<AntiEntropy> ae;
};

asio::awaitable<void> ExchangeInto(AntiEntropy* ae, NodeId peer,
                                   std::optional<AntiEntropy::RoundReport>* out) {
  out->emplace(co_await ae->ExchangeWith(peer));
}

void BM_ExchangeBytesPerRound(benchmark::State& state) {
  SetLogLevels("warn");
  const auto keys = static_cast<int>(state.range(0));
  const auto differing_permille = static_cast<int>(state.range(1));
  cluster::Ring ring = cluster::Ring::Build({1, 2, 3}, {16, 3}).value();
  BenchNode a(1, ring);
  BenchNode b(2, ring);
  a.transport.Connect(2, b.ae.get());
  b.transport.Connect(1, a.ae.get());
  for (int i = 0; i < keys; ++i) {
    const Version v{std::string(100, 'v'), Timestamp{uint64_t{1} << 20, 1}, false};
    (void)a.engine.ApplyIfNewer("key-" + std::to_string(i), v);
    (void)b.engine.ApplyIfNewer("key-" + std::to_string(i), v);
  }
  std::mt19937_64 rng(42);
  uint64_t next_hlc = uint64_t{1} << 21;
  asio::io_context io;
  uint64_t rounds = 0, bytes = 0, moved = 0, ranges_out = 0, buckets_out = 0;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    state.PauseTiming();
    const int differing = keys * differing_permille / 1000;
    ++next_hlc;
    for (int i = 0; i < differing; ++i) {
      const std::string key = "key-" + std::to_string(rng() % keys);
      (void)a.engine.ApplyIfNewer(key,
                                  Version{std::string(100, 'n'), Timestamp{next_hlc, 1}, false});
    }
    state.ResumeTiming();
    std::optional<AntiEntropy::RoundReport> report;
    asio::co_spawn(io, ExchangeInto(a.ae.get(), 2, &report), asio::detached);
    io.restart();
    io.run();
    if (!report.has_value() || !report->status.ok() || !report->complete) {
      state.SkipWithError("the exchange did not complete");
      break;
    }
    ++rounds;
    bytes += report->bytes_sent + report->bytes_received;
    moved += report->keys_pushed + report->keys_pulled;
    ranges_out += report->ranges_out_of_sync;
    buckets_out += report->buckets_out_of_sync;
  }
  if (rounds == 0) return;
  const auto per_round = [rounds](uint64_t v) {
    return benchmark::Counter(static_cast<double>(v) / static_cast<double>(rounds));
  };
  state.counters["bytes/round"] = per_round(bytes);
  state.counters["keys_moved/round"] = per_round(moved);
  state.counters["ranges_out/round"] = per_round(ranges_out);
  state.counters["buckets_out/round"] = per_round(buckets_out);
}
BENCHMARK(BM_ExchangeBytesPerRound)
    ->ArgNames({"keys", "differing_permille"})
    ->Args({10'000, 0})
    ->Args({100'000, 0})
    ->Args({10'000, 10})
    ->Args({100'000, 10})
    ->Unit(benchmark::kMillisecond);

// The digest fold every stored write pays (under the engine's key lock).
void BM_DigestFoldPerChange(benchmark::State& state) {
  cluster::Ring ring = cluster::Ring::Build({1, 2, 3}, {16, 3}).value();
  ManualClock clock(kStartMs);
  DigestTable table(ring, 64, clock, 86'400'000);
  const storage::VersionHeader before{Timestamp{1, 1}, false};
  const storage::VersionHeader after{Timestamp{2, 1}, false};
  uint64_t h = 0x9e3779b97f4a7c15;
  // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores): the benchmark loop idiom.
  for (auto _ : state) {
    h = h * 6364136223846793005u + 1442695040888963407u;
    table.OnChange("k", h, &before, &after);
  }
  benchmark::DoNotOptimize(table.RangeDigest(0));
}
BENCHMARK(BM_DigestFoldPerChange);

}  // namespace
}  // namespace dialkv::antientropy
