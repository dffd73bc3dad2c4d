#pragma once
// One child process of the harness (a dialkv-server), controlled by its pid: start, kill -9,
// SIGSTOP/SIGCONT, SIGTERM. The harness never signals a process it did not start.
//
// Children are started with PR_SET_PDEATHSIG = SIGKILL, so they die with the thread that
// started them even if the harness itself is killed: call Start from a thread that lives as
// long as the children should (the harness's main thread).
// Thread-compatible.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dialkv/status.h"

namespace dialkv::jepsen {

// A TCP port on 127.0.0.1 that could be bound a moment ago, chosen at random outside the
// kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), so no outgoing connection
// takes it while a killed node waits to restart on it.
// Errors: kUnavailable when no free port was found in a few hundred tries.
Result<uint16_t> PickFreePort();

// Whether something accepts TCP connections on 127.0.0.1:port.
bool PortAccepts(uint16_t port);

class ChildProcess {
 public:
  // argv[0] is the program's path; stdout and stderr are appended to `log_path`.
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path);
  ~ChildProcess();  // Kills the process (SIGKILL) if it runs.
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Forks and execs. Errors: kInternal when it already runs or fork fails; kIOError when the
  // log cannot be opened. An exec failure shows as an exit with code 127 (see Exited).
  Status Start();

  // The exit description ("exited with code 1", "killed by signal 9") when the process ended,
  // reaping it; empty while it runs or was never started.
  std::string Exited();

  void Kill();    // SIGKILL (resuming it first if paused) and reap. No-op when not running.
  void Pause();   // SIGSTOP, unless paused already.
  void Resume();  // SIGCONT, when paused.
  // SIGTERM, then SIGKILL after `grace`; reaps. Returns how it ended ("" when not running).
  std::string Terminate(std::chrono::milliseconds grace);

  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  // The last `max_bytes` of the log, for error messages.
  std::string LogTail(size_t max_bytes) const;

 private:
  // Sends `signal`, waits up to `grace` for the exit (then SIGKILL), reaps. "" if not running.
  std::string SignalAndReap(int signal, std::chrono::milliseconds grace);

  std::vector<std::string> argv_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace dialkv::jepsen
