#include "jepsen-like/harness/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace dialkv::jepsen {
namespace {

constexpr size_t kMaxInheritedFds = 16;

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path)
    : argv_(std::move(argv)), log_path_(std::move(log_path)) {}

ChildProcess::~ChildProcess() { Kill(); }

Status ChildProcess::Start(const std::vector<int>& inherited_fds) {
  if (pid_ > 0) return Status::Internal("process " + std::to_string(pid_) + " still runs");
  if (inherited_fds.size() > kMaxInheritedFds) {
    return Status::Internal("at most " + std::to_string(kMaxInheritedFds) + " inherited fds");
  }
  std::vector<char*> argv;
  for (std::string& a : argv_) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::IOError("cannot open " + log_path_.string());
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Status::Internal(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(126);  // The harness died before prctl took effect.
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Out of the way first (close-on-exec copies), so that placing one at 3 + i cannot
    // overwrite another still to be placed; dup2 clears close-on-exec on the placed copy.
    int aside[kMaxInheritedFds];
    for (size_t i = 0; i < inherited_fds.size(); ++i) {
      aside[i] = ::fcntl(inherited_fds[i], F_DUPFD_CLOEXEC, static_cast<int>(3 + kMaxInheritedFds));
      if (aside[i] < 0) _exit(125);
    }
    for (size_t i = 0; i < inherited_fds.size(); ++i) {
      if (::dup2(aside[i], 3 + static_cast<int>(i)) < 0) _exit(125);
    }
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  paused_ = false;
  exit_code_.reset();
  return Status::Ok();
}

std::string ChildProcess::Exited() {
  if (pid_ <= 0) return "";
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return "";
  return Reaped(status);
}

std::string ChildProcess::Reaped(int status) {
  pid_ = -1;
  paused_ = false;
  exit_code_.reset();
  if (WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
  return DescribeStatus(status);
}

void ChildProcess::Kill() { SignalAndReap(SIGKILL, std::chrono::seconds(10)); }

void ChildProcess::Pause() {
  if (pid_ <= 0 || paused_) return;
  ::kill(pid_, SIGSTOP);
  paused_ = true;
}

void ChildProcess::Resume() {
  if (pid_ <= 0 || !paused_) return;
  ::kill(pid_, SIGCONT);
  paused_ = false;
}

std::string ChildProcess::Terminate(std::chrono::milliseconds grace) {
  return SignalAndReap(SIGTERM, grace);
}

std::string ChildProcess::SignalAndReap(int signal, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return "";
  if (paused_ && signal != SIGKILL) ::kill(pid_, SIGCONT);  // A stopped process handles none.
  ::kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // Polling, with a deadline.
  }
  return Reaped(status);
}

std::string ChildProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  const std::string log = text.str();
  return log.size() <= max_bytes ? log : "..." + log.substr(log.size() - max_bytes);
}

}  // namespace dialkv::jepsen
