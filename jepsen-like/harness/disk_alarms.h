#pragma once
// The disk alarms of a run's nodes, as the harness sees them: every node's ClusterStatus is
// polled and each interval during which its disk_alarm was raised is recorded on the history's
// clock, so the report can show the alarm a disk fault caused next to the fault's window, and
// when the alarm cleared after the fault ended.
//
//   DiskAlarmWatcher watcher(cluster, clock, {});
//   watcher.Start();  // Before the faults start.
//   ...               // The run, its healing and its convergence.
//   std::vector<DiskAlarmInterval> alarms = watcher.Stop();

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "dialkv/types.h"
#include "jepsen-like/harness/cluster.h"
#include "jepsen-like/harness/history_clock.h"
#include "jepsen-like/report/report.h"

namespace dialkv::jepsen {

// Turns polls into intervals (pure, for tests). An interval starts at the first poll that sees
// a node's alarm up and ends at the first later poll that sees it down, so both ends are late
// by up to one poll interval. A poll that got no answer (a killed or paused node) changes
// nothing: the alarm is taken to be as last seen.
// Thread-compatible.
class AlarmIntervals {
 public:
  // One answered poll of `node` at `now_ns`: whether its alarm was up, and why.
  void Observe(NodeId node, int64_t now_ns, bool raised, std::string_view message);

  // Every interval so far, in start order (ties by node); one still open ends at
  // `now_ns` with cleared == false.
  std::vector<DiskAlarmInterval> Intervals(int64_t now_ns) const;

 private:
  std::vector<DiskAlarmInterval> closed_;
  std::map<NodeId, DiskAlarmInterval> open_;
};

// Polls every node's ClusterStatus from a thread of its own (so a paused node's timeout never
// delays the nemesis) and records the intervals with AlarmIntervals.
// Thread-safety: Start and Stop from one thread; the cluster's clients are thread-safe.
class DiskAlarmWatcher {
 public:
  struct Options {
    std::chrono::milliseconds poll_every{250};
    uint32_t poll_timeout_ms = 500;  // A node that does not answer in time is skipped.
  };

  DiskAlarmWatcher(const Cluster& cluster,     // Not owned; outlives Stop().
                   const HistoryClock& clock,  // Not owned.
                   Options options);
  ~DiskAlarmWatcher();  // Stop().
  DiskAlarmWatcher(const DiskAlarmWatcher&) = delete;
  DiskAlarmWatcher& operator=(const DiskAlarmWatcher&) = delete;

  void Start();
  // Stops polling (after one last round) and returns the intervals. Idempotent.
  std::vector<DiskAlarmInterval> Stop();

 private:
  void PollOnce();
  void Loop();

  const Cluster& cluster_;
  const HistoryClock& clock_;
  const Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;     // Guarded by mutex_.
  AlarmIntervals intervals_;  // Guarded by mutex_.
  std::thread thread_;
};

}  // namespace dialkv::jepsen
