#pragma once
// Runs a command to completion for tests, feeding it stdin and capturing stdout and stderr.

#include <chrono>
#include <string>
#include <vector>

namespace dialkv::testutil {

struct CommandResult {
  int exit_code = -1;  // -1 if it did not exit normally (killed, or over its timeout).
  std::string out;
  std::string err;
};

// argv[0] is the program path. The process is killed after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_data = "",
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));

}  // namespace dialkv::testutil
