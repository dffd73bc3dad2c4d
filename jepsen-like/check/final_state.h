#pragma once
// The final state of a run (final.json): after the cluster healed and converged, the raw
// version every node holds of every key the run touched, as ReadLocal returns it:
//
//   {"replicas": {"1": {"k1": {"value": "v17", "hlc": 113...408, "node": 2,
//                              "tombstone": false},
//                       "k2": {"value": null, "hlc": 113...512, "node": 1, "tombstone": true},
//                       "k3": null},
//                 "2": {...}}}
//
// A key mapped to null: the node was asked and holds no version of it. A key absent from a
// node's map: the node was not asked (for instance because it is not one of the key's
// replicas); the checkers compare only the nodes that were asked. A tombstone's value is
// written as null (read back as an empty string); a live version's value is a string.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "dialkv/types.h"
#include "server/common/status.h"

namespace dialkv::jepsen {

struct FinalState {
  // replicas[node][key]: the version `node` holds of `key`, std::nullopt when it holds none.
  std::map<NodeId, std::map<std::string, std::optional<Version>>> replicas;

  friend bool operator==(const FinalState&, const FinalState&) = default;
};

// final.json's text, indented by two spaces, nodes and keys in ascending order.
// Errors: kInvalidArgument when a key or value is not valid UTF-8.
Result<std::string> FormatFinalState(const FinalState& state);

// Parses final.json's text.
// Errors: kCorruption naming where and why: a JSON syntax error (with its line and column),
// a node id that is not a uint32, a version with a missing or mistyped field, a live version
// whose value is null.
Result<FinalState> ParseFinalState(std::string_view text);

// Errors: as FormatFinalState; kIOError.
Status WriteFinalStateFile(const std::filesystem::path& path, const FinalState& state);
// Errors: as ParseFinalState, prefixed with the path; kIOError when the file cannot be read.
Result<FinalState> ReadFinalStateFile(const std::filesystem::path& path);

}  // namespace dialkv::jepsen
