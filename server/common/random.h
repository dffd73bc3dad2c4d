#pragma once
// Randomness as a seam: code that makes random choices (gossip start offsets, anti-entropy peer
// choice, fault injection) takes a Random&, so a test can wire a seeded generator and a failing
// run replays exactly from its seed.

#include <cstdint>
#include <random>

namespace dialkv {

class Random {
 public:
  virtual ~Random();

  // 64 uniformly distributed bits.
  virtual uint64_t Next() = 0;

  // A uniformly distributed value in [0, n), without modulo bias. Built on Next() alone (not on
  // std::uniform_int_distribution, whose algorithm differs between standard libraries), so a
  // seed gives the same sequence on every platform.
  // REQUIRES: n > 0.
  uint64_t Uniform(uint64_t n);
};

// std::mt19937_64 from a fixed seed: the same seed gives the same sequence on every platform.
// Not cryptographic.
// Thread-compatible: concurrent calls need external synchronization; give each executor its
// own generator (seeded, for instance, from one master seed and the executor's index).
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  uint64_t Next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

}  // namespace dialkv
