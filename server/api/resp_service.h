#pragma once
// The commands of the Redis-protocol port (docs/resp.md): each RESP connection gets a session
// (net::RespSession) that turns GET, SET, DEL, EXISTS, MGET and MSET into the client port's
// own requests (GetRequest, PutRequest, DeleteRequest) and hands them to the client port's
// handler for that connection: the same token checks (ClientAuth), the same KvService and
// coordinator as the native protocol, so there is one request path. Its replies are encoded
// back into RESP with their meaning kept:
//
//   UNAVAILABLE -> -UNAVAILABLE ...  definitely not applied (safe to retry)
//   UNKNOWN     -> -UNKNOWN ...      a write that may have been applied
//   TIMEOUT     -> -TIMEOUT ...      a read that missed its deadline
//   UNAUTHENTICATED -> -NOAUTH ...,  PERMISSION_DENIED -> -NOPERM ...,
//   OVERLOADED  -> -OVERLOADED ...,  INVALID_ARGUMENT and the rest -> -ERR ...
//
// The consistency mode of a command is the connection's (Options::default_mode, changed by
// DIALKV.MODE cp|ap) unless the command starts with CP or AP ("AP SET k v"). The other commands
// (PING, ECHO, HELLO, AUTH, SELECT 0, INFO, DBSIZE, COMMAND, CLIENT, CONFIG GET, QUIT) are answered
// here. When the node requires tokens, a connection must AUTH (or HELLO ... AUTH) before any other
// command: "-NOAUTH Authentication required.".
//
// Metrics: dialkv_resp_commands_total{command, outcome}: outcome "ok" or the reply's error
// code in lower case (unavailable, unknown, timeout, noauth, noperm, wrongpass, overloaded,
// err, ...).
//
// Thread-safe: sessions run on any io thread, each on its connection's. Must outlive the RESP
// port's connections.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dialkv/types.h"
#include "server/api/client_auth.h"
#include "server/common/metrics.h"
#include "server/net/resp_server.h"

namespace dialkv::api {

class RespService {
 public:
  struct Options {
    Consistency default_mode = Consistency::kCp;  // --resp-default-mode.
    uint32_t node_id = 0;                         // For INFO.
    std::string cluster_name;                     // For INFO.
    uint16_t port = 0;                            // For INFO: the RESP port.
    // An estimate of the keys the cluster holds, for DBSIZE and INFO (called on an io thread).
    std::function<uint64_t()> estimate_keys;
  };

  RespService(Options options, ClientAuth& auth,  // Not owned; must outlive this.
              metrics::Registry& metrics);        // Not owned; must outlive this.

  // The RESP port's session factory.
  net::RespSessionFactory Factory();

  const Options& options() const { return options_; }
  // The port INFO reports, once bound. REQUIRES: no session runs yet.
  void set_port(uint16_t port) { options_.port = port; }

  // Commands counted apart in the metrics; every other name counts as "other".
  static constexpr std::array<const char*, 19> kCommandNames = {
      "ping",   "echo",   "hello",       "auth",   "select", "get",    "set",
      "del",    "exists", "mget",        "mset",   "info",   "dbsize", "command",
      "client", "quit",   "dialkv.mode", "config", "other"};
  static constexpr std::array<const char*, 11> kOutcomeNames = {
      "ok",     "err",       "unavailable", "unknown", "timeout", "noauth",
      "noperm", "wrongpass", "overloaded",  "noproto", "internal"};

  // Counts a command named kCommandNames[command] whose reply starts at `reply`.
  void Count(size_t command, std::string_view reply);

 private:
  class Session;

  Options options_;
  ClientAuth& auth_;
  metrics::Counter* commands_[kCommandNames.size()][kOutcomeNames.size()] = {};
  std::atomic<uint64_t> next_client_id_{1};
};

}  // namespace dialkv::api
