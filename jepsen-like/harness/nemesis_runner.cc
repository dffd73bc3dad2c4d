#include "jepsen-like/harness/nemesis_runner.h"

#include <thread>

namespace dialkv::jepsen {
namespace {

// The part of a node's state that is sent to it (links, clock and disk), without process state.
NodeFaults Sendable(NodeFaults faults) {
  faults.killed = false;
  faults.paused = false;
  return faults;
}

bool AnyBug(const BugSwitches& bugs) {
  return bugs.skip_read_repair.value_or(false) || bugs.skip_write_timestamp_phase.value_or(false);
}

}  // namespace

NemesisRunner::NemesisRunner(Cluster& cluster, std::vector<Fault> schedule,
                             const HistoryClock& clock, Options options)
    : cluster_(cluster),
      schedule_(std::move(schedule)),
      clock_(clock),
      options_(options),
      phase_(schedule_.size(), Phase::kPending),
      event_of_(schedule_.size(), 0) {
  for (NodeId node : cluster_.nodes()) {
    applied_[node] = std::nullopt;
    fresh_[node] = true;
  }
}

Status NemesisRunner::Start() {
  for (NodeId node : cluster_.nodes()) {
    if (Status cleared = cluster_.ClearFaults(node); !cleared.ok()) {
      return Status(cleared.code(), "node " + std::to_string(node) + ": " + cleared.message());
    }
  }
  return Reconcile();
}

Status NemesisRunner::Tick(int64_t elapsed_ms) {
  if (cluster_.owns_processes()) {
    const std::string crashed = cluster_.CrashedNodes();
    if (!crashed.empty()) return Status::Unavailable("a node crashed: " + crashed);
  }
  for (size_t i = 0; i < schedule_.size(); ++i) {
    const Fault& fault = schedule_[i];
    if (phase_[i] == Phase::kPending && fault.start_ms <= elapsed_ms) {
      phase_[i] = Phase::kActive;
      event_of_[i] = events_.size();
      const int64_t now = Mark(NemesisStartF(NemesisName(fault.kind)), fault.description);
      std::optional<std::vector<NodeId>> minority;
      if (GroupOf(fault.kind) == NemesisGroup::kPartition) {
        minority = MinoritySide(cluster_.nodes(), fault.blocked);
      }
      events_.push_back(NemesisEvent{.name = std::string(NemesisName(fault.kind)),
                                     .description = fault.description,
                                     .start_ns = now,
                                     .end_ns = now,
                                     .minority = std::move(minority)});
      // Crashed once, as the window opens; Reconcile restarts it at once, with its clock
      // stepped back (DesiredFaults), and clears the offset when the window ends.
      if (fault.kind == NemesisKind::kClockRestart && cluster_.owns_processes()) {
        for (NodeId node : fault.nodes) {
          cluster_.Kill(node);
          applied_[node] = std::nullopt;
          fresh_[node] = true;
        }
      }
    }
    if (phase_[i] == Phase::kActive && fault.end_ms <= elapsed_ms) phase_[i] = Phase::kEnding;
  }
  Status reconciled = Reconcile();
  EndEvents();
  return reconciled;
}

int64_t NemesisRunner::Mark(std::string f, const std::string& value) {
  if (options_.recorder == nullptr) return clock_.NowNs();
  return options_.recorder->RecordNemesis(std::move(f), value);
}

void NemesisRunner::EndEvents() {
  for (size_t i = 0; i < schedule_.size(); ++i) {
    if (phase_[i] != Phase::kEnding) continue;
    NemesisEvent& event = events_[event_of_[i]];
    event.end_ns = Mark(NemesisStopF(event.name), event.description);
    phase_[i] = Phase::kDone;
  }
}

Status NemesisRunner::Reconcile() {
  std::vector<const Fault*> active;
  for (size_t i = 0; i < schedule_.size(); ++i) {
    if (phase_[i] == Phase::kActive) active.push_back(&schedule_[i]);
  }
  const std::map<NodeId, NodeFaults> desired = DesiredFaults(cluster_.nodes(), active);
  for (const auto& [node, want] : desired) {
    if (cluster_.owns_processes()) {
      // Process state first: a node must run before it can be told its links.
      if (want.killed) {
        cluster_.Kill(node);
        applied_[node] = std::nullopt;
        fresh_[node] = true;
        continue;
      }
      Status restarted = cluster_.Restart(node);  // No-op when it runs.
      if (!restarted.ok()) return restarted;
      if (want.paused) {
        cluster_.Pause(node);
        continue;
      }
      cluster_.Resume(node);
    }
    if (fresh_[node] && AnyBug(options_.bugs)) {
      Status bugs = cluster_.SetBugs(node, options_.bugs);
      if (!bugs.ok()) continue;  // Retried at the next tick.
    }
    const NodeFaults send = Sendable(want);
    if (applied_[node] == send && !fresh_[node]) continue;
    Status sent = cluster_.ApplyFaults(
        node, send, fresh_[node] ? std::optional<uint64_t>(options_.drop_seed) : std::nullopt);
    if (!sent.ok()) {
      // Retried at the next tick: a node that does not answer is down, paused or overloaded,
      // and its peers' side of every partition holds meanwhile.
      applied_[node] = std::nullopt;
      continue;
    }
    applied_[node] = send;
    fresh_[node] = false;
  }
  return Status::Ok();
}

Status NemesisRunner::HealAll(std::chrono::milliseconds timeout) {
  for (Phase& p : phase_) {
    if (p == Phase::kActive) p = Phase::kEnding;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::map<NodeId, Status> failed;
  for (NodeId node : cluster_.nodes()) failed[node] = Status::Unknown("not tried");
  while (true) {
    if (Status up = Reconcile(); !up.ok()) return up;
    for (auto it = failed.begin(); it != failed.end();) {
      Status cleared = cluster_.ClearFaults(it->first);
      if (cleared.ok()) {
        it = failed.erase(it);
      } else {
        it->second = cleared;
        ++it;
      }
    }
    if (failed.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Retrying, with a deadline.
  }
  EndEvents();
  if (failed.empty()) return Status::Ok();
  std::string message = "could not heal";
  for (const auto& [node, status] : failed) {
    message += " node " + std::to_string(node) + " (" + status.ToString() + ")";
  }
  return Status::Unavailable(message);
}

std::string NemesisRunner::ActiveDescription() const {
  std::string out;
  for (size_t i = 0; i < schedule_.size(); ++i) {
    if (phase_[i] != Phase::kActive) continue;
    if (!out.empty()) out += "; ";
    out += std::string(NemesisName(schedule_[i].kind)) + ": " + schedule_[i].description;
  }
  return out.empty() ? "none" : out;
}

}  // namespace dialkv::jepsen
