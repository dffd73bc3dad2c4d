#include "jepsen-like/check/json_fields.h"

#include <exception>
#include <limits>
#include <string>

namespace dialkv::jepsen::internal {
namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the id helps nobody.
std::string WithoutExceptionId(const char* what) {
  std::string s(what);
  if (!s.empty() && s.front() == '[') {
    size_t end = s.find("] ");
    if (end != std::string::npos) s.erase(0, end + 2);
  }
  return s;
}

std::string Quoted(std::string_view name) { return "\"" + std::string(name) + "\""; }

Status Missing(std::string_view name) {
  return Status::Corruption("missing field " + Quoted(name));
}

}  // namespace

Result<nlohmann::json> ParseJson(std::string_view text) {
  // Third-party code documented to throw: caught here, at the boundary.
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(WithoutExceptionId(e.what()));
  }
}

Result<std::string> DumpJson(const nlohmann::ordered_json& value, int indent) {
  try {
    return value.dump(indent);
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(WithoutExceptionId(e.what()));
  }
}

const nlohmann::json* FindField(const nlohmann::json& object, std::string_view name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

Result<int64_t> AsInt64(const nlohmann::json& value, std::string_view what) {
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::Corruption(std::string(what) + " is out of range for a 64-bit integer");
    }
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return Status::Corruption(std::string(what) + " must be an integer");
}

Result<uint64_t> AsUint64(const nlohmann::json& value, std::string_view what) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    return Status::Corruption(std::string(what) + " must not be negative");
  }
  return Status::Corruption(std::string(what) + " must be a non-negative integer");
}

Result<int64_t> GetInt64(const nlohmann::json& object, std::string_view name) {
  const nlohmann::json* v = FindField(object, name);
  if (v == nullptr) return Missing(name);
  return AsInt64(*v, "field " + Quoted(name));
}

Result<uint64_t> GetUint64(const nlohmann::json& object, std::string_view name) {
  const nlohmann::json* v = FindField(object, name);
  if (v == nullptr) return Missing(name);
  return AsUint64(*v, "field " + Quoted(name));
}

Result<std::string> GetString(const nlohmann::json& object, std::string_view name) {
  const nlohmann::json* v = FindField(object, name);
  if (v == nullptr) return Missing(name);
  if (!v->is_string()) return Status::Corruption("field " + Quoted(name) + " must be a string");
  return v->get<std::string>();
}

Result<bool> GetBool(const nlohmann::json& object, std::string_view name) {
  const nlohmann::json* v = FindField(object, name);
  if (v == nullptr) return Missing(name);
  if (!v->is_boolean()) return Status::Corruption("field " + Quoted(name) + " must be a boolean");
  return v->get<bool>();
}

Result<std::optional<std::string>> GetOptionalString(const nlohmann::json& object,
                                                     std::string_view name) {
  const nlohmann::json* v = FindField(object, name);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) {
    return Status::Corruption("field " + Quoted(name) + " must be a string or null");
  }
  return std::optional<std::string>(v->get<std::string>());
}

}  // namespace dialkv::jepsen::internal
