#pragma once
// The partition scenario's fault: one dialkv node cut off from every other node (both
// directions) through the nodes' fault-injection admin calls, then healed. The nodes must run
// with --enable-fault-injection. Client connections are never faulted, so clients of the
// isolated node still reach it: what they see is what the scenario measures.

#include <memory>
#include <string>
#include <vector>

#include "bench/load/runner.h"
#include "dialkv/client.h"

namespace dialkv::bench {

class IsolateNode final : public FaultControl {
 public:
  // `endpoints`: every node's client address; `isolated`: index into it; `base`: the rest of
  // the admin clients' options (a token with the admin scope, a TLS CA file).
  // Errors: kInvalidArgument for an index out of range or a bad endpoint.
  static Result<std::unique_ptr<IsolateNode>> Create(std::vector<std::string> endpoints,
                                                     const ClientOptions& base, size_t isolated);

  std::string label() const override;
  asio::awaitable<Status> Inject() override;
  asio::awaitable<Status> Heal() override;

 private:
  IsolateNode(std::vector<std::unique_ptr<Client>> admins, size_t isolated, std::string endpoint)
      : admins_(std::move(admins)), isolated_(isolated), endpoint_(std::move(endpoint)) {}

  std::vector<std::unique_ptr<Client>> admins_;  // One per node: admin calls never fail over.
  size_t isolated_;
  std::string endpoint_;
};

}  // namespace dialkv::bench
