#pragma once
// Carries out a nemesis schedule (nemesis.h) on a cluster and records every fault as a
// NemesisEvent on the history's clock.
//
// It keeps each node's desired state (DesiredFaults of the active faults) and reconciles the
// cluster with it: kills, restarts, pauses and resumes processes, and sends each reachable node
// its complete link faults, clock offset and disk fault whenever they differ from what it last
// accepted. A node that is down or paused is sent its state when it returns; a restarted node
// also gets the run's bug switches and drop seed again, and its disk fault, since it forgets
// them. A disk fault's event ends when the fault is lifted; the node's disk alarm clears a
// moment later (DiskAlarmWatcher records that). A fault's event starts
// before it is applied and ends once its healing was applied, so the recorded interval covers
// its whole effect.
//
// Thread-compatible: one thread (the harness's main thread: it starts processes) calls
// everything.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dialkv/admin.h"
#include "jepsen-like/harness/cluster.h"
#include "jepsen-like/harness/history_clock.h"
#include "jepsen-like/harness/nemesis.h"
#include "jepsen-like/harness/workload.h"
#include "jepsen-like/report/report.h"

namespace dialkv::jepsen {

class NemesisRunner {
 public:
  struct Options {
    uint64_t drop_seed = 0;  // Seeds every node's fault injector (drop choices).
    BugSwitches bugs;        // Sent to every node at Start() and after each restart.
    // Not owned; when set, each event's start and end are also history lines
    // ("start-<name>", "stop-<name>"), at the events' own times.
    Recorder* recorder = nullptr;
  };

  NemesisRunner(Cluster& cluster,  // Not owned.
                std::vector<Fault> schedule, const HistoryClock& clock, Options options);

  // Sends every node a clean state, the drop seed and the bug switches.
  // Errors: the first node that refused or did not answer.
  Status Start();

  // Starts the faults due at `elapsed_ms` after the schedule began, ends those past their end,
  // and retries nodes that missed their state. Errors: kUnavailable when a node that must run
  // cannot be restarted, or exited by itself (a crash: the message names it and its log).
  Status Tick(int64_t elapsed_ms);

  // Ends every active fault, brings every node back (restart, SIGCONT), then clears every
  // node's faults, clock offset, disk fault and bugs, retrying for up to `timeout`.
  // Errors: the nodes that could not be healed.
  Status HealAll(std::chrono::milliseconds timeout);

  const std::vector<NemesisEvent>& events() const { return events_; }
  // "partition-halves: {1,2} | {3}; clock: node 2 -312 ms", or "none".
  std::string ActiveDescription() const;

 private:
  // kEnding: past its end and healed by the last Reconcile; its event ends at EndEvents.
  enum class Phase : uint8_t { kPending, kActive, kEnding, kDone };
  Status Reconcile();
  void EndEvents();
  // Now on the history's clock; with a recorder, also appends the nemesis line (f, value).
  int64_t Mark(std::string f, const std::string& value);

  Cluster& cluster_;
  std::vector<Fault> schedule_;
  const HistoryClock& clock_;
  Options options_;
  std::vector<Phase> phase_;      // Per schedule entry.
  std::vector<size_t> event_of_;  // Per schedule entry: its index in events_.
  std::vector<NemesisEvent> events_;
  // What each node last accepted; std::nullopt: unknown (restarted, or never sent).
  std::map<NodeId, std::optional<NodeFaults>> applied_;
  std::map<NodeId, bool> fresh_;  // Needs the drop seed and the bugs (new process).
};

}  // namespace dialkv::jepsen
