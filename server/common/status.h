#pragma once
// Status and Result<T> are defined once, in the public client header, because the client API
// returns them; the server uses the same vocabulary.
#include "dialkv/status.h"  // IWYU pragma: export

namespace dialkv::internal {
inline Status ToStatus(Status s) { return s; }
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace dialkv::internal

// Returns the error of a Status- or Result-valued expression from the enclosing function.
#define DIALKV_RETURN_IF_ERROR(expr)                                        \
  do {                                                                      \
    ::dialkv::Status _dialkv_status = ::dialkv::internal::ToStatus((expr)); \
    if (!_dialkv_status.ok()) return _dialkv_status;                        \
  } while (false)
