#include "client/cli/fault_text.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace dialkv::cli {
namespace {

constexpr size_t kMaxShownValueBytes = 200;

// One clause and the peers it applies to: prefix + "2,3" + suffix.
struct Clause {
  std::string prefix;
  std::string suffix;
  std::vector<NodeId> peers;
};

// Adds `peer` to the clause (prefix, suffix), opening it if it is new. Clauses keep the order
// in which they were first seen.
void AddTo(std::vector<Clause>* clauses, std::string prefix, std::string suffix, NodeId peer) {
  for (Clause& clause : *clauses) {
    if (clause.prefix == prefix && clause.suffix == suffix) {
      clause.peers.push_back(peer);
      return;
    }
  }
  clauses->push_back(Clause{std::move(prefix), std::move(suffix), {peer}});
}

std::string Join(const std::vector<Clause>& clauses) {
  std::string out;
  for (const Clause& clause : clauses) {
    std::string peers;
    for (NodeId peer : clause.peers) peers += (peers.empty() ? "" : ",") + std::to_string(peer);
    out += (out.empty() ? "" : "; ") + clause.prefix + peers + clause.suffix;
  }
  return out;
}

std::string Quoted(std::string_view value) {
  std::string out = "\"";
  for (const char c : value.substr(0, kMaxShownValueBytes)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  if (value.size() > kMaxShownValueBytes) {
    return out + "...\" (" + std::to_string(value.size()) + " bytes)";
  }
  return out + "\"";
}

}  // namespace

std::string FormatDurationMs(int64_t ms, bool sign) {
  const uint64_t magnitude = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  std::string out = sign ? (ms < 0 ? "-" : "+") : (ms < 0 ? "-" : "");
  if (magnitude != 0 && magnitude % 1000 == 0) return out + std::to_string(magnitude / 1000) + "s";
  return out + std::to_string(magnitude) + "ms";
}

std::string FormatPercent(double probability) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.4g%%", probability * 100);
  return text;
}

std::string DescribeFaults(const FaultState& state) {
  std::vector<LinkFaults> links = state.links;
  std::sort(links.begin(), links.end(),
            [](const LinkFaults& a, const LinkFaults& b) { return a.peer < b.peer; });
  std::vector<Clause> clauses;
  bool random = false;  // A drop or a jitter: the seed decides which.
  for (const LinkFaults& link : links) {
    if (link.block_out && link.block_in) {
      AddTo(&clauses, "partitioned from ", " (both ways)", link.peer);
    } else if (link.block_out) {
      AddTo(&clauses, "blocks messages to ", "", link.peer);
    } else if (link.block_in) {
      AddTo(&clauses, "blocks messages from ", "", link.peer);
    }
  }
  for (const LinkFaults& link : links) {
    if (link.drop_out > 0) {
      AddTo(&clauses, "drop " + FormatPercent(link.drop_out) + " of messages to ", "", link.peer);
    }
  }
  for (const LinkFaults& link : links) {
    if (link.drop_in > 0) {
      AddTo(&clauses, "drop " + FormatPercent(link.drop_in) + " of messages from ", "", link.peer);
    }
  }
  for (const LinkFaults& link : links) {
    random = random || link.drop_out > 0 || link.drop_in > 0 || link.jitter_ms > 0;
    if (link.delay_ms == 0 && link.jitter_ms == 0) continue;
    std::string delay = "delay " + FormatDurationMs(link.delay_ms);
    if (link.jitter_ms > 0) delay += "+0.." + FormatDurationMs(link.jitter_ms);
    AddTo(&clauses, delay + " to ", "", link.peer);
  }
  std::string out = Join(clauses);
  const bool bugs = state.skip_read_repair || state.skip_write_timestamp_phase;
  if (out.empty() && state.clock_offset_ms == 0 && !bugs && state.disk == DiskFault::kNone) {
    return "no faults";
  }
  if (random) out += "; seed " + std::to_string(state.seed);
  out += (out.empty() ? "" : "; ") + std::string("clock ") +
         FormatDurationMs(state.clock_offset_ms, true);
  if (state.disk == DiskFault::kFull) out += "; disk full (writes fail with ENOSPC)";
  if (state.disk == DiskFault::kIoError) out += "; disk failing (writes fail with EIO)";
  if (state.skip_read_repair) out += "; TEST BUG ON: CP reads skip their write-back";
  if (state.skip_write_timestamp_phase) out += "; TEST BUG ON: CP writes skip the timestamp phase";
  return out;
}

std::string DescribeVersion(const LocalVersion& version) {
  const std::string at = " (at " + std::to_string(version.timestamp.wall_ms()) + "." +
                         std::to_string(version.timestamp.logical()) + " by node " +
                         std::to_string(version.timestamp.node_id) + ")";
  return (version.tombstone ? std::string("<tombstone>") : Quoted(version.value)) + at;
}

}  // namespace dialkv::cli
