#pragma once
// The closed loop: `connections` connections, each with `pipeline` workers that issue one
// operation after another (a read with probability read_ratio, else a write, of a key drawn
// from the distribution), each waiting for its answer before the next.
// The open loop (`rate` > 0): the same workers, but operation n is due at a fixed intended
// start, n / rate seconds after the load began, whoever is free takes the next one due, and its
// latency is measured from that intended start, not from when a worker got to it: a system that
// falls behind sees its queueing delay in the latencies (no coordinated omission), and the run
// reports how many operations started late and the rate achieved. After an optional
// prefill (every key written once, so reads find values) and a warm-up, operations that start
// during the measurement are recorded; the run ends after `duration_s` or `ops` operations.
// A FaultControl, when given, is told when to inject and heal a fault during the measurement.
//
// Runs on the calling thread with its own io_context; dialkv clients run on it too, unless
// --dialkv-client-threads gives each one an I/O thread of its own.

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/load/backend.h"
#include "bench/load/key_chooser.h"
#include "bench/load/report.h"
#include "bench/load/stats.h"

namespace dialkv::bench {

struct LoadOptions {
  size_t connections = 16;
  size_t pipeline = 1;  // Operations outstanding per connection.
  uint64_t keys = 10'000;
  size_t value_bytes = 100;
  double read_ratio = 0.5;
  Distribution distribution = Distribution::kUniform;
  double zipf_theta = 0.99;
  // Open loop: operations per second across every connection, each at its intended start;
  // 0: closed loop. The workers (connections x pipeline) bound what is outstanding at once.
  double rate = 0;
  double duration_s = 10;  // Of measurement; ignored when ops > 0.
  uint64_t ops = 0;        // Operations to measure; 0: run for duration_s.
  double warmup_s = 2;
  bool prefill = true;  // Write every key once first when the load reads.
  uint64_t seed = 1;
  bool progress = true;  // A line on stderr once a second.
  // Tag every value and check every successful read against the writes acknowledged before
  // it began (staleness.h). Needs value_bytes >= StalenessTracker::kTagBytes and a backend
  // that reports values (dialkv).
  bool check_staleness = false;
  // The endpoint (index into BackendOptions::endpoints) that a fault isolates: connections
  // that start there are recorded on the isolated side (Side), the others on the majority's.
  std::optional<size_t> isolated_endpoint;
};

// A fault the run injects into the system under test, and heals.
class FaultControl {
 public:
  virtual ~FaultControl() = default;
  virtual std::string label() const = 0;  // "node 3 isolated".
  virtual asio::awaitable<Status> Inject() = 0;
  virtual asio::awaitable<Status> Heal() = 0;
};

struct FaultSchedule {
  FaultControl* control = nullptr;  // Not owned. Null: no fault.
  double start_s = 10;              // From the start of measurement.
  double length_s = 10;
};

// An open-loop operation that started this long after its intended start counts as late.
inline constexpr std::chrono::milliseconds kOpenLoopLateAfter{1};

// How the open loop kept to its schedule, over the operations due during measurement.
struct OpenLoopStats {
  double offered_per_s = 0;   // LoadOptions::rate.
  double achieved_per_s = 0;  // Measured operations completed (any outcome) per second.
  uint64_t started = 0;       // Measured operations started.
  uint64_t late = 0;          // Of them, started kOpenLoopLateAfter or more after their start.
  uint64_t max_lag_ns = 0;    // The largest delay between an intended and an actual start.
  // Behind: achieved under 95% of the offered rate, or over 1% of operations late.
  bool fell_behind() const {
    return achieved_per_s < 0.95 * offered_per_s ||
           static_cast<double>(late) > 0.01 * static_cast<double>(started);
  }
};

struct RunResult {
  RunStats stats;
  double seconds = 0;  // Of measurement.
  std::vector<FaultInterval> faults;
  std::optional<OpenLoopStats> open_loop;  // With LoadOptions::rate > 0.
};

// Errors: kInvalidArgument for options that cannot run; kUnavailable when a connection cannot
// be opened or the prefill fails; a fault that cannot be injected or healed (the run still ends
// healed when possible).
Result<RunResult> RunLoad(const LoadOptions& load, const BackendOptions& backend,
                          FaultSchedule fault);

}  // namespace dialkv::bench
