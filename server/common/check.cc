#include "server/common/check.h"

#include <cstdio>
#include <cstdlib>

namespace dialkv::internal {

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "dialkv: check failed: %s at %s:%d\n", condition, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace dialkv::internal
