#pragma once
// Invariant checks. DIALKV_CHECK is always on: it logs the failed condition and aborts.
// DIALKV_DCHECK is the same where DIALKV_DCHECK_IS_ON is 1 and compiled out (its condition is
// never evaluated) where it is 0. The build sets it with the DIALKV_DCHECKS option (ON, OFF,
// AUTO); when it is not set, as with AUTO, DCHECKs follow NDEBUG: on in Debug builds, off in
// the others. Neither guards bytes from the network or the disk: those are answered with
// kInvalidArgument / kCorruption.

namespace dialkv::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace dialkv::internal

#define DIALKV_CHECK(cond)                                                   \
  do {                                                                       \
    if (!(cond)) ::dialkv::internal::CheckFailed(#cond, __FILE__, __LINE__); \
  } while (false)

#ifndef DIALKV_DCHECK_IS_ON
#ifdef NDEBUG
#define DIALKV_DCHECK_IS_ON 0
#else
#define DIALKV_DCHECK_IS_ON 1
#endif
#endif

#if DIALKV_DCHECK_IS_ON
#define DIALKV_DCHECK(cond) DIALKV_CHECK(cond)
#else
#define DIALKV_DCHECK(cond) \
  do {                      \
  } while (false && (cond))
#endif
