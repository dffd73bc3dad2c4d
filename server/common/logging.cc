#include "server/common/logging.h"

#include <spdlog/cfg/helpers.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace dialkv {

std::shared_ptr<spdlog::logger> Logger(std::string_view subsystem) {
  static std::mutex mu;  // Guards creation, so two threads never register one name twice.
  std::lock_guard<std::mutex> lock(mu);
  std::string name(subsystem);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = spdlog::stderr_color_mt(name);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  return logger;
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
