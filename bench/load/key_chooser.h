#pragma once
// Which key each operation of the load touches: uniform over the key space, or Zipfian (a few
// hot keys take most operations, as in caches and social feeds). Keys are named
// KeyName(index) so every backend and every run use the same key set.
//
// The Zipfian draw is the "quickly generating billion-record synthetic databases" method of
// Gray et al.: rank r (0 = hottest) is drawn with probability proportional to 1 / (r+1)^theta
// in O(1) per draw after an O(keys) set-up. Hot ranks are spread over the ring by the keys'
// hashes, as any key is.
//
// Immutable after construction: one chooser serves every worker, each with its own generator.

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace dialkv::bench {

enum class Distribution { kUniform, kZipf };

// "uniform" / "zipf".
std::string_view DistributionName(Distribution d);

class KeyChooser {
 public:
  // REQUIRES: keys >= 1; 0 < theta < 1 (only read for kZipf).
  KeyChooser(Distribution distribution, uint64_t keys, double theta = 0.99);

  // A key index in [0, keys).
  uint64_t Next(std::mt19937_64& rng) const;

  uint64_t keys() const { return keys_; }

 private:
  Distribution distribution_;
  uint64_t keys_;
  double theta_;
  double zeta_n_ = 0;  // Sum over i = 1..keys of 1 / i^theta.
  double alpha_ = 0;   // 1 / (1 - theta).
  double eta_ = 0;
  double half_pow_theta_ = 0;  // 1 + 0.5^theta: the draw's cut-off for rank 1.
};

// "key:00001234": the name of key `index`, fixed width so all keys are the same size.
std::string KeyName(uint64_t index);

}  // namespace dialkv::bench
