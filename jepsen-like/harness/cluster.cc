#include "jepsen-like/harness/cluster.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "server/auth/pki.h"
#include "server/auth/token.h"
#include "server/common/status.h"

namespace dialkv::jepsen {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Admin requests are small and local; a node that does not answer within this is down or
// paused, and the nemesis tries again later.
constexpr uint32_t kAdminTimeoutMs = 1000;
// The harness's token outlives any run; a held cluster (--hold) needs a new one after a week.
constexpr int64_t kTokenTtlSeconds = 7 * 24 * 3600;

RequestOptions AdminRequest() { return RequestOptions{.timeout_ms = kAdminTimeoutMs}; }

std::string NodeDir(NodeId node) { return "n" + std::to_string(node); }

// A client whose only endpoint is `endpoint`, so that node coordinates every request.
Result<std::unique_ptr<Client>> NodeClient(const std::string& endpoint, uint32_t timeout_ms,
                                           const std::string& token,
                                           const std::string& tls_ca_file) {
  ClientOptions options;
  options.endpoints = {endpoint};
  options.timeout_ms = timeout_ms;
  options.connect_timeout_ms = std::min<uint32_t>(timeout_ms, 500);
  options.token = token;
  options.tls_ca_file = tls_ca_file;
  return Client::Create(options);
}

// Writes a fresh random secret (48 hex digits) readable by its owner only.
Result<std::string> WriteSecret(const std::filesystem::path& file) {
  std::random_device random;
  std::string secret;
  for (int i = 0; i < 48; ++i) secret += "0123456789abcdef"[random() % 16];
  DIALKV_RETURN_IF_ERROR(WritePrivateFile(file, secret + "\n"));
  return secret;
}

}  // namespace

Status WritePrivateFile(const std::filesystem::path& file, const std::string& contents) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return Status::IOError("cannot create " + file.string() + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0;  // The file may have existed with wider permissions.
  for (size_t done = 0; ok && done < contents.size();) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  const int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (!ok) return Status::IOError("cannot write " + file.string() + ": " + std::strerror(saved));
  return Status::Ok();
}

std::vector<std::string> Cluster::HarnessServerFlags() {
  return {"--enable-fault-injection", "--threads=2", "--ae-interval-ms=1000"};
}

Result<std::unique_ptr<Cluster>> Cluster::StartLocal(LocalOptions options,
                                                     uint32_t client_timeout_ms) {
  if (options.nodes < 1) return Status::InvalidArgument("--nodes must be at least 1");
  std::error_code ec;
  if (options.server_path.empty() || !std::filesystem::is_regular_file(options.server_path, ec)) {
    return Status::InvalidArgument("no dialkv-server binary at '" + options.server_path +
                                   "' (--server)");
  }
  std::unique_ptr<Cluster> cluster(new Cluster());
  cluster->replication_factor_ = options.replication_factor;

  // The nodes authenticate each other with a secret made for this cluster, and its clients
  // present a token made with a second one, so every run also exercises the peer handshake
  // and the token checks under its faults (kills and restarts reconnect through both).
  std::filesystem::create_directories(options.dir, ec);
  const std::filesystem::path secret_file = options.dir / "cluster.secret";
  const std::filesystem::path token_secret_file = options.dir / "token.secret";
  if (Result<std::string> written = WriteSecret(secret_file); !written.ok()) {
    return written.status();
  }
  if (options.client_tokens) {
    Result<std::string> token_secret = WriteSecret(token_secret_file);
    if (!token_secret.ok()) return token_secret.status();
    auth::TokenClaims claims;
    claims.subject = "dialkv-jepsen";
    claims.scopes = auth::kScopeRead | auth::kScopeWrite | auth::kScopeAdmin;
    claims.issued_at_s = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    claims.expires_at_s = claims.issued_at_s + kTokenTtlSeconds;
    Result<std::string> token = auth::CreateToken(*token_secret, claims);
    if (!token.ok()) return token.status();
    cluster->token_ = *token;
  }

  std::vector<std::string> tls_flags;
  if (options.tls) {
    // One certificate serves every node: they all listen on 127.0.0.1.
    Result<pki::TlsFiles> files =
        pki::WriteClusterTlsFiles((options.dir / "tls").string(), {"127.0.0.1"});
    if (!files.ok()) return files.status();
    cluster->tls_ca_file_ = files->ca_file;
    tls_flags = {"--tls-cert=" + files->cert_file, "--tls-key=" + files->key_file,
                 "--peer-tls-ca=" + files->ca_file, "--peer-tls-cert=" + files->cert_file,
                 "--peer-tls-key=" + files->key_file};
  }

  // Every node's ports are reserved before any node starts, so --peers can list them all.
  std::map<NodeId, std::unique_ptr<ServerChild>> children;
  std::string peers;
  for (int i = 1; i <= options.nodes; ++i) {
    const auto node = static_cast<NodeId>(i);
    cluster->ids_.push_back(node);
    const std::filesystem::path dir = options.dir / NodeDir(node);
    std::filesystem::create_directories(dir / "data", ec);
    if (ec) {
      return Status::IOError("cannot create " + (dir / "data").string() + ": " + ec.message());
    }
    ServerChild::Options child;
    child.server_path = options.server_path;
    child.log_path = dir / "server.log";
    child.ports_file = dir / "ports.json";
    child.ready_timeout = options.ready_timeout;
    Result<std::unique_ptr<ServerChild>> reserved = ServerChild::Reserve(std::move(child));
    if (!reserved.ok()) return reserved.status();
    peers += (peers.empty() ? "" : ",") + std::to_string(node) +
             "@127.0.0.1:" + std::to_string((*reserved)->ports().peer);
    children[node] = std::move(reserved).value();
  }
  for (NodeId node : cluster->ids_) {
    ServerChild& child = *children[node];
    std::vector<std::string> args = {
        "--node-id=" + std::to_string(node),
        "--cluster-name=jepsen",
        "--peers=" + peers,
        "--data-dir=" + (options.dir / NodeDir(node) / "data").string(),
        "--replication-factor=" + std::to_string(options.replication_factor),
        "--cluster-secret-file=" + secret_file.string(),
    };
    if (options.client_tokens) {
      args.push_back("--auth-token-secret-file=" + token_secret_file.string());
    }
    args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    for (const std::string& flag : HarnessServerFlags()) args.push_back(flag);
    args.insert(args.end(), options.server_args.begin(), options.server_args.end());
    child.set_args(std::move(args));
    const std::string endpoint = "127.0.0.1:" + std::to_string(child.ports().client);
    Result<std::unique_ptr<Client>> client =
        NodeClient(endpoint, client_timeout_ms, cluster->token_, cluster->tls_ca_file_);
    if (!client.ok()) return client.status();
    cluster->clients_[node] = std::move(client.value());
    cluster->endpoints_[node] = endpoint;
  }
  cluster->processes_ = std::move(children);
  for (NodeId node : cluster->ids_) {
    if (Status started = cluster->Restart(node); !started.ok()) return started;
  }
  return cluster;
}

Result<std::unique_ptr<Cluster>> Cluster::Attach(const std::vector<std::string>& endpoints,
                                                 uint32_t client_timeout_ms,
                                                 const std::string& token,
                                                 const std::string& tls_ca_file) {
  if (endpoints.empty()) return Status::InvalidArgument("--endpoints lists no node");
  std::unique_ptr<Cluster> cluster(new Cluster());
  cluster->token_ = token;
  cluster->tls_ca_file_ = tls_ca_file;
  for (const std::string& endpoint : endpoints) {
    Result<std::unique_ptr<Client>> made =
        NodeClient(endpoint, client_timeout_ms, token, tls_ca_file);
    if (!made.ok()) return made.status();
    std::unique_ptr<Client> client = std::move(made.value());
    Result<FaultState> state = client->GetFaults(AdminRequest());  // Which node is it?
    if (!state.ok()) {
      if (state.status().code() == Code::kPermissionDenied) {
        return Status::PermissionDenied("the node at " + endpoint +
                                        " refuses fault injection; start every node with "
                                        "--enable-fault-injection");
      }
      return Status::Unavailable("the node at " + endpoint +
                                 " did not answer: " + state.status().ToString());
    }
    const NodeId node = state->node_id;
    if (cluster->clients_.count(node) != 0) {
      return Status::InvalidArgument(endpoint + " and " + cluster->endpoints_[node] +
                                     " are the same node " + std::to_string(node));
    }
    cluster->ids_.push_back(node);
    cluster->clients_[node] = std::move(client);
    cluster->endpoints_[node] = endpoint;
  }
  std::sort(cluster->ids_.begin(), cluster->ids_.end());
  Result<ClusterStatus> status = cluster->clients_.begin()->second->ClusterStatus(AdminRequest());
  if (!status.ok()) return status.status();
  cluster->replication_factor_ = status->replication_factor;
  std::string missing;
  for (const NodeInfo& member : status->nodes) {
    if (cluster->clients_.count(member.node_id) == 0) {
      missing += (missing.empty() ? "" : ", ") + std::to_string(member.node_id) + " (" +
                 member.peer_address + ")";
    }
  }
  if (!missing.empty()) {
    return Status::InvalidArgument("--endpoints must list every node; missing node " + missing);
  }
  return cluster;
}

Cluster::~Cluster() { Stop(); }

std::filesystem::path Cluster::log_path(NodeId node) const {
  auto it = processes_.find(node);
  return it == processes_.end() ? std::filesystem::path() : it->second->process().log_path();
}

Status Cluster::WaitSettled(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::set<NodeId> up;
  for (NodeId node : ids_) {
    auto it = processes_.find(node);
    if (it == processes_.end() ||
        (it->second->process().running() && !it->second->process().paused())) {
      up.insert(node);
    }
  }
  std::string last;
  for (NodeId node : up) {
    while (true) {
      Result<ClusterStatus> status = clients_.at(node)->ClusterStatus(AdminRequest());
      size_t alive = 0;
      if (status.ok()) {
        last.clear();
        for (const NodeInfo& info : status->nodes) {
          if (info.node_id != node && up.count(info.node_id) != 0 && info.state == "alive") {
            ++alive;
          }
          last += " " + std::to_string(info.node_id) + "=" + info.state;
        }
      } else {
        last = " " + status.status().ToString();
      }
      if (alive + 1 == up.size()) break;
      if (SteadyClock::now() >= deadline) {
        return Status::Timeout("node " + std::to_string(node) +
                               " did not see every node alive:" + last);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // Polling, with a deadline.
    }
  }
  return Status::Ok();
}

void Cluster::Kill(NodeId node) { processes_.at(node)->process().Kill(); }

void Cluster::Pause(NodeId node) { processes_.at(node)->process().Pause(); }

void Cluster::Resume(NodeId node) { processes_.at(node)->process().Resume(); }

Status Cluster::Restart(NodeId node) {
  if (Status started = processes_.at(node)->Start(); !started.ok()) {
    return Status::Unavailable("node " + std::to_string(node) + ": " + started.message());
  }
  return Status::Ok();
}

std::string Cluster::CrashedNodes() {
  std::string crashed;
  for (auto& [node, child] : processes_) {
    const std::string exited = child->process().Exited();
    if (!exited.empty()) {
      crashed += (crashed.empty() ? "" : "; ") + std::string("node ") + std::to_string(node) + " " +
                 exited + " (log " + child->process().log_path().string() + ")";
    }
  }
  return crashed;
}

Status Cluster::ApplyFaults(NodeId node, const NodeFaults& faults, std::optional<uint64_t> seed) {
  std::vector<LinkFaultsPatch> patches;
  for (const LinkFaults& link : faults.links) {
    patches.push_back(LinkFaultsPatch{.peer = link.peer,
                                      .drop_out = link.drop_out,
                                      .drop_in = link.drop_in,
                                      .block_out = link.block_out,
                                      .block_in = link.block_in,
                                      .delay_ms = link.delay_ms,
                                      .jitter_ms = link.jitter_ms});
  }
  Client& c = client(node);
  Result<FaultState> links = c.SetFaults(patches, seed, AdminRequest());
  if (!links.ok()) return links.status();
  if (links->clock_offset_ms != faults.clock_offset_ms) {
    DIALKV_RETURN_IF_ERROR(c.SetClockOffset(faults.clock_offset_ms, AdminRequest()).status());
  }
  if (links->disk == faults.disk) return Status::Ok();
  return c.SetDiskFault(faults.disk, AdminRequest()).status();
}

Status Cluster::SetBugs(NodeId node, const BugSwitches& bugs) {
  return client(node).SetBugSwitches(bugs, AdminRequest()).status();
}

Status Cluster::ClearFaults(NodeId node) {
  return client(node).ClearFaults(AdminRequest()).status();
}

void Cluster::Stop() {
  for (auto& [node, child] : processes_) {
    child->process().Terminate(std::chrono::seconds(10));
  }
}

}  // namespace dialkv::jepsen
