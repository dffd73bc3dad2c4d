#pragma once
// Parsing of "host:port" endpoint strings (ClientOptions::endpoints, the CLI's --endpoints).

#include <cstdint>
#include <string>
#include <string_view>

#include "dialkv/status.h"

namespace dialkv::net {

struct Endpoint {
  std::string host;  // A name or an address literal, without brackets.
  uint16_t port = 0;
  std::string name;  // As given by the user; used in every message about this endpoint.
};

// Parses "host:port" or "[ipv6]:port". The port must be 1..65535.
// Errors: kInvalidArgument saying what is wrong and what is expected.
Result<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace dialkv::net
