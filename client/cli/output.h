#pragma once
// What the dialkv CLI prints and how it exits: exit codes scripts rely on, one-line errors on
// stderr, raw bytes on stdout.

#include <string>
#include <string_view>

#include "dialkv/status.h"

namespace dialkv::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNotFound = 1;
inline constexpr int kExitUsage = 2;          // Bad usage or INVALID_ARGUMENT.
inline constexpr int kExitUnavailable = 3;    // Definitely not applied; safe to retry.
inline constexpr int kExitIndeterminate = 4;  // UNKNOWN (a write may have been applied) or TIMEOUT.
inline constexpr int kExitOtherError = 5;

// The exit code of a request that ended with `code`.
int ExitCode(Code code);

// Prints "dialkv: <text>" on one line of stderr (line breaks in `text` become spaces).
void PrintError(std::string text);

// Prints `status` as "dialkv: CODE: message" and returns its exit code.
int Fail(const Status& status);

// Writes `bytes` to stdout and flushes; kExitOk, or the exit code of the write error (printed).
int WriteStdout(const std::string& bytes);

// Text from the network, safe to print on a terminal: control bytes become '?'.
std::string Printable(std::string_view text);

}  // namespace dialkv::cli
