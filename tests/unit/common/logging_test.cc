#include "server/common/logging.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <cstdlib>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>

namespace dialkv {
namespace {

constexpr Subsystem kAll[] = {Subsystem::kServer,  Subsystem::kNet,     Subsystem::kApi,
                              Subsystem::kStorage, Subsystem::kRocksDb, Subsystem::kCluster,
                              Subsystem::kRepl,    Subsystem::kAe,      Subsystem::kClient};
static_assert(std::size(kAll) == kSubsystemCount);

TEST(LoggingTest, EverySubsystemHasItsOwnNamedLogger) {
  std::set<std::string> names;
  for (Subsystem s : kAll) {
    EXPECT_EQ(Log(s).name(), SubsystemName(s));
    EXPECT_EQ(&Log(s), &Log(s));  // Created once.
    names.insert(Log(s).name());
  }
  EXPECT_EQ(names.size(), std::size(kAll));
  EXPECT_EQ(SubsystemName(Subsystem::kRepl), "repl");
  EXPECT_EQ(SubsystemName(Subsystem::kAe), "ae");
}

// The loggers are created on the first Log() call, which in the server comes after
// SetLogLevels applied --log-level. The statement runs in a fresh process (the threadsafe
// death-test style re-executes this binary for it), so no logger exists before it.
TEST(LoggingTest, LoggerCreatedAfterSetLogLevelsGetsItsLevel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (spdlog::get("repl") != nullptr) std::_Exit(2);  // Too late to show anything.
        if (!SetLogLevels("warn,repl=trace")) std::_Exit(3);
        const bool levels_applied = Log(Subsystem::kRepl).level() == spdlog::level::trace &&
                                    Log(Subsystem::kNet).level() == spdlog::level::warn;
        std::_Exit(levels_applied ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

TEST(LoggingTest, OverrideAppliesToItsSubsystemOnly) {
  ASSERT_TRUE(SetLogLevels("error,ae=debug"));
  for (Subsystem s : kAll) {
    EXPECT_EQ(Log(s).level(), s == Subsystem::kAe ? spdlog::level::debug : spdlog::level::err)
        << SubsystemName(s);
  }
  // A new spec replaces the old one, overrides included.
  ASSERT_TRUE(SetLogLevels("info"));
  for (Subsystem s : kAll) EXPECT_EQ(Log(s).level(), spdlog::level::info) << SubsystemName(s);
}

TEST(LoggingTest, UnknownLevelIsRefusedAndChangesNothing) {
  ASSERT_TRUE(SetLogLevels("warn"));
  EXPECT_FALSE(SetLogLevels("loud"));
  EXPECT_EQ(Log(Subsystem::kServer).level(), spdlog::level::warn);
  ASSERT_TRUE(SetLogLevels("info"));
}

TEST(LoggingTest, DebugLineIsWrittenWhenEnabledAndCompiledIn) {
  spdlog::logger& log = Log(Subsystem::kClient);
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  log.sinks().push_back(sink);
  ASSERT_TRUE(SetLogLevels("info,client=debug"));
  DIALKV_LOG_DEBUG(log, "probe={}", 1);
  ASSERT_TRUE(SetLogLevels("info"));
  DIALKV_LOG_DEBUG(log, "probe={}", 2);
  log.sinks().pop_back();
  EXPECT_EQ(out.str().find("probe=1") != std::string::npos, kDebugLogCompiledIn) << out.str();
  EXPECT_EQ(out.str().find("probe=2"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace dialkv
