#include "jepsen-like/harness/server_child.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "jepsen-like/check/json_fields.h"

namespace dialkv::jepsen {
namespace {

using SteadyClock = std::chrono::steady_clock;

// How often a start polls for the ports file, and waits before retrying a port in use.
constexpr auto kPollInterval = std::chrono::milliseconds(20);
constexpr auto kPortRetryInterval = std::chrono::milliseconds(200);

// The kernel's ephemeral range, from which it picks the source port of every outgoing
// connection and every bind to port 0.
std::pair<int, int> EphemeralRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int lo = 32768;
  int hi = 60999;
  if (!(in >> lo >> hi) || lo < 1 || hi < lo || hi > 65535) return {32768, 60999};
  return {lo, hi};
}

std::string Address(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

Result<uint16_t> PortOf(const nlohmann::json& object, std::string_view name) {
  Result<std::string> address = internal::GetString(object, name);
  if (!address.ok()) return address.status();
  const size_t colon = address->rfind(':');
  int port = 0;
  if (colon != std::string::npos) port = std::atoi(address->c_str() + colon + 1);
  if (port < 1 || port > 65535) {
    return Status::Corruption("field \"" + std::string(name) + "\" is not HOST:PORT: " + *address);
  }
  return static_cast<uint16_t>(port);
}

}  // namespace

Result<ReservedPort> ReservedPort::Bind() {
  // Below the ephemeral range when there is room for it, else above it; at random, so that
  // test binaries running side by side rarely try the same port (the bind decides anyway).
  const auto [eph_lo, eph_hi] = EphemeralRange();
  const bool below = eph_lo - 1 - 10000 >= 1000;
  const int lo = below ? 10000 : eph_hi + 1;
  const int hi = below ? eph_lo - 1 : 65535;
  if (hi - lo < 1000) return Status::Unavailable("no port range outside the ephemeral range");
  thread_local std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> pick(lo, hi);
  for (int attempt = 0; attempt < 300; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::Unavailable("cannot create a socket to reserve a port");
    // No SO_REUSEADDR: Linux lets a second SO_REUSEADDR socket bind a port whose holders all
    // have it and none listens, which would make this reservation no reservation at all.
    const auto port = static_cast<uint16_t>(pick(rng));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return ReservedPort(fd, port);
    }
    ::close(fd);
  }
  return Status::Unavailable("no free port on 127.0.0.1 in 300 tries");
}

ReservedPort::ReservedPort(ReservedPort&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}

ReservedPort& ReservedPort::operator=(ReservedPort&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

ReservedPort::~ReservedPort() { Close(); }

void ReservedPort::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<ServerPorts> ReadPortsFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no ports file " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  Result<nlohmann::json> json = internal::ParseJson(text.str());
  if (!json.ok()) return json.status();
  if (!json->is_object()) return Status::Corruption(path.string() + " is not a JSON object");
  ServerPorts ports;
  for (auto [field, port] : {std::pair{"client", &ports.client}, std::pair{"peer", &ports.peer},
                             std::pair{"http", &ports.http}}) {
    Result<uint16_t> value = PortOf(*json, field);
    if (!value.ok()) return Status::Corruption(path.string() + ": " + value.status().message());
    *port = *value;
  }
  if (json->contains("resp")) {
    Result<uint16_t> value = PortOf(*json, "resp");
    if (!value.ok()) return Status::Corruption(path.string() + ": " + value.status().message());
    ports.resp = *value;
  }
  return ports;
}

ServerChild::ServerChild(Options options) : options_(std::move(options)) {
  process_ = std::make_unique<ChildProcess>(std::vector<std::string>{}, options_.log_path);
}

Result<std::unique_ptr<ServerChild>> ServerChild::Reserve(Options options) {
  std::unique_ptr<ServerChild> child(new ServerChild(std::move(options)));
  const ServerPorts& fixed = child->options_.fixed;
  for (auto [want, port] :
       {std::pair{fixed.client, &child->ports_.client}, std::pair{fixed.peer, &child->ports_.peer},
        std::pair{fixed.http, &child->ports_.http}, std::pair{fixed.resp, &child->ports_.resp}}) {
    if (want != 0) {
      *port = want;
      child->reserved_.emplace_back(ReservedPort(-1, want));
      continue;
    }
    Result<ReservedPort> reserved = ReservedPort::Bind();
    if (!reserved.ok()) return reserved.status();
    *port = reserved->port();
    child->reserved_.push_back(std::move(reserved).value());
  }
  return child;
}

std::vector<std::string> ServerChild::Argv() const {
  std::vector<std::string> argv = {options_.server_path};
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  const char* flags[] = {"--listen=", "--peer-listen=", "--http-listen=", "--resp-listen="};
  const uint16_t ports[] = {ports_.client, ports_.peer, ports_.http, ports_.resp};
  int next_fd = 3;  // As ChildProcess::Start places InheritedFds().
  for (size_t i = 0; i < 4; ++i) {
    const bool inherited = i < reserved_.size() && reserved_[i].fd() >= 0;
    argv.push_back(flags[i] + (inherited ? "fd@" + std::to_string(next_fd++) : Address(ports[i])));
  }
  argv.push_back("--ports-file=" + options_.ports_file.string());
  return argv;
}

std::vector<int> ServerChild::InheritedFds() const {
  std::vector<int> fds;
  for (const ReservedPort& reserved : reserved_) {
    if (reserved.fd() >= 0) fds.push_back(reserved.fd());
  }
  return fds;
}

Status ServerChild::Start() {
  if (process_->running()) return Status::Ok();
  const auto deadline = SteadyClock::now() + options_.ready_timeout;
  while (true) {
    bool port_in_use = false;
    Status started = StartOnce(&port_in_use);
    if (!port_in_use || SteadyClock::now() + kPortRetryInterval >= deadline) return started;
    // Only a restart asks for ports explicitly, and another process may hold one of them for
    // a while (an outgoing connection's source port, another test's server): wait and retry.
    std::this_thread::sleep_for(kPortRetryInterval);
  }
}

Status ServerChild::StartOnce(bool* port_in_use) {
  std::error_code ec;
  std::filesystem::remove(options_.ports_file, ec);  // A stale file from a killed run.
  process_->set_argv(Argv());
  if (Status s = process_->Start(InheritedFds()); !s.ok()) return s;
  const auto deadline = SteadyClock::now() + options_.ready_timeout;
  while (SteadyClock::now() < deadline) {
    const std::string exited = process_->Exited();
    if (!exited.empty()) {
      const std::string log = process_->LogTail(2000);
      *port_in_use = log.find("Address already in use") != std::string::npos;
      return Status::Unavailable(
          "dialkv-server " + exited + " before it was ready" +
          (*port_in_use ? " (one of ports " + Address(ports_.client) + ", " + Address(ports_.peer) +
                              ", " + Address(ports_.http) + ", " + Address(ports_.resp) +
                              " is held by another process)"
                        : std::string()) +
          "; its log ends:\n" + log);
    }
    Result<ServerPorts> bound = ReadPortsFile(options_.ports_file);
    if (bound.ok()) {
      // The node holds its own copies of the reserved sockets now.
      for (ReservedPort& reserved : reserved_) reserved.Close();
      return Status::Ok();
    }
    std::this_thread::sleep_for(kPollInterval);  // Polling, with a deadline.
  }
  process_->Kill();
  return Status::Unavailable("dialkv-server was not ready within " +
                             std::to_string(options_.ready_timeout.count()) +
                             " ms; its log ends:\n" + process_->LogTail(2000));
}

Result<int> ServerChild::RunToExit(std::chrono::milliseconds timeout) {
  std::error_code ec;
  std::filesystem::remove(options_.ports_file, ec);
  process_->set_argv(Argv());
  if (Status s = process_->Start(InheritedFds()); !s.ok()) return s;
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (const std::string exited = process_->Exited(); !exited.empty()) {
      if (process_->exit_code().has_value()) return *process_->exit_code();
      return Status::Internal("dialkv-server " + exited + "; its log ends:\n" +
                              process_->LogTail(2000));
    }
    std::this_thread::sleep_for(kPollInterval);  // Polling, with a deadline.
  }
  process_->Kill();
  return Status::Internal("dialkv-server kept running instead of exiting; its log ends:\n" +
                          process_->LogTail(2000));
}

}  // namespace dialkv::jepsen
