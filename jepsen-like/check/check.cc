#include "jepsen-like/check/check.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "jepsen-like/check/op_text.h"

namespace dialkv::jepsen {
namespace {

std::string Percent(std::optional<double> ratio) {
  if (!ratio) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", *ratio * 100);
  return buf;
}

std::string Ms(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f ms", ms);
  return buf;
}

std::string Head(std::string_view name, Verdict verdict) {
  return std::string(name) + ": " + std::string(VerdictName(verdict)) + " - ";
}

// Every line of `text` indented by two spaces.
std::string Indented(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    end = end == std::string::npos ? text.size() : end + 1;
    out += "  " + text.substr(pos, end - pos);
    pos = end;
  }
  return out;
}

std::string Availability(std::string_view mode, const ModeAvailability& a) {
  return std::string(mode) + " " + Percent(a.overall.availability()) + " of " +
         std::to_string(a.overall.total()) + " (during faults " +
         Percent(a.during_faults.availability()) + " of " +
         std::to_string(a.during_faults.total()) + ", outside " +
         Percent(a.outside_faults.availability()) + " of " +
         std::to_string(a.outside_faults.total()) + ")";
}

// "cp during partitions: majority side 99.9% of 900, minority side 0.4% of 250"; empty when
// no operation overlapped a partition.
std::string SideAvailability(std::string_view mode, const ModeAvailability& a) {
  const AvailabilityCounts& major = a.partition_majority_side;
  const AvailabilityCounts& minor = a.partition_minority_side;
  if (major.total() + minor.total() == 0) return "";
  return std::string(mode) + " during partitions: majority side " + Percent(major.availability()) +
         " of " + std::to_string(major.total()) + ", minority side " +
         Percent(minor.availability()) + " of " + std::to_string(minor.total()) + "\n";
}

}  // namespace

Result<CheckReport> CheckRun(const std::vector<Op>& history, const FinalState* final_state,
                             std::span<const TimeInterval> fault_intervals,
                             const CheckOptions& options) {
  Result<std::vector<CompletedOp>> paired = PairHistory(history);
  if (!paired.ok()) return paired.status();
  const std::vector<CompletedOp>& ops = *paired;

  CheckReport report;
  report.operations = ops.size();
  if (!history.empty()) {
    report.origin_ns =
        std::min_element(history.begin(), history.end(), [](const Op& a, const Op& b) {
          return a.time_ns < b.time_ns;
        })->time_ns;
  }
  report.linearizability = CheckLinearizability(ops, options.linearizability);
  report.unwritten_values = CheckUnwrittenValues(ops, final_state, options.ap);
  if (final_state != nullptr) {
    report.convergence = CheckConvergence(*final_state, options.ap);
    report.lost_writes = CheckLostWrites(ops, *final_state, options.ap);
  }
  report.stale_reads = MeasureStaleReads(ops, options.ap);
  report.availability = MeasureAvailability(ops, fault_intervals);

  report.verdict = Combine(report.linearizability.verdict, report.unwritten_values.verdict);
  if (report.convergence) report.verdict = Combine(report.verdict, report.convergence->verdict);
  if (report.lost_writes) report.verdict = Combine(report.verdict, report.lost_writes->verdict);
  return report;
}

std::string FormatSummary(const CheckReport& report) {
  std::string out = "verdict: " + std::string(VerdictName(report.verdict)) + " (" +
                    std::to_string(report.operations) + " operations)\n";

  const LinearizabilityResult& lin = report.linearizability;
  out += Head("linearizability (cp)", lin.verdict) + std::to_string(lin.keys_checked) + " keys, " +
         std::to_string(lin.ops_checked) + " operations, " + std::to_string(lin.violations.size()) +
         " violating, " + std::to_string(lin.unknown_keys.size()) + " unknown, " +
         std::to_string(lin.skipped_keys.size()) + " skipped (ap writes); " +
         std::to_string(lin.states_explored) + " configurations in " + Ms(lin.elapsed_ms) + "\n";
  for (const KeyLinearizability& k : lin.keys) {
    if (k.verdict == Verdict::kUnknown) {
      out += "  key " + internal::QuoteValue(k.key) + ": unknown, " + k.unknown_reason + "\n";
    }
  }
  for (const LinearizabilityWitness& w : lin.violations) {
    out += Indented(FormatWitness(w, report.origin_ns));
  }

  if (report.convergence) {
    const ConvergenceResult& c = *report.convergence;
    out += Head("convergence", c.verdict) + std::to_string(c.keys_compared) + " keys, " +
           std::to_string(c.divergent_keys) + " divergent\n";
    for (const auto& d : c.examples) {
      out += "  key " + internal::QuoteValue(d.key) + ":";
      for (const auto& [node, v] : d.versions) {
        out += " node " + std::to_string(node) + "=";
        if (!v) {
          out += "none";
        } else {
          out += (v->tombstone ? std::string("tombstone") : internal::QuoteValue(v->value)) + "@" +
                 ToString(v->timestamp);
        }
      }
      out += "\n";
    }
  }

  const UnwrittenValueResult& u = report.unwritten_values;
  out += Head("unwritten values", u.verdict) + std::to_string(u.unwritten_reads) + " of " +
         std::to_string(u.reads_checked) + " reads, " + std::to_string(u.unwritten_final_values) +
         " of " + std::to_string(u.final_values_checked) + " final values\n";
  for (const auto& e : u.examples) {
    out += "  key " + internal::QuoteValue(e.key) + " value " + internal::QuoteValue(e.value) +
           (e.written_by_failed_write ? " (only a failed write carried it)" : "") +
           (e.node ? " held by node " + std::to_string(*e.node) : "") + "\n";
    if (e.read) out += "    " + internal::FormatOpLine(*e.read, report.origin_ns) + "\n";
  }

  if (report.lost_writes) {
    const LostWriteResult& l = *report.lost_writes;
    out += Head("lost writes", l.verdict) + std::to_string(l.lost) + " lost (" +
           std::to_string(l.lost_cp) + " cp) of " + std::to_string(l.acknowledged) +
           " acknowledged; " + std::to_string(l.present) + " present, " + std::to_string(l.beaten) +
           " beaten, " + std::to_string(l.unverifiable) + " unverifiable\n";
    for (const auto& e : l.examples) {
      out += "  " + internal::FormatOpLine(e.write, report.origin_ns) + " ts " +
             ToString(*e.write.ts) + ", newest final " +
             (e.newest_final ? ToString(e.newest_final->timestamp) : std::string("none")) + "\n";
    }
  }

  const StaleReadResult& s = report.stale_reads;
  out += "stale reads (ap): " + std::to_string(s.stale) + " of " + std::to_string(s.verifiable) +
         " verifiable reads (" + Percent(s.stale_rate) + "; " +
         std::to_string(s.reads - s.verifiable) + " unverifiable), staleness p50 " +
         Ms(s.staleness.p50_ms) + ", p99 " + Ms(s.staleness.p99_ms) + ", max " +
         Ms(s.staleness.max_ms) + "\n";
  out += "availability: " + Availability("cp", report.availability.cp) + "; " +
         Availability("ap", report.availability.ap) + "\n";
  out += SideAvailability("cp", report.availability.cp);
  out += SideAvailability("ap", report.availability.ap);
  return out;
}

}  // namespace dialkv::jepsen
