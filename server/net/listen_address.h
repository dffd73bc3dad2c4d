#pragma once
// Where a server of server/net listens: an address to bind, or a socket the process inherited
// already bound (`fd@N` on the command line). An inherited socket lets a supervisor or a test
// harness choose and hold a port for the node, so that no other process can take it between
// the choice and the node's start (a port picked free and released is a race).

#include <asio/ip/tcp.hpp>
#include <string>
#include <string_view>

#include "server/common/status.h"

namespace dialkv::net {

struct ListenAddress {
  ListenAddress() = default;
  // Bind `endpoint` (port 0: the OS picks a free port).
  ListenAddress(asio::ip::tcp::endpoint bind_to)  // NOLINT(google-explicit-constructor)
      : endpoint(std::move(bind_to)) {}

  asio::ip::tcp::endpoint endpoint;  // For an inherited socket: the address it is bound to.
  // >= 0: listen on this bound TCP socket instead of binding; the server adopts (and closes) it.
  int inherited_fd = -1;
};

// Whether `text` has the form "fd@N" (N a descriptor number).
bool IsInheritedSocketSpec(std::string_view text);

// Parses "fd@N" and checks that descriptor N is a TCP socket bound to an address (listening or
// not), which it returns with that address. Errors: kInvalidArgument naming `flag`: not of the
// form fd@N, not an open descriptor, not a TCP socket, or not bound.
Result<ListenAddress> InheritedSocket(std::string_view text, std::string_view flag);

// "127.0.0.1:7379", or "fd@3 (127.0.0.1:7379)" for an inherited socket.
std::string ToString(const ListenAddress& address);

}  // namespace dialkv::net
