#include "client/cli/json_output.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "client/cli/fault_text.h"

namespace dialkv::cli {
namespace {

using json = nlohmann::ordered_json;

// A time that may be absent (0): "<name>_ms" and "<name>_utc", both null when absent.
void AddTime(json* object, const std::string& name, int64_t time_ms) {
  (*object)[name + "_ms"] = time_ms == 0 ? json(nullptr) : json(time_ms);
  (*object)[name + "_utc"] = time_ms == 0 ? json(nullptr) : json(UtcTime(time_ms));
}

json NodeJson(const NodeInfo& node) {
  const bool heard = node.state != "self" && node.last_heard_ms_ago >= 0;
  return {
      {"node_id", node.node_id},
      {"peer_address", node.peer_address},
      {"state", node.state},
      {"generation", node.generation},
      {"heartbeat", node.heartbeat},
      {"live_keys", node.live_keys},
      {"last_heard_ms_ago", heard ? json(node.last_heard_ms_ago) : json(nullptr)},
      {"clock_offset_ms", node.clock_offset_known ? json(node.clock_offset_ms) : json(nullptr)},
      {"clock_offset_rtt_ms",
       node.clock_offset_known ? json(node.clock_offset_rtt_ms) : json(nullptr)},
  };
}

json NodesJson(const std::vector<NodeInfo>& nodes) {
  json out = json::array();
  for (const NodeInfo& node : nodes) out.push_back(NodeJson(node));
  return out;
}

json DiskAlarmJson(const DiskAlarm& alarm) {
  json out = {
      {"raised", alarm.raised()},
      {"low_space", alarm.low_space},
      {"storage_error", alarm.storage_error},
      {"message", alarm.message},
      {"free_bytes", alarm.free_bytes},
      {"min_free_bytes", alarm.min_free_bytes},
  };
  AddTime(&out, "since", alarm.since_ms);
  return out;
}

json StorageJson(const ClusterStatus::Storage& s) {
  return {
      {"data_dir_bytes", s.data_dir_bytes},
      {"sst_bytes", s.sst_bytes},
      {"live_data_bytes", s.live_data_bytes},
      {"wal_bytes", s.wal_bytes},
      {"memtable_bytes", s.memtable_bytes},
      {"pending_compaction_bytes", s.pending_compaction_bytes},
      {"write_stalls", s.write_stalls},
      {"write_stall_ms", s.write_stall_ms},
      {"longest_write_stall_ms", s.longest_write_stall_ms},
      {"recovery_ms", s.recovery_ms},
  };
}

json AntiEntropyJson(const ClusterStatus& status, int64_t now_ms) {
  const int64_t round_ms = status.ae_oldest_full_round_ms;
  json out = json::object();
  AddTime(&out, "oldest_full_round", round_ms);
  // Clocks of the CLI's host and the node differ: a round "in the future" is 0 ms ago.
  out["oldest_full_round_age_ms"] =
      round_ms == 0 ? json(nullptr) : json(std::max<int64_t>(0, now_ms - round_ms));
  return out;
}

// What one endpoint says of itself, and its own view of the membership.
json OwnStatusJson(const std::string& endpoint, const ClusterStatus& own, int64_t now_ms) {
  json generation = nullptr;
  for (const NodeInfo& node : own.nodes) {
    if (node.node_id == own.node_id) generation = node.generation;
  }
  return {
      {"endpoint", endpoint},
      {"node_id", own.node_id},
      {"generation", generation},
      {"clock_skewed", own.clock_skewed},
      {"disk_alarm", DiskAlarmJson(own.disk_alarm)},
      {"anti_entropy", AntiEntropyJson(own, now_ms)},
      {"storage", StorageJson(own.storage)},
      {"nodes", NodesJson(own.nodes)},
  };
}

std::string DiskFaultName(DiskFault fault) {
  switch (fault) {
    case DiskFault::kNone:
      return "none";
    case DiskFault::kFull:
      return "full";
    case DiskFault::kIoError:
      return "io_error";
  }
  return "unknown";
}

bool IsUtf8(const std::string& bytes) {
  try {
    (void)json(bytes).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

std::string Base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

std::string UtcTime(int64_t time_ms) {
  const int64_t seconds = time_ms >= 0 ? time_ms / 1000 : (time_ms - 999) / 1000;
  const auto time = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&time, &utc);
  char text[64];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(time_ms - seconds * 1000));
  return text;
}

json ErrorJson(const Status& status) {
  return {{"code", std::string(CodeName(status.code()))}, {"message", status.message()}};
}

json EndpointErrorJson(const std::string& endpoint, const Status& status) {
  return {{"endpoint", endpoint}, {"error", ErrorJson(status)}};
}

json StatusJson(const ClusterStatus& view, const std::vector<EndpointStatus>& endpoints,
                int64_t now_ms) {
  json out = {
      {"cluster_name", view.cluster_name},
      {"replication_factor", view.replication_factor},
      {"seen_by_node_id", view.node_id},
      {"clock_skewed", view.clock_skewed},
      {"disk_alarm", DiskAlarmJson(view.disk_alarm)},
      {"nodes", NodesJson(view.nodes)},
      {"endpoints", json::array()},
  };
  for (const EndpointStatus& endpoint : endpoints) {
    out["endpoints"].push_back(
        endpoint.status.ok() ? OwnStatusJson(endpoint.endpoint, *endpoint.status, now_ms)
                             : EndpointErrorJson(endpoint.endpoint, endpoint.status.status()));
  }
  return out;
}

json FaultsJson(const FaultState& state) {
  std::vector<LinkFaults> sorted = state.links;
  std::sort(sorted.begin(), sorted.end(),
            [](const LinkFaults& a, const LinkFaults& b) { return a.peer < b.peer; });
  json links = json::array();
  for (const LinkFaults& link : sorted) {
    links.push_back({
        {"peer", link.peer},
        {"block_out", link.block_out},
        {"block_in", link.block_in},
        {"drop_out", link.drop_out},
        {"drop_in", link.drop_in},
        {"delay_ms", link.delay_ms},
        {"jitter_ms", link.jitter_ms},
    });
  }
  return {
      {"summary", DescribeFaults(state)},
      {"links", std::move(links)},
      {"seed", state.seed},
      {"clock_offset_ms", state.clock_offset_ms},
      {"disk", DiskFaultName(state.disk)},
      {"test_bugs",
       {{"skip_read_repair", state.skip_read_repair},
        {"skip_write_timestamp_phase", state.skip_write_timestamp_phase}}},
  };
}

json VersionJson(const LocalVersion& version) {
  const Timestamp& ts = version.timestamp;
  const auto wall_ms = static_cast<int64_t>(ts.wall_ms());
  return {
      {"tombstone", version.tombstone},
      {"value", IsUtf8(version.value) ? json(version.value) : json(nullptr)},
      {"value_base64", Base64(version.value)},
      {"value_bytes", version.value.size()},
      {"timestamp",
       {{"wall_ms", wall_ms},
        {"wall_utc", UtcTime(wall_ms)},
        {"logical", ts.logical()},
        {"text", std::to_string(ts.wall_ms()) + "." + std::to_string(ts.logical())}}},
      {"written_by_node_id", ts.node_id},
  };
}

std::string DumpJson(const json& document) {
  return document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace dialkv::cli
