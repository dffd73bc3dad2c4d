#pragma once
// Runs a real dialkv-server process for integration tests: on 127.0.0.1, on ports reserved for
// it and never released before it holds them (jepsen-like/harness/server_child.h), with its
// log in a file. The destructor kills the process (by its pid) if it still runs.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jepsen-like/harness/process.h"
#include "jepsen-like/harness/server_child.h"
#include "proto/dialkv.pb.h"
#include "server/common/status.h"

namespace dialkv::testutil {

// The dialkv-server binary this test was built with.
std::string ServerBinary();

// The ports `server` (started with --ports-file=`ports_file`) listens on, once it has written
// them; within 20 s. Errors: the file's, or kUnavailable when the server exited first.
Result<jepsen::ServerPorts> AwaitPortsFile(const jepsen::ChildProcess& server,
                                           const std::filesystem::path& ports_file);

class ServerProcess {
 public:
  struct Options {
    uint32_t node_id = 1;
    std::string cluster_name = "test";
    std::string data_dir;      // Required.
    std::string log_path;      // Required: the process's stdout and stderr.
    uint16_t client_port = 0;  // 0: reserve a port; else ask for this one.
    uint16_t http_port = 0;    // 0: reserve a port; else ask for this one.
    uint16_t peer_port = 0;    // 0: reserve a port; else ask for this one.
    uint16_t resp_port = 0;    // 0: reserve a port; else ask for this one.
    std::vector<std::string> extra_args;
    std::chrono::milliseconds ready_timeout{20000};
  };

  // Reserves the ports now and starts nothing: for a cluster, whose --peers must name every
  // peer port before any node starts. set_extra_args, then Restart() starts it.
  static Result<std::unique_ptr<ServerProcess>> Reserve(Options options);

  // Starts the server and waits until it listens on every port (its ports file is written).
  // Errors: kUnavailable if it exited or did not become ready in time; the message carries
  // the exit status and the end of its log.
  static Result<std::unique_ptr<ServerProcess>> Start(Options options);

  // Starts the server with `options` and waits for it to exit by itself (for start-up
  // failures). Returns the exit code; `output` gets its log. Kills it after `timeout`.
  static Result<int> RunExpectingExit(const Options& options, std::string* output,
                                      std::chrono::milliseconds timeout);

  ~ServerProcess() = default;  // Kills the process if it still runs.
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // SIGTERM, then waits for exit (SIGKILL after `timeout`). Returns the exit code, or -1 when
  // it ended by a signal or was not running.
  int Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // SIGKILL and reap: a crash.
  void Kill();
  // Starts the process (again) with the same options on the same ports. A port that another
  // process took meanwhile is retried until the ready timeout; the error names it.
  Status Restart();
  void set_extra_args(std::vector<std::string> args);
  bool running() const { return child_->process().running(); }
  pid_t pid() const { return child_->process().pid(); }

  std::string client_address() const;  // "127.0.0.1:PORT"
  uint16_t client_port() const { return child_->ports().client; }
  uint16_t http_port() const { return child_->ports().http; }
  uint16_t peer_port() const { return child_->ports().peer; }
  uint16_t resp_port() const { return child_->ports().resp; }  // The Redis-protocol port.
  const Options& options() const { return options_; }
  std::string ReadLog() const;

 private:
  ServerProcess(Options options, std::unique_ptr<jepsen::ServerChild> child)
      : options_(std::move(options)), child_(std::move(child)) {}
  static Result<std::unique_ptr<jepsen::ServerChild>> ReserveChild(const Options& options);
  static std::vector<std::string> Args(const Options& options);

  Options options_;
  std::unique_ptr<jepsen::ServerChild> child_;
};

// Sends "GET path" to 127.0.0.1:port and returns the response body (status line checked).
// Errors: kUnavailable if the connection fails, kInternal for a non-200 status.
Result<std::string> HttpGet(uint16_t port, const std::string& path);

// The value of one series ("dialkv_keys_stored", "dialkv_overloaded_total{reason=\"x\"}") in
// the node's /metrics on `http_port`. Errors: as HttpGet; kNotFound if the series is absent.
Result<double> MetricValue(uint16_t http_port, std::string_view series);

// The resident memory of process `pid` (VmRSS of /proc/PID/status), in bytes; 0 if unreadable.
uint64_t ResidentBytes(pid_t pid);

// Sends `bytes` as they are on a new plain connection to 127.0.0.1:port, as an outsider can,
// and returns the one frame that comes back, parsed (an empty envelope if it does not parse).
// Throws asio::system_error if the connection fails or closes before a whole frame.
v1::Envelope ExchangeOneFrame(uint16_t port, const std::string& bytes);

}  // namespace dialkv::testutil
