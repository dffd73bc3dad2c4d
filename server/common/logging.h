#pragma once
// One named spdlog logger per subsystem (see Subsystem). Lines carry context (node=, peer=,
// key_hash=), never values.
// Levels: error = an operator must act; warn = degraded but handled; info = lifecycle;
// debug = per request; trace = per message.
//
// Debug and trace lines are written with DIALKV_LOG_DEBUG / DIALKV_LOG_TRACE, never with
// logger.debug() / logger.trace(): the macros compile to nothing when SPDLOG_ACTIVE_LEVEL is
// above their level (Release builds set it to info; see CMakeLists.txt), so a per-request line
// costs neither a call nor the evaluation of its arguments there.

#include <spdlog/spdlog.h>

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

namespace dialkv {

// The subsystems that log; each has one logger, named as SubsystemName() says.
enum class Subsystem {
  kServer,   // "server": the node's lifecycle, main().
  kNet,      // "net": listeners, connections, the peer transport.
  kApi,      // "api": the client-facing services, authentication, fault injection.
  kStorage,  // "storage": the engine and the disk health of the data dir.
  kRocksDb,  // "rocksdb": RocksDB's own info log.
  kCluster,  // "cluster": membership, gossip, clock skew.
  kRepl,     // "repl": coordination, replicas, hints.
  kAe,       // "ae": anti-entropy.
  kClient,   // "client": the client library. Last: kSubsystemCount counts up to it.
};
inline constexpr size_t kSubsystemCount = static_cast<size_t>(Subsystem::kClient) + 1;

// Whether this build has debug lines (DIALKV_LOG_DEBUG) at all: SPDLOG_ACTIVE_LEVEL is debug or
// trace. When false, setting a logger to debug shows nothing more than info.
inline constexpr bool kDebugLogCompiledIn = SPDLOG_ACTIVE_LEVEL <= SPDLOG_LEVEL_DEBUG;

// The logger's name, as --log-level overrides name it ("repl" in "info,repl=debug").
std::string_view SubsystemName(Subsystem subsystem);

// The logger of `subsystem`. All loggers are created (and registered with spdlog, taking the
// levels SetLogLevels set before) on the first call; later calls take no lock and look nothing
// up. The reference stays valid until the process exits. Thread-safe.
spdlog::logger& Log(Subsystem subsystem);

// What an exception caught at a boundary (a co_spawn completion, main) says, for a log line
// or a status message: its what(), or "unknown exception" for one not derived from
// std::exception. REQUIRES: e is not null.
std::string DescribeException(const std::exception_ptr& e);

// Sets the level of every logger: "trace".."off", optionally followed by per-subsystem
// overrides as in SPDLOG_LEVEL ("info,repl=debug"). It applies to loggers created later too.
// Returns false for an unknown level. Debug and trace lines compiled out of the build (see
// above) stay silent whatever the level.
bool SetLogLevels(const std::string& spec);

}  // namespace dialkv

// A debug or trace line on `logger` (a spdlog::logger&, e.g. dialkv::Log(Subsystem::kRepl)).
// Compiled out, arguments included, when SPDLOG_ACTIVE_LEVEL is above the line's level.
#define DIALKV_LOG_DEBUG(logger, ...) SPDLOG_LOGGER_DEBUG(&(logger), __VA_ARGS__)
#define DIALKV_LOG_TRACE(logger, ...) SPDLOG_LOGGER_TRACE(&(logger), __VA_ARGS__)
