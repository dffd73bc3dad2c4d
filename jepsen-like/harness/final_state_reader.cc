#include "jepsen-like/harness/final_state_reader.h"

#include <map>
#include <optional>
#include <thread>

#include "server/cluster/ring.h"

namespace dialkv::jepsen {
namespace {

constexpr uint32_t kReadLocalTimeoutMs = 1000;

// One replica's answer: its version, none, or an error (not known).
struct Answer {
  bool known = false;
  std::optional<Version> version;
  std::string error;
};

Answer ReadReplica(Client& client, const std::string& key) {
  Result<LocalVersion> local = client.ReadLocal(key, {.timeout_ms = kReadLocalTimeoutMs});
  if (local.ok()) {
    return Answer{.known = true,
                  .version = Version{local->value, local->timestamp, local->tombstone},
                  .error = ""};
  }
  if (local.code() == Code::kNotFound) return Answer{.known = true, .version = {}, .error = ""};
  return Answer{.known = false, .version = {}, .error = local.status().ToString()};
}

}  // namespace

Result<FinalStateRead> ReadConvergedState(const Cluster& cluster,
                                          const std::vector<std::string>& keys,
                                          const std::map<std::string, Timestamp>& hinted,
                                          const FinalStateOptions& options,
                                          const std::atomic<bool>& stop) {
  Result<cluster::Ring> ring = cluster::Ring::Build(
      cluster.nodes(),
      {.vnodes = options.vnodes, .replication_factor = cluster.replication_factor()});
  if (!ring.ok()) return ring.status();

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options.converge_timeout;
  // key -> replica -> its last answer.
  std::map<std::string, std::map<NodeId, Answer>> last;
  std::vector<std::string> pending = keys;
  FinalStateRead read;
  read.keys = keys.size();
  while (true) {
    std::vector<std::string> still;
    for (const std::string& key : pending) {
      std::map<NodeId, Answer>& answers = last[key];
      bool agree = true;
      const Answer* first = nullptr;
      for (NodeId replica : ring->ReplicasFor(key)) {
        Answer& a = answers[replica] = ReadReplica(cluster.client(replica), key);
        if (!a.known) {
          agree = false;
          continue;
        }
        if (first == nullptr) first = &a;
        agree = agree && a.version == first->version;
      }
      if (agree && first != nullptr) {
        // A hinted write not delivered yet: the replicas agree on something older.
        auto h = hinted.find(key);
        const Timestamp agreed = first->version ? first->version->timestamp : Timestamp{};
        agree = h == hinted.end() || agreed >= h->second;
      }
      if (agree) {
        ++read.converged_keys;
      } else {
        still.push_back(key);
      }
    }
    pending = std::move(still);
    if (pending.empty() || stop.load() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(options.poll_interval);  // Polling, with a deadline.
  }
  read.waited_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& [key, answers] : last) {
    for (const auto& [replica, answer] : answers) {
      if (answer.known) {
        read.state.replicas[replica][key] = answer.version;
      } else {
        read.unread.push_back("node " + std::to_string(replica) + " key " + key + ": " +
                              answer.error);
      }
    }
  }
  return read;
}

}  // namespace dialkv::jepsen
