#include "bench/load/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dialkv::bench {
namespace {

constexpr int kSubBucketBits = 6;  // 64 buckets per power of two.
constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
constexpr int kMaxValueBits = 40;
constexpr uint64_t kMaxValue = (uint64_t{1} << kMaxValueBits) - 1;
// Values below 2 * kSubBuckets map one-to-one; each later power of two adds kSubBuckets.
constexpr size_t kBuckets = (kMaxValueBits - kSubBucketBits + 1) * kSubBuckets;

}  // namespace

size_t Histogram::BucketOf(uint64_t value_ns) {
  const uint64_t v = std::min(value_ns, kMaxValue);
  if (v < 2 * kSubBuckets) return static_cast<size_t>(v);
  const int msb = std::bit_width(v) - 1;  // >= kSubBucketBits + 1.
  const int shift = msb - kSubBucketBits;
  return static_cast<size_t>((shift + 1) * kSubBuckets + ((v >> shift) - kSubBuckets));
}

uint64_t Histogram::BucketUpperBound(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return bucket;
  const uint64_t shift = bucket / kSubBuckets - 1;
  const uint64_t mantissa = bucket % kSubBuckets + kSubBuckets;
  return ((mantissa + 1) << shift) - 1;
}

uint64_t Histogram::BucketLowerBound(size_t bucket) {
  return bucket == 0 ? 0 : BucketUpperBound(bucket - 1) + 1;
}

void Histogram::Record(uint64_t value_ns) {
  if (counts_.empty()) counts_.resize(kBuckets);
  ++counts_[BucketOf(value_ns)];
  ++count_;
  sum_ns_ += value_ns;
  max_ns_ = std::max(max_ns_, value_ns);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  if (counts_.empty()) counts_.resize(kBuckets);
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ns_ += other.sum_ns_;
  max_ns_ = std::max(max_ns_, other.max_ns_);
}

uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(BucketUpperBound(i), max_ns_);
  }
  return max_ns_;
}

}  // namespace dialkv::bench
