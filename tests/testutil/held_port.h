#pragma once
// A port on 127.0.0.1 held for a test: bound, not listening, so connections to it are refused
// and no other process can listen there while the test holds it. Give it to a server with
// ReservedPort::Release() (net::ListenAddress::inherited_fd) to have the server listen on it.

#include "jepsen-like/harness/server_child.h"
#include "server/common/check.h"

namespace dialkv::testutil {

inline jepsen::ReservedPort HeldPort() {
  Result<jepsen::ReservedPort> port = jepsen::ReservedPort::Bind();
  DIALKV_CHECK(port.ok());  // Hundreds of random ports all taken: nothing can run here.
  return std::move(port).value();
}

}  // namespace dialkv::testutil
