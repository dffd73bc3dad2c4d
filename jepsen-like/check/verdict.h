#pragma once
// The outcome of one check, and how outcomes combine into the verdict of a run.

#include <cstdint>
#include <string_view>

namespace dialkv::jepsen {

enum class Verdict : uint8_t {
  kPass = 0,       // The check found nothing wrong.
  kViolation = 1,  // The check found a counterexample to a promise (it carries a witness).
  kUnknown = 2,    // The check ran out of budget before it could decide.
};

// "pass", "violation", "unknown": the names results.json uses.
constexpr std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kViolation:
      return "violation";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "unknown";
}

// A violation anywhere makes the run a violation; otherwise one undecided check makes it
// unknown; a run passes only when every check passed.
constexpr Verdict Combine(Verdict a, Verdict b) {
  if (a == Verdict::kViolation || b == Verdict::kViolation) return Verdict::kViolation;
  if (a == Verdict::kUnknown || b == Verdict::kUnknown) return Verdict::kUnknown;
  return Verdict::kPass;
}

}  // namespace dialkv::jepsen
