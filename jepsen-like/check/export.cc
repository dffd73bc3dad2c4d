#include "jepsen-like/check/export.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "jepsen-like/check/json_fields.h"
#include "jepsen-like/check/pairing.h"

namespace dialkv::jepsen {
namespace {

using Json = nlohmann::ordered_json;

bool Unknown(const CompletedOp& op) { return op.outcome == OpType::kInfo || !op.complete_ns; }

Result<std::string> Porcupine(const std::vector<Op>& history, const std::vector<CompletedOp>& ops) {
  int64_t last_ns = 0;
  for (const Op& op : history) last_ns = std::max(last_ns, op.time_ns);
  Json out = Json::array();
  for (const CompletedOp& op : ops) {
    if (op.mode != Consistency::kCp || op.outcome == OpType::kFail) continue;
    const bool unknown = Unknown(op);
    if (unknown && op.is_read()) continue;
    Json input{{"op", OpFunctionName(op.f)}, {"key", op.key}, {"value", nullptr}};
    if (op.f == OpFunction::kWrite && op.value) input["value"] = *op.value;
    Json output{{"value", nullptr}, {"unknown", unknown}};
    if (op.is_read() && op.value) output["value"] = *op.value;
    out.push_back(Json{{"ClientId", op.process},
                       {"Input", std::move(input)},
                       {"Call", op.invoke_ns},
                       {"Output", std::move(output)},
                       {"Return", unknown ? last_ns + 1 : *op.complete_ns}});
  }
  // One operation per line: readable, and still one JSON array.
  std::string text = "[";
  for (size_t i = 0; i < out.size(); ++i) {
    Result<std::string> op = internal::DumpJson(out[i], -1);
    if (!op.ok()) return op.status();
    text += (i == 0 ? "\n" : ",\n") + *op;
  }
  return text + "\n]\n";
}

std::string EdnValue(const std::string& key, const std::optional<std::string>& value) {
  return "[" + EdnString(key) + " " + (value ? EdnString(*value) : std::string("nil")) + "]";
}

std::string EdnOp(int64_t process, OpType type, OpFunction f, const std::string& key,
                  const std::optional<std::string>& value, int64_t time_ns) {
  return "{:process " + std::to_string(process) + ", :type :" + std::string(OpTypeName(type)) +
         ", :f :" + (f == OpFunction::kRead ? "read" : "write") + ", :value " +
         EdnValue(key, value) + ", :time " + std::to_string(time_ns) + "}";
}

std::string Knossos(const std::vector<Op>& history, const std::vector<CompletedOp>& ops) {
  // The history's own events, CP only, in their order; a delete writes nil.
  std::vector<std::string> lines;
  int64_t last_ns = 0;
  for (const Op& op : history) {
    last_ns = std::max(last_ns, op.time_ns);
    if (op.mode != Consistency::kCp) continue;
    std::optional<std::string> value = op.value;
    if (op.f == OpFunction::kDelete) value.reset();
    if (op.f == OpFunction::kRead && op.type == OpType::kInvoke) value.reset();
    // A read that did not complete ok read nothing.
    if (op.f == OpFunction::kRead && op.type != OpType::kOk) value.reset();
    lines.push_back(EdnOp(op.process, op.type, op.f, op.key, value, op.time_ns));
  }
  for (const CompletedOp& op : ops) {
    if (op.mode != Consistency::kCp || op.complete_ns) continue;
    std::optional<std::string> value = op.f == OpFunction::kWrite ? op.value : std::nullopt;
    lines.push_back(EdnOp(op.process, OpType::kInfo, op.f, op.key, value, last_ns));
  }
  std::string out = "[";
  for (size_t i = 0; i < lines.size(); ++i) out += (i == 0 ? "" : "\n ") + lines[i];
  return out + "]\n";
}

}  // namespace

Result<ExportFormat> ParseExportFormat(std::string_view name) {
  if (name == "porcupine") return ExportFormat::kPorcupine;
  if (name == "knossos") return ExportFormat::kKnossos;
  return Status::InvalidArgument("unknown export format '" + std::string(name) +
                                 "'; choose porcupine or knossos");
}

std::string EdnString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

Result<std::string> ExportHistory(const std::vector<Op>& history, ExportFormat format) {
  Result<std::vector<CompletedOp>> ops = PairHistory(history);
  if (!ops.ok()) return ops.status();
  if (format == ExportFormat::kPorcupine) return Porcupine(history, *ops);
  return Knossos(history, *ops);
}

}  // namespace dialkv::jepsen
