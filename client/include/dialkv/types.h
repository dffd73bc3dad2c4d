#pragma once
// Value types shared by the client library and the server.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace dialkv {

using NodeId = uint32_t;

// The guarantee a request asks for (docs/consistency.md says what each promises and costs).
enum class Consistency : uint8_t {
  // Linearizable: quorum reads and writes. While no quorum of the key's replicas answers,
  // requests fail with kUnavailable (nothing happened) or kUnknown (a write may have).
  kCp = 1,
  // Available: served by whichever replica answers first; reads may be stale; writes are
  // accepted while the coordinating node is up and reach the replicas later if need be.
  kAp = 2,
};

// "cp" / "ap".
std::string_view ConsistencyName(Consistency c);

// The order of versions: by hybrid logical clock, then by the id of the node that wrote the
// version, so two distinct writes never tie. hlc = wall-clock milliseconds << 16 | a logical
// counter (see server/common/hlc.h). The zero timestamp sorts before every real write.
struct Timestamp {
  uint64_t hlc = 0;
  NodeId node_id = 0;

  uint64_t wall_ms() const { return hlc >> 16; }
  uint16_t logical() const { return static_cast<uint16_t>(hlc & 0xffff); }
  bool IsZero() const { return hlc == 0 && node_id == 0; }

  friend auto operator<=>(const Timestamp&, const Timestamp&) = default;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// "1732623456789.3@2": wall ms, logical counter, node.
std::string ToString(const Timestamp& ts);

// One stored version of a key. A delete is a version too: a tombstone, whose value is empty.
struct Version {
  std::string value;
  Timestamp timestamp;
  bool tombstone = false;

  friend bool operator==(const Version&, const Version&) = default;
};

}  // namespace dialkv
