#pragma once
// Runs a real dialkv-server process for integration tests: on 127.0.0.1, on free ports, with
// its log in a file. The destructor kills the process (by its pid) if it still runs.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/common/status.h"

namespace dialkv::testutil {

// A TCP port on 127.0.0.1 that was free a moment ago, outside the kernel's ephemeral range so
// no outgoing connection takes it while a stopped test node waits to restart on it.
uint16_t FreePort();

// The dialkv-server binary this test was built with.
std::string ServerBinary();

class ServerProcess {
 public:
  struct Options {
    uint32_t node_id = 1;
    std::string cluster_name = "test";
    std::string data_dir;      // Required.
    std::string log_path;      // Required: the process's stdout and stderr.
    uint16_t client_port = 0;  // 0: pick a free port.
    uint16_t http_port = 0;    // 0: pick a free port.
    uint16_t peer_port = 0;    // 0: pick a free port.
    std::vector<std::string> extra_args;
    std::chrono::milliseconds ready_timeout{20000};
  };

  // Starts the server and waits until its client and HTTP ports accept connections.
  // Errors: kUnavailable if it exited or did not become ready in time; the message carries
  // the exit status and the end of its log.
  static Result<std::unique_ptr<ServerProcess>> Start(Options options);

  // Starts the server with `options` and waits for it to exit by itself (for start-up
  // failures). Returns the exit code; `output` gets its log. Kills it after `timeout`.
  static Result<int> RunExpectingExit(const Options& options, std::string* output,
                                      std::chrono::milliseconds timeout);

  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // SIGTERM, then waits for exit (SIGKILL after `timeout`). Returns the exit code, or -signal.
  int Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // SIGKILL and reap: a crash.
  void Kill();
  // Starts the process again with the same options and ports (after Stop or Kill).
  Status Restart();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  std::string client_address() const;  // "127.0.0.1:PORT"
  uint16_t client_port() const { return options_.client_port; }
  uint16_t http_port() const { return options_.http_port; }
  uint16_t peer_port() const { return options_.peer_port; }
  const Options& options() const { return options_; }
  std::string ReadLog() const;

 private:
  explicit ServerProcess(Options options) : options_(std::move(options)) {}
  Status Spawn();   // fork + exec, no waiting.
  Status Launch();  // Spawn() and wait until the client port accepts connections.
  int WaitForExit(std::chrono::milliseconds timeout);

  Options options_;
  pid_t pid_ = -1;
};

// Sends "GET path" to 127.0.0.1:port and returns the response body (status line checked).
// Errors: kUnavailable if the connection fails, kInternal for a non-200 status.
Result<std::string> HttpGet(uint16_t port, const std::string& path);

}  // namespace dialkv::testutil
