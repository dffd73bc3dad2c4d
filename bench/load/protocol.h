#pragma once
// The wire formats of the peer systems the load generator measures, written here so the
// comparison needs no client library of theirs: RESP 2 (Redis) and HTTP/1.1 with JSON bodies
// (etcd's v3 gateway). Encoders append to a buffer; parsers read one reply from the start of
// a buffer and say how many bytes it took, so a caller can parse pipelined replies in place.
//
// Pure functions; thread-compatible.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace dialkv::bench {

enum class Parse { kDone, kIncomplete, kMalformed };

// ---- RESP ----

// Appends `args` as one command (an array of bulk strings): {"SET", key, value}.
void AppendRespCommand(std::initializer_list<std::string_view> args, std::string* out);

struct RespReply {
  enum class Type { kSimple, kError, kInteger, kBulk, kNil, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;    // kInteger; the element count of kArray.
  std::string_view text;  // kSimple, kError, kBulk: points into the parsed buffer.
};

// Parses one reply at the start of `in`; on kDone sets *reply and *consumed. An array's
// elements are consumed with it (and not returned). Nesting deeper than 8 is kMalformed.
Parse ParseResp(std::string_view in, RespReply* reply, size_t* consumed);

// ---- HTTP/1.1 ----

// Appends a keep-alive POST of a JSON body.
void AppendHttpPost(std::string_view host, std::string_view path, std::string_view body,
                    std::string* out);

struct HttpResponse {
  int status = 0;
  std::string body;  // Decoded when the response was chunked.
};

// Parses one response at the start of `in` (Content-Length or chunked body; a response with
// neither has an empty body, as 204 and 304 do). Headers over 64 KiB are kMalformed.
Parse ParseHttpResponse(std::string_view in, HttpResponse* response, size_t* consumed);

// Standard base64 with padding, as etcd's gateway expects for keys and values.
std::string Base64(std::string_view bytes);

}  // namespace dialkv::bench
