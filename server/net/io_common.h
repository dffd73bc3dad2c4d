#pragma once
// Definitions the connections of server/net share, on the calling side and the serving side
// alike (the frame code of dialkv_wire and the servers of dialkv_net).

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cstddef>

namespace dialkv::net {

// The completion token of every socket and timer wait in a coroutine: errors come back as
// values (an error_code first in the tuple), never as exceptions.
inline constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

// A connection's read or write buffer grown past this for one big frame, command or batch of
// replies is freed once it is empty again, so an idle connection holds little memory.
inline constexpr size_t kKeepBufferBytes = 1 << 20;

}  // namespace dialkv::net
