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
                                             const asio::ip::tcp::endpoint& endpoint) {
  asio::ip::tcp::acceptor acceptor(context);
  asio::error_code ec;
  const auto fail = [&](const asio::error_code& error) {
    return Status::Unavailable("cannot listen on " + ToString(endpoint) + ": " + error.message());
  };
  if (acceptor.open(endpoint.protocol(), ec); ec) return fail(ec);
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
  if (acceptor.bind(endpoint, ec); ec) return fail(ec);
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
  return acceptor;
}

}  // namespace dialkv::net::internal
