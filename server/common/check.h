#pragma once
// Invariant checks. DIALKV_CHECK is always on: it logs the failed condition and aborts.
// DIALKV_DCHECK is compiled out in NDEBUG builds. Neither guards bytes from the network or the
// disk: those are answered with kInvalidArgument / kCorruption.

namespace dialkv::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace dialkv::internal

#define DIALKV_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) ::dialkv::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (false)

#ifdef NDEBUG
#define DIALKV_DCHECK(cond) \
  do {                      \
  } while (false && (cond))
#else
#define DIALKV_DCHECK(cond) DIALKV_CHECK(cond)
#endif
