#pragma once
// Lets gtest print MemberState by name ("suspect") instead of as raw bytes.

#include <ostream>

#include "server/cluster/membership.h"

namespace dialkv::cluster {

inline void PrintTo(MemberState s, std::ostream* os) { *os << MemberStateName(s); }

}  // namespace dialkv::cluster
