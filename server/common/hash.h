#pragma once
// Key hashing: xxh64 with seed 0, the hash that places keys on the ring and that log lines
// print instead of keys (keys may be sensitive; values never appear in logs).

#include <cstdint>
#include <string_view>

namespace dialkv {

uint64_t KeyHash(std::string_view key);

}  // namespace dialkv
