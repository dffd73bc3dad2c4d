#pragma once
// Every checker over one run, and the results as JSON (results.json material) and text.
//
//   auto history = ReadHistoryFile(dir / "history.jsonl");
//   auto final_state = ReadFinalStateFile(dir / "final.json");
//   auto report = CheckRun(*history, &*final_state, nemesis_intervals, {});
//   results["checks"] = ToJson(*report);  // Plus whatever the harness adds.
//   exit(report->verdict == Verdict::kPass ? 0 : 1);
//
// The JSON converters are public so a report can embed any one result.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "jepsen-like/check/ap_checks.h"
#include "jepsen-like/check/final_state.h"
#include "jepsen-like/check/history.h"
#include "jepsen-like/check/linearizability.h"
#include "jepsen-like/check/pairing.h"
#include "jepsen-like/check/verdict.h"
#include "server/common/status.h"

namespace dialkv::jepsen {

struct CheckOptions {
  LinearizabilityOptions linearizability;
  ApCheckOptions ap;
};

struct CheckReport {
  // Combined over linearizability, convergence, unwritten values and lost writes. Stale reads
  // and availability are measurements: AP allows stale reads, and unavailability is a cost.
  Verdict verdict = Verdict::kPass;
  size_t operations = 0;
  int64_t origin_ns = 0;  // The history's first time; report times are relative to it.
  LinearizabilityResult linearizability;
  std::optional<ConvergenceResult> convergence;  // Absent without a final state.
  UnwrittenValueResult unwritten_values;
  std::optional<LostWriteResult> lost_writes;  // Absent without a final state.
  StaleReadResult stale_reads;
  AvailabilityResult availability;
};

// Pairs `history` and runs every checker. `final_state` may be null (convergence and lost
// writes are then not checked). `fault_intervals` are the nemesis's active intervals, on the
// history's clock.
// Errors: kInvalidArgument when the history is malformed (see PairHistory).
Result<CheckReport> CheckRun(const std::vector<Op>& history,
                             const FinalState* final_state,  // Not owned.
                             std::span<const TimeInterval> fault_intervals,
                             const CheckOptions& options = {});

// A few lines per checker; witnesses of violations in full (FormatWitness).
std::string FormatSummary(const CheckReport& report);

// JSON for results.json. Operations appear as objects with the history's field names plus
// "invoke_time" and "complete_time" (ns; null when it never completed). Ratios that are
// undefined (no operations) are null.
nlohmann::ordered_json ToJson(const CheckReport& report);
nlohmann::ordered_json ToJson(const LinearizabilityResult& result);
nlohmann::ordered_json ToJson(const LinearizabilityWitness& witness);
nlohmann::ordered_json ToJson(const ConvergenceResult& result);
nlohmann::ordered_json ToJson(const UnwrittenValueResult& result);
nlohmann::ordered_json ToJson(const LostWriteResult& result);
nlohmann::ordered_json ToJson(const StaleReadResult& result);
nlohmann::ordered_json ToJson(const AvailabilityResult& result);
nlohmann::ordered_json ToJson(const CompletedOp& op);

}  // namespace dialkv::jepsen
