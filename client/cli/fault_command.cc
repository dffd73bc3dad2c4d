#include "client/cli/fault_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "client/cli/fault_args.h"
#include "client/cli/fault_plan.h"
#include "client/cli/fault_text.h"
#include "client/cli/json_output.h"
#include "client/cli/output.h"
#include "dialkv/client.h"
#include "server/common/status.h"

namespace dialkv::cli {
namespace {

constexpr std::string_view kEnableFlag = "--enable-fault-injection";
// Each endpoint gets its own client (and I/O thread): bound them like one client's endpoints.
constexpr size_t kMaxEndpoints = 256;

constexpr const char* kFaultFooter =
    R"(Every fault command first asks each endpoint which node it is, so --endpoints must
list the client port of every node, once each. It then changes the nodes it needs to and
prints the faults of every node, one line each, for example:
  node 1: partitioned from 3 (both ways); drop 30% of messages to 2; seed 7; clock +0ms
  node 2: blocks messages from 1; delay 50ms to 1,3; clock +0ms
  node 3: no faults
Faults act on messages between nodes, never on clients. A message is dropped or delayed
at its sender; "blocks messages from" loses it at its receiver. Faults add up until
`fault clear`. The nodes must run with --enable-fault-injection; others refuse with
PERMISSION_DENIED (exit 5). When only some nodes could be changed, stderr says which were.)";

// What a command does to one node: the call that changes it, returning its faults after.
using Change = std::function<Result<FaultState>(Client& client)>;
// The change of each node that has one, by node id.
using Changes = std::map<NodeId, Change>;
// The changes of a command, given the id of every node.
using Planner = std::function<Result<Changes>(const std::vector<NodeId>& ids)>;

// One endpoint of --endpoints and what is known of the node behind it.
struct Node {
  std::string endpoint;
  std::unique_ptr<Client> client;
  std::optional<NodeId> id;         // Once a reply said it.
  std::optional<FaultState> state;  // Its latest known faults.
  Status error;                     // Why `state` is unknown.

  void Learn(Result<FaultState> reply) {
    if (reply.ok()) {
      id = reply->node_id;
      state = std::move(reply).value();
      error = Status::Ok();
    } else {
      state.reset();
      error = reply.status();
    }
  }
  // "node 2", or the endpoint while the id is unknown.
  std::string Label() const { return id ? "node " + std::to_string(*id) : endpoint; }
  // "node 2 (127.0.0.1:7002)", or the endpoint while the id is unknown.
  std::string Name() const { return id ? Label() + " (" + endpoint + ")" : endpoint; }
};

struct Failure {
  const Node* node;
  Status status;
};

struct Step {
  Node* node;
  Change change;
};

Result<std::vector<Node>> Connect(const std::vector<std::string>& endpoints,
                                  const ClientOptions& base) {
  if (endpoints.size() > kMaxEndpoints) {
    return Status::InvalidArgument(std::to_string(endpoints.size()) + " endpoints given; at most " +
                                   std::to_string(kMaxEndpoints));
  }
  std::vector<Node> nodes;
  for (const std::string& endpoint : endpoints) {
    ClientOptions options = base;
    options.endpoints = {endpoint};
    Result<std::unique_ptr<Client>> client = Client::Create(std::move(options));
    if (!client.ok()) return client.status();
    Node node;
    node.endpoint = endpoint;
    node.client = std::move(client).value();
    nodes.push_back(std::move(node));
  }
  return nodes;
}

// Nodes as the output lists them: known ids ascending, then the others in endpoint order.
std::vector<const Node*> OutputOrder(const std::vector<Node>& nodes) {
  std::vector<const Node*> order;
  order.reserve(nodes.size());
  for (const Node& node : nodes) order.push_back(&node);
  std::stable_sort(order.begin(), order.end(), [](const Node* a, const Node* b) {
    if (a->id.has_value() != b->id.has_value()) return a->id.has_value();
    return a->id.has_value() && *a->id < *b->id;
  });
  return order;
}

// One line per node: "<label>: <text of the node>".
int PrintLines(const std::vector<Node>& nodes,
               const std::function<std::string(const Node&)>& text_of) {
  std::string out;
  for (const Node* node : OutputOrder(nodes)) out += node->Label() + ": " + text_of(*node) + "\n";
  return WriteStdout(out);
}

// {"endpoints": [...]}: one entry per node, in the order of the text's lines, with what
// `data_of` says of it ({"node_id": ..., ...}), or its error while `failed`.
int PrintJson(const std::vector<Node>& nodes, nlohmann::ordered_json head,
              const std::function<bool(const Node&)>& failed,
              const std::function<nlohmann::ordered_json(const Node&)>& data_of) {
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const Node* node : OutputOrder(nodes)) {
    nlohmann::ordered_json entry = {{"endpoint", node->endpoint}};
    if (node->id) entry["node_id"] = *node->id;
    if (failed(*node)) {
      entry["error"] = ErrorJson(node->error);
    } else {
      entry.update(data_of(*node));
    }
    entries.push_back(std::move(entry));
  }
  head["endpoints"] = std::move(entries);
  return WriteStdout(DumpJson(head));
}

int PrintFaults(const std::vector<Node>& nodes, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    return PrintJson(
        nodes, nlohmann::ordered_json::object(), [](const Node& node) { return !node.state; },
        [](const Node& node) {
          return nlohmann::ordered_json{{"faults", FaultsJson(*node.state)}};
        });
  }
  return PrintLines(nodes, [](const Node& node) {
    return node.state ? DescribeFaults(*node.state) : node.error.ToString();
  });
}

// "node 1, node 3".
std::string Labels(const std::vector<const Node*>& nodes) {
  std::string out;
  for (const Node* node : nodes) out += (out.empty() ? "" : ", ") + node->Label();
  return out;
}

// Prints one line on stderr: the first failure's code, then `what` and each failure,
// then `tail`. Returns the exit code of the first failure. REQUIRES: !failures.empty().
int ReportFailures(const std::string& what, const std::vector<Failure>& failures,
                   const std::string& tail) {
  std::string text;
  bool denied = false;
  bool flag_named = false;
  for (const Failure& failure : failures) {
    text += (text.empty() ? "" : "; ") + failure.node->Name() + ": " + failure.status.ToString();
    denied = denied || failure.status.code() == Code::kPermissionDenied;
    flag_named = flag_named || failure.status.message().find(kEnableFlag) != std::string::npos;
  }
  const Code code = failures.front().status.code();
  std::string line = std::string(CodeName(code)) + ": " + what + text;
  if (denied && !flag_named) {
    line += "; fault injection needs every node started with " + std::string(kEnableFlag);
  }
  PrintError(line + tail);
  return ExitCode(code);
}

// Asks every endpoint for its faults, which also says which node it is. Returns the failures.
std::vector<Failure> Discover(std::vector<Node>* nodes) {
  std::vector<Failure> failures;
  for (Node& node : *nodes) {
    node.Learn(node.client->GetFaults());
    if (!node.state) failures.push_back(Failure{&node, node.error});
  }
  return failures;
}

Status CheckOneEndpointPerNode(const std::vector<Node>& nodes) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (size_t j = i + 1; j < nodes.size(); ++j) {
      if (nodes[i].id == nodes[j].id) {
        return Status::InvalidArgument("endpoints " + nodes[i].endpoint + " and " +
                                       nodes[j].endpoint + " are both " + nodes[i].Label() +
                                       "; list each node once in --endpoints");
      }
    }
  }
  return Status::Ok();
}

// Runs every step (carrying on past failures), prints the faults of every node, and reports
// on stderr which nodes were changed when some were not. Returns the exit code.
int ApplyAndReport(std::vector<Node>* nodes, const std::vector<Step>& steps,
                   const std::string& what, OutputFormat format) {
  std::vector<Failure> failures;
  std::vector<const Node*> changed;
  std::vector<const Node*> unchanged;
  std::vector<const Node*> unsure;  // Sent, but no answer says whether it was applied.
  for (const Step& step : steps) {
    Result<FaultState> after = step.change(*step.node->client);
    if (after.ok()) {
      step.node->Learn(std::move(after));
      changed.push_back(step.node);
      continue;
    }
    failures.push_back(Failure{step.node, after.status()});
    const Code code = after.code();
    (code == Code::kUnknown || code == Code::kTimeout ? unsure : unchanged).push_back(step.node);
    step.node->Learn(step.node->client->GetFaults());  // What it holds now, for the summary.
  }
  const int printed = PrintFaults(*nodes, format);
  if (failures.empty()) return printed;
  std::string tail = "; changed: " + (changed.empty() ? std::string("none") : Labels(changed));
  if (!unchanged.empty()) tail += "; not changed: " + Labels(unchanged);
  if (!unsure.empty()) tail += "; may have changed: " + Labels(unsure);
  return ReportFailures(what, failures, tail);
}

Result<Changes> SetFaultsOnEach(Result<FaultPlan> plan, std::optional<uint64_t> seed) {
  if (!plan.ok()) return plan.status();
  Changes changes;
  for (auto& [id, patches] : *plan) {
    changes[id] = [patches = std::move(patches), seed](Client& client) {
      return client.SetFaults(patches, seed);
    };
  }
  return changes;
}

// The planner of fault subcommand `command` (not clear), its arguments checked.
// Errors: kInvalidArgument naming the bad argument.
Result<Planner> MakePlanner(const std::string& command, const FaultCommands::Args& args,
                            bool peer_given, bool seed_given) {
  const std::optional<NodeId> peer = peer_given ? std::optional<NodeId>(args.peer) : std::nullopt;
  const std::optional<uint64_t> seed =
      seed_given ? std::optional<uint64_t>(args.seed) : std::nullopt;
  if (command == "partition") {
    Result<PartitionGroups> groups = ParsePartitionGroups(args.groups);
    if (!groups.ok()) return groups.status();
    return Planner([groups = *groups, one_way = args.one_way](const std::vector<NodeId>& ids) {
      return SetFaultsOnEach(PlanPartition(ids, groups, one_way), std::nullopt);
    });
  }
  if (command == "isolate") {
    return Planner([node = args.node](const std::vector<NodeId>& ids) {
      return SetFaultsOnEach(PlanIsolate(ids, node), std::nullopt);
    });
  }
  if (command == "drop" || command == "delay") {
    LinkFaultsPatch change;
    if (command == "drop") {
      Result<double> probability = ParseProbability(args.probability);
      if (!probability.ok()) return probability.status();
      change.drop_out = *probability;
    } else {
      Result<uint32_t> delay = ParseDurationMs(args.delay, kMaxDelayMs);
      if (!delay.ok()) return delay.status();
      Result<uint32_t> jitter = ParseDurationMs(args.jitter, kMaxDelayMs);
      if (!jitter.ok()) return Status::InvalidArgument("--jitter: " + jitter.status().message());
      change.delay_ms = *delay;
      change.jitter_ms = *jitter;
    }
    return Planner([change, peer, seed](const std::vector<NodeId>& ids) {
      return SetFaultsOnEach(PlanOutbound(ids, change, peer), seed);
    });
  }
  if (command == "clock") {
    Result<int64_t> offset = ParseOffsetMs(args.offset, kMaxClockOffsetMs);
    if (!offset.ok()) return offset.status();
    return Planner(
        [node = args.node, offset_ms = *offset](const std::vector<NodeId>& ids) -> Result<Changes> {
          DIALKV_RETURN_IF_ERROR(CheckKnownNode(ids, node));
          Changes changes;
          changes[node] = [offset_ms](Client& client) { return client.SetClockOffset(offset_ms); };
          return changes;
        });
  }
  if (command == "disk") {
    DiskFault fault = DiskFault::kNone;
    if (args.disk == "full") {
      fault = DiskFault::kFull;
    } else if (args.disk == "io-error") {
      fault = DiskFault::kIoError;
    } else if (args.disk != "ok") {
      return Status::InvalidArgument("disk state '" + args.disk +
                                     "': expected full, io-error or ok");
    }
    return Planner([node = args.node, fault](const std::vector<NodeId>& ids) -> Result<Changes> {
      DIALKV_RETURN_IF_ERROR(CheckKnownNode(ids, node));
      Changes changes;
      changes[node] = [fault](Client& client) { return client.SetDiskFault(fault); };
      return changes;
    });
  }
  return Planner([](const std::vector<NodeId>&) -> Result<Changes> { return Changes(); });  // show
}

int RunInspect(const std::vector<std::string>& endpoints, const ClientOptions& base,
               const std::string& key, OutputFormat format) {
  Result<std::vector<Node>> nodes = Connect(endpoints, base);
  if (!nodes.ok()) return Fail(nodes.status());
  std::vector<Failure> failures;
  std::map<const Node*, std::string> shown;
  std::map<const Node*, Result<LocalVersion>> versions;
  for (Node& node : *nodes) {
    // ReadLocal says which node answered only when it holds a version; GetFaults always does.
    node.Learn(node.client->GetFaults());
    if (!node.state) {
      failures.push_back(Failure{&node, node.error});
      shown[&node] = node.error.ToString();
      continue;
    }
    Result<LocalVersion> version = node.client->ReadLocal(key);
    if (version.ok()) {
      shown[&node] = DescribeVersion(*version);
    } else if (version.code() == Code::kNotFound) {
      shown[&node] = "<none>";
    } else {
      failures.push_back(Failure{&node, version.status()});
      shown[&node] = version.status().ToString();
      node.error = version.status();  // Its faults were read, but the key could not be.
    }
    versions.emplace(&node, std::move(version));
  }
  const int printed = format == OutputFormat::kJson
                          ? PrintJson(
                                *nodes, {{"key", key}},
                                [&versions](const Node& node) {
                                  const auto it = versions.find(&node);
                                  return it == versions.end() ||
                                         (!it->second.ok() && it->second.code() != Code::kNotFound);
                                },
                                [&versions](const Node& node) {
                                  const Result<LocalVersion>& version = versions.at(&node);
                                  return nlohmann::ordered_json{
                                      {"version", version.ok() ? VersionJson(*version)
                                                               : nlohmann::ordered_json(nullptr)}};
                                })
                          : PrintLines(*nodes, [&shown](const Node& node) { return shown[&node]; });
  if (failures.empty()) return printed;
  return ReportFailures("cannot read key \"" + Printable(key) + "\" at ", failures, "");
}

// --peer of drop and delay.
void AddPeerOption(CLI::App* command, NodeId* peer) {
  command->add_option("--peer", *peer,
                      "Only messages to and from this node id (default: between every two nodes)");
}

}  // namespace

FaultCommands::FaultCommands(CLI::App* app) {
  fault_ = app->add_subcommand(
      "fault", "Inject faults between nodes (started with --enable-fault-injection), show them");
  fault_->require_subcommand(1);

  partition_ = fault_->add_subcommand(
      "partition", "Partition two groups of nodes: messages between them are lost");
  partition_
      ->add_option("GROUPS", args_.groups,
                   "Two comma-separated lists of node ids around a /, like 1,2 / 3 (or 1,2/3)")
      ->required();
  partition_->add_flag("--one-way", args_.one_way,
                       "Lose only the messages from the first group to the second; the second "
                       "group's messages to the first still arrive");

  isolate_ = fault_->add_subcommand("isolate", "Partition one node from every other, both ways");
  isolate_->add_option("NODE", args_.node, "The node id to isolate")->required();

  drop_ = fault_->add_subcommand(
      "drop", "Lose each message between nodes with a probability, judged once at its sender");
  drop_
      ->add_option("PROBABILITY", args_.probability,
                   "From 0 to 1 (like 0.3) or a percentage (like 30%); 0 stops dropping")
      ->required();
  AddPeerOption(drop_, &args_.peer);
  drop_->add_option("--seed", args_.seed,
                    "Reseed each changed node's fault injector with this number, so a run "
                    "drops the same messages again");

  delay_ = fault_->add_subcommand("delay", "Delay every message between nodes, at its sender");
  delay_
      ->add_option("DELAY", args_.delay,
                   "Fixed delay: a whole number of ms or s, like 50ms or 1s, or 0 (at most 60s)")
      ->required();
  delay_
      ->add_option("--jitter", args_.jitter,
                   "Plus a random delay from 0 up to this, like 20ms (at most 60s)")
      ->capture_default_str();
  AddPeerOption(delay_, &args_.peer);

  clock_ = fault_->add_subcommand("clock", "Skew one node's wall clock (to test last-writer-wins)");
  clock_
      ->add_option("OFFSET", args_.offset,
                   "Added to the node's clock: like +2s, -500ms, or 0 to undo (at most an hour)")
      ->required();
  clock_->add_option("--node", args_.node, "The node id whose clock to skew")->required();

  disk_ = fault_->add_subcommand(
      "disk", "Make one node's disk fail its writes (full or io-error), or work again (ok)");
  disk_
      ->add_option("STATE", args_.disk,
                   "full: writes fail with ENOSPC and the node sees no free space (its disk alarm "
                   "goes up); io-error: writes fail with EIO; ok: the disk works again. Reads "
                   "never fail; the node refuses writes while the disk does")
      ->required();
  disk_->add_option("--node", args_.node, "The node id whose disk to fault")->required();

  clear_ = fault_->add_subcommand(
      "clear",
      "Heal every link of every node, set every clock offset back to 0 and end disk faults");
  show_ = fault_->add_subcommand("show", "Print the faults of every node");
  fault_->footer(kFaultFooter);  // After the subcommands, which would inherit it.

  inspect_ = app->add_subcommand(
      "inspect",
      "Print each node's own stored version of KEY (value or <tombstone>, timestamp), or <none>");
  inspect_->add_option("KEY", args_.key, "The key")->required();
}

bool FaultCommands::parsed() const { return fault_->parsed() || inspect_->parsed(); }

int FaultCommands::Run(const std::vector<std::string>& endpoints, const ClientOptions& base,
                       OutputFormat format) const {
  if (inspect_->parsed()) return RunInspect(endpoints, base, args_.key, format);
  return RunFault(endpoints, base, format);
}

int FaultCommands::RunFault(const std::vector<std::string>& endpoints, const ClientOptions& base,
                            OutputFormat format) const {
  const CLI::App* chosen = nullptr;
  for (const CLI::App* sub : {partition_, isolate_, drop_, delay_, clock_, disk_, clear_, show_}) {
    if (sub->parsed()) chosen = sub;
  }
  if (chosen == nullptr) return Fail(Status::InvalidArgument("usage: fault needs a subcommand"));
  const std::string command = chosen->get_name();
  const CLI::Option* peer = chosen->get_option_no_throw("--peer");
  const CLI::Option* seed = chosen->get_option_no_throw("--seed");
  // Arguments are checked before any node is contacted.
  Result<Planner> planner = Status::Internal("no planner");
  if (command != "clear") {
    planner = MakePlanner(command, args_, peer != nullptr && peer->count() > 0,
                          seed != nullptr && seed->count() > 0);
    if (!planner.ok()) return Fail(planner.status());
  }
  Result<std::vector<Node>> nodes = Connect(endpoints, base);
  if (!nodes.ok()) return Fail(nodes.status());

  std::vector<Step> steps;
  if (command == "clear") {
    // Needs no node ids: heals whatever it reaches, even while another node is down.
    for (Node& node : *nodes) {
      steps.push_back(Step{&node, [](Client& client) { return client.ClearFaults(); }});
    }
    return ApplyAndReport(&*nodes, steps, "cannot clear ", format);
  }
  if (std::vector<Failure> failures = Discover(&*nodes); !failures.empty()) {
    if (command == "show") {
      PrintFaults(*nodes, format);
      return ReportFailures("cannot read the faults of ", failures, "");
    }
    return ReportFailures("cannot read the faults of ", failures, "; nothing was changed");
  }
  if (Status distinct = CheckOneEndpointPerNode(*nodes); !distinct.ok()) return Fail(distinct);
  std::vector<NodeId> ids;
  for (const Node& node : *nodes) ids.push_back(*node.id);
  Result<Changes> changes = (*planner)(ids);
  if (!changes.ok()) return Fail(changes.status());
  for (auto& [id, change] : *changes) {
    for (Node& node : *nodes) {
      if (node.id == id) {
        steps.push_back(Step{&node, std::move(change)});
        break;  // One node per id (checked above).
      }
    }
  }
  return ApplyAndReport(&*nodes, steps, "cannot change ", format);
}

}  // namespace dialkv::cli
