#include "server/common/logging.h"

#include <spdlog/cfg/helpers.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <array>
#include <memory>

namespace dialkv {
namespace {

constexpr std::array<std::string_view, kSubsystemCount> kNames = {
    "server", "net", "api", "storage", "rocksdb", "cluster", "repl", "ae", "client"};
static_assert(!kNames.back().empty(), "a Subsystem without a name");

// Registered with spdlog, so SetLogLevels reaches it and the levels set before apply to it.
std::shared_ptr<spdlog::logger> Create(std::string_view name) {
  auto logger = spdlog::stderr_color_mt(std::string(name));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  return logger;
}

}  // namespace

std::string_view SubsystemName(Subsystem subsystem) {
  return kNames[static_cast<size_t>(subsystem)];
}

spdlog::logger& Log(Subsystem subsystem) {
  // Function-local static: created once, thread-safely, on first use; every later call is one
  // load of the guard and an index. Never destroyed, so a line logged by a thread that outlives
  // main()'s statics still has its logger.
  static const auto* const loggers = [] {
    auto* all = new std::array<std::shared_ptr<spdlog::logger>, kSubsystemCount>;
    for (size_t i = 0; i < all->size(); ++i) (*all)[i] = Create(kNames[i]);
    return all;
  }();
  return *(*loggers)[static_cast<size_t>(subsystem)];
}

std::string DescribeException(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

bool SetLogLevels(const std::string& spec) {
  const std::string base = spec.substr(0, spec.find(','));
  if (!base.empty() && base.find('=') == std::string::npos &&
      spdlog::level::from_str(base) == spdlog::level::off && base != "off") {
    return false;
  }
  spdlog::cfg::helpers::load_levels(spec);
  return true;
}

}  // namespace dialkv
