#include "server/net/listener.h"

#include <asio/socket_base.hpp>

namespace dialkv::net::internal {

std::string ToString(const asio::ip::tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  std::string host = address.to_string();
  if (address.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(endpoint.port());
}

Result<asio::ip::tcp::acceptor> OpenAcceptor(asio::io_context& context,
                                             const ListenAddress& address) {
  const asio::ip::tcp::endpoint& endpoint = address.endpoint;
  asio::ip::tcp::acceptor acceptor(context);
  asio::error_code ec;
  const auto fail = [&](const asio::error_code& error) {
    return Status::Unavailable("cannot listen on " + net::ToString(address) + ": " +
                               error.message());
  };
  if (address.inherited_fd >= 0) {
    // Bound already by whoever passed it on; listen() on a listening socket is harmless.
    // SO_REUSEADDR too, as below: connections accepted here inherit it, and once this process
    // is gone their TIME_WAIT remnants must not keep a restarted node from binding the port.
    if (acceptor.assign(endpoint.protocol(), address.inherited_fd, ec); ec) return fail(ec);
    if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
    return acceptor;
  }
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail(ec);
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
  if (acceptor.bind(endpoint, ec); ec) return fail(ec);
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
  return acceptor;
}

}  // namespace dialkv::net::internal
