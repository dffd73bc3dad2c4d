#include "jepsen-like/check/final_state.h"

#include <charconv>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "jepsen-like/check/json_fields.h"

namespace dialkv::jepsen {
namespace {

std::string Where(std::string_view node, std::string_view key) {
  return "replicas[\"" + std::string(node) + "\"][\"" + std::string(key) + "\"]";
}

Result<NodeId> ParseNodeId(const std::string& s) {
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() ||
      id > std::numeric_limits<NodeId>::max()) {
    return Status::Corruption("replicas: \"" + s + "\" is not a node id (a uint32 in decimal)");
  }
  return static_cast<NodeId>(id);
}

Result<Version> ParseVersion(const nlohmann::json& j, const std::string& where) {
  auto fail = [&](const Status& s) { return Status::Corruption(where + ": " + s.message()); };
  if (!j.is_object()) {
    return Status::Corruption(where + ": must be an object {value, hlc, node, tombstone} or null");
  }
  Version v;
  Result<bool> tombstone = internal::GetBool(j, "tombstone");
  if (!tombstone.ok()) return fail(tombstone.status());
  v.tombstone = *tombstone;
  Result<std::optional<std::string>> value = internal::GetOptionalString(j, "value");
  if (!value.ok()) return fail(value.status());
  if (internal::FindField(j, "value") == nullptr) {
    return fail(Status::Corruption("missing field \"value\""));
  }
  if (!*value && !v.tombstone) return fail(Status::Corruption("a live version's value is null"));
  v.value = value->value_or("");
  Result<uint64_t> hlc = internal::GetUint64(j, "hlc");
  if (!hlc.ok()) return fail(hlc.status());
  Result<uint64_t> node = internal::GetUint64(j, "node");
  if (!node.ok()) return fail(node.status());
  if (*node > std::numeric_limits<NodeId>::max()) {
    return fail(Status::Corruption("field \"node\" is out of range for a node id"));
  }
  v.timestamp = Timestamp{*hlc, static_cast<NodeId>(*node)};
  return v;
}

}  // namespace

Result<std::string> FormatFinalState(const FinalState& state) {
  nlohmann::ordered_json replicas = nlohmann::ordered_json::object();
  for (const auto& [node, keys] : state.replicas) {
    nlohmann::ordered_json versions = nlohmann::ordered_json::object();
    for (const auto& [key, version] : keys) {
      if (!version) {
        versions[key] = nullptr;
        continue;
      }
      nlohmann::ordered_json v;
      v["value"] = version->tombstone ? nlohmann::ordered_json(nullptr)
                                      : nlohmann::ordered_json(version->value);
      v["hlc"] = version->timestamp.hlc;
      v["node"] = version->timestamp.node_id;
      v["tombstone"] = version->tombstone;
      versions[key] = std::move(v);
    }
    replicas[std::to_string(node)] = std::move(versions);
  }
  nlohmann::ordered_json root;
  root["replicas"] = std::move(replicas);
  Result<std::string> text = internal::DumpJson(root, 2);
  if (text.ok()) *text += '\n';
  return text;
}

Result<FinalState> ParseFinalState(std::string_view text) {
  Result<nlohmann::json> parsed = internal::ParseJson(text);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& root = *parsed;
  if (!root.is_object()) return Status::Corruption("final state must be a JSON object");
  const nlohmann::json* replicas = internal::FindField(root, "replicas");
  if (replicas == nullptr) return Status::Corruption("missing field \"replicas\"");
  if (!replicas->is_object()) {
    return Status::Corruption("field \"replicas\" must be an object keyed by node id");
  }
  FinalState state;
  for (const auto& [node_text, keys] : replicas->items()) {
    Result<NodeId> node = ParseNodeId(node_text);
    if (!node.ok()) return node.status();
    if (!keys.is_object()) {
      return Status::Corruption("replicas[\"" + node_text + "\"] must be an object keyed by key");
    }
    auto& versions = state.replicas[*node];
    for (const auto& [key, version] : keys.items()) {
      if (version.is_null()) {
        versions.emplace(key, std::nullopt);
        continue;
      }
      Result<Version> v = ParseVersion(version, Where(node_text, key));
      if (!v.ok()) return v.status();
      versions.emplace(key, std::move(*v));
    }
  }
  return state;
}

Status WriteFinalStateFile(const std::filesystem::path& path, const FinalState& state) {
  Result<std::string> text = FormatFinalState(state);
  if (!text.ok()) return text.status();
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IOError("cannot create " + path.string());
  out << *text;
  out.close();
  if (!out) return Status::IOError("writing " + path.string() + " failed");
  return Status::Ok();
}

Result<FinalState> ReadFinalStateFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot open " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("reading " + path.string() + " failed");
  Result<FinalState> state = ParseFinalState(text.str());
  if (!state.ok()) return Status(state.code(), path.string() + ": " + state.status().message());
  return state;
}

}  // namespace dialkv::jepsen
