#include "server/common/random.h"

#include "server/common/check.h"

namespace dialkv {

Random::~Random() = default;

uint64_t Random::Uniform(uint64_t n) {
  DIALKV_CHECK(n > 0);
  // Reject the lowest 2^64 mod n values, so what is left is a whole number of copies of
  // [0, n); the expected number of draws is below 2.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t x = Next();
    if (x >= threshold) return x % n;
  }
}

}  // namespace dialkv
