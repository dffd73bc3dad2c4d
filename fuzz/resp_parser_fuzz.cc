// Fuzzes the RESP command parser of server/net/resp.h.
//
// Input: the bytes a client sends on the Redis-protocol port, parsed as the port does: command
// after command until a protocol error or the end. Small limits (a bulk string of 4 KiB, 64
// arguments, 16 KiB a command) let mutations reach every bound.
//
// Checks: the parser never consumes past its input; every command it returns has at least one
// argument, within the limits; each command, encoded back as an array of bulk strings and
// parsed again, gives the same arguments and consumes exactly that encoding; and the same
// input fed in two pieces (split where its first byte says) yields the same commands.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/common/check.h"
#include "server/net/resp.h"

namespace dialkv::fuzz {
namespace {

using net::resp::Limits;
using net::resp::ParseCommand;
using net::resp::ParseResult;

constexpr Limits kLimits{.max_bulk_bytes = 4096,
                         .max_array_length = 64,
                         .max_inline_bytes = 1024,
                         .max_command_bytes = 16 << 10};

// Parses `input` command by command; returns the commands, and whether it ended in an error.
std::vector<std::vector<std::string>> ParseAll(std::string_view input, bool* failed) {
  std::vector<std::vector<std::string>> commands;
  *failed = false;
  size_t offset = 0;
  while (offset < input.size()) {
    std::vector<std::string> args;
    size_t consumed = 0;
    std::string error;
    const ParseResult r = ParseCommand(input.substr(offset), kLimits, &args, &consumed, &error);
    DIALKV_CHECK(consumed <= input.size() - offset);
    offset += consumed;
    if (r == ParseResult::kError) {
      DIALKV_CHECK(!error.empty());
      *failed = true;
      break;
    }
    if (r == ParseResult::kNeedMore) {
      if (consumed == 0) break;
      continue;
    }
    DIALKV_CHECK(consumed > 0);
    DIALKV_CHECK(!args.empty() && args.size() <= kLimits.max_array_length);
    std::string encoded = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) {
      DIALKV_CHECK(a.size() <= kLimits.max_bulk_bytes);
      encoded += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    }
    std::vector<std::string> again;
    size_t again_consumed = 0;
    std::string again_error;
    if (encoded.size() <= kLimits.max_command_bytes) {
      DIALKV_CHECK(ParseCommand(encoded, kLimits, &again, &again_consumed, &again_error) ==
                   ParseResult::kCommand);
      DIALKV_CHECK(again == args);
      DIALKV_CHECK(again_consumed == encoded.size());
    }
    commands.push_back(std::move(args));
  }
  return commands;
}

}  // namespace
}  // namespace dialkv::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  bool failed = false;
  const auto whole = dialkv::fuzz::ParseAll(input, &failed);
  if (size == 0 || failed) return 0;
  // A complete input split anywhere: its first part yields a prefix of the commands.
  const size_t split = static_cast<unsigned char>(input[0]) % (size + 1);
  bool failed_part = false;
  const auto part = dialkv::fuzz::ParseAll(input.substr(0, split), &failed_part);
  // Less input never makes an error that more input does not.
  DIALKV_CHECK(!failed_part);
  DIALKV_CHECK(part.size() <= whole.size());
  for (size_t i = 0; i < part.size(); ++i) DIALKV_CHECK(part[i] == whole[i]);
  return 0;
}
