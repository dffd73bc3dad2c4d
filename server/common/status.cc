#include "dialkv/status.h"

#include <cstdio>
#include <string>

#include "dialkv/types.h"

namespace dialkv {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NOT_FOUND";
    case Code::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case Code::kUnavailable:
      return "UNAVAILABLE";
    case Code::kUnknown:
      return "UNKNOWN";
    case Code::kTimeout:
      return "TIMEOUT";
    case Code::kPermissionDenied:
      return "PERMISSION_DENIED";
    case Code::kUnauthenticated:
      return "UNAUTHENTICATED";
    case Code::kOverloaded:
      return "OVERLOADED";
    case Code::kIOError:
      return "IO_ERROR";
    case Code::kCorruption:
      return "CORRUPTION";
    case Code::kInternal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

std::string_view ConsistencyName(Consistency c) { return c == Consistency::kAp ? "ap" : "cp"; }

std::string ToString(const Timestamp& ts) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%llu.%u@%u", static_cast<unsigned long long>(ts.wall_ms()),
                static_cast<unsigned>(ts.logical()), static_cast<unsigned>(ts.node_id));
  return buf;
}

}  // namespace dialkv
