#pragma once
// One dialkv-server child on 127.0.0.1 whose ports are never picked free and released: the
// harness, the integration tests and the benchmark tools start nodes through it.
//
// The first start hands the server four sockets bound here (a ReservedPort each) as
// --listen=fd@3, --peer-listen=fd@4, --http-listen=fd@5, --resp-listen=fd@6, so the ports are held
// from the moment they are chosen; a cluster can list every node's peer port in --peers before any
// node runs. Once the node is up the reservations are closed (the node holds its own copies), so a
// killed node's ports are free, and connections to it are refused as in production. A restart asks
// for the same ports explicitly; if another process took one meanwhile the start is retried
// until the ready timeout, and the error then names the port. Readiness is the node's
// --ports-file, written once every port listens.
//
// Thread-compatible; the thread that starts the child must outlive it (ChildProcess).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jepsen-like/harness/process.h"
#include "server/common/status.h"

namespace dialkv::jepsen {

// A TCP socket bound, not listening, to 127.0.0.1 on a port chosen at random outside the
// kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), so that no outgoing
// connection takes the port while a killed node waits to restart on it. While it is held no
// other process can bind the port, and connections to it are refused. Move-only.
class ReservedPort {
 public:
  // Errors: kUnavailable when no port could be bound in a few hundred tries.
  static Result<ReservedPort> Bind();

  ReservedPort(ReservedPort&& other) noexcept;
  ReservedPort& operator=(ReservedPort&& other) noexcept;
  ~ReservedPort();  // Close().

  uint16_t port() const { return port_; }
  int fd() const { return fd_; }  // -1 once closed.
  void Close();
  // Hands the socket to the caller, who must close it (or give it to a server that adopts it:
  // net::ListenAddress::inherited_fd). The port stays held.
  int Release() { return std::exchange(fd_, -1); }

 private:
  friend class ServerChild;  // Holds a closed one for a port asked for explicitly.
  ReservedPort(int fd, uint16_t port) : fd_(fd), port_(port) {}
  int fd_ = -1;
  uint16_t port_ = 0;
};

// The ports a running dialkv-server bound, as its --ports-file reports them.
struct ServerPorts {
  uint16_t client = 0;
  uint16_t peer = 0;
  uint16_t http = 0;
  uint16_t resp = 0;  // The Redis-protocol port; 0 in a ports file without one (port off).
};

// Reads a --ports-file. Errors: kNotFound when there is no file (yet); kCorruption when it
// does not hold the three addresses.
Result<ServerPorts> ReadPortsFile(const std::filesystem::path& path);

class ServerChild {
 public:
  struct Options {
    std::string server_path;  // The dialkv-server binary.
    // Every flag but --listen, --peer-listen, --http-listen, --resp-listen and --ports-file,
    // which the child adds.
    std::vector<std::string> args;
    std::filesystem::path log_path;    // stdout and stderr, appended.
    std::filesystem::path ports_file;  // Given as --ports-file.
    // Ports to ask for explicitly (for a test of a port in use); 0: reserve one.
    ServerPorts fixed;
    std::chrono::milliseconds ready_timeout{20'000};
  };

  // Reserves the ports not fixed; starts nothing. Errors: kUnavailable from ReservedPort.
  static Result<std::unique_ptr<ServerChild>> Reserve(Options options);

  ~ServerChild() = default;  // ~ChildProcess kills a child still running.
  ServerChild(const ServerChild&) = delete;
  ServerChild& operator=(const ServerChild&) = delete;

  // Known from Reserve() on.
  const ServerPorts& ports() const { return ports_; }
  // Replaces Options::args for the next start (a cluster knows every peer port only once every
  // node is reserved).
  void set_args(std::vector<std::string> args) { options_.args = std::move(args); }

  // Starts the server and waits until it wrote its ports file. A no-op while it runs.
  // Errors: kUnavailable when it exited first or did not become ready within the timeout (the
  // message has the exit and the end of its log), or when a port stayed in use by another
  // process on a restart (the message names it); kIOError, kInternal from ChildProcess.
  Status Start();

  // Starts the server and waits for it to exit by itself within `timeout` (for start-up
  // failures). Returns its exit code; kInternal when it was killed by a signal or kept
  // running (then it is killed).
  Result<int> RunToExit(std::chrono::milliseconds timeout);

  ChildProcess& process() { return *process_; }
  const ChildProcess& process() const { return *process_; }

 private:
  explicit ServerChild(Options options);
  // The argv for this start: inherited sockets while reservations are held, else the ports.
  std::vector<std::string> Argv() const;
  std::vector<int> InheritedFds() const;
  // Spawns once and waits. Sets *port_in_use when the server exited because a port was taken.
  Status StartOnce(bool* port_in_use);

  Options options_;
  ServerPorts ports_;
  std::vector<ReservedPort> reserved_;  // client, peer, http, resp (fd -1 when fixed); until up.
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace dialkv::jepsen
