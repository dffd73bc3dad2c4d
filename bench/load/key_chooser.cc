#include "bench/load/key_chooser.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dialkv::bench {

std::string_view DistributionName(Distribution d) {
  return d == Distribution::kZipf ? "zipf" : "uniform";
}

KeyChooser::KeyChooser(Distribution distribution, uint64_t keys, double theta)
    : distribution_(distribution), keys_(std::max<uint64_t>(keys, 1)), theta_(theta) {
  if (distribution_ != Distribution::kZipf) return;
  for (uint64_t i = 1; i <= keys_; ++i) zeta_n_ += 1.0 / std::pow(static_cast<double>(i), theta_);
  const double zeta_2 = 1.0 + 1.0 / std::pow(2.0, theta_);
  alpha_ = 1.0 / (1.0 - theta_);
  eta_ =
      (1.0 - std::pow(2.0 / static_cast<double>(keys_), 1.0 - theta_)) / (1.0 - zeta_2 / zeta_n_);
  half_pow_theta_ = 1.0 + std::pow(0.5, theta_);
}

uint64_t KeyChooser::Next(std::mt19937_64& rng) const {
  if (distribution_ == Distribution::kUniform) {
    return std::uniform_int_distribution<uint64_t>(0, keys_ - 1)(rng);
  }
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  const double uz = u * zeta_n_;
  if (uz < 1.0) return 0;
  if (uz < half_pow_theta_) return std::min<uint64_t>(1, keys_ - 1);
  const auto rank =
      static_cast<uint64_t>(static_cast<double>(keys_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
  return std::min(rank, keys_ - 1);
}

std::string KeyName(uint64_t index) {
  char name[32];
  const int n =
      std::snprintf(name, sizeof(name), "key:%08llu", static_cast<unsigned long long>(index));
  return std::string(name, static_cast<size_t>(n));
}

}  // namespace dialkv::bench
