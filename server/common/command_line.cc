#include "server/common/command_line.h"

#include <string_view>

namespace dialkv {
namespace {

constexpr std::string_view kSecretFlags[] = {"--token"};
constexpr std::string_view kRedacted = "<redacted>";

}  // namespace

std::string QuoteArg(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string RecordedCommandLine(int argc, const char* const* argv) {
  std::string out;
  bool redact_next = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (redact_next) {
      arg = kRedacted;
      redact_next = false;
    } else {
      for (std::string_view flag : kSecretFlags) {
        if (arg == flag) redact_next = true;
        if (arg.size() > flag.size() && arg.starts_with(flag) && arg[flag.size()] == '=') {
          arg = std::string(flag) + "=" + std::string(kRedacted);
        }
      }
    }
    out += (i > 0 ? " " : "") + QuoteArg(arg);
  }
  return out;
}

}  // namespace dialkv
