#pragma once
// The nemesis of a harness run: which faults it injects, when, and where. Two pure parts, so a
// seed replays a schedule exactly and unit tests can check it without processes:
//   - PlanSchedule turns the chosen kinds, the nodes and a seed into a list of Faults, each
//     with its window (start and end, in ms after the schedule starts) and every choice made
//     (which nodes, which sides, which offsets);
//   - DesiredFaults turns the faults active at one instant into the state every node must hold.
// NemesisRunner (nemesis_runner.h) applies that state to a live cluster and records events.

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dialkv/admin.h"
#include "dialkv/status.h"
#include "dialkv/types.h"
#include "jepsen-like/check/history.h"  // FormatNodeSet

namespace dialkv::jepsen {

enum class NemesisKind : uint8_t {
  kDrop,              // Every node loses a share of the messages it sends to every peer.
  kPartitionHalves,   // Random halves, both ways.
  kPartitionIsolate,  // One random node cut off from every other, both ways.
  kPartitionRing,     // Each node hears a majority (itself and the next ones on a random ring),
                      // and no two nodes hear the same majority.
  kPartitionBridge,   // Two halves that cannot talk, and one node that talks to both.
  kPartitionOneWay,   // Messages from a random minority to the rest are lost; replies pass.
  kKill,              // kill -9 a random minority of nodes; restart them when the window ends.
  kPause,             // SIGSTOP a random minority; SIGCONT when the window ends.
  kClock,             // Skew random nodes' clocks, all one way, within the skew guard.
  kClockRestart,      // kill -9 one random node and restart it at once with its clock stepped
                      // back (within the skew guard) until the window ends: its new writes must
                      // still order after the ones it acknowledged before the crash.
  kDisk,              // A random minority's disks are full (ENOSPC): those nodes refuse
                      // writes until the window ends and their disk alarm clears.
  kDiskError,         // A random minority's disks fail every write (EIO), as kDisk otherwise.
};

// The faults that must not be active at the same time share a group: one network partition at
// a time, one process fault at a time, one disk fault at a time. A window may compose kinds of
// different groups.
enum class NemesisGroup : uint8_t { kDrop, kPartition, kProcess, kClock, kDisk };

// The name used on the command line and in reports: "drop", "partition-halves",
// "partition-isolate", "partition-ring", "partition-bridge", "partition-one-way", "kill",
// "pause", "clock", "clock-restart", "disk", "disk-error".
std::string_view NemesisName(NemesisKind kind);
NemesisGroup GroupOf(NemesisKind kind);
// kill and pause need the harness to own the server processes (not in attach mode).
bool NeedsProcessControl(NemesisKind kind);

// "partition-halves,kill,clock" -> those kinds, in the order given, each once. Aliases:
// "partitions" (every partition kind), "all" (every kind), "none" or "" (no faults).
// Errors: kInvalidArgument naming the unknown item and listing the valid names.
Result<std::vector<NemesisKind>> ParseNemesisList(std::string_view text);

// Messages sent by `from` to `to` are lost (at both ends: from blocks out, to blocks in).
struct DirectedLink {
  NodeId from = 0;
  NodeId to = 0;
  friend auto operator<=>(const DirectedLink&, const DirectedLink&) = default;
};

// One planned fault and every choice it makes.
struct Fault {
  NemesisKind kind = NemesisKind::kDrop;
  int64_t start_ms = 0;                        // After the schedule starts.
  int64_t end_ms = 0;                          // When it is healed. start_ms < end_ms.
  std::vector<DirectedLink> blocked = {};      // Partitions: every link losing every message.
  double drop_probability = 0;                 // kDrop: on every link, at the sender.
  std::vector<NodeId> nodes = {};              // kKill, kPause, kClock*, kDisk*: its nodes.
  std::vector<int64_t> clock_offsets_ms = {};  // kClock*: the offset of nodes[i].
  std::string description = {};  // "{1,3} | {2}", "kill -9 {2}", "node 3 -312 ms", "disk full {2}".

  friend bool operator==(const Fault&, const Fault&) = default;
};

struct ScheduleOptions {
  std::vector<NemesisKind> kinds;  // Empty: no faults.
  std::vector<NodeId> nodes;       // Every node of the cluster.
  // The mean length of a window. Windows alternate, quiet then faulty, each lasting
  // interval_ms times a random factor in [0.5, 1.5], so about half the run is faulty and
  // about half is quiet (for availability "during" and "outside" faults).
  int64_t interval_ms = 5000;
  int64_t duration_ms = 30000;  // No fault starts or lasts beyond this.
  uint64_t seed = 0;
  double drop_probability = 0.2;  // kDrop's share of lost messages, 0..1.
  // A kClock fault skews its nodes all ahead or all behind, each by a uniform [max/4, max], so
  // any two nodes differ by at most max. Keep it below the servers' --max-clock-skew-ms (500 by
  // default), or the guard refuses the skewed nodes' timestamps.
  int64_t max_clock_skew_ms = 400;
};

// The schedule, in start order. Each faulty window takes the next kind of a shuffled round of
// the chosen kinds (every kind comes up once per round), and, half of the time, composes it
// with a kind of another group that starts within the first half of the window and ends with
// it. Kill and pause act on 1..(N-1)/2 nodes, so a majority stays up. The same options give
// the same schedule.
// Errors: kInvalidArgument for interval_ms or duration_ms <= 0, fewer than 3 nodes with
// faults chosen, a drop probability outside 0..1, or a negative skew.
Result<std::vector<Fault>> PlanSchedule(const ScheduleOptions& options);

// What one node must hold: its link with every other node (clean links included, so applying
// it replaces whatever the node held), its clock offset and its disk fault; whether it must be
// killed or paused.
struct NodeFaults {
  std::vector<LinkFaults> links;  // One per other node, by peer id.
  int64_t clock_offset_ms = 0;
  DiskFault disk = DiskFault::kNone;
  bool killed = false;
  bool paused = false;

  friend bool operator==(const NodeFaults&, const NodeFaults&) = default;
};

// The state of every node of `nodes` while exactly `active` are active. Faults of different
// groups touch different fields, so they compose; when two faults set one field, a blocked
// link stays blocked, the highest drop probability and the last clock offset and disk fault
// win.
std::map<NodeId, NodeFaults> DesiredFaults(std::span<const NodeId> nodes,
                                           std::span<const Fault* const> active);

// Under a partition, the nodes that cannot exchange a request and its reply with a majority of
// `nodes` (themselves counted) while every link of `blocked` loses its messages: a CP request
// served by one of them cannot reach a quorum. Sorted; empty when every node keeps a majority.
// Exchanges are direct (the servers do not relay), so under kPartitionRing, where no two nodes
// hear each other both ways, every node is on the minority side.
std::vector<NodeId> MinoritySide(std::span<const NodeId> nodes,
                                 std::span<const DirectedLink> blocked);

}  // namespace dialkv::jepsen
