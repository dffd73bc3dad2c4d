#include "server/net/endpoint.h"

#include <charconv>

namespace dialkv::net {
namespace {

// Host names are at most 253 bytes (RFC 1035); longer text is a mistake, not a host.
constexpr size_t kMaxHostBytes = 253;

Status Invalid(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("endpoint \"" + std::string(text) + "\" " + std::string(why) +
                                 "; expected host:port, e.g. 127.0.0.1:7379 or [::1]:7379");
}

}  // namespace

Result<Endpoint> ParseEndpoint(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return Invalid(text, "has no closing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return Invalid(text, "has no :port after the address");
    }
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Invalid(text, "has no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Invalid(text, "has an IPv6 address without brackets");
    }
  }
  if (host.empty()) return Invalid(text, "has no host");
  if (host.size() > kMaxHostBytes) return Invalid(text, "has a host name over 253 bytes");
  for (const char c : host) {
    if (c == ' ' || c == '/' || c == ',' || c == '[' || c == ']' ||
        static_cast<unsigned char>(c) < 0x21) {
      return Invalid(text, "has a character not allowed in a host");
    }
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return Invalid(text, "has no valid port (1..65535)");
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(value), std::string(text)};
}

}  // namespace dialkv::net
