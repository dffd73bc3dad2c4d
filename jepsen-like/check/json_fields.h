#pragma once
// Internal to the checkers: reading typed fields out of parsed JSON with errors that say which
// field is wrong and why. nlohmann::json throws; these helpers never do.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "server/common/status.h"

namespace dialkv::jepsen::internal {

// Parses `text`. Errors: kCorruption with the parser's reason and position.
Result<nlohmann::json> ParseJson(std::string_view text);

// Serializes `value` compactly (indent < 0) or indented.
// Errors: kInvalidArgument when a string in it is not valid UTF-8.
Result<std::string> DumpJson(const nlohmann::ordered_json& value, int indent);

// The member `name` of `object`, or null when absent. REQUIRES: object.is_object().
const nlohmann::json* FindField(const nlohmann::json& object, std::string_view name);

// Required members. Errors: kCorruption "missing field \"name\"" or "field \"name\" must be
// ...".
Result<int64_t> GetInt64(const nlohmann::json& object, std::string_view name);
Result<uint64_t> GetUint64(const nlohmann::json& object, std::string_view name);
Result<std::string> GetString(const nlohmann::json& object, std::string_view name);
Result<bool> GetBool(const nlohmann::json& object, std::string_view name);
// A member that may be absent or null (both give std::nullopt) or a string.
Result<std::optional<std::string>> GetOptionalString(const nlohmann::json& object,
                                                     std::string_view name);

// An integer as int64 / uint64. Errors: kCorruption "<what> must be ...".
Result<int64_t> AsInt64(const nlohmann::json& value, std::string_view what);
Result<uint64_t> AsUint64(const nlohmann::json& value, std::string_view what);

}  // namespace dialkv::jepsen::internal
