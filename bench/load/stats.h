#pragma once
// What one run of the load generator measured: per operation kind, the latency histogram and
// the count of each status code; per second of the run, successes, errors and latency (for the
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

// One second of the run.
struct SecondStats {
  uint64_t successes = 0;
  uint64_t errors = 0;
  Histogram latency;  // Successful operations, every kind.
};

class RunStats {
 public:
  // `second` counts from the start of measurement. An operation is filed under the second it
  // completed in.
  void Record(OpKind op, Code code, uint64_t latency_ns, size_t second);

  const OpStats& op(OpKind kind) const { return ops_[static_cast<size_t>(kind)]; }
  // Both kinds together.
  OpStats all() const;
  const std::vector<SecondStats>& seconds() const { return seconds_; }
  // The second `second`, created if need be (so a second without completions shows as 0).
  SecondStats& second(size_t second);

 private:
  std::array<OpStats, kNumOpKinds> ops_;
  std::vector<SecondStats> seconds_;
};

}  // namespace dialkv::bench
