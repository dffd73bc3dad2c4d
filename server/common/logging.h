#pragma once
// One named spdlog logger per subsystem: "net", "storage", "api", "server" (and later
// "cluster", "repl", "ae"). Lines carry context (node=, peer=, key_hash=), never values.
// Levels: error = an operator must act; warn = degraded but handled; info = lifecycle;
// debug = per request; trace = per message.

#include <spdlog/spdlog.h>

#include <exception>
#include <memory>
#include <string>
#include <string_view>

namespace dialkv {

// The logger for `subsystem`, created on first use with the process-wide level and sink.
std::shared_ptr<spdlog::logger> Logger(std::string_view subsystem);

// What an exception caught at a boundary (a co_spawn completion, main) says, for a log line
// or a status message: its what(), or "unknown exception" for one not derived from
// std::exception. REQUIRES: e is not null.
std::string DescribeException(const std::exception_ptr& e);

// Sets the level of every logger: "trace".."off", optionally followed by per-subsystem
// overrides as in SPDLOG_LEVEL ("info,repl=debug"). Returns false for an unknown level.
bool SetLogLevels(const std::string& spec);

}  // namespace dialkv
