#pragma once
// RESP, the Redis serialization protocol (versions 2 and 3), as far as a server needs it: a
// parser of the commands clients send and an encoder of the replies. Nothing here knows what a
// command means (api/resp_service.h does).
//
// A client sends a command either as an array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
// or, from a terminal (redis-cli, telnet), inline: one line of words separated by spaces, with
// "double" (escapes \n \r \t \\ \" \xHH) and 'single' quotes as Redis reads them. The parser is
// bounded: a bulk string over max_bulk_bytes, an array over max_array_length, an inline line
// over max_inline_bytes, a negative length, an element that is not a bulk string (a nested
// array, say) and unbalanced quotes are protocol errors, after which the connection cannot be
// read any further (as with Redis, which closes it).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dialkv::net::resp {

struct Limits {
  uint64_t max_bulk_bytes = 512 << 20;     // One argument (a key, a value).
  uint32_t max_array_length = 1 << 16;     // Arguments of one command.
  uint32_t max_inline_bytes = 64 << 10;    // One inline command line; also a header line.
  uint64_t max_command_bytes = 16u << 20;  // One whole command, headers included.
};

enum class ParseResult {
  kCommand,   // *args holds a complete command; *consumed bytes of input were used.
  kNeedMore,  // The input holds no complete command yet (or only empty lines, consumed).
  kError,     // A protocol error; *error says which. Nothing after it can be read.
};

// Parses the first command at the front of `input`. Stateless: on kNeedMore call it again
// with the same bytes and more appended. *consumed may be non-zero with kNeedMore (empty
// inline lines and empty arrays, which Redis skips). Never reads past `input`.
ParseResult ParseCommand(std::string_view input, const Limits& limits,
                         std::vector<std::string>* args, size_t* consumed, std::string* error);

// Reply encoding. `version` is 2 or 3 (the connection's protocol, from HELLO).
class Writer {
 public:
  explicit Writer(std::string* out, int version = 2) : out_(out), version_(version) {}

  void SimpleString(std::string_view s);  // "+OK\r\n"; CR and LF in `s` become spaces.
  // "-CODE message\r\n" (`prefix_and_message` starts with the code); CR and LF become spaces.
  void Error(std::string_view prefix_and_message);
  void Integer(int64_t value);
  void Bulk(std::string_view bytes);
  void Null();                        // "$-1\r\n" (RESP2) or "_\r\n" (RESP3).
  void ArrayHeader(size_t elements);  // "*N\r\n".
  void MapHeader(size_t pairs);       // "%N\r\n" (RESP3) or an array of 2N (RESP2).
  int version() const { return version_; }

 private:
  std::string* out_;
  int version_;
};

}  // namespace dialkv::net::resp
