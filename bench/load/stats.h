#pragma once
// What one run of the load generator measured: per operation kind, the latency histogram and
// the count of each status code; per second of the run, successes, errors by code, latency and
// the reads checked for staleness, for every client and for each side of a partition (for the
// partition chart). A get answered NOT_FOUND is a success: the store answered.
//
// Thread-compatible: the load generator records from one thread.

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "bench/load/histogram.h"
#include "dialkv/status.h"

namespace dialkv::bench {

enum class OpKind : uint8_t { kGet = 0, kPut = 1 };
inline constexpr int kNumOpKinds = 2;

// "get" / "put".
std::string_view OpName(OpKind op);

// True for the codes that count as the store having served the request.
inline bool IsSuccess(Code code) { return code == Code::kOk || code == Code::kNotFound; }

struct OpStats {
  Histogram latency;  // Successful operations only: an error's latency is not service time.
  std::array<uint64_t, kNumCodes> by_code{};

  uint64_t total() const;
  uint64_t successes() const;
  uint64_t errors() const { return total() - successes(); }
  void Merge(const OpStats& other);
};

// Where a client stood during a partition: it started at the isolated node, or at one of the
// others (the majority). Every client of a run without a partition is on the majority side.
enum class Side : uint8_t { kMajority = 0, kIsolated = 1 };
inline constexpr size_t kNumSides = 2;

// "majority" / "isolated".
std::string_view SideName(Side side);

// One second of the run.
struct SecondStats {
  uint64_t successes = 0;
  uint64_t errors = 0;
  std::array<uint64_t, kNumCodes> errors_by_code{};
  Histogram latency;  // Successful operations, every kind.
  // Successful reads whose value was checked against the writes acknowledged before the read
  // began (StalenessTracker), and those of them that returned an older value.
  uint64_t checked_reads = 0;
  uint64_t stale_reads = 0;
};

class RunStats {
 public:
  // `second` counts from the start of measurement. An operation is filed under the second it
  // completed in, for every client and for its client's `side`.
  void Record(OpKind op, Code code, uint64_t latency_ns, size_t second,
              Side side = Side::kMajority);
  // A successful read completed in `second` whose value was checked for staleness.
  void RecordCheckedRead(bool stale, size_t second, Side side = Side::kMajority);

  const OpStats& op(OpKind kind) const { return ops_[static_cast<size_t>(kind)]; }
  // Both kinds together.
  OpStats all() const;
  const std::vector<SecondStats>& seconds() const { return seconds_; }
  // The seconds of the clients of one side (as long as seconds(), or shorter when that side
  // completed nothing at the end).
  const std::vector<SecondStats>& seconds(Side side) const {
    return side_seconds_[static_cast<size_t>(side)];
  }
  // Whether any operation of a client of `side` was recorded.
  bool has(Side side) const { return !seconds(side).empty(); }

 private:
  // The second `second` of `seconds`, created if need be (so a second without completions
  // shows as 0).
  static SecondStats& SecondOf(std::vector<SecondStats>& seconds, size_t second);

  std::array<OpStats, kNumOpKinds> ops_;
  std::vector<SecondStats> seconds_;
  std::array<std::vector<SecondStats>, kNumSides> side_seconds_;
};

}  // namespace dialkv::bench
