#include "bench/load/partition.h"

namespace dialkv::bench {

Result<std::unique_ptr<IsolateNode>> IsolateNode::Create(std::vector<std::string> endpoints,
                                                         const ClientOptions& base,
                                                         size_t isolated) {
  if (isolated >= endpoints.size()) {
    return Status::InvalidArgument("--isolate must name one of the " +
                                   std::to_string(endpoints.size()) + " endpoints (1-based)");
  }
  std::vector<std::unique_ptr<Client>> admins;
  for (const std::string& e : endpoints) {
    ClientOptions options = base;
    options.endpoints = {e};
    Result<std::unique_ptr<Client>> client = Client::Create(std::move(options));
    if (!client.ok()) return client.status();
    admins.push_back(std::move(client).value());
  }
  return std::unique_ptr<IsolateNode>(
      new IsolateNode(std::move(admins), isolated, endpoints[isolated]));
}

std::string IsolateNode::label() const { return endpoint_ + " isolated"; }

asio::awaitable<Status> IsolateNode::Inject() {
  std::vector<LinkFaultsPatch> patches;
  for (size_t i = 0; i < admins_.size(); ++i) {
    if (i == isolated_) continue;
    // The node id behind each endpoint, from its own answer.
    RequestOptions options;
    Result<FaultState> state = co_await admins_[i]->AsyncGetFaults(options);
    if (!state.ok()) co_return state.status();
    LinkFaultsPatch patch;
    patch.peer = state->node_id;
    patch.block_in = true;
    patch.block_out = true;
    patches.push_back(patch);
  }
  std::optional<uint64_t> seed;
  RequestOptions options;
  Result<FaultState> set = co_await admins_[isolated_]->AsyncSetFaults(patches, seed, options);
  co_return set.status();
}

asio::awaitable<Status> IsolateNode::Heal() {
  RequestOptions options;
  Result<FaultState> cleared = co_await admins_[isolated_]->AsyncClearFaults(options);
  co_return cleared.status();
}

}  // namespace dialkv::bench
