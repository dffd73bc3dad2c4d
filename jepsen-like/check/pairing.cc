#include "jepsen-like/check/pairing.h"

#include <string>
#include <unordered_map>
#include <utility>

namespace dialkv::jepsen {
namespace {

std::string At(size_t index) { return "history[" + std::to_string(index) + "]"; }

}  // namespace

Result<std::vector<CompletedOp>> PairHistory(const std::vector<Op>& history) {
  std::vector<CompletedOp> ops;
  // process -> index in `ops` of its outstanding operation.
  std::unordered_map<int64_t, size_t> outstanding;
  for (size_t i = 0; i < history.size(); ++i) {
    const Op& e = history[i];
    const std::string who = At(i) + " (process " + std::to_string(e.process) + ")";
    if (e.type == OpType::kInvoke) {
      if (auto it = outstanding.find(e.process); it != outstanding.end()) {
        return Status::InvalidArgument(who + " invokes while its operation invoked at " +
                                       At(ops[it->second].invoke_index) + " is outstanding");
      }
      if (e.f == OpFunction::kWrite && !e.value) {
        return Status::InvalidArgument(who + " invokes a write without a value");
      }
      CompletedOp op;
      op.id = ops.size();
      op.process = e.process;
      op.f = e.f;
      op.key = e.key;
      op.mode = e.mode;
      op.node = e.node;
      op.outcome = OpType::kInfo;
      if (e.f == OpFunction::kWrite) op.value = e.value;
      op.invoke_ns = e.time_ns;
      op.invoke_index = i;
      outstanding.emplace(e.process, ops.size());
      ops.push_back(std::move(op));
      continue;
    }

    auto it = outstanding.find(e.process);
    if (it == outstanding.end()) {
      return Status::InvalidArgument(who + " completes (" + std::string(OpTypeName(e.type)) +
                                     ") without an outstanding invocation");
    }
    CompletedOp& op = ops[it->second];
    outstanding.erase(it);
    const std::string mismatch =
        who + " completes the operation invoked at " + At(op.invoke_index) + " with another ";
    if (e.f != op.f) return Status::InvalidArgument(mismatch + "f");
    if (e.key != op.key) return Status::InvalidArgument(mismatch + "key");
    if (e.mode != op.mode) return Status::InvalidArgument(mismatch + "mode");
    if (e.time_ns < op.invoke_ns) {
      return Status::InvalidArgument(who + " completes before its invocation at " +
                                     At(op.invoke_index));
    }
    if (op.f == OpFunction::kWrite && e.value && e.value != op.value) {
      return Status::InvalidArgument(mismatch + "value");
    }
    op.outcome = e.type;
    op.node = e.node;
    op.complete_ns = e.time_ns;
    op.complete_index = i;
    op.error = e.error;
    if (op.f == OpFunction::kRead && e.type == OpType::kOk) op.value = e.value;
    if (op.is_write() && e.type == OpType::kOk) op.ts = e.ts;
  }
  return ops;
}

}  // namespace dialkv::jepsen
