#include "tests/testutil/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace dialkv::testutil {
namespace {

using Clock = std::chrono::steady_clock;

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool Accepts(uint16_t port) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

std::string Tail(const std::string& text, size_t max_bytes) {
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

}  // namespace

namespace {

// The kernel's ephemeral range, from which it picks the source port of every outgoing
// connection. A port from inside it can be taken by any client socket on the machine while a
// test node is down, and the node then cannot bind it again on restart.
std::pair<int, int> EphemeralRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 32768;
  int hi = 60999;
  if (!(in >> lo >> hi) || lo < 1 || hi < lo || hi > 65535) return {32768, 60999};
  return {lo, hi};
}

bool CanBind(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // As the server binds.
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

uint16_t FreePort() {
  // Ports below the ephemeral range (or above it, if it starts low), chosen at random so
  // test binaries running side by side rarely try the same one; each is checked by binding.
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  static std::mutex mu;
  const auto [eph_lo, eph_hi] = EphemeralRange();
  int lo = 10000;
  int hi = eph_lo - 1;
  if (hi - lo < 1000) {
    lo = eph_hi + 1;
    hi = 65535;
  }
  if (hi - lo < 1000) return 0;
  std::lock_guard lock(mu);
  std::uniform_int_distribution<int> pick(lo, hi);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(rng));
    if (CanBind(port)) return port;
  }
  return 0;
}

std::string ServerBinary() { return DIALKV_SERVER_PATH; }

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(Options options) {
  if (options.client_port == 0) options.client_port = FreePort();
  if (options.http_port == 0) options.http_port = FreePort();
  if (options.peer_port == 0) options.peer_port = FreePort();
  std::unique_ptr<ServerProcess> p(new ServerProcess(std::move(options)));
  Status s = p->Launch();
  if (!s.ok()) return s;
  return p;
}

Status ServerProcess::Launch() {
  Status spawned = Spawn();
  if (!spawned.ok()) return spawned;
  const auto deadline = Clock::now() + options_.ready_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Unavailable("dialkv-server " + DescribeExit(status) +
                                 " before it was ready; log:\n" + Tail(ReadLog(), 2000));
    }
    // The node binds its HTTP port last: once both ports accept, every port is bound and
    // the node will not exit for a port in use.
    if (Accepts(options_.client_port) && Accepts(options_.http_port)) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // Polling, with a deadline.
  }
  Kill();
  return Status::Unavailable("dialkv-server was not ready within " +
                             std::to_string(options_.ready_timeout.count()) + " ms; log:\n" +
                             Tail(ReadLog(), 2000));
}

Status ServerProcess::Spawn() {
  std::vector<std::string> args = {
      ServerBinary(),
      "--node-id=" + std::to_string(options_.node_id),
      "--cluster-name=" + options_.cluster_name,
      "--listen=127.0.0.1:" + std::to_string(options_.client_port),
      "--http-listen=127.0.0.1:" + std::to_string(options_.http_port),
      "--peer-listen=127.0.0.1:" + std::to_string(options_.peer_port),
      "--data-dir=" + options_.data_dir,
      "--threads=2",
  };
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const int log_fd =
      ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::IOError("cannot open log " + options_.log_path);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Status::Internal(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  return Status::Ok();
}

Result<int> ServerProcess::RunExpectingExit(const Options& options, std::string* output,
                                            std::chrono::milliseconds timeout) {
  Options o = options;
  if (o.client_port == 0) o.client_port = FreePort();
  if (o.http_port == 0) o.http_port = FreePort();
  if (o.peer_port == 0) o.peer_port = FreePort();
  std::unique_ptr<ServerProcess> p(new ServerProcess(std::move(o)));
  Status s = p->Spawn();
  if (!s.ok()) return s;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(p->pid_, &status, WNOHANG) == p->pid_) {
      p->pid_ = -1;
      *output = p->ReadLog();
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return Status::Internal("dialkv-server " + DescribeExit(status) + "; log:\n" +
                              Tail(*output, 2000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // Polling, with a deadline.
  }
  p->Kill();
  *output = p->ReadLog();
  return Status::Internal("dialkv-server kept running instead of exiting; log:\n" +
                          Tail(*output, 2000));
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
}

int ServerProcess::WaitForExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

int ServerProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  return WaitForExit(timeout);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Status ServerProcess::Restart() {
  if (pid_ > 0) return Status::Internal("Restart() while the process still runs");
  return Launch();
}

std::string ServerProcess::client_address() const {
  return "127.0.0.1:" + std::to_string(options_.client_port);
}

std::string ServerProcess::ReadLog() const {
  std::ifstream in(options_.log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> HttpGet(uint16_t port, const std::string& path) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return Status::Unavailable("cannot connect to HTTP port " + std::to_string(port));
  timeval tv{5, 0};  // Bounds every recv below.
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return Status::Unavailable("send failed");
  }
  std::string response;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t body_at = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.1 200", 0) != 0 || body_at == std::string::npos) {
    return Status::Internal("unexpected HTTP response: " + response.substr(0, 200));
  }
  return response.substr(body_at + 4);
}

}  // namespace dialkv::testutil
