// ToJson for every checker result (declared in check.h): the material of results.json.

#include <nlohmann/json.hpp>
#include <string>

#include "jepsen-like/check/check.h"

namespace dialkv::jepsen {
namespace {

using Json = nlohmann::ordered_json;

Json OptionalString(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }

Json Ratio(std::optional<double> r) { return r ? Json(*r) : Json(nullptr); }

Json TimestampJson(const Timestamp& ts) { return Json{{"hlc", ts.hlc}, {"node", ts.node_id}}; }

Json VersionJson(const std::optional<Version>& v) {
  if (!v) return nullptr;
  Json j;
  j["value"] = v->tombstone ? Json(nullptr) : Json(v->value);
  j["hlc"] = v->timestamp.hlc;
  j["node"] = v->timestamp.node_id;
  j["tombstone"] = v->tombstone;
  return j;
}

Json CountsJson(const AvailabilityCounts& c) {
  return Json{
      {"ok", c.ok}, {"fail", c.fail}, {"info", c.info}, {"availability", Ratio(c.availability())}};
}

Json ModeJson(const ModeAvailability& m) {
  return Json{{"overall", CountsJson(m.overall)},
              {"during_faults", CountsJson(m.during_faults)},
              {"outside_faults", CountsJson(m.outside_faults)},
              {"partition_majority_side", CountsJson(m.partition_majority_side)},
              {"partition_minority_side", CountsJson(m.partition_minority_side)}};
}

Json KeyJson(const KeyLinearizability& k) {
  Json j;
  j["key"] = k.key;
  j["verdict"] = VerdictName(k.verdict);
  j["ops"] = k.ops;
  j["states_explored"] = k.states_explored;
  j["elapsed_ms"] = k.elapsed_ms;
  if (k.verdict == Verdict::kUnknown) j["unknown_reason"] = k.unknown_reason;
  return j;
}

}  // namespace

Json ToJson(const CompletedOp& op) {
  Json j;
  j["process"] = op.process;
  j["type"] = OpTypeName(op.outcome);
  j["f"] = OpFunctionName(op.f);
  j["key"] = op.key;
  j["value"] = OptionalString(op.value);
  j["mode"] = ConsistencyName(op.mode);
  j["node"] = op.node;
  j["invoke_time"] = op.invoke_ns;
  j["complete_time"] = op.complete_ns ? Json(*op.complete_ns) : Json(nullptr);
  if (op.error) j["error"] = *op.error;
  if (op.ts) j["ts"] = TimestampJson(*op.ts);
  return j;
}

Json ToJson(const LinearizabilityWitness& witness) {
  Json j;
  j["key"] = witness.key;
  j["reason"] = witness.reason;
  j["culprit"] = witness.culprit ? Json(*witness.culprit) : Json(nullptr);
  Json ops = Json::array();
  for (const CompletedOp& op : witness.ops) ops.push_back(ToJson(op));
  j["ops"] = std::move(ops);
  return j;
}

Json ToJson(const LinearizabilityResult& result) {
  Json j;
  j["verdict"] = VerdictName(result.verdict);
  j["keys_checked"] = result.keys_checked;
  j["ops_checked"] = result.ops_checked;
  j["states_explored"] = result.states_explored;
  j["elapsed_ms"] = result.elapsed_ms;
  j["skipped_keys"] = result.skipped_keys;
  j["unknown_keys"] = result.unknown_keys;
  Json violations = Json::array();
  for (const LinearizabilityWitness& w : result.violations) violations.push_back(ToJson(w));
  j["violations"] = std::move(violations);
  Json keys = Json::array();
  for (const KeyLinearizability& k : result.keys) keys.push_back(KeyJson(k));
  j["keys"] = std::move(keys);
  return j;
}

Json ToJson(const ConvergenceResult& result) {
  Json j;
  j["verdict"] = VerdictName(result.verdict);
  j["keys_compared"] = result.keys_compared;
  j["divergent_keys"] = result.divergent_keys;
  Json examples = Json::array();
  for (const auto& d : result.examples) {
    Json versions = Json::object();
    for (const auto& [node, v] : d.versions) versions[std::to_string(node)] = VersionJson(v);
    examples.push_back(Json{{"key", d.key}, {"versions", std::move(versions)}});
  }
  j["examples"] = std::move(examples);
  return j;
}

Json ToJson(const UnwrittenValueResult& result) {
  Json j;
  j["verdict"] = VerdictName(result.verdict);
  j["reads_checked"] = result.reads_checked;
  j["unwritten_reads"] = result.unwritten_reads;
  j["final_values_checked"] = result.final_values_checked;
  j["unwritten_final_values"] = result.unwritten_final_values;
  Json examples = Json::array();
  for (const auto& e : result.examples) {
    Json x;
    x["key"] = e.key;
    x["value"] = e.value;
    x["read"] = e.read ? ToJson(*e.read) : Json(nullptr);
    x["node"] = e.node ? Json(*e.node) : Json(nullptr);
    x["written_by_failed_write"] = e.written_by_failed_write;
    examples.push_back(std::move(x));
  }
  j["examples"] = std::move(examples);
  return j;
}

Json ToJson(const LostWriteResult& result) {
  Json j;
  j["verdict"] = VerdictName(result.verdict);
  j["acknowledged"] = result.acknowledged;
  j["present"] = result.present;
  j["beaten"] = result.beaten;
  j["unverifiable"] = result.unverifiable;
  j["lost"] = result.lost;
  j["lost_cp"] = result.lost_cp;
  Json examples = Json::array();
  for (const auto& e : result.examples) {
    examples.push_back(
        Json{{"write", ToJson(e.write)}, {"newest_final", VersionJson(e.newest_final)}});
  }
  j["examples"] = std::move(examples);
  return j;
}

Json ToJson(const StaleReadResult& result) {
  Json j;
  j["reads"] = result.reads;
  j["verifiable"] = result.verifiable;
  j["stale"] = result.stale;
  j["stale_rate"] = result.stale_rate;
  j["staleness_ms"] = Json{{"p50", result.staleness.p50_ms},
                           {"p99", result.staleness.p99_ms},
                           {"max", result.staleness.max_ms}};
  Json examples = Json::array();
  for (const auto& e : result.examples) {
    examples.push_back(Json{{"read", ToJson(e.read)},
                            {"newer_write", ToJson(e.newer_write)},
                            {"staleness_ms", e.staleness_ms}});
  }
  j["examples"] = std::move(examples);
  return j;
}

Json ToJson(const AvailabilityResult& result) {
  return Json{{"cp", ModeJson(result.cp)}, {"ap", ModeJson(result.ap)}};
}

Json ToJson(const CheckReport& report) {
  Json j;
  j["verdict"] = VerdictName(report.verdict);
  j["operations"] = report.operations;
  j["origin_time"] = report.origin_ns;
  Json lin = ToJson(report.linearizability);
  for (size_t i = 0; i < report.linearizability.violations.size(); ++i) {
    lin["violations"][i]["text"] =
        FormatWitness(report.linearizability.violations[i], report.origin_ns);
  }
  j["linearizability"] = std::move(lin);
  j["convergence"] = report.convergence ? ToJson(*report.convergence) : Json(nullptr);
  j["unwritten_values"] = ToJson(report.unwritten_values);
  j["lost_writes"] = report.lost_writes ? ToJson(*report.lost_writes) : Json(nullptr);
  j["stale_reads"] = ToJson(report.stale_reads);
  j["availability"] = ToJson(report.availability);
  return j;
}

}  // namespace dialkv::jepsen
