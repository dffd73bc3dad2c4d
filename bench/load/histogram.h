#pragma once
// A latency histogram for the load generator: records nanoseconds into log-linear buckets
// (64 per power of two, so a reported percentile is within 1.6% of the recorded value) and
// answers percentiles, mean and the exact maximum. Values at or above 2^40 ns (about 18
// minutes) are counted in the top bucket.
//
// Cheap to record (a few instructions, no allocation after the first value); an empty
// histogram holds no bucket array, so a per-second timeline of them costs little.
// Thread-compatible.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dialkv::bench {

class Histogram {
 public:
  void Record(uint64_t value_ns);
  // Adds every value `other` recorded.
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t max_ns() const { return max_ns_; }
  double mean_ns() const { return count_ == 0 ? 0 : static_cast<double>(sum_ns_) / count_; }

  // The smallest recorded value v such that a fraction `q` (0..1) of the values is <= v, to
  // the bucket's precision (the bucket's upper bound, never above the maximum). 0 when empty.
  uint64_t Percentile(double q) const;

  // Bucket arithmetic, exposed for tests and the .hgrm writer. Values below 128 have a bucket
  // each. In HdrHistogram's terms this is a histogram of 34 buckets of 128 sub-buckets (the
  // upper half of each used), unit 1 ns, highest trackable value 2^40 - 1.
  static size_t BucketOf(uint64_t value_ns);
  static uint64_t BucketUpperBound(size_t bucket);  // The largest value in `bucket`.
  static uint64_t BucketLowerBound(size_t bucket);  // The smallest value in `bucket`.
  static constexpr int kHdrBuckets = 34;
  static constexpr int kHdrSubBuckets = 128;

  // Count per bucket (index: BucketOf); empty when nothing was recorded.
  const std::vector<uint64_t>& bucket_counts() const { return counts_; }

 private:
  std::vector<uint64_t> counts_;  // Sized on the first Record().
  uint64_t count_ = 0;
  uint64_t sum_ns_ = 0;
  uint64_t max_ns_ = 0;
};

}  // namespace dialkv::bench
