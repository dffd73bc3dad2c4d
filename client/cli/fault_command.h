#pragma once
// `dialkv fault ...` and `dialkv inspect KEY`: drive the fault-injection and inspection
// requests of every node listed in --endpoints (docs/fault-injection.md).
//
// --endpoints must list every node's client port, one endpoint per node. Each request goes to
// one node only (dialkv::Client's admin calls never fail over), through one client per
// endpoint. A fault command first asks every endpoint for its faults, which says which node id
// each endpoint is; then sends each node it needs to change its part of the command (nodes in
// ascending id order, carrying on past a failure); then prints the resulting faults of every
// node, one line per node (fault_text.h). `fault clear` skips the first step, so it heals the
// nodes it can reach even while another is down.
//
// Errors go to stderr as one line naming each endpoint that failed and, when only some nodes
// were changed, which were ("changed: node 1, node 3; not changed: node 2"). A bad argument or
// an unknown node id exits 2 before anything is changed; a failure to learn every endpoint's id
// changes nothing. The exit code is that of the first failure (output.h).

#include <cstdint>
#include <string>
#include <vector>

#include "client/cli/json_output.h"
#include "dialkv/client.h"
#include "dialkv/types.h"

namespace CLI {
class App;
}  // namespace CLI

namespace dialkv::cli {

class FaultCommands {
 public:
  // Adds `fault` (with its subcommands) and `inspect` to `app` (not owned; it must outlive
  // this object, which holds the parsed arguments).
  explicit FaultCommands(CLI::App* app);
  FaultCommands(const FaultCommands&) = delete;
  FaultCommands& operator=(const FaultCommands&) = delete;

  // Whether the parsed command line chose `fault` or `inspect`.
  bool parsed() const;

  // Runs the chosen command against `endpoints` ("host:port" each), with one client per node
  // made from `base` (its timeout and token; its endpoints are ignored). Prints its output, as
  // text lines or one JSON document (json_output.h), and errors; returns the exit code.
  int Run(const std::vector<std::string>& endpoints, const ClientOptions& base,
          OutputFormat format = OutputFormat::kText) const;

  // The arguments as given, filled by CLI11 while parsing; checked by Run().
  struct Args {
    std::vector<std::string> groups;  // partition: "1,2", "/", "3"
    bool one_way = false;             // partition
    NodeId node = 0;                  // isolate; clock, disk --node
    std::string probability;          // drop
    std::string delay;                // delay
    std::string jitter = "0";         // delay --jitter
    NodeId peer = 0;                  // drop, delay --peer (when given)
    uint64_t seed = 0;                // drop --seed (when given)
    std::string offset;               // clock
    std::string disk;                 // disk: full, io-error or ok
    std::string key;                  // inspect
  };

 private:
  int RunFault(const std::vector<std::string>& endpoints, const ClientOptions& base,
               OutputFormat format) const;

  Args args_;
  CLI::App* fault_ = nullptr;
  CLI::App* partition_ = nullptr;
  CLI::App* isolate_ = nullptr;
  CLI::App* drop_ = nullptr;
  CLI::App* delay_ = nullptr;
  CLI::App* clock_ = nullptr;
  CLI::App* disk_ = nullptr;
  CLI::App* clear_ = nullptr;
  CLI::App* show_ = nullptr;
  CLI::App* inspect_ = nullptr;
};

}  // namespace dialkv::cli
