#include "server/net/listen_address.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "server/net/listener.h"

namespace dialkv::net {
namespace {

constexpr std::string_view kInheritedPrefix = "fd@";

}  // namespace

bool IsInheritedSocketSpec(std::string_view text) { return text.starts_with(kInheritedPrefix); }

Result<ListenAddress> InheritedSocket(std::string_view text, std::string_view flag) {
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(flag) + " '" + std::string(text) + "': " + why);
  };
  if (!IsInheritedSocketSpec(text)) return bad("expected fd@N, an inherited socket's descriptor");
  const std::string_view digits = text.substr(kInheritedPrefix.size());
  int fd = -1;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), fd);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || fd < 0) {
    return bad("expected fd@N with N a descriptor number");
  }
  int type = 0;
  socklen_t type_len = sizeof(type);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0) {
    return bad(errno == EBADF ? "no such open descriptor (was it inherited?)"
                              : std::string("not a socket: ") + std::strerror(errno));
  }
  sockaddr_storage storage{};
  socklen_t storage_len = sizeof(storage);
  if (type != SOCK_STREAM ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &storage_len) != 0 ||
      (storage.ss_family != AF_INET && storage.ss_family != AF_INET6)) {
    return bad("not a TCP socket");
  }
  ListenAddress address;
  address.inherited_fd = fd;
  address.endpoint.resize(storage_len);
  std::memcpy(address.endpoint.data(), &storage, storage_len);
  if (address.endpoint.port() == 0) return bad("the socket is not bound to a port");
  return address;
}

std::string ToString(const ListenAddress& address) {
  const std::string bound = internal::ToString(address.endpoint);
  if (address.inherited_fd < 0) return bound;
  return std::string(kInheritedPrefix) + std::to_string(address.inherited_fd) + " (" + bound + ")";
}

}  // namespace dialkv::net
