// Randomized: histories recorded from a simulated linearizable register must pass; the same
// histories with one read turned stale must not.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "jepsen-like/check/linearizability.h"
#include "server/common/random.h"
#include "tests/unit/jepsen/history_builder.h"

namespace dialkv::jepsen {
namespace {

using testing::MakeHistory;
using testing::Spec;

struct SimParams {
  int keys = 3;
  int processes = 5;
  int ops_per_process = 30;
  int info_percent = 10;  // Of writes and reads.
  int fail_percent = 5;
};

// Every process runs operations back to back with random gaps; each operation takes effect at
// a random instant within its interval (an info write only half of the time, a failed write
// never), applied to one register per key in the order of those instants. Reads report what
// their register held then. Values are unique per write.
std::vector<Spec> SimulateRegister(uint64_t seed, const SimParams& p) {
  SeededRandom rnd(seed);
  struct Sim {
    Spec spec;
    int64_t effect_ms;
    bool takes_effect;
  };
  std::vector<Sim> sims;
  int64_t next_process = 0;
  int value_counter = 0;
  for (int proc = 0; proc < p.processes; ++proc) {
    int64_t process = next_process++;
    int64_t t = static_cast<int64_t>(rnd.Uniform(5));
    for (int i = 0; i < p.ops_per_process; ++i) {
      Spec s;
      s.process = process;
      s.key = "k" + std::to_string(rnd.Uniform(static_cast<uint64_t>(p.keys)));
      const uint64_t kind = rnd.Uniform(10);
      s.f = kind < 5 ? OpFunction::kRead : kind < 9 ? OpFunction::kWrite : OpFunction::kDelete;
      if (s.f == OpFunction::kWrite) s.value = "v" + std::to_string(value_counter++);
      s.node = static_cast<NodeId>(rnd.Uniform(3) + 1);
      const int64_t duration = 1 + static_cast<int64_t>(rnd.Uniform(20));
      s.invoke_ms = t;
      s.complete_ms = t + duration;
      const int64_t effect =
          t + static_cast<int64_t>(rnd.Uniform(static_cast<uint64_t>(duration) + 1));
      const uint64_t fate = rnd.Uniform(100);
      bool takes_effect = true;
      if (fate < static_cast<uint64_t>(p.fail_percent)) {
        s.outcome = OpType::kFail;
        takes_effect = false;
      } else if (fate < static_cast<uint64_t>(p.fail_percent + p.info_percent)) {
        s.outcome = OpType::kInfo;
        takes_effect = rnd.Uniform(2) == 0;
        if (rnd.Uniform(4) == 0) s.complete_ms.reset();  // No completion recorded at all.
      }
      sims.push_back({s, effect, takes_effect});
      t += duration + static_cast<int64_t>(rnd.Uniform(5));
      // After an info the process continues under a new id.
      if (s.outcome == OpType::kInfo) process = next_process++;
    }
  }
  std::vector<size_t> order(sims.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sims[a].effect_ms < sims[b].effect_ms; });
  std::map<std::string, std::optional<std::string>> registers;
  for (size_t i : order) {
    Sim& sim = sims[i];
    std::optional<std::string>& reg = registers[sim.spec.key];
    if (sim.spec.f == OpFunction::kRead) {
      sim.spec.value = reg;
    } else if (sim.takes_effect) {
      reg = sim.spec.f == OpFunction::kWrite ? sim.spec.value : std::nullopt;
    }
  }
  std::vector<Spec> out;
  for (Sim& sim : sims) out.push_back(std::move(sim.spec));
  return out;
}

// Turns one ok read stale: it returns the value of a write W1 that an ok write or delete W2
// followed (W1 completed before W2 was invoked) before the read was invoked, so no order
// explains it. Returns the index of the read, or std::nullopt when the history has no such
// triple.
std::optional<size_t> MakeOneReadStale(std::vector<Spec>& specs, uint64_t seed) {
  struct Candidate {
    size_t read;
    std::string value;
  };
  std::vector<Candidate> candidates;
  for (size_t r = 0; r < specs.size(); ++r) {
    const Spec& read = specs[r];
    if (read.f != OpFunction::kRead || read.outcome != OpType::kOk || !read.complete_ms) continue;
    for (const Spec& w2 : specs) {
      if (w2.f == OpFunction::kRead || w2.outcome != OpType::kOk || w2.key != read.key ||
          *w2.complete_ms >= read.invoke_ms) {
        continue;
      }
      for (const Spec& w1 : specs) {
        if (w1.f != OpFunction::kWrite || w1.outcome != OpType::kOk || w1.key != read.key ||
            *w1.complete_ms >= w2.invoke_ms || w1.value == read.value) {
          continue;
        }
        candidates.push_back({r, *w1.value});
      }
    }
  }
  if (candidates.empty()) return std::nullopt;
  SeededRandom rnd(seed);
  const Candidate& c = candidates[rnd.Uniform(candidates.size())];
  specs[c.read].value = c.value;
  return c.read;
}

std::vector<CompletedOp> Pair(const std::vector<Spec>& specs) {
  Result<std::vector<CompletedOp>> ops = PairHistory(MakeHistory(specs));
  EXPECT_TRUE(ops.ok()) << ops.status().ToString();
  return ops.ok() ? *ops : std::vector<CompletedOp>{};
}

// For each seed: the simulated history passes; with one read made stale it fails, with a
// small witness that holds that read and is a counterexample on its own.
void PassThenFailWithOneStaleRead(const SimParams& p, uint64_t first_seed, int seeds) {
  int mutated = 0;
  for (uint64_t seed = first_seed; seed < first_seed + static_cast<uint64_t>(seeds); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::vector<Spec> specs = SimulateRegister(seed, p);
    LinearizabilityResult ok = CheckLinearizability(Pair(specs));
    ASSERT_EQ(ok.verdict, Verdict::kPass);

    const std::optional<size_t> read = MakeOneReadStale(specs, seed);
    if (!read) continue;
    ++mutated;
    LinearizabilityResult bad = CheckLinearizability(Pair(specs));
    ASSERT_EQ(bad.verdict, Verdict::kViolation);
    ASSERT_EQ(bad.violations.size(), 1u);
    const LinearizabilityWitness& w = bad.violations[0];
    EXPECT_EQ(w.key, specs[*read].key);
    ASSERT_TRUE(w.culprit.has_value());
    const CompletedOp& culprit = w.ops[*w.culprit];
    EXPECT_TRUE(culprit.is_read() &&
                culprit.invoke_ns == specs[*read].invoke_ms * testing::kNsPerMs &&
                culprit.value == specs[*read].value)
        << FormatWitness(w, 0);
    EXPECT_EQ(CheckKeyLinearizability(w.ops).verdict, Verdict::kViolation) << FormatWitness(w, 0);
    // Three operations prove a stale read; reads of "not found" bring every delete that could
    // explain them.
    EXPECT_LE(w.ops.size(), 8u) << FormatWitness(w, 0);
  }
  EXPECT_GT(mutated, seeds / 2);
}

TEST(LinearizabilityRandomTest, SimulatedRegisterHistoriesPassAndOneStaleReadFails) {
  PassThenFailWithOneStaleRead(SimParams{}, 1, 150);
}

TEST(LinearizabilityRandomTest, HighlyConcurrentSingleKeyHistoriesPassAndOneStaleReadFails) {
  SimParams p;
  p.keys = 1;
  p.processes = 8;
  p.ops_per_process = 25;
  PassThenFailWithOneStaleRead(p, 500, 40);
}

TEST(LinearizabilityRandomTest, InfoHeavyHistoriesPass) {
  SimParams p;
  p.info_percent = 30;
  p.processes = 6;
  for (uint64_t seed = 1000; seed < 1050; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    LinearizabilityResult r = CheckLinearizability(Pair(SimulateRegister(seed, p)));
    ASSERT_EQ(r.verdict, Verdict::kPass);
  }
}

TEST(LinearizabilityRandomTest, ThousandsOfOperationsOverTensOfKeysCheckQuickly) {
  SimParams p;
  p.keys = 20;
  p.processes = 10;
  p.ops_per_process = 400;
  const std::vector<CompletedOp> ops = Pair(SimulateRegister(7, p));
  ASSERT_EQ(ops.size(), 4000u);
  const auto start = std::chrono::steady_clock::now();
  LinearizabilityResult r = CheckLinearizability(ops);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "4000 operations over 20 keys: " << ms << " ms, " << r.states_explored
            << " configurations\n";
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_EQ(r.keys_checked, 20u);
  EXPECT_LT(ms, 5000);  // Well under a second in an optimized build; generous for sanitizers.
}

TEST(LinearizabilityRandomTest, ThousandsOfOperationsWithManyInfoWritesCheckQuickly) {
  SimParams p;
  p.keys = 10;
  p.processes = 10;
  p.ops_per_process = 300;
  p.info_percent = 25;
  const std::vector<CompletedOp> ops = Pair(SimulateRegister(11, p));
  const auto start = std::chrono::steady_clock::now();
  LinearizabilityResult r = CheckLinearizability(ops);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << ops.size() << " operations over 10 keys, a quarter info: " << ms << " ms, "
            << r.states_explored << " configurations\n";
  EXPECT_EQ(r.verdict, Verdict::kPass);
  EXPECT_LT(ms, 5000);
}

}  // namespace
}  // namespace dialkv::jepsen
