#pragma once
// Helpers shared by the storage tests.

#include <ostream>
#include <string>

#include "dialkv/types.h"

namespace dialkv {

// Lets gtest print a Version in failure messages.
inline void PrintTo(const Version& v, std::ostream* os) {
  *os << (v.tombstone ? "tombstone" : "'" + v.value + "'") << " @" << ToString(v.timestamp);
}

namespace testutil {

inline Version Live(std::string value, uint64_t hlc, NodeId node = 1) {
  return Version{std::move(value), Timestamp{hlc, node}, false};
}

inline Version Tombstone(uint64_t hlc, NodeId node = 1) {
  return Version{std::string(), Timestamp{hlc, node}, true};
}

}  // namespace testutil
}  // namespace dialkv
