#include "client/cli/output.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dialkv::cli {

int ExitCode(Code code) {
  switch (code) {
    case Code::kOk:
      return kExitOk;
    case Code::kNotFound:
      return kExitNotFound;
    case Code::kInvalidArgument:
      return kExitUsage;
    case Code::kUnavailable:
      return kExitUnavailable;
    case Code::kUnknown:
    case Code::kTimeout:
      return kExitIndeterminate;
    default:
      return kExitOtherError;
  }
}

void PrintError(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "dialkv: %s\n", text.c_str());
}

int Fail(const Status& status) {
  PrintError(status.ToString());
  return ExitCode(status.code());
}

int WriteStdout(const std::string& bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() ||
      std::fflush(stdout) != 0) {
    return Fail(Status::IOError(std::string("cannot write to stdout: ") + std::strerror(errno)));
  }
  return kExitOk;
}

std::string Printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

}  // namespace dialkv::cli
