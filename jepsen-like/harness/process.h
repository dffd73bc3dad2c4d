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
#include <optional>
#include <string>
#include <vector>

#include "dialkv/status.h"

namespace dialkv::jepsen {

class ChildProcess {
 public:
  // argv[0] is the program's path; stdout and stderr are appended to `log_path`.
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path);
  ~ChildProcess();  // Kills the process (SIGKILL) if it runs.
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Forks and execs. The child gets inherited_fds[i] as its descriptor 3 + i (the caller keeps
  // its own and may close them once Start returned); no other descriptor of ours leaks.
  // Errors: kInternal when it already runs or fork fails; kIOError when the log cannot be
  // opened. An exec failure shows as an exit with code 127 (see Exited).
  Status Start(const std::vector<int>& inherited_fds = {});
  // The argv of the next Start (argv[0] the program's path).
  void set_argv(std::vector<std::string> argv) { argv_ = std::move(argv); }

  // The exit description ("exited with code 1", "killed by signal 9") when the process ended,
  // reaping it; empty while it runs or was never started.
  std::string Exited();

  void Kill();    // SIGKILL (resuming it first if paused) and reap. No-op when not running.
  void Pause();   // SIGSTOP, unless paused already.
  void Resume();  // SIGCONT, when paused.
  // SIGTERM, then SIGKILL after `grace`; reaps. Returns how it ended ("" when not running).
  std::string Terminate(std::chrono::milliseconds grace);

  bool running() const { return pid_ > 0; }
  // The exit code of the last run when it exited by itself (not by a signal).
  std::optional<int> exit_code() const { return exit_code_; }
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
  // Records how the reaped process ended and returns its description.
  std::string Reaped(int status);

  pid_t pid_ = -1;
  bool paused_ = false;
  std::optional<int> exit_code_;
};

}  // namespace dialkv::jepsen
