#pragma once
// A program's command line as reports and result files record it: each argument quoted for a
// POSIX shell when it needs to be, and the value of a flag that carries a secret (--token)
// replaced by "<redacted>", so a report can be shared without handing out a credential.

#include <string>

namespace dialkv {

// `arg` as a shell reads it back: unchanged when it holds no special character, else in
// single quotes.
std::string QuoteArg(const std::string& arg);

// argv[0..argc), quoted and redacted, separated by spaces.
std::string RecordedCommandLine(int argc, const char* const* argv);

}  // namespace dialkv
