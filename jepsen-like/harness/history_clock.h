#pragma once
// The clock of a run's history: monotonic nanoseconds since the harness started. Every event
// of the history (Op::time_ns) and of the nemesis (NemesisEvent) is read from one instance.
// Thread-safe (immutable).

#include <chrono>
#include <cstdint>

namespace dialkv::jepsen {

class HistoryClock {
 public:
  explicit HistoryClock(std::chrono::steady_clock::time_point origin) : origin_(origin) {}

  int64_t NowNs() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                origin_)
        .count();
  }
  std::chrono::steady_clock::time_point origin() const { return origin_; }

 private:
  std::chrono::steady_clock::time_point origin_;
};

}  // namespace dialkv::jepsen
