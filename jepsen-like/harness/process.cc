#include "jepsen-like/harness/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace dialkv::jepsen {
namespace {

// Binds (bind_it) or connects a TCP socket to 127.0.0.1:port and closes it again. Returns
// whether the bind or connect succeeded.
bool TryLoopback(uint16_t port, bool bind_it) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (bind_it) {
    const int one = 1;  // The server binds with SO_REUSEADDR too.
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  } else {
    ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ::close(fd);
  return ok;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

}  // namespace

Result<uint16_t> PickFreePort() {
  int eph_lo = 32768;
  int eph_hi = 60999;
  {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    if (!(range >> eph_lo >> eph_hi) || eph_lo < 1 || eph_hi > 65535 || eph_lo > eph_hi) {
      eph_lo = 32768;
      eph_hi = 60999;
    }
  }
  // Below the ephemeral range when there is room for it, else above it.
  const bool below = eph_lo - 1 - 10000 >= 1000;
  const int lo = below ? 10000 : eph_hi + 1;
  const int hi = below ? eph_lo - 1 : 65535;
  if (hi - lo < 1000) return Status::Unavailable("no port range outside the ephemeral range");
  thread_local std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> pick(lo, hi);
  for (int attempt = 0; attempt < 300; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(rng));
    if (TryLoopback(port, /*bind_it=*/true)) return port;
  }
  return Status::Unavailable("no free port on 127.0.0.1 in 300 tries");
}

bool PortAccepts(uint16_t port) { return TryLoopback(port, /*bind_it=*/false); }

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path)
    : argv_(std::move(argv)), log_path_(std::move(log_path)) {}

ChildProcess::~ChildProcess() { Kill(); }

Status ChildProcess::Start() {
  if (pid_ > 0) return Status::Internal("process " + std::to_string(pid_) + " still runs");
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
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  paused_ = false;
  return Status::Ok();
}

std::string ChildProcess::Exited() {
  if (pid_ <= 0) return "";
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return "";
  pid_ = -1;
  paused_ = false;
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
  pid_ = -1;
  paused_ = false;
  return DescribeStatus(status);
}

std::string ChildProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  const std::string log = text.str();
  return log.size() <= max_bytes ? log : "..." + log.substr(log.size() - max_bytes);
}

}  // namespace dialkv::jepsen
