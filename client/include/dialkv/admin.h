#pragma once
// Value types of the fault-injection and inspection calls of dialkv::Client (client.h):
// SetFaults, ClearFaults, GetFaults, SetClockOffset, SetDiskFault and ReadLocal.
//
// A node serves these only when it was started with --enable-fault-injection; any other node
// answers kPermissionDenied and changes nothing. Faults act on messages between nodes, at the
// node that holds them; client connections are never faulted. "Out" is a message this node
// sends to `peer` (its requests and its replies), "in" one it receives from `peer`. A lost
// message is never seen by its receiver, and its sender learns nothing until a deadline
// passes, as on a real network.
//
// Every field has an explicit initializer, so callers may set fields by name,
// {.peer = 2, .block_out = true}, without a missing-initializer warning for the others.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dialkv/types.h"

namespace dialkv {

// The faults on one node's link with one peer. A link without any fault is clean.
struct LinkFaults {
  NodeId peer = 0;
  double drop_out = 0;     // Probability 0..1 that a message to the peer is lost.
  double drop_in = 0;      // Probability 0..1 that a message from the peer is lost.
  bool block_out = false;  // Partitioned: every message to the peer is lost.
  bool block_in = false;   // Partitioned: every message from the peer is lost.
  uint32_t delay_ms = 0;   // Added to every message to the peer ...
  uint32_t jitter_ms = 0;  // ... plus a uniformly random 0..jitter_ms.

  friend bool operator==(const LinkFaults&, const LinkFaults&) = default;
};

// A change to one link: the fields set replace the link's; the unset ones keep their value.
// Limits (checked by the node): probabilities 0..1, delay_ms at most 60000, and `peer` a
// member of the cluster other than the node itself.
struct LinkFaultsPatch {
  NodeId peer = 0;
  std::optional<double> drop_out = std::nullopt;
  std::optional<double> drop_in = std::nullopt;
  std::optional<bool> block_out = std::nullopt;
  std::optional<bool> block_in = std::nullopt;
  std::optional<uint32_t> delay_ms = std::nullopt;
  std::optional<uint32_t> jitter_ms = std::nullopt;

  friend bool operator==(const LinkFaultsPatch&, const LinkFaultsPatch&) = default;
};

// Injected disk trouble of one node (Client::SetDiskFault): its storage fails every write as a
// full disk (ENOSPC; the node also measures no free space, so its disk alarm goes up) or a
// failing one (EIO) would. Reads are never faulted. The node refuses writes until it is over.
enum class DiskFault : uint8_t { kNone, kFull, kIoError };

// The faults of one node.
struct FaultState {
  NodeId node_id = 0;                  // The node this state is of.
  std::vector<LinkFaults> links = {};  // Links with any fault, by peer id; others are clean.
  uint64_t seed = 0;            // Seeds the drop and jitter choices (same seed, same choices).
  int64_t clock_offset_ms = 0;  // Added to the node's wall clock (SetClockOffset).
  // Test-only bugs now on (BugSwitches).
  bool skip_read_repair = false;
  bool skip_write_timestamp_phase = false;
  DiskFault disk = DiskFault::kNone;  // Injected disk trouble (SetDiskFault).

  friend bool operator==(const FaultState&, const FaultState&) = default;
};

// Test-only bugs that break CP on purpose, so a harness can show it catches them
// (Client::SetBugSwitches). A set field turns its bug on (true) or off (false); an unset one
// leaves it as it is. ClearFaults turns every one off.
struct BugSwitches {
  // CP reads answer the newest version a quorum reported without first writing it back to a
  // quorum: a later read may return an older value.
  std::optional<bool> skip_read_repair = std::nullopt;
  // CP writes take the node's clock as their timestamp without reading a quorum's highest
  // first: under clock skew a later write may lose to an earlier one.
  std::optional<bool> skip_write_timestamp_phase = std::nullopt;
};

// One node's own stored version of a key, as its replica holds it: read without a quorum
// and without repair, so replicas may differ until they converge.
struct LocalVersion {
  NodeId node_id = 0;      // The node that answered.
  std::string value = {};  // Empty for a tombstone.
  Timestamp timestamp = {};
  bool tombstone = false;  // The version is a delete.

  friend bool operator==(const LocalVersion&, const LocalVersion&) = default;
};

}  // namespace dialkv
