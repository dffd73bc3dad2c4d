#include "tests/testutil/server_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <fstream>
#include <sstream>

#include "server/net/frame.h"
#include "tests/testutil/eventually.h"

namespace dialkv::testutil {
namespace {

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

}  // namespace

std::string ServerBinary() { return DIALKV_SERVER_PATH; }

Result<jepsen::ServerPorts> AwaitPortsFile(const jepsen::ChildProcess& server,
                                           const std::filesystem::path& ports_file) {
  Result<jepsen::ServerPorts> ports = Status::NotFound("not read yet");
  const bool done = Eventually(
      [&] {
        ports = jepsen::ReadPortsFile(ports_file);
        return ports.ok() || !server.running();
      },
      std::chrono::milliseconds(20000));
  if (!ports.ok() && done) {
    return Status::Unavailable("the server exited before writing " + ports_file.string());
  }
  return ports;
}

std::vector<std::string> ServerProcess::Args(const Options& options) {
  std::vector<std::string> args = {
      "--node-id=" + std::to_string(options.node_id),
      "--cluster-name=" + options.cluster_name,
      "--data-dir=" + options.data_dir,
      "--threads=2",
  };
  // Tests write little: a machine with less than the default watermark free (256 MiB) still
  // runs them, unless a test sets its own.
  bool watermark_given = false;
  for (const std::string& arg : options.extra_args) {
    watermark_given = watermark_given || arg.starts_with("--min-free-disk-bytes");
  }
  if (!watermark_given) args.push_back("--min-free-disk-bytes=16777216");
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  return args;
}

Result<std::unique_ptr<jepsen::ServerChild>> ServerProcess::ReserveChild(const Options& options) {
  jepsen::ServerChild::Options child;
  child.server_path = ServerBinary();
  child.args = Args(options);
  child.log_path = options.log_path;
  child.ports_file = options.log_path + ".ports.json";
  child.fixed = {options.client_port, options.peer_port, options.http_port, options.resp_port};
  child.ready_timeout = options.ready_timeout;
  return jepsen::ServerChild::Reserve(std::move(child));
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Reserve(Options options) {
  Result<std::unique_ptr<jepsen::ServerChild>> child = ReserveChild(options);
  if (!child.ok()) return child.status();
  return std::unique_ptr<ServerProcess>(
      new ServerProcess(std::move(options), std::move(child).value()));
}

Result<std::unique_ptr<ServerProcess>> ServerProcess::Start(Options options) {
  Result<std::unique_ptr<ServerProcess>> p = Reserve(std::move(options));
  if (!p.ok()) return p.status();
  DIALKV_RETURN_IF_ERROR((*p)->Restart());
  return p;
}

Result<int> ServerProcess::RunExpectingExit(const Options& options, std::string* output,
                                            std::chrono::milliseconds timeout) {
  Result<std::unique_ptr<jepsen::ServerChild>> child = ReserveChild(options);
  if (!child.ok()) return child.status();
  Result<int> code = (*child)->RunToExit(timeout);
  *output = (*child)->process().LogTail(1 << 20);
  return code;
}

int ServerProcess::Stop(std::chrono::milliseconds timeout) {
  if (!running()) return -1;
  child_->process().Terminate(timeout);
  return child_->process().exit_code().value_or(-1);
}

void ServerProcess::Kill() { child_->process().Kill(); }

Status ServerProcess::Restart() { return child_->Start(); }

void ServerProcess::set_extra_args(std::vector<std::string> args) {
  options_.extra_args = std::move(args);
  child_->set_args(Args(options_));
}

std::string ServerProcess::client_address() const {
  return "127.0.0.1:" + std::to_string(client_port());
}

std::string ServerProcess::ReadLog() const {
  std::ifstream in(options_.log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

v1::Envelope ExchangeOneFrame(uint16_t port, const std::string& bytes) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(bytes));
  unsigned char header[net::kFrameHeaderBytes];
  asio::read(socket, asio::buffer(header));
  std::string body(net::DecodeFrameLength(header), '\0');
  asio::read(socket, asio::buffer(body));
  v1::Envelope reply;
  reply.ParseFromString(body);
  return reply;
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

Result<double> MetricValue(uint16_t http_port, std::string_view series) {
  Result<std::string> metrics = HttpGet(http_port, "/metrics");
  if (!metrics.ok()) return metrics.status();
  const std::string needle = "\n" + std::string(series) + " ";
  const size_t at = metrics->find(needle);
  if (at == std::string::npos) {
    return Status::NotFound("no series " + std::string(series) + " in /metrics");
  }
  return std::stod(metrics->substr(at + needle.size()));
}

uint64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // In kB.
  }
  return 0;
}

}  // namespace dialkv::testutil
