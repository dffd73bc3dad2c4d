#pragma once
// Exports the CP operations of a history for other linearizability checkers:
//
// Porcupine (github.com/anishathalye/porcupine, Go): a JSON array of its `Operation`
// {ClientId int, Input, Call int64, Output, Return int64}, one per CP operation (and line), in
// invocation order:
//   {"ClientId": 3, "Input": {"op": "write", "key": "k1", "value": "v17"},
//    "Call": 1200345, "Output": {"value": null, "unknown": false}, "Return": 1800123}
// Input.op is "read", "write" or "delete" (value null for reads and deletes); Output.value is
// what an ok read returned (null: not found), null otherwise. Times are the history's
// nanoseconds. An operation whose outcome is unknown (info, or never completed) may take
// effect at any time after its invocation or never: its Return is one past the history's last
// time and Output.unknown is true, so a model must let it apply or not (Porcupine's
// NondeterministicModel: Step returns both states). Failed operations and info reads are left
// out: they never took effect / constrain nothing. Partition by Input.key (P-compositionality).
//
// Knossos (github.com/jepsen-io/knossos, Clojure): the EDN history Jepsen records, a vector
// of op maps in real-time order, values in the [key value] tuple form of Jepsen's independent
// checker, for knossos.model/register per key:
//   [{:process 3, :type :invoke, :f :write, :value ["k1" "v17"], :time 1200345}
//    {:process 3, :type :ok, :f :write, :value ["k1" "v17"], :time 1800123}
//    {:process 4, :type :invoke, :f :read, :value ["k1" nil], :time 1900000}
//    {:process 4, :type :ok, :f :read, :value ["k1" "v17"], :time 2000000}]
// A delete is a write of nil (the register then reads nil, as a read that finds nothing).
// An invocation that never completed gets an :info completion at the end, as Jepsen does.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jepsen-like/check/history.h"
#include "server/common/status.h"

namespace dialkv::jepsen {

enum class ExportFormat : uint8_t { kPorcupine, kKnossos };
// "porcupine" / "knossos". Errors: kInvalidArgument naming the valid names.
Result<ExportFormat> ParseExportFormat(std::string_view name);

// The CP operations of `history` in `format`, with a final newline.
// Errors: kInvalidArgument when the history is malformed (PairHistory) or holds a string that
// is not valid UTF-8 (Porcupine's JSON).
Result<std::string> ExportHistory(const std::vector<Op>& history, ExportFormat format);

// An EDN string literal: quotes, with \" \\ \n \r \t escaped and other control characters as
// \uXXXX.
std::string EdnString(std::string_view s);

}  // namespace dialkv::jepsen
