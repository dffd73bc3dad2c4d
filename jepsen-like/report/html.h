#pragma once
// Internal to the report: report.html, assembled from the header, the summary tables, the
// charts (charts.h) and the witnesses.

#include <string>

#include "jepsen-like/report/report.h"

namespace dialkv::jepsen::report {

// The whole page; RenderHtml's body.
std::string RenderPage(const RunReport& run);

}  // namespace dialkv::jepsen::report
