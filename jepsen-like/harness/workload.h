#pragma once
// The client side of a run: logical processes that read, write and delete keys through the
// cluster's per-node clients, and the recorder that writes every invocation and completion to
// history.jsonl (jepsen-like/README.md, "Workloads").
//
// Each worker thread is one logical process at a time, with at most one operation
// outstanding. Its operations are drawn from its own generator, seeded from the run's seed and
// the worker's index, so a seed repeats the sequence of functions, keys, nodes and pauses (not
// the interleaving, which the network decides). After an `info` the worker continues as a new
// process, id + the number of workers, as Jepsen does. Written values are unique:
// "p<process>-<n>", so every read traces back to its write.
//
// Keys are "<prefix><mode>-k<slot>-g<generation>": CP operations use "cp-..." keys only and AP ones
// "ap-..." only, so a CP key's history is pure CP (checkable for linearizability) even in the
// mixed workload. A slot moves to a fresh generation after ops_per_key operations, which bounds
// the length of each key's history and so the cost of checking it.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "jepsen-like/check/history.h"
#include "jepsen-like/harness/cluster.h"
#include "jepsen-like/harness/history_clock.h"

namespace dialkv::jepsen {

enum class WorkloadKind : uint8_t {
  kRegister,  // CP reads, writes and deletes: linearizability.
  kLww,       // AP reads, writes and deletes: convergence, lost writes, staleness.
  kMixed,     // Both side by side (separate keys), under the same faults.
};

std::string_view WorkloadName(WorkloadKind kind);  // "register", "lww", "mixed".
// Errors: kInvalidArgument naming the valid names.
Result<WorkloadKind> ParseWorkload(std::string_view text);

// ok / fail / info completions, per mode; updated as they are recorded.
struct OutcomeCounts {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> fail{0};
  std::atomic<uint64_t> info{0};
};

// Stamps every event with the history's clock and appends it, in real-time order, to the
// history file; keeps every event for the checkers. Thread-safe.
class Recorder {
 public:
  Recorder(const HistoryClock& clock, std::unique_ptr<HistoryWriter> writer);

  // Sets op.time_ns to now and appends it; the time and the append happen under one lock, so
  // the file's order is the events' real-time order. A write error is kept (status()) and the
  // event is still kept in memory.
  void Record(Op op);
  // Appends a nemesis line (f, value) timed now, under the same lock as Record, and returns its
  // time; after Finish the line is dropped and the time still returned.
  int64_t RecordNemesis(std::string f, std::string value);

  // The first error writing the file, OK if none.
  Status status() const;
  // Closes the file and returns every event recorded. Later Records are dropped.
  Result<std::vector<Op>> Finish();

  const OutcomeCounts& counts(Consistency mode) const {
    return mode == Consistency::kCp ? cp_ : ap_;
  }

  // An ok write the node acknowledged only as hints (WriteResult::hinted): no replica holds
  // it yet, its coordinator delivers it later. The final state must wait for it.
  void NoteHinted(const std::string& key, Timestamp ts);
  // Per key, the highest timestamp of its hinted writes.
  std::map<std::string, Timestamp> HintedWrites() const;

 private:
  const HistoryClock& clock_;
  mutable std::mutex mu_;
  std::unique_ptr<HistoryWriter> writer_;    // Guarded by mu_; null once finished.
  std::vector<Op> events_;                   // Guarded by mu_.
  Status error_;                             // Guarded by mu_.
  std::map<std::string, Timestamp> hinted_;  // Guarded by mu_.
  OutcomeCounts cp_;
  OutcomeCounts ap_;
};

struct WorkloadOptions {
  WorkloadKind kind = WorkloadKind::kRegister;
  int keys = 8;           // Key slots per mode.
  int ops_per_key = 500;  // Operations on one key before its slot moves to a new key.
  int concurrency = 4;    // Workers per mode.
  double rate = 100;      // Target operations per second per mode (<= 0: as fast as they go).
  uint32_t op_timeout_ms = 1000;  // Each request's deadline (the client's).
  uint64_t seed = 0;
  double read_fraction = 0.5;    // Of the operations; the rest are writes and deletes.
  double delete_fraction = 0.1;  // Of the operations.
  // Put before every key. The checkers assume every key starts absent: a run against a cluster
  // it did not start uses a prefix no earlier run used.
  std::string key_prefix;
};

// The worker threads. REQUIRES: the cluster and the recorder outlive the Workload.
class Workload {
 public:
  Workload(WorkloadOptions options, const Cluster& cluster, Recorder& recorder);
  ~Workload();  // Stop().
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Starts the workers. Errors: kInternal when a thread cannot be started.
  Status Start();
  // No new operation starts; waits for the outstanding ones (each ends by its deadline).
  // Idempotent.
  void Stop();

 private:
  void RunWorker(int index, Consistency mode);
  // Waits `ms` or until Stop; false when stopped.
  bool Pause(double ms);
  std::string KeyFor(Consistency mode, uint64_t slot);

  const WorkloadOptions options_;
  const Cluster& cluster_;
  Recorder& recorder_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // Guarded by mu_.
  // Operations issued per key slot, per mode (index 0: CP, 1: AP).
  std::array<std::unique_ptr<std::atomic<uint64_t>[]>, 2> slot_ops_;
  int workers_ = 0;
};

}  // namespace dialkv::jepsen
