#include "jepsen-like/harness/nemesis.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <utility>

#include "server/common/random.h"

namespace dialkv::jepsen {
namespace {

constexpr std::array kAllKinds = {
    NemesisKind::kDrop,
    NemesisKind::kPartitionHalves,
    NemesisKind::kPartitionIsolate,
    NemesisKind::kPartitionRing,
    NemesisKind::kPartitionBridge,
    NemesisKind::kPartitionOneWay,
    NemesisKind::kKill,
    NemesisKind::kPause,
    NemesisKind::kClock,
    NemesisKind::kClockRestart,
    NemesisKind::kDisk,
    NemesisKind::kDiskError,
};

// A uniformly distributed double in [0, 1), from 53 random bits.
double UniformUnit(Random& random) {
  return static_cast<double>(random.Next() >> 11) * (1.0 / 9007199254740992.0);
}

template <typename T>
void Shuffle(std::vector<T>& items, Random& random) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[random.Uniform(i)]);
}

std::vector<NodeId> Shuffled(std::vector<NodeId> nodes, Random& random) {
  Shuffle(nodes, random);
  return nodes;
}

std::vector<NodeId> Sorted(std::vector<NodeId> nodes) {
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

// Both directions of every link between a node of `a` and a node of `b`.
void BlockBothWays(const std::vector<NodeId>& a, const std::vector<NodeId>& b, Fault& fault) {
  for (NodeId x : a) {
    for (NodeId y : b) {
      fault.blocked.push_back({x, y});
      fault.blocked.push_back({y, x});
    }
  }
}

std::string Signed(int64_t ms) { return (ms >= 0 ? "+" : "") + std::to_string(ms) + " ms"; }

// Fills in the choices of `fault` (its kind and window are set).
void Choose(Fault& fault, const ScheduleOptions& options, Random& random) {
  std::vector<NodeId> order = Shuffled(options.nodes, random);
  const size_t n = order.size();
  const size_t minority = std::max<size_t>(1, (n - 1) / 2);
  switch (fault.kind) {
    case NemesisKind::kDrop: {
      fault.drop_probability = options.drop_probability;
      fault.description = std::to_string(std::lround(options.drop_probability * 100)) +
                          "% of messages lost on every link";
      return;
    }
    case NemesisKind::kPartitionHalves:
    case NemesisKind::kPartitionIsolate: {
      const size_t cut = fault.kind == NemesisKind::kPartitionHalves ? n / 2 : 1;
      const std::vector<NodeId> a = Sorted({order.begin(), order.begin() + cut});
      const std::vector<NodeId> b = Sorted({order.begin() + cut, order.end()});
      BlockBothWays(a, b, fault);
      fault.description = FormatNodeSet(a) + " | " + FormatNodeSet(b);
      break;
    }
    case NemesisKind::kPartitionRing: {
      // order[i] hears itself and the next majority-1 nodes around the ring; a node hears the
      // ones before it from a different set, so no two nodes share a majority.
      const size_t majority = n / 2 + 1;
      for (size_t i = 0; i < n; ++i) {
        std::vector<NodeId> heard;
        for (size_t d = 1; d < majority; ++d) heard.push_back(order[(i + d) % n]);
        for (NodeId other : order) {
          if (other != order[i] && std::find(heard.begin(), heard.end(), other) == heard.end()) {
            fault.blocked.push_back({other, order[i]});
          }
        }
        if (!fault.description.empty()) fault.description += ", ";
        fault.description += std::to_string(order[i]) + " hears " + FormatNodeSet(Sorted(heard));
      }
      break;
    }
    case NemesisKind::kPartitionBridge: {
      // order[0] is the bridge; the others split into halves that cannot reach each other.
      const size_t half = (n - 1) / 2;
      const std::vector<NodeId> a = Sorted({order.begin() + 1, order.begin() + 1 + half});
      const std::vector<NodeId> b = Sorted({order.begin() + 1 + half, order.end()});
      BlockBothWays(a, b, fault);
      fault.description =
          FormatNodeSet(a) + " | " + FormatNodeSet(b) + ", bridged by " + std::to_string(order[0]);
      break;
    }
    case NemesisKind::kPartitionOneWay: {
      const size_t cut = 1 + random.Uniform(minority);
      const std::vector<NodeId> a = Sorted({order.begin(), order.begin() + cut});
      const std::vector<NodeId> b = Sorted({order.begin() + cut, order.end()});
      for (NodeId x : a) {
        for (NodeId y : b) fault.blocked.push_back({x, y});
      }
      fault.description = FormatNodeSet(a) + " -/-> " + FormatNodeSet(b);
      break;
    }
    case NemesisKind::kKill:
    case NemesisKind::kPause: {
      const size_t count = 1 + random.Uniform(minority);
      fault.nodes = Sorted({order.begin(), order.begin() + count});
      fault.description =
          (fault.kind == NemesisKind::kKill ? "kill -9 " : "SIGSTOP ") + FormatNodeSet(fault.nodes);
      return;
    }
    case NemesisKind::kDisk:
    case NemesisKind::kDiskError: {
      // A minority, so every key keeps a quorum of replicas whose disks take writes.
      const size_t count = 1 + random.Uniform(minority);
      fault.nodes = Sorted({order.begin(), order.begin() + count});
      fault.description = (fault.kind == NemesisKind::kDisk ? "disk full " : "disk failing ") +
                          FormatNodeSet(fault.nodes);
      return;
    }
    case NemesisKind::kClockRestart: {
      // Half to all of the guard back: far enough that the restarted node's wall clock is
      // behind timestamps it handed out before the crash, near enough that no node's guard
      // refuses another's timestamps and it is not held skewed.
      const int64_t max = options.max_clock_skew_ms;
      const int64_t offset = -(
          max / 2 + static_cast<int64_t>(random.Uniform(static_cast<uint64_t>(max - max / 2) + 1)));
      fault.nodes = {order.front()};
      fault.clock_offsets_ms = {offset};
      fault.description = "kill -9 node " + std::to_string(order.front()) +
                          ", restarted with its clock " + Signed(offset);
      return;
    }
    case NemesisKind::kClock: {
      const size_t count = 1 + random.Uniform(n - 1);
      fault.nodes = Sorted({order.begin(), order.begin() + count});
      // One direction per fault: two nodes then differ by at most `max`, as each does from an
      // unskewed one, so no node's guard refuses another's timestamps.
      const int64_t max = options.max_clock_skew_ms;
      const int64_t min = max / 4;
      const int64_t sign = random.Uniform(2) == 0 ? -1 : 1;
      for (NodeId node : fault.nodes) {
        const int64_t offset =
            sign *
            (min + static_cast<int64_t>(random.Uniform(static_cast<uint64_t>(max - min) + 1)));
        fault.clock_offsets_ms.push_back(offset);
        if (!fault.description.empty()) fault.description += ", ";
        fault.description += "node " + std::to_string(node) + " " + Signed(offset);
      }
      return;
    }
  }
  std::sort(fault.blocked.begin(), fault.blocked.end());
}

// The next faulty kind: one shuffled round of every chosen kind after another.
class KindBag {
 public:
  KindBag(std::vector<NemesisKind> kinds, Random& random)
      : kinds_(std::move(kinds)), random_(random) {}
  NemesisKind Next() {
    if (next_ == round_.size()) {
      round_ = kinds_;
      Shuffle(round_, random_);
      next_ = 0;
    }
    return round_[next_++];
  }

 private:
  std::vector<NemesisKind> kinds_;
  Random& random_;
  std::vector<NemesisKind> round_;
  size_t next_ = 0;
};

}  // namespace

std::string_view NemesisName(NemesisKind kind) {
  switch (kind) {
    case NemesisKind::kDrop:
      return "drop";
    case NemesisKind::kPartitionHalves:
      return "partition-halves";
    case NemesisKind::kPartitionIsolate:
      return "partition-isolate";
    case NemesisKind::kPartitionRing:
      return "partition-ring";
    case NemesisKind::kPartitionBridge:
      return "partition-bridge";
    case NemesisKind::kPartitionOneWay:
      return "partition-one-way";
    case NemesisKind::kKill:
      return "kill";
    case NemesisKind::kPause:
      return "pause";
    case NemesisKind::kClock:
      return "clock";
    case NemesisKind::kClockRestart:
      return "clock-restart";
    case NemesisKind::kDisk:
      return "disk";
    case NemesisKind::kDiskError:
      return "disk-error";
  }
  return "unknown";
}

NemesisGroup GroupOf(NemesisKind kind) {
  switch (kind) {
    case NemesisKind::kDrop:
      return NemesisGroup::kDrop;
    case NemesisKind::kKill:
    case NemesisKind::kPause:
    case NemesisKind::kClockRestart:
      return NemesisGroup::kProcess;
    case NemesisKind::kClock:
      return NemesisGroup::kClock;
    case NemesisKind::kDisk:
    case NemesisKind::kDiskError:
      return NemesisGroup::kDisk;
    default:
      return NemesisGroup::kPartition;
  }
}

bool NeedsProcessControl(NemesisKind kind) { return GroupOf(kind) == NemesisGroup::kProcess; }

Result<std::vector<NemesisKind>> ParseNemesisList(std::string_view text) {
  std::vector<NemesisKind> kinds;
  auto add = [&kinds](NemesisKind kind) {
    if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
  };
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item == "none" || (item.empty() && comma == std::string_view::npos)) continue;
    bool known = false;
    for (NemesisKind kind : kAllKinds) {
      const bool match = item == NemesisName(kind) || item == "all" ||
                         (item == "partitions" && GroupOf(kind) == NemesisGroup::kPartition);
      if (match) add(kind);
      known |= match;
    }
    if (!known) {
      std::string names;
      for (NemesisKind kind : kAllKinds) names += std::string(NemesisName(kind)) + ", ";
      return Status::InvalidArgument("unknown nemesis '" + std::string(item) + "'; choose from " +
                                     names + "partitions (every partition), all, none");
    }
  }
  return kinds;
}

Result<std::vector<Fault>> PlanSchedule(const ScheduleOptions& options) {
  if (options.interval_ms <= 0 || options.duration_ms <= 0) {
    return Status::InvalidArgument("the nemesis interval and the run's duration must be > 0");
  }
  if (!options.kinds.empty() && options.nodes.size() < 3) {
    return Status::InvalidArgument("faults need at least 3 nodes, got " +
                                   std::to_string(options.nodes.size()));
  }
  if (!(options.drop_probability >= 0 && options.drop_probability <= 1)) {
    return Status::InvalidArgument("the drop probability must be within 0..1");
  }
  if (options.max_clock_skew_ms < 0) {
    return Status::InvalidArgument("the clock skew bound must not be negative");
  }
  std::vector<Fault> schedule;
  if (options.kinds.empty()) return schedule;

  SeededRandom random(options.seed);
  KindBag bag(options.kinds, random);
  // A window lasts interval_ms * [0.5, 1.5).
  auto window = [&]() {
    return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(options.interval_ms) *
                                                     (0.5 + UniformUnit(random))));
  };
  int64_t t = window();  // The run starts quiet.
  while (t < options.duration_ms) {
    const int64_t end = std::min(options.duration_ms, t + window());
    Fault primary{.kind = bag.Next(), .start_ms = t, .end_ms = end};
    Choose(primary, options, random);
    schedule.push_back(primary);

    std::vector<NemesisKind> others;
    for (NemesisKind kind : options.kinds) {
      if (GroupOf(kind) != GroupOf(primary.kind)) others.push_back(kind);
    }
    if (!others.empty() && random.Uniform(2) == 0) {
      const int64_t start = t + static_cast<int64_t>(random.Uniform(
                                    static_cast<uint64_t>(std::max<int64_t>(1, (end - t) / 2))));
      Fault second{.kind = others[random.Uniform(others.size())], .start_ms = start, .end_ms = end};
      Choose(second, options, random);
      if (second.start_ms < second.end_ms) schedule.push_back(second);
    }
    t = end + window();
  }
  return schedule;
}

std::map<NodeId, NodeFaults> DesiredFaults(std::span<const NodeId> nodes,
                                           std::span<const Fault* const> active) {
  std::map<NodeId, NodeFaults> state;
  for (NodeId node : nodes) {
    NodeFaults& f = state[node];
    for (NodeId peer : nodes) {
      if (peer != node) f.links.push_back(LinkFaults{.peer = peer});
    }
    std::sort(f.links.begin(), f.links.end(),
              [](const LinkFaults& a, const LinkFaults& b) { return a.peer < b.peer; });
  }
  auto link = [&state](NodeId node, NodeId peer) -> LinkFaults* {
    auto it = state.find(node);
    if (it == state.end()) return nullptr;
    for (LinkFaults& l : it->second.links) {
      if (l.peer == peer) return &l;
    }
    return nullptr;
  };
  for (const Fault* fault : active) {
    for (const DirectedLink& d : fault->blocked) {
      if (LinkFaults* out = link(d.from, d.to)) out->block_out = true;
      if (LinkFaults* in = link(d.to, d.from)) in->block_in = true;
    }
    if (fault->kind == NemesisKind::kDrop) {
      for (auto& [node, f] : state) {
        for (LinkFaults& l : f.links) l.drop_out = std::max(l.drop_out, fault->drop_probability);
      }
    }
    for (size_t i = 0; i < fault->nodes.size(); ++i) {
      auto it = state.find(fault->nodes[i]);
      if (it == state.end()) continue;
      if (fault->kind == NemesisKind::kKill) it->second.killed = true;
      if (fault->kind == NemesisKind::kPause) it->second.paused = true;
      if (fault->kind == NemesisKind::kDisk) it->second.disk = DiskFault::kFull;
      if (fault->kind == NemesisKind::kDiskError) it->second.disk = DiskFault::kIoError;
      const bool clock =
          fault->kind == NemesisKind::kClock || fault->kind == NemesisKind::kClockRestart;
      if (clock && i < fault->clock_offsets_ms.size()) {
        it->second.clock_offset_ms = fault->clock_offsets_ms[i];
      }
    }
  }
  return state;
}

std::vector<NodeId> MinoritySide(std::span<const NodeId> nodes,
                                 std::span<const DirectedLink> blocked) {
  const std::set<DirectedLink> lost(blocked.begin(), blocked.end());
  const size_t majority = nodes.size() / 2 + 1;
  std::vector<NodeId> minority;
  for (NodeId node : nodes) {
    const auto both_ways = [&](NodeId other) {
      return other == node || (!lost.contains({node, other}) && !lost.contains({other, node}));
    };
    if (static_cast<size_t>(std::count_if(nodes.begin(), nodes.end(), both_ways)) < majority) {
      minority.push_back(node);
    }
  }
  std::sort(minority.begin(), minority.end());
  return minority;
}

}  // namespace dialkv::jepsen
