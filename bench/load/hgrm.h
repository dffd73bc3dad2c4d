#pragma once
// A latency histogram as HdrHistogram's `outputPercentileDistribution` prints it (the .hgrm
// text that HdrHistogram's plotter, hdrhistogram.github.io/HdrHistogram/plotFiles.html, and
// its tools read), values in milliseconds with three decimals:
//
//          Value     Percentile TotalCount 1/(1-Percentile)
//
//          0.104 0.000000000000          1           1.00
//          0.212 0.100000000000        104           1.11
//          ...
//          5.119 1.000000000000       1000
//   #[Mean    =        0.512, StdDeviation   =        0.301]
//   #[Max     =        5.119, Total count    =         1000]
//   #[Buckets =           34, SubBuckets     =          128]
//
// Rows follow HdrHistogram's percentile iteration with 5 ticks per half distance (0%, 10%,
// ... 50%, 55%, ... 75%, 77.5%, ...: twice as many steps each time the distance to 100%
// halves), each at the highest value equivalent to its bucket, the last at 100% without the
// fourth column. Mean and standard deviation use each bucket's middle value, as HdrHistogram
// does; Max is the highest value equivalent to the largest one recorded.

#include <string>

#include "bench/load/histogram.h"

namespace dialkv::bench {

// The .hgrm text of `histogram` (nanoseconds), values printed in milliseconds. An empty
// histogram gives the header and the footer (zeros) only.
std::string PercentileDistribution(const Histogram& histogram);

}  // namespace dialkv::bench
