#include "bench/load/hgrm.h"

#include <cmath>
#include <cstdio>

namespace dialkv::bench {
namespace {

constexpr double kNsPerMs = 1e6;          // HdrHistogram's outputValueUnitScalingRatio.
constexpr int kTicksPerHalfDistance = 5;  // HdrHistogram's default.

// Java's String.format with Locale.US, which these formats need no more of.
template <typename... Args>
std::string Format(const char* format, Args... args) {
  char line[160];
  std::snprintf(line, sizeof(line), format, args...);
  return line;
}

double MedianEquivalent(size_t bucket) {
  const uint64_t low = Histogram::BucketLowerBound(bucket);
  const uint64_t size = Histogram::BucketUpperBound(bucket) - low + 1;
  return static_cast<double>(low + (size >> 1));
}

// PercentileIterator.incrementIterationLevel.
double NextLevel(double level) {
  const auto halvings = static_cast<int64_t>(std::log(100.0 / (100.0 - level)) / std::log(2.0));
  const auto ticks = kTicksPerHalfDistance *
                     static_cast<int64_t>(std::pow(2.0, static_cast<double>(halvings + 1)));
  return level + 100.0 / static_cast<double>(ticks);
}

}  // namespace

std::string PercentileDistribution(const Histogram& histogram) {
  std::string out =
      Format("%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
  const std::vector<uint64_t>& counts = histogram.bucket_counts();
  const uint64_t total = histogram.count();
  double mean = 0;
  double std_deviation = 0;
  if (total > 0) {
    // The iteration of HdrHistogram's PercentileIterator over the buckets.
    double level = 0;
    bool reached_last = false;
    size_t index = 0;
    uint64_t count_to_index = counts[0];
    for (bool first = true;; first = false) {
      if (!first && count_to_index >= total) {  // hasNext(): one last step to 100%.
        if (reached_last) break;
        level = 100;
        reached_last = true;
      }
      // next(): move to the bucket where the level is reached.
      while (counts[index] == 0 ||
             100.0 * static_cast<double>(count_to_index) / static_cast<double>(total) < level) {
        ++index;
        count_to_index += counts[index];
      }
      const double value = static_cast<double>(Histogram::BucketUpperBound(index)) / kNsPerMs;
      const double percentile = level / 100.0;
      if (level != 100.0) {
        out += Format("%12.3f %2.12f %10llu %14.2f\n", value, percentile,
                      static_cast<unsigned long long>(count_to_index), 1 / (1.0 - percentile));
        level = NextLevel(level);
      } else {
        out += Format("%12.3f %2.12f %10llu\n", value, percentile,
                      static_cast<unsigned long long>(count_to_index));
      }
    }
    double sum = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      sum += MedianEquivalent(i) * static_cast<double>(counts[i]);
    }
    mean = sum / static_cast<double>(total);
    double deviation_total = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i] == 0) continue;
      const double deviation = MedianEquivalent(i) - mean;
      deviation_total += deviation * deviation * static_cast<double>(counts[i]);
    }
    std_deviation = std::sqrt(deviation_total / static_cast<double>(total));
  }
  const uint64_t max =
      total == 0 ? 0 : Histogram::BucketUpperBound(Histogram::BucketOf(histogram.max_ns()));
  out += Format("#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean / kNsPerMs,
                std_deviation / kNsPerMs);
  out += Format("#[Max     = %12.3f, Total count    = %12llu]\n",
                static_cast<double>(max) / kNsPerMs, static_cast<unsigned long long>(total));
  out += Format("#[Buckets = %12d, SubBuckets     = %12d]\n", Histogram::kHdrBuckets,
                Histogram::kHdrSubBuckets);
  return out;
}

}  // namespace dialkv::bench
