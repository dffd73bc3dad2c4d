// Fuzzes the operators' HTTP server's request parsing (server/net/http_request.h) with the bytes
// a client sends: the head is cut where the server's read cuts it (up to and including the
// first empty line, within the default header limit; without one the server answers 431 or
// closes, and parses nothing), then answered by RespondToHttpRequest with a handler that serves
// /health and 404s the rest.
//
// Checks: the handler is called only for a GET of a path (starting with '/', no query string)
// that appears in the request line; every response is the handler's or a 400 or 405 with a
// message.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/common/check.h"
#include "server/net/http_request.h"
#include "server/net/http_server.h"

namespace dialkv::net {
namespace {

void Run(const uint8_t* data, size_t size) {
  const std::string_view received(reinterpret_cast<const char*>(data), size);
  const size_t limit = HttpServer::Options{}.max_header_bytes;
  const size_t end = received.substr(0, limit).find("\r\n\r\n");
  if (end == std::string_view::npos) return;
  const std::string_view head = received.substr(0, end + 4);

  std::optional<std::string> served;
  const HttpResponse response = RespondToHttpRequest(head, [&served](const std::string& path) {
    served = path;
    HttpResponse r;
    r.status = path == "/health" ? 200 : 404;
    r.body = path == "/health" ? "ok\n" : "not found\n";
    return r;
  });

  const std::string_view line = head.substr(0, head.find("\r\n"));
  if (served.has_value()) {
    DIALKV_CHECK(line.starts_with("GET /"));
    DIALKV_CHECK(served->starts_with("/"));
    DIALKV_CHECK(served->find('?') == std::string::npos);
    DIALKV_CHECK(line.find(" " + *served) != std::string_view::npos);
    DIALKV_CHECK(line.ends_with(" HTTP/1.1") || line.ends_with(" HTTP/1.0"));
    DIALKV_CHECK(response.status == 200 || response.status == 404);
  } else {
    DIALKV_CHECK(response.status == 400 || response.status == 405);
    DIALKV_CHECK(!response.body.empty() && response.body.back() == '\n');
  }
}

}  // namespace
}  // namespace dialkv::net

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dialkv::net::Run(data, size);
  return 0;
}
