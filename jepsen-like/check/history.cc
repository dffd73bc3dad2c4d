#include "jepsen-like/check/history.h"

#include <istream>
#include <limits>
#include <ostream>
#include <string>
#include <utility>

#include "jepsen-like/check/json_fields.h"

namespace dialkv::jepsen {
namespace {

using internal::GetInt64;
using internal::GetOptionalString;
using internal::GetString;

Result<OpType> ParseType(const std::string& s) {
  if (s == "invoke") return OpType::kInvoke;
  if (s == "ok") return OpType::kOk;
  if (s == "fail") return OpType::kFail;
  if (s == "info") return OpType::kInfo;
  return Status::Corruption("field \"type\" must be one of invoke, ok, fail, info (got \"" + s +
                            "\")");
}

Result<OpFunction> ParseFunction(const std::string& s) {
  if (s == "read") return OpFunction::kRead;
  if (s == "write") return OpFunction::kWrite;
  if (s == "delete") return OpFunction::kDelete;
  return Status::Corruption("field \"f\" must be one of read, write, delete (got \"" + s + "\")");
}

Result<Consistency> ParseMode(const std::string& s) {
  if (s == "cp") return Consistency::kCp;
  if (s == "ap") return Consistency::kAp;
  return Status::Corruption("field \"mode\" must be cp or ap (got \"" + s + "\")");
}

Result<Timestamp> ParseTs(const nlohmann::json& ts) {
  if (!ts.is_object()) return Status::Corruption("field \"ts\" must be an object {hlc, node}");
  Result<uint64_t> hlc = internal::GetUint64(ts, "hlc");
  if (!hlc.ok()) return Status::Corruption("in \"ts\": " + hlc.status().message());
  Result<uint64_t> node = internal::GetUint64(ts, "node");
  if (!node.ok()) return Status::Corruption("in \"ts\": " + node.status().message());
  if (*node > std::numeric_limits<NodeId>::max()) {
    return Status::Corruption("in \"ts\": field \"node\" is out of range for a node id");
  }
  return Timestamp{*hlc, static_cast<NodeId>(*node)};
}

constexpr const char* kNemesisProcess = "nemesis";

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

std::string_view OpTypeName(OpType type) {
  switch (type) {
    case OpType::kInvoke:
      return "invoke";
    case OpType::kOk:
      return "ok";
    case OpType::kFail:
      return "fail";
    case OpType::kInfo:
      return "info";
  }
  return "info";
}

std::string_view OpFunctionName(OpFunction f) {
  switch (f) {
    case OpFunction::kRead:
      return "read";
    case OpFunction::kWrite:
      return "write";
    case OpFunction::kDelete:
      return "delete";
  }
  return "read";
}

Result<std::string> FormatOp(const Op& op) {
  nlohmann::ordered_json j;
  j["process"] = op.process;
  j["type"] = OpTypeName(op.type);
  j["f"] = OpFunctionName(op.f);
  j["key"] = op.key;
  j["value"] = op.value ? nlohmann::ordered_json(*op.value) : nlohmann::ordered_json(nullptr);
  j["time"] = op.time_ns;
  j["mode"] = ConsistencyName(op.mode);
  j["node"] = op.node;
  if (op.error) j["error"] = *op.error;
  if (op.ts) j["ts"] = {{"hlc", op.ts->hlc}, {"node", op.ts->node_id}};
  return internal::DumpJson(j, -1);
}

Result<Op> ParseOp(std::string_view line) {
  Result<nlohmann::json> parsed = internal::ParseJson(line);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Status::Corruption("a history line must be a JSON object");

  Op op;
  Result<int64_t> process = GetInt64(j, "process");
  if (!process.ok()) return process.status();
  op.process = *process;

  Result<std::string> type = GetString(j, "type");
  if (!type.ok()) return type.status();
  Result<OpType> parsed_type = ParseType(*type);
  if (!parsed_type.ok()) return parsed_type.status();
  op.type = *parsed_type;

  Result<std::string> f = GetString(j, "f");
  if (!f.ok()) return f.status();
  Result<OpFunction> parsed_f = ParseFunction(*f);
  if (!parsed_f.ok()) return parsed_f.status();
  op.f = *parsed_f;

  Result<std::string> key = GetString(j, "key");
  if (!key.ok()) return key.status();
  op.key = std::move(*key);

  Result<std::optional<std::string>> value = GetOptionalString(j, "value");
  if (!value.ok()) return value.status();
  op.value = std::move(*value);

  Result<int64_t> time = GetInt64(j, "time");
  if (!time.ok()) return time.status();
  op.time_ns = *time;

  Result<std::string> mode = GetString(j, "mode");
  if (!mode.ok()) return mode.status();
  Result<Consistency> parsed_mode = ParseMode(*mode);
  if (!parsed_mode.ok()) return parsed_mode.status();
  op.mode = *parsed_mode;

  Result<uint64_t> node = internal::GetUint64(j, "node");
  if (!node.ok()) return node.status();
  if (*node > std::numeric_limits<NodeId>::max()) {
    return Status::Corruption("field \"node\" is out of range for a node id");
  }
  op.node = static_cast<NodeId>(*node);

  Result<std::optional<std::string>> error = GetOptionalString(j, "error");
  if (!error.ok()) return error.status();
  op.error = std::move(*error);

  if (const nlohmann::json* ts = internal::FindField(j, "ts"); ts != nullptr && !ts->is_null()) {
    Result<Timestamp> parsed_ts = ParseTs(*ts);
    if (!parsed_ts.ok()) return parsed_ts.status();
    op.ts = *parsed_ts;
  }
  return op;
}

std::string FormatNodeSet(std::span<const NodeId> nodes) {
  std::string out = "{";
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(nodes[i]);
  }
  return out + "}";
}

std::string NemesisStartF(std::string_view name) { return "start-" + std::string(name); }
std::string NemesisStopF(std::string_view name) { return "stop-" + std::string(name); }

Result<std::string> FormatNemesisOp(const NemesisOp& op) {
  nlohmann::ordered_json j;
  j["process"] = kNemesisProcess;
  j["type"] = OpTypeName(OpType::kInfo);
  j["f"] = op.f;
  j["value"] = op.value;
  j["time"] = op.time_ns;
  return internal::DumpJson(j, -1);
}

Result<std::optional<NemesisOp>> ParseNemesisLine(std::string_view line) {
  Result<nlohmann::json> parsed = internal::ParseJson(line);
  if (!parsed.ok()) return parsed.status();
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Status::Corruption("a history line must be a JSON object");
  const nlohmann::json* process = internal::FindField(j, "process");
  if (process == nullptr || !process->is_string()) return std::optional<NemesisOp>();
  if (process->get<std::string>() != kNemesisProcess) {
    return Status::Corruption("field \"process\" must be an integer or \"nemesis\"");
  }
  Result<std::string> type = GetString(j, "type");
  if (!type.ok()) return type.status();
  if (*type != OpTypeName(OpType::kInfo)) {
    return Status::Corruption("a nemesis line's \"type\" must be info (got \"" + *type + "\")");
  }
  NemesisOp op;
  Result<std::string> f = GetString(j, "f");
  if (!f.ok()) return f.status();
  op.f = std::move(*f);
  Result<std::string> value = GetString(j, "value");
  if (!value.ok()) return value.status();
  op.value = std::move(*value);
  Result<int64_t> time = GetInt64(j, "time");
  if (!time.ok()) return time.status();
  op.time_ns = *time;
  return std::optional<NemesisOp>(std::move(op));
}

Result<std::vector<Op>> ReadHistory(std::istream& in, std::vector<NemesisOp>* nemesis) {
  std::vector<Op> ops;
  std::string line;
  size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (IsBlank(line)) continue;
    // Only a line that names the nemesis process can be one; it is parsed twice, which is cheap
    // next to the client lines.
    if (line.find("\"nemesis\"") != std::string::npos) {
      Result<std::optional<NemesisOp>> n = ParseNemesisLine(line);
      if (!n.ok()) {
        return Status::Corruption("line " + std::to_string(line_number) + ": " +
                                  n.status().message());
      }
      if (n->has_value()) {
        if (nemesis != nullptr) nemesis->push_back(std::move(**n));
        continue;
      }
    }
    Result<Op> op = ParseOp(line);
    if (!op.ok()) {
      return Status::Corruption("line " + std::to_string(line_number) + ": " +
                                op.status().message());
    }
    ops.push_back(std::move(*op));
  }
  if (in.bad()) {
    return Status::IOError("reading failed after line " + std::to_string(line_number));
  }
  return ops;
}

Result<std::vector<Op>> ReadHistoryFile(const std::filesystem::path& path,
                                        std::vector<NemesisOp>* nemesis) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot open " + path.string());
  Result<std::vector<Op>> ops = ReadHistory(in, nemesis);
  if (!ops.ok()) {
    return Status(ops.code(), path.string() + ": " + ops.status().message());
  }
  return ops;
}

Status WriteHistory(std::ostream& out, const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    Result<std::string> line = FormatOp(op);
    if (!line.ok()) return line.status();
    out << *line << '\n';
  }
  out.flush();
  if (!out) return Status::IOError("writing the history failed");
  return Status::Ok();
}

Status WriteHistoryFile(const std::filesystem::path& path, const std::vector<Op>& ops) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IOError("cannot create " + path.string());
  Status s = WriteHistory(out, ops);
  if (!s.ok()) return Status(s.code(), path.string() + ": " + s.message());
  out.close();
  if (!out) return Status::IOError("closing " + path.string() + " failed");
  return Status::Ok();
}

HistoryWriter::HistoryWriter(std::filesystem::path path, std::ofstream out)
    : path_(std::move(path)), out_(std::move(out)) {}

Result<std::unique_ptr<HistoryWriter>> HistoryWriter::Open(const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IOError("cannot create " + path.string());
  return std::unique_ptr<HistoryWriter>(new HistoryWriter(path, std::move(out)));
}

Status HistoryWriter::Append(const Op& op) { return AppendLine(FormatOp(op)); }

Status HistoryWriter::AppendNemesis(const NemesisOp& op) { return AppendLine(FormatNemesisOp(op)); }

Status HistoryWriter::AppendLine(Result<std::string> line) {
  if (!out_.is_open() || !out_) {
    return Status::IOError(path_.string() + " is closed or broken");
  }
  if (!line.ok()) return line.status();
  *line += '\n';
  out_.write(line->data(), static_cast<std::streamsize>(line->size()));
  out_.flush();
  if (!out_) return Status::IOError("writing " + path_.string() + " failed");
  ++lines_written_;
  return Status::Ok();
}

Status HistoryWriter::Close() {
  if (!out_.is_open()) return Status::Ok();
  out_.close();
  if (!out_) return Status::IOError("closing " + path_.string() + " failed");
  return Status::Ok();
}

}  // namespace dialkv::jepsen
