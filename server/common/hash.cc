#include "server/common/hash.h"

#include <xxhash.h>

namespace dialkv {

uint64_t KeyHash(std::string_view key) { return XXH64(key.data(), key.size(), 0); }

}  // namespace dialkv
