#include "server/net/http_request.h"

#include <string>
#include <utility>

namespace dialkv::net {
namespace {

HttpResponse Error(int status, std::string message) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(message) + "\n";
  return response;
}

}  // namespace

HttpResponse RespondToHttpRequest(std::string_view head, const HttpHandler& handler) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const size_t first = line.find(' ');
  const size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
  if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
    return Error(400, "malformed request line: expected \"METHOD /path HTTP/1.1\"");
  }
  const std::string_view method = line.substr(0, first);
  const std::string_view target = line.substr(first + 1, second - first - 1);
  const std::string_view version = line.substr(second + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return Error(400, "unsupported protocol version: only HTTP/1.0 and HTTP/1.1 are served");
  }
  if (target.empty() || target.front() != '/') {
    return Error(400, "request target must be a path starting with '/'");
  }
  if (method != "GET") return Error(405, "only GET is served");
  return handler(std::string(target.substr(0, target.find('?'))));
}

}  // namespace dialkv::net
