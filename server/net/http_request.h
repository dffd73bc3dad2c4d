#pragma once
// The request parsing of the operators' HTTP server (http_server.h), on its own so it can be
// tested and fuzzed without a socket: the server reads a request head (request line and
// headers, up to and including the empty line) and hands it here.

#include <string_view>

#include "server/net/http_server.h"

namespace dialkv::net {

// The response to the request whose head is `head`: `handler`'s for a well-formed GET (called
// with the path, query string removed), else 400 for a malformed request line (not three
// fields separated by single spaces, a version other than HTTP/1.0 or HTTP/1.1, a target that
// is not a path) or 405 for any method but GET. Headers are not looked at.
HttpResponse RespondToHttpRequest(std::string_view head, const HttpHandler& handler);

}  // namespace dialkv::net
