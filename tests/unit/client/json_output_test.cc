// The JSON documents of `dialkv --output json` (client/cli/json_output.h), parsed back: every
// fact the text shows is there under its documented name, numbers as numbers, unknowns null.
#include "client/cli/json_output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/cli/fault_text.h"

namespace dialkv::cli {
namespace {

using nlohmann::json;

// 2023-11-14T22:13:20.000Z
constexpr int64_t kNowMs = 1700000000000;

ClusterStatus SampleStatus() {
  ClusterStatus status;
  status.node_id = 7;
  status.cluster_name = "blue";
  status.replication_factor = 3;
  status.nodes.push_back({.node_id = 7,
                          .peer_address = "10.0.0.7:7380",
                          .state = "self",
                          .generation = 3,
                          .heartbeat = 11,
                          .last_heard_ms_ago = 0,
                          .live_keys = 120});
  status.nodes.push_back({.node_id = 8,
                          .peer_address = "10.0.0.8:7380",
                          .state = "alive",
                          .generation = 1,
                          .heartbeat = 22,
                          .last_heard_ms_ago = 250,
                          .live_keys = 100,
                          .clock_offset_known = true,
                          .clock_offset_ms = -12,
                          .clock_offset_rtt_ms = 2});
  status.nodes.push_back({.node_id = 9,
                          .peer_address = "10.0.0.9:7380",
                          .state = "dead",
                          .generation = 5,
                          .last_heard_ms_ago = -1});
  status.ae_oldest_full_round_ms = kNowMs - 2500;
  status.disk_alarm = {.low_space = true,
                       .message = "free space 10 B under --min-free-disk-bytes 20 B",
                       .since_ms = kNowMs - 60'000,
                       .free_bytes = 10,
                       .min_free_bytes = 20};
  status.storage.data_dir_bytes = 4096;
  status.storage.sst_bytes = 2048;
  status.storage.wal_bytes = 1024;
  status.storage.write_stalls = 2;
  status.storage.recovery_ms = 310;
  return status;
}

// Dumped and parsed again, as a script sees it.
json RoundTrip(const nlohmann::ordered_json& document) {
  const std::string text = DumpJson(document);
  EXPECT_EQ(text.back(), '\n');
  return json::parse(text);
}

TEST(JsonOutputTest, UtcTimeIsIso8601WithMilliseconds) {
  EXPECT_EQ(UtcTime(kNowMs), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(UtcTime(kNowMs + 7), "2023-11-14T22:13:20.007Z");
  EXPECT_EQ(UtcTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(UtcTime(-1), "1969-12-31T23:59:59.999Z");
}

TEST(JsonOutputTest, StatusCarriesTheViewAndEveryEndpoint) {
  const ClusterStatus status = SampleStatus();
  const std::vector<EndpointStatus> endpoints = {
      {"127.0.0.1:7001", Status::Unavailable("connection refused")},
      {"127.0.0.1:7002", status},
  };
  const json doc = RoundTrip(StatusJson(status, endpoints, kNowMs));

  EXPECT_EQ(doc["cluster_name"], "blue");
  EXPECT_EQ(doc["replication_factor"], 3);
  EXPECT_EQ(doc["seen_by_node_id"], 7);
  EXPECT_EQ(doc["clock_skewed"], false);
  ASSERT_EQ(doc["nodes"].size(), 3u);
  const json& self = doc["nodes"][0];
  EXPECT_EQ(self["node_id"], 7);
  EXPECT_EQ(self["peer_address"], "10.0.0.7:7380");
  EXPECT_EQ(self["state"], "self");
  EXPECT_EQ(self["generation"], 3);
  EXPECT_EQ(self["heartbeat"], 11);
  EXPECT_EQ(self["live_keys"], 120);
  EXPECT_TRUE(self["last_heard_ms_ago"].is_null());  // The text shows "-".
  EXPECT_TRUE(self["clock_offset_ms"].is_null());
  const json& alive = doc["nodes"][1];
  EXPECT_EQ(alive["last_heard_ms_ago"], 250);
  EXPECT_TRUE(alive["last_heard_ms_ago"].is_number_integer());
  EXPECT_EQ(alive["clock_offset_ms"], -12);
  EXPECT_EQ(alive["clock_offset_rtt_ms"], 2);
  EXPECT_TRUE(doc["nodes"][2]["last_heard_ms_ago"].is_null());  // Never heard.

  const json& alarm = doc["disk_alarm"];
  EXPECT_EQ(alarm["raised"], true);
  EXPECT_EQ(alarm["low_space"], true);
  EXPECT_EQ(alarm["storage_error"], false);
  EXPECT_EQ(alarm["message"], "free space 10 B under --min-free-disk-bytes 20 B");
  EXPECT_EQ(alarm["free_bytes"], 10);
  EXPECT_EQ(alarm["min_free_bytes"], 20);
  EXPECT_EQ(alarm["since_ms"], kNowMs - 60'000);
  EXPECT_EQ(alarm["since_utc"], "2023-11-14T22:12:20.000Z");

  ASSERT_EQ(doc["endpoints"].size(), 2u);
  const json& down = doc["endpoints"][0];
  EXPECT_EQ(down["endpoint"], "127.0.0.1:7001");
  EXPECT_EQ(down["error"]["code"], "UNAVAILABLE");
  EXPECT_EQ(down["error"]["message"], "connection refused");
  EXPECT_FALSE(down.contains("node_id"));
  const json& up = doc["endpoints"][1];
  EXPECT_EQ(up["endpoint"], "127.0.0.1:7002");
  EXPECT_FALSE(up.contains("error"));
  EXPECT_EQ(up["node_id"], 7);
  EXPECT_EQ(up["generation"], 3);
  EXPECT_EQ(up["disk_alarm"]["raised"], true);
  EXPECT_EQ(up["anti_entropy"]["oldest_full_round_ms"], kNowMs - 2500);
  EXPECT_EQ(up["anti_entropy"]["oldest_full_round_utc"], "2023-11-14T22:13:17.500Z");
  EXPECT_EQ(up["anti_entropy"]["oldest_full_round_age_ms"], 2500);
  EXPECT_EQ(up["storage"]["data_dir_bytes"], 4096);
  EXPECT_EQ(up["storage"]["sst_bytes"], 2048);
  EXPECT_EQ(up["storage"]["wal_bytes"], 1024);
  EXPECT_EQ(up["storage"]["write_stalls"], 2);
  EXPECT_EQ(up["storage"]["recovery_ms"], 310);
  for (const char* field : {"live_data_bytes", "memtable_bytes", "pending_compaction_bytes",
                            "write_stall_ms", "longest_write_stall_ms"}) {
    EXPECT_EQ(up["storage"][field], 0) << field;
  }
  EXPECT_EQ(up["nodes"], doc["nodes"]);
}

TEST(JsonOutputTest, AbsentTimesAreNull) {
  ClusterStatus status;
  status.node_id = 1;
  const json doc = RoundTrip(StatusJson(status, {{"e:1", status}}, kNowMs));
  EXPECT_EQ(doc["disk_alarm"]["raised"], false);
  EXPECT_TRUE(doc["disk_alarm"]["since_ms"].is_null());
  EXPECT_TRUE(doc["disk_alarm"]["since_utc"].is_null());
  const json& ae = doc["endpoints"][0]["anti_entropy"];
  EXPECT_TRUE(ae["oldest_full_round_ms"].is_null());  // "no complete round since it started".
  EXPECT_TRUE(ae["oldest_full_round_utc"].is_null());
  EXPECT_TRUE(ae["oldest_full_round_age_ms"].is_null());
  EXPECT_TRUE(doc["endpoints"][0]["generation"].is_null());  // Not in its own member list.
}

TEST(JsonOutputTest, BytesThatAreNotUtf8AreReplacedNotFatal) {
  ClusterStatus status;
  status.cluster_name = "bad\xff name";
  const json doc = RoundTrip(StatusJson(status, {}, kNowMs));
  EXPECT_EQ(doc["cluster_name"], "bad\xef\xbf\xbd name");
}

TEST(JsonOutputTest, FaultsCarryEveryLinkAndTheTextSummary) {
  FaultState state;
  state.node_id = 1;
  state.links = {{.peer = 3, .block_out = true, .block_in = true},
                 {.peer = 2, .drop_out = 0.3, .delay_ms = 50, .jitter_ms = 20}};
  state.seed = 7;
  state.clock_offset_ms = -500;
  state.disk = DiskFault::kIoError;
  state.skip_read_repair = true;
  const json doc = RoundTrip(FaultsJson(state));
  EXPECT_EQ(doc["summary"], DescribeFaults(state));
  ASSERT_EQ(doc["links"].size(), 2u);
  EXPECT_EQ(doc["links"][0]["peer"], 2);  // By peer.
  EXPECT_DOUBLE_EQ(doc["links"][0]["drop_out"].get<double>(), 0.3);
  EXPECT_EQ(doc["links"][0]["drop_in"], 0);
  EXPECT_EQ(doc["links"][0]["delay_ms"], 50);
  EXPECT_EQ(doc["links"][0]["jitter_ms"], 20);
  EXPECT_EQ(doc["links"][0]["block_out"], false);
  EXPECT_EQ(doc["links"][1]["peer"], 3);
  EXPECT_EQ(doc["links"][1]["block_out"], true);
  EXPECT_EQ(doc["links"][1]["block_in"], true);
  EXPECT_EQ(doc["seed"], 7);
  EXPECT_EQ(doc["clock_offset_ms"], -500);
  EXPECT_EQ(doc["disk"], "io_error");
  EXPECT_EQ(doc["test_bugs"]["skip_read_repair"], true);
  EXPECT_EQ(doc["test_bugs"]["skip_write_timestamp_phase"], false);

  const json clean = RoundTrip(FaultsJson(FaultState{.node_id = 2}));
  EXPECT_EQ(clean["summary"], "no faults");
  EXPECT_TRUE(clean["links"].is_array());
  EXPECT_TRUE(clean["links"].empty());
  EXPECT_EQ(clean["disk"], "none");
}

TEST(JsonOutputTest, VersionGivesTheValueTwiceAndTheTimestampInParts) {
  const Timestamp at{(uint64_t{kNowMs} << 16) | 3, 2};
  const json doc = RoundTrip(VersionJson({.node_id = 1, .value = "blue", .timestamp = at}));
  EXPECT_EQ(doc["tombstone"], false);
  EXPECT_EQ(doc["value"], "blue");
  EXPECT_EQ(doc["value_base64"], "Ymx1ZQ==");
  EXPECT_EQ(doc["value_bytes"], 4);
  EXPECT_EQ(doc["written_by_node_id"], 2);
  EXPECT_EQ(doc["timestamp"]["wall_ms"], kNowMs);
  EXPECT_EQ(doc["timestamp"]["wall_utc"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(doc["timestamp"]["logical"], 3);
  EXPECT_EQ(doc["timestamp"]["text"], "1700000000000.3");  // As the text shows it.

  const json binary = RoundTrip(VersionJson({.value = std::string("\xff\x00\x01", 3)}));
  EXPECT_TRUE(binary["value"].is_null());
  EXPECT_EQ(binary["value_base64"], "/wAB");
  EXPECT_EQ(binary["value_bytes"], 3);
  EXPECT_EQ(RoundTrip(VersionJson({.value = "ab"}))["value_base64"], "YWI=");

  const json tombstone = RoundTrip(VersionJson({.timestamp = at, .tombstone = true}));
  EXPECT_EQ(tombstone["tombstone"], true);
  EXPECT_EQ(tombstone["value_bytes"], 0);
  EXPECT_EQ(tombstone["value_base64"], "");
}

TEST(JsonOutputTest, EndpointErrorNamesTheEndpointAndTheCode) {
  const json doc = RoundTrip(EndpointErrorJson("h:1", Status::PermissionDenied("no")));
  EXPECT_EQ(doc, json::parse(R"({"endpoint": "h:1", "error": {"code": "PERMISSION_DENIED",
                                 "message": "no"}})"));
}

}  // namespace
}  // namespace dialkv::cli
