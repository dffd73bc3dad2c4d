#pragma once
// What `dialkv --output json` prints for status, inspect and the fault commands: one JSON
// document on stdout with the same facts as the text, for scripts. Pure functions; the shape
// is documented in the CLI's --help and in README.md, and field names only ever get added.
//
// Conventions, the same in every document:
//   - snake_case names; counts, sizes (bytes), ids and durations (_ms) are JSON numbers;
//   - a time is "<name>_ms" (ms since the Unix epoch) plus "<name>_utc"
//   ("2026-01-02T03:04:05.678Z"),
//     both null when there is none;
//   - an unknown value is null, never a made-up number;
//   - every endpoint asked gets one entry, {"endpoint": "host:port", ...}, with either its data
//     or {"error": {"code": "UNAVAILABLE", "message": "..."}}.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dialkv/admin.h"
#include "dialkv/client.h"
#include "dialkv/status.h"

namespace dialkv::cli {

// --output: how status, inspect and the fault commands print what they learned.
enum class OutputFormat { kText, kJson };

// `time_ms` (ms since the Unix epoch) as "2026-01-02T03:04:05.678Z".
std::string UtcTime(int64_t time_ms);

// {"code": "UNAVAILABLE", "message": "..."}. REQUIRES: !status.ok().
nlohmann::ordered_json ErrorJson(const Status& status);

// {"endpoint": "...", "error": {...}}. REQUIRES: !status.ok().
nlohmann::ordered_json EndpointErrorJson(const std::string& endpoint, const Status& status);

// One endpoint's answer to ClusterStatus, as `dialkv status` collects them.
struct EndpointStatus {
  std::string endpoint;
  Result<ClusterStatus> status;
};

// The document of `dialkv status`: the cluster as `view` (the first endpoint that answered)
// sees it, then what every endpoint says of itself. `now_ms` (ms since the Unix epoch) dates
// the anti-entropy lag.
nlohmann::ordered_json StatusJson(const ClusterStatus& view,
                                  const std::vector<EndpointStatus>& endpoints, int64_t now_ms);

// The faults of one node: every faulty link, the seed, clock offset, disk fault, test bugs,
// and "summary", the line the text output shows (fault_text.h).
nlohmann::ordered_json FaultsJson(const FaultState& state);

// A node's stored version of a key (`dialkv inspect`). The value is raw bytes: "value" holds
// it as a string when it is valid UTF-8 (else null), "value_base64" always.
nlohmann::ordered_json VersionJson(const LocalVersion& version);

// `document` as indented JSON (fields in the order they were set) and a final newline. Bytes from
// the network that are not UTF-8 (cluster names, addresses, messages) are replaced by U+FFFD rather
// than failing the output.
std::string DumpJson(const nlohmann::ordered_json& document);

}  // namespace dialkv::cli
