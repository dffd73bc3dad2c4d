#include "jepsen-like/report/report.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "jepsen-like/report/html.h"
#include "jepsen-like/report/summary.h"

namespace dialkv::jepsen {
namespace {

using Json = nlohmann::ordered_json;

Json InfoJson(const RunInfo& info) {
  Json j;
  j["command_line"] = info.command_line;
  j["workload"] = info.workload;
  j["nemeses"] = info.nemeses;
  j["seed"] = info.seed;
  j["nodes"] = info.nodes;
  j["duration_s"] = info.duration_s;
  j["started_at"] = info.started_at;
  j["server_version"] = info.server_version;
  return j;
}

Status WriteFile(const std::filesystem::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return Status::IOError("cannot create " + path.string() + ": " + std::strerror(errno));
  }
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return Status::IOError("cannot write " + path.string() + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

nlohmann::ordered_json NemesisEventJson(const NemesisEvent& event) {
  return Json{{"name", event.name},
              {"description", event.description},
              {"start_ns", event.start_ns},
              {"end_ns", event.end_ns},
              {"minority", event.minority ? Json(*event.minority) : Json(nullptr)}};
}

std::string DescribeDiskAlarm(const DiskAlarmInterval& alarm) {
  return "node " + std::to_string(alarm.node) + ": " + alarm.message;
}

std::string FormatDiskAlarms(const std::vector<DiskAlarmInterval>& alarms, int64_t origin_ns) {
  if (alarms.empty()) return "disk alarms: none\n";
  const auto rel = [origin_ns](int64_t ns) { return static_cast<double>(ns - origin_ns) / 1e9; };
  std::string out;
  for (const DiskAlarmInterval& a : alarms) {
    char figures[96];
    std::snprintf(figures, sizeof(figures), ": %.1f s to %.1f s (%.1f s, %s): ", rel(a.start_ns),
                  rel(a.end_ns), rel(a.end_ns) - rel(a.start_ns),
                  a.cleared ? "cleared" : "still up at the end");
    out += std::string(kDiskAlarmName) + " node " + std::to_string(a.node) + figures + a.message +
           "\n";
  }
  return out;
}

nlohmann::ordered_json ResultsJson(const RunReport& run) {
  Json j;
  j["run"] = InfoJson(run.info);
  Json nemesis = Json::array();
  for (const NemesisEvent& e : run.nemesis) nemesis.push_back(NemesisEventJson(e));
  j["nemesis"] = std::move(nemesis);
  Json alarms = Json::array();
  for (const DiskAlarmInterval& a : run.disk_alarms) {
    alarms.push_back(Json{{"name", kDiskAlarmName},
                          {"node", a.node},
                          {"description", DescribeDiskAlarm(a)},
                          {"start_ns", a.start_ns},
                          {"end_ns", a.end_ns},
                          {"cleared", a.cleared}});
  }
  j["disk_alarms"] = std::move(alarms);
  j["checks"] = ToJson(run.checks);
  j["summary"] = report::ToJson(report::Summarize(run, report::Pair(run.history)));
  return j;
}

std::string RenderHtml(const RunReport& run) { return report::RenderPage(run); }

std::string ResultsJsonText(const RunReport& run) {
  // Keys and values are arbitrary bytes: invalid UTF-8 becomes U+FFFD instead of throwing.
  return ResultsJson(run).dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Status WriteReport(const std::filesystem::path& dir, const RunReport& run) {
  DIALKV_RETURN_IF_ERROR(WriteFile(dir / "results.json", ResultsJsonText(run)));
  return WriteFile(dir / "report.html", RenderHtml(run));
}

}  // namespace dialkv::jepsen
