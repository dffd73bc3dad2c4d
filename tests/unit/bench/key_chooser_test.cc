#include "bench/load/key_chooser.h"

#include <gtest/gtest.h>

#include <vector>

namespace dialkv::bench {
namespace {

constexpr int kDraws = 200'000;

std::vector<int> Counts(const KeyChooser& chooser) {
  std::mt19937_64 rng(42);
  std::vector<int> counts(chooser.keys());
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t k = chooser.Next(rng);
    EXPECT_LT(k, chooser.keys());
    if (k < chooser.keys()) ++counts[k];
  }
  return counts;
}

TEST(KeyChooserTest, UniformSpreadsDrawsEvenly) {
  const std::vector<int> counts = Counts(KeyChooser(Distribution::kUniform, 100));
  for (int c : counts) EXPECT_NEAR(c, kDraws / 100.0, kDraws / 100.0 * 0.2);
}

TEST(KeyChooserTest, ZipfFavoursLowRanksByThePowerLaw) {
  const std::vector<int> counts = Counts(KeyChooser(Distribution::kZipf, 1000, 0.99));
  // Rank 0 is about twice as hot as rank 1, and ten times as hot as rank 9.
  EXPECT_NEAR(static_cast<double>(counts[0]) / counts[1], 2.0, 0.3);
  EXPECT_NEAR(static_cast<double>(counts[0]) / counts[9], 9.8, 2.0);
  int top_ten = 0;
  for (int i = 0; i < 10; ++i) top_ten += counts[i];
  EXPECT_GT(top_ten, kDraws / 3);  // About 39% for 1000 keys at theta 0.99.
}

TEST(KeyChooserTest, SingleKeyAlwaysDrawsIt) {
  std::mt19937_64 rng(1);
  const KeyChooser zipf(Distribution::kZipf, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(zipf.Next(rng), 0u);
}

TEST(KeyChooserTest, KeyNamesHaveFixedWidth) {
  EXPECT_EQ(KeyName(0), "key:00000000");
  EXPECT_EQ(KeyName(1234), "key:00001234");
  EXPECT_EQ(KeyName(9'999'999), "key:09999999");
}

}  // namespace
}  // namespace dialkv::bench
