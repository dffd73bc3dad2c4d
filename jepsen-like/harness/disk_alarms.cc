#include "jepsen-like/harness/disk_alarms.h"

#include <algorithm>
#include <string>
#include <utility>

namespace dialkv::jepsen {

void AlarmIntervals::Observe(NodeId node, int64_t now_ns, bool raised, std::string_view message) {
  auto open = open_.find(node);
  if (raised && open == open_.end()) {
    open_[node] = DiskAlarmInterval{.node = node,
                                    .message = std::string(message),
                                    .start_ns = now_ns,
                                    .end_ns = now_ns,
                                    .cleared = false};
  } else if (!raised && open != open_.end()) {
    DiskAlarmInterval done = std::move(open->second);
    done.end_ns = now_ns;
    done.cleared = true;
    closed_.push_back(std::move(done));
    open_.erase(open);
  }
}

std::vector<DiskAlarmInterval> AlarmIntervals::Intervals(int64_t now_ns) const {
  std::vector<DiskAlarmInterval> all = closed_;
  for (const auto& [node, interval] : open_) {
    all.push_back(interval);
    all.back().end_ns = std::max(now_ns, interval.start_ns);
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const DiskAlarmInterval& a, const DiskAlarmInterval& b) {
                     return a.start_ns != b.start_ns ? a.start_ns < b.start_ns : a.node < b.node;
                   });
  return all;
}

DiskAlarmWatcher::DiskAlarmWatcher(const Cluster& cluster, const HistoryClock& clock,
                                   Options options)
    : cluster_(cluster), clock_(clock), options_(options) {}

DiskAlarmWatcher::~DiskAlarmWatcher() { Stop(); }

void DiskAlarmWatcher::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

std::vector<DiskAlarmInterval> DiskAlarmWatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  return intervals_.Intervals(clock_.NowNs());
}

void DiskAlarmWatcher::PollOnce() {
  for (NodeId node : cluster_.nodes()) {
    Result<ClusterStatus> status =
        cluster_.client(node).ClusterStatus({.timeout_ms = options_.poll_timeout_ms});
    if (!status.ok()) continue;  // Down or paused: as last seen.
    const int64_t now = clock_.NowNs();
    std::lock_guard lock(mutex_);
    intervals_.Observe(node, now, status->disk_alarm.raised(), status->disk_alarm.message);
  }
}

void DiskAlarmWatcher::Loop() {
  while (true) {
    PollOnce();
    std::unique_lock lock(mutex_);
    if (stopping_) return;
    wake_.wait_for(lock, options_.poll_every, [this] { return stopping_; });
    // After a stop request, one last round sees the state at the end.
  }
}

}  // namespace dialkv::jepsen
